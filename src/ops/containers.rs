//! Changes to a customer's container (storage toggle, default and custom distro, ssh keys,
//! restart), checked by the rules and written with their restart job and operation-log line.

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};

use crate::db;
use crate::db::models::container::Container;
use crate::db::queries::containers::{self, ContainerChangeset};
use crate::db::queries::{custom_distros, distros, jobs};
use crate::domain::authorized_key::AuthorizedKey;
use crate::domain::commands::{ContainerSettings, UpdateContainer, UpdateRefused};
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, DistroId};
use crate::domain::policy::{self, ContainerChange, ContainerFacts, DistroFacts, Effects};
use crate::domain::refusal::Race;
use crate::error::Error;
use crate::ops::Actor;

impl From<UpdateRefused> for Error {
    fn from(refused: UpdateRefused) -> Self {
        match refused {
            UpdateRefused::Invalid(fields) => Error::Invalid(fields),
            UpdateRefused::NoSuchCustomDistro => Error::NotFound,
        }
    }
}

/// Applies `command` to the actor's container `id` in one transaction: all of it, or nothing.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, container = %id))]
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ContainerId,
    command: UpdateContainer,
) -> Result<(), Error> {
    conn.transaction(|conn| apply(conn, actor, id, command))
}

/// The custom distros `container` may boot (rule 3), as `GET /api/custom_distros/<uid>` lists
/// them.
#[tracing::instrument(skip_all, fields(customer = %customer, container = %container.id))]
pub fn usable_distros(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: &Container,
) -> Result<Vec<DistroFacts>, Error> {
    let candidates: Vec<DistroFacts> =
        custom_distros::on_server_for_customer(conn, customer, container.server_id)?
            .iter()
            .map(DistroFacts::from)
            .collect();
    Ok(
        policy::usable_distros(&ContainerFacts::from(container), &candidates)
            .into_iter()
            .cloned()
            .collect(),
    )
}

/// Turns a constraint PostgreSQL enforced (a race the rules could not see) into a refusal.
pub fn constraint_refusal(error: diesel::result::Error) -> Error {
    let race = match db::violated_constraint(&error) {
        Some("custom_distros_storage_fkey") => Race::StorageChanged,
        Some("containers_custom_distro_fkey") => Race::CustomDistroGone,
        Some("containers_storage_no_custom_distro") => Race::StorageWithCustomDistro,
        Some("containers_custom_distro_needs_fallback") => Race::NoFallback,
        Some("custom_distros_container_name_key") => Race::DuplicateName,
        Some("custom_distros_container_path_key") => Race::DuplicatePath,
        _ => return Error::from(error),
    };
    Error::Raced(race)
}

fn apply(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ContainerId,
    command: UpdateContainer,
) -> Result<(), Error> {
    let before = load(conn, actor.customer, id, &command)?;
    let ssh_keys_changed = ssh_keys_differ(&before.container, command.ssh_keys.as_deref());
    let change = ContainerChange {
        storage: command.storage,
        default_distro: command.distro,
        custom_distro: command.custom_distro.map(|_| before.target.as_ref()),
        ssh_keys_changed,
        reboot: command.reboot,
    };
    let effects = policy::plan_container_change(&before.facts, &before.stored, &change)?;
    let causes = restart_causes(&before, &command, ssh_keys_changed);
    let now = Utc::now();
    let changes = changeset(command, ssh_keys_changed, effects, now);
    containers::update(conn, id, &changes).map_err(constraint_refusal)?;
    if effects.restart {
        queue_restart(conn, actor, &before.container, effects, &causes.join("; "))?;
    }
    Ok(())
}

/// What a change is checked against, read under the container's row lock.
struct Before {
    container: Container,
    facts: ContainerFacts,
    /// The distros the container stores, when the change turns storage off.
    stored: Vec<String>,
    /// The custom distro the change would boot.
    target: Option<DistroFacts>,
    /// The name of the platform distro the change sets as the default.
    distro_name: Option<String>,
}

fn load(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
    command: &UpdateContainer,
) -> Result<Before, Error> {
    let container = containers::lock_for_customer(conn, customer, id)?.ok_or(Error::NotFound)?;
    let facts = facts_with_booted_name(conn, customer, &container)?;
    let stored = if command.storage == Some(false) && container.custom_distros_storage {
        custom_distros::names_in(conn, id)?
    } else {
        Vec::new()
    };
    let target = match command.custom_distro {
        Some(Some(d)) => Some(boot_target(conn, customer, d)?),
        _ => None,
    };
    let distro_name = match command.distro {
        Some(d) => Some(platform_distro_name(conn, d, container.distro_id)?),
        None => None,
    };
    Ok(Before {
        container,
        facts,
        stored,
        target,
        distro_name,
    })
}

/// The container's facts with the name of the custom distro it boots, which a refusal names.
fn facts_with_booted_name(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: &Container,
) -> Result<ContainerFacts, Error> {
    let mut facts = ContainerFacts::from(container);
    if let Some((booted, name)) = &mut facts.custom_distro
        && let Some(distro) = custom_distros::find_for_customer(conn, customer, *booted)?
    {
        *name = distro.name;
    }
    Ok(facts)
}

fn boot_target(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: CustomDistroId,
) -> Result<DistroFacts, Error> {
    let row = custom_distros::find_for_customer(conn, customer, id)?.ok_or(Error::NotFound)?;
    Ok(DistroFacts::from(&row))
}

/// The name of the platform distro chosen as the default; a retired one only stays chosen.
fn platform_distro_name(
    conn: &mut PgConnection,
    id: DistroId,
    current: Option<DistroId>,
) -> Result<String, Error> {
    let row = distros::find(conn, id)?.ok_or_else(|| {
        Error::invalid(
            "distro",
            format!("there is no platform distro {id}; see GET /api/distros"),
        )
    })?;
    if let Some(why) = crate::domain::provision::distro_choice_refusal(
        &row.name,
        row.retired_at.is_some(),
        current == Some(id),
    ) {
        return Err(Error::invalid("distro", why));
    }
    Ok(row.name)
}

fn ssh_keys_differ(container: &Container, keys: Option<&[AuthorizedKey]>) -> bool {
    let current = container.ssh_keys();
    keys.is_some_and(|keys| {
        !keys
            .iter()
            .map(AuthorizedKey::as_str)
            .eq(current.iter().map(String::as_str))
    })
}

/// The columns the command writes; `now` stamps the update and what it changes.
fn changeset(
    command: UpdateContainer,
    ssh_keys_changed: bool,
    effects: Effects,
    now: DateTime<Utc>,
) -> ContainerChangeset {
    let mut fields = settings_changeset(command.settings);
    fields.custom_distros_storage = command.storage;
    fields.distro_id = command.distro.map(Some);
    fields.custom_distro_id = command.custom_distro;
    if ssh_keys_changed {
        fields.ssh_keys = command
            .ssh_keys
            .map(|keys| keys.iter().map(|k| Some(k.as_str().to_owned())).collect());
        fields.ssh_keys_changed_at = Some(now);
    }
    if effects.restart {
        fields.last_reboot = Some(now);
    }
    fields.updated_at = Some(now);
    fields
}

fn settings_changeset(settings: ContainerSettings) -> ContainerChangeset {
    ContainerChangeset {
        name: settings.name.map(|n| n.into_inner()),
        note: settings.note,
        quota_threshold: settings.quota_threshold,
        alarm_freq: settings.alarm_freq,
        nofollow: settings.nofollow,
        tags: settings
            .tags
            .map(|tags| tags.into_iter().map(Some).collect()),
        jid: settings.jid,
        jid_destinations: settings.jid_destinations,
        pushover_user: settings.pushover_user,
        pushover_token: settings.pushover_token,
        pushover_sound: settings.pushover_sound,
        pushbullet_token: settings.pushbullet_token,
        slack_webhook: settings.slack_webhook,
        ..ContainerChangeset::default()
    }
}

/// Why the container restarts, as the operation log says it.
fn restart_causes(
    before: &Before,
    command: &UpdateContainer,
    ssh_keys_changed: bool,
) -> Vec<String> {
    let current = &before.container;
    let mut causes = Vec::new();
    if let Some(on) = command
        .storage
        .filter(|on| *on != current.custom_distros_storage)
    {
        causes.push(format!("custom_distros_storage set to {on}"));
    }
    if let (Some(d), Some(name)) = (command.distro, &before.distro_name)
        && Some(d) != current.distro_id
    {
        causes.push(format!("distro set to '{name}' ({d})"));
    }
    if command
        .custom_distro
        .is_some_and(|mapped| mapped != current.custom_distro_id)
    {
        causes.push(match &before.target {
            Some(t) => format!("custom_distro set to '{}' ({})", t.name, t.id),
            None => "custom_distro set to null (default distro)".into(),
        });
    }
    if ssh_keys_changed {
        causes.push("ssh_keys changed".into());
    }
    if command.reboot {
        causes.push("reboot requested".into());
    }
    causes
}

/// The restart job (after the storage directory's, when storage was just turned on) and its
/// operation-log line.
fn queue_restart(
    conn: &mut PgConnection,
    actor: &Actor,
    container: &Container,
    effects: Effects,
    detail: &str,
) -> Result<(), Error> {
    if effects.ensure_storage_dir {
        jobs::enqueue(conn, &crate::jobs::ensure_storage_dir(container))?;
    }
    let restart = jobs::enqueue(conn, &crate::jobs::restart(container))?;
    actor.record(
        conn,
        container.id,
        Some(restart.id),
        "restart",
        &container.name,
        detail,
    )?;
    Ok(())
}

/// A custom distro the container may boot, with the name of the container that stores it.
#[derive(Debug, Clone)]
pub struct BootChoice {
    pub distro: crate::db::models::custom_distro::CustomDistro,
    pub storage_name: String,
}

impl BootChoice {
    /// Booting it now would fall back: it has no image, or its image is broken or unpacking.
    pub fn cannot_boot(&self) -> bool {
        self.distro.image_state != "ready"
    }
}

/// The custom distros the container may boot (see [`usable_distros`]), with their storage
/// containers' names.
pub fn boot_choices(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: &Container,
) -> Result<Vec<BootChoice>, Error> {
    let rows = custom_distros::on_server_for_customer(conn, customer, container.server_id)?;
    let facts: Vec<DistroFacts> = rows.iter().map(DistroFacts::from).collect();
    let usable: Vec<_> = policy::usable_distros(&ContainerFacts::from(container), &facts)
        .into_iter()
        .map(|d| d.id)
        .collect();
    let stores: Vec<_> = rows.iter().map(|d| d.container_id).collect();
    let names: std::collections::HashMap<_, _> =
        crate::db::queries::container_pages::names(conn, customer, &stores)?
            .into_iter()
            .collect();
    Ok(rows
        .into_iter()
        .filter(|d| usable.contains(&d.id))
        .map(|distro| BootChoice {
            storage_name: names.get(&distro.container_id).cloned().unwrap_or_default(),
            distro,
        })
        .collect())
}
