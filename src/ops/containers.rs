//! Changes to a customer's container (storage toggle, default and custom distro, ssh keys,
//! restart), checked by the rules and written with their restart job and operation-log line.

use chrono::Utc;
use diesel::{Connection, PgConnection};

use crate::db;
use crate::db::models::container::Container;
use crate::db::models::event::NewEvent;
use crate::db::queries::containers::{self, ContainerChangeset};
use crate::db::queries::{custom_distros, distros, events, jobs};
use crate::domain::authorized_key::AuthorizedKey;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, DistroId};
use crate::domain::policy::{self, ContainerChange, ContainerFacts, DistroFacts};
use crate::domain::refusal::Race;
use crate::error::Error;
use crate::ops::Actor;

/// A checked container update: every field left `None` stays as it is.
#[derive(Debug, Default)]
pub struct ContainerCommand {
    pub fields: ContainerChangeset,
    pub storage: Option<bool>,
    pub ssh_keys: Option<Vec<AuthorizedKey>>,
    pub distro: Option<DistroId>,
    /// `Some(None)`: back to the default distro.
    pub custom_distro: Option<Option<CustomDistroId>>,
    pub reboot: bool,
}

impl ContainerCommand {
    pub fn storage(on: bool) -> Self {
        Self {
            storage: Some(on),
            ..Self::default()
        }
    }

    pub fn boot(custom_distro: Option<CustomDistroId>) -> Self {
        Self {
            custom_distro: Some(custom_distro),
            ..Self::default()
        }
    }

    pub fn restart() -> Self {
        Self {
            reboot: true,
            ..Self::default()
        }
    }
}

/// Applies `command` to the actor's container `id` in one transaction: all of it, or nothing.
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ContainerId,
    command: ContainerCommand,
) -> Result<(), Error> {
    conn.transaction(|conn| apply(conn, actor, id, command))
}

/// The custom distros `container` may boot (rule 3), as `GET /api/custom_distros/<uid>` lists
/// them.
pub fn usable_distros(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: &Container,
) -> Result<Vec<DistroFacts>, Error> {
    let candidates: Vec<DistroFacts> =
        custom_distros::on_server_for_customer(conn, customer, container.server_id)?
            .into_iter()
            .map(|d| DistroFacts {
                id: d.id,
                name: d.name,
                customer: d.customer_id,
                server: d.server_id,
                storage_container: d.container_id,
            })
            .collect();
    let facts = ContainerFacts {
        id: container.id,
        customer: container.customer_id,
        server: container.server_id,
        storage: container.custom_distros_storage,
        default_distro: container.distro_id,
        custom_distro: container.custom_distro_id.map(|d| (d, String::new())),
    };
    Ok(policy::usable_distros(&facts, &candidates)
        .into_iter()
        .cloned()
        .collect())
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
    mut command: ContainerCommand,
) -> Result<(), Error> {
    let customer = actor.customer;
    let current = containers::lock_for_customer(conn, customer, id)?.ok_or(Error::NotFound)?;
    let booted_name = match current.custom_distro_id {
        Some(d) => custom_distros::find_for_customer(conn, customer, d)?.map(|d| d.name),
        None => None,
    };
    let facts = ContainerFacts {
        id: current.id,
        customer: current.customer_id,
        server: current.server_id,
        storage: current.custom_distros_storage,
        default_distro: current.distro_id,
        custom_distro: current
            .custom_distro_id
            .map(|d| (d, booted_name.clone().unwrap_or_default())),
    };
    let stored = if command.storage == Some(false) && current.custom_distros_storage {
        custom_distros::names_in(conn, id)?
    } else {
        Vec::new()
    };
    let target = match command.custom_distro {
        Some(Some(d)) => {
            let row =
                custom_distros::find_for_customer(conn, customer, d)?.ok_or(Error::NotFound)?;
            Some(DistroFacts {
                id: row.id,
                name: row.name,
                customer: row.customer_id,
                server: row.server_id,
                storage_container: row.container_id,
            })
        }
        _ => None,
    };
    let mut distro_name = None;
    if let Some(d) = command.distro {
        let row = distros::find(conn, d)?.ok_or_else(|| {
            Error::invalid(
                "distro",
                format!("there is no platform distro {d}; see GET /api/distros"),
            )
        })?;
        distro_name = Some(row.name);
    }
    let current_keys = current.ssh_keys();
    let ssh_keys_changed = command.ssh_keys.as_ref().is_some_and(|keys| {
        !keys
            .iter()
            .map(AuthorizedKey::as_str)
            .eq(current_keys.iter().map(String::as_str))
    });
    let change = ContainerChange {
        storage: command.storage,
        default_distro: command.distro,
        custom_distro: command.custom_distro.map(|_| target.as_ref()),
        ssh_keys_changed,
        reboot: command.reboot,
    };
    let effects = policy::plan_container_change(&facts, &stored, &change)?;

    let now = Utc::now();
    let fields = &mut command.fields;
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
    containers::update(conn, id, fields).map_err(constraint_refusal)?;

    if effects.restart {
        let mut causes = Vec::new();
        if let Some(on) = command
            .storage
            .filter(|on| *on != current.custom_distros_storage)
        {
            causes.push(format!("custom_distros_storage set to {on}"));
        }
        if let (Some(d), Some(name)) = (command.distro, &distro_name)
            && Some(d) != current.distro_id
        {
            causes.push(format!("distro set to '{name}' ({d})"));
        }
        if let Some(mapped) = command
            .custom_distro
            .filter(|m| *m != current.custom_distro_id)
        {
            causes.push(match (&target, mapped) {
                (Some(t), _) => format!("custom_distro set to '{}' ({})", t.name, t.id),
                (None, _) => "custom_distro set to null (default distro)".into(),
            });
        }
        if ssh_keys_changed {
            causes.push("ssh_keys changed".into());
        }
        if command.reboot {
            causes.push("reboot requested".into());
        }
        if effects.ensure_storage_dir {
            jobs::enqueue(conn, &crate::jobs::ensure_storage_dir(&current))?;
        }
        let restart = jobs::enqueue(conn, &crate::jobs::restart(&current))?;
        let detail = causes.join("; ");
        events::insert(
            conn,
            &NewEvent {
                kind: "operation",
                actor_user_id: Some(actor.user),
                actor: &actor.username,
                customer_id: Some(customer),
                container_id: Some(id),
                job_id: Some(restart.id),
                action: "restart",
                target: &current.name,
                outcome: "ok",
                detail: &detail,
                ip: Some(&actor.address),
            },
        )?;
    }
    Ok(())
}
