//! Creating, changing and deleting a customer's custom distros.

use diesel::{Connection, PgConnection};

use crate::config::Quotas;
use crate::db::models::custom_distro::{CustomDistro, NewCustomDistro};
use crate::db::queries::custom_distros::CustomDistroChangeset;
use crate::db::queries::images;
use crate::db::queries::{containers, custom_distros, jobs};
use crate::db::{self, PgPool};
use crate::domain::fields::{FieldErrors, plain_text};
use crate::domain::ids::{ContainerId, CustomDistroId};
use crate::domain::policy::{self, ContainerFacts};
use crate::domain::refusal::ContainerRef;
use crate::domain::values::{DisplayName, DistroPath, Uid};
use crate::error::Error;
use crate::ops::containers::constraint_refusal;
use crate::ops::{Actor, fair_use};

/// A distro's fields as given, parsed; `None` leaves a field as it is.
pub struct DistroFields {
    pub name: Option<DisplayName>,
    pub path: Option<DistroPath>,
    pub note: Option<String>,
}

/// Parses the fields, naming every bad one at once; `required` asks for name and path.
pub fn parse_fields(
    name: Option<String>,
    path: Option<String>,
    note: Option<String>,
    required: bool,
) -> Result<DistroFields, Error> {
    let mut errors = FieldErrors::default();
    if required && name.is_none() {
        errors.add("name", "is required");
    }
    if required && path.is_none() {
        errors.add("path", "is required");
    }
    let fields = DistroFields {
        name: name.and_then(|raw| errors.check("name", DisplayName::parse(&raw))),
        path: path.and_then(|raw| errors.check("path", DistroPath::parse(&raw))),
        note: note.and_then(|raw| errors.check("note", plain_text(&raw, 4096))),
    };
    errors.finish()?;
    Ok(fields)
}

/// A new distro in the actor's storage container `storage`.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, container = %storage))]
pub async fn create(
    pool: &PgPool,
    (base_uid, quotas): (u32, Quotas),
    actor: Actor,
    storage: ContainerId,
    fields: DistroFields,
) -> Result<CustomDistro, Error> {
    let (Some(name), Some(path)) = (fields.name, fields.path) else {
        return Err(Error::internal(anyhow::anyhow!(
            "a distro was created without a name or a path"
        )));
    };
    let note = fields.note.unwrap_or_default();
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let storage = containers::find_for_customer(conn, actor.customer, storage)?
                .ok_or(Error::NotFound)?;
            policy::may_store_distros(
                &ContainerFacts::from(&storage),
                ContainerRef {
                    uid: Uid::of(base_uid, storage.id),
                    name: storage.name.clone(),
                },
            )?;
            fair_use::may_add_distro(conn, storage.id, &storage.name, &quotas)?;
            let made = custom_distros::insert(
                conn,
                &NewCustomDistro {
                    container_id: storage.id,
                    server_id: storage.server_id,
                    customer_id: storage.customer_id,
                    name: name.as_str(),
                    path: path.as_str(),
                    note: &note,
                },
            )
            .map_err(constraint_refusal)?;
            actor.log(
                conn,
                storage.id,
                "custom distro created",
                name.as_str(),
                &format!("path distros/{path}"),
            )?;
            Ok(made)
        })
    })
    .await
}

/// The containers booting a distro, as refusals name them.
pub fn booting(
    conn: &mut PgConnection,
    id: CustomDistroId,
    base_uid: u32,
) -> Result<Vec<ContainerRef>, Error> {
    Ok(containers::booting(conn, id)?
        .into_iter()
        .map(|(id, name)| ContainerRef {
            uid: Uid::of(base_uid, id),
            name,
        })
        .collect())
}

/// Changes the given fields; a new path renames the image directory on the host. Returns
/// the distro as it now is, with its image state.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn update(
    pool: &PgPool,
    base_uid: u32,
    actor: Actor,
    id: CustomDistroId,
    fields: DistroFields,
) -> Result<(CustomDistro, String), Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let current = custom_distros::lock_for_customer(conn, actor.customer, id)?
                .ok_or(Error::NotFound)?;
            let new_path = fields.path.as_ref().filter(|p| p.as_str() != current.path);
            if new_path.is_some() {
                policy::may_change_path(&current.name, &booting(conn, id, base_uid)?)?;
            }
            let changes = CustomDistroChangeset {
                name: fields.name.map(DisplayName::into_inner),
                path: new_path.map(|p| p.as_str().to_owned()),
                note: fields.note,
            };
            let updated = custom_distros::update(conn, id, &changes).map_err(constraint_refusal)?;
            if let Some(path) = new_path {
                let from = stored_path(&current.path)?;
                jobs::enqueue(conn, &crate::jobs::rename_image(&current, &from, path))?;
                actor.log(
                    conn,
                    current.container_id,
                    "custom distro path changed",
                    &updated.name,
                    &format!("distros/{} to distros/{path}", current.path),
                )?;
            }
            let image_state = images::state_of(conn, &updated)?;
            Ok((updated, image_state))
        })
    })
    .await
}

/// Deletes a distro nothing boots; `purge` also removes its image files on the host, and is
/// refused while an image job of the distro is pending.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn delete(
    pool: &PgPool,
    (base_uid, quotas): (u32, Quotas),
    actor: Actor,
    id: CustomDistroId,
    purge: bool,
) -> Result<CustomDistro, Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let current = custom_distros::lock_for_customer(conn, actor.customer, id)?
                .ok_or(Error::NotFound)?;
            policy::may_delete(&current.name, &booting(conn, id, base_uid)?)?;
            if purge {
                if let Some(pending) = fair_use::pending_image_job(conn, &current)? {
                    return Err(fair_use::busy(&current, pending));
                }
                fair_use::may_queue_job(conn, actor.customer, &quotas)?;
            }
            custom_distros::delete(conn, id).map_err(constraint_refusal)?;
            if purge {
                let path = stored_path(&current.path)?;
                jobs::enqueue(conn, &crate::jobs::purge_image(&current, &path))?;
            }
            let detail = if purge {
                format!("distros/{} purged", current.path)
            } else {
                format!("distros/{} kept", current.path)
            };
            actor.log(
                conn,
                current.container_id,
                "custom distro deleted",
                &current.name,
                &detail,
            )?;
            Ok(current)
        })
    })
    .await
}

/// A path as stored: the schema holds it to the same rule as [`DistroPath`], so a refusal here
/// means the database and the code disagree.
pub(crate) fn stored_path(raw: &str) -> Result<DistroPath, Error> {
    DistroPath::parse(raw)
        .map_err(|why| Error::internal(anyhow::anyhow!("stored path {raw:?}: {why}")))
}
