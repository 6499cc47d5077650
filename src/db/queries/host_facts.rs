//! What the host executor needs to know about a container to restart it, and what it records
//! after doing so.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{containers, custom_distros, distros};
use crate::domain::ids::{ContainerId, CustomerId, ServerId};

/// One container with the paths of its default and custom distros.
#[derive(Debug, Clone, Queryable)]
pub struct ContainerFacts {
    pub id: ContainerId,
    pub customer_id: CustomerId,
    pub server_id: ServerId,
    pub custom_distros_storage: bool,
    pub memory_mb: i32,
    pub storage_mb: i32,
    pub alarm_freq: i32,
    pub nofollow: bool,
    pub ssh_keys: Vec<Option<String>>,
    pub fallback_reason: Option<String>,
    pub restarted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub last_reboot: Option<DateTime<Utc>>,
    pub ssh_keys_changed_at: DateTime<Utc>,
    pub distro_path: Option<String>,
    /// The mapped custom distro: its storage container and path.
    pub custom: Option<(ContainerId, String)>,
}

type Columns = (
    containers::id,
    containers::customer_id,
    containers::server_id,
    containers::custom_distros_storage,
    containers::memory_mb,
    containers::storage_mb,
    containers::alarm_freq,
    containers::nofollow,
    containers::ssh_keys,
    containers::fallback_reason,
    containers::restarted_at,
    containers::updated_at,
    containers::last_reboot,
    containers::ssh_keys_changed_at,
    diesel::dsl::Nullable<distros::path>,
    diesel::dsl::Nullable<(custom_distros::container_id, custom_distros::path)>,
);

fn columns() -> Columns {
    (
        containers::id,
        containers::customer_id,
        containers::server_id,
        containers::custom_distros_storage,
        containers::memory_mb,
        containers::storage_mb,
        containers::alarm_freq,
        containers::nofollow,
        containers::ssh_keys,
        containers::fallback_reason,
        containers::restarted_at,
        containers::updated_at,
        containers::last_reboot,
        containers::ssh_keys_changed_at,
        distros::path.nullable(),
        (custom_distros::container_id, custom_distros::path).nullable(),
    )
}

macro_rules! facts_query {
    () => {
        containers::table
            .left_join(distros::table)
            .left_join(
                custom_distros::table
                    .on(containers::custom_distro_id.eq(custom_distros::id.nullable())),
            )
            .select(columns())
    };
}

pub fn container(conn: &mut PgConnection, id: ContainerId) -> QueryResult<Option<ContainerFacts>> {
    facts_query!()
        .filter(containers::id.eq(id))
        .first(conn)
        .optional()
}

/// The containers among `ids` that exist, in no particular order.
pub fn containers(
    conn: &mut PgConnection,
    ids: &[ContainerId],
) -> QueryResult<Vec<ContainerFacts>> {
    facts_query!().filter(containers::id.eq_any(ids)).load(conn)
}

/// Every container of a server, by id.
pub fn on_server(conn: &mut PgConnection, server: ServerId) -> QueryResult<Vec<ContainerFacts>> {
    facts_query!()
        .filter(containers::server_id.eq(server))
        .order(containers::id)
        .load(conn)
}

/// One container of a server (another server's container finds nothing).
pub fn on_server_by_id(
    conn: &mut PgConnection,
    server: ServerId,
    id: ContainerId,
) -> QueryResult<Option<ContainerFacts>> {
    facts_query!()
        .filter(containers::server_id.eq(server).and(containers::id.eq(id)))
        .first(conn)
        .optional()
}

/// Records what the restart that just wrote the vassal booted: `kind` is `none`, `platform`,
/// `custom` or `fallback`; the last two name the custom distro it is mapped to.
pub fn record_boot(
    conn: &mut PgConnection,
    id: ContainerId,
    kind: &str,
    fallback_reason: Option<&str>,
) -> QueryResult<()> {
    let row = containers::table.find(id);
    let common = (
        containers::fallback_reason.eq(fallback_reason),
        containers::restarted_at.eq(diesel::dsl::now),
        containers::booted_kind.eq(kind),
    );
    if matches!(kind, "custom" | "fallback") {
        diesel::update(row)
            .set((
                common,
                containers::booted_custom_distro_id.eq(containers::custom_distro_id),
            ))
            .execute(conn)?;
    } else {
        diesel::update(row)
            .set((common, containers::booted_custom_distro_id.eq(None::<i32>)))
            .execute(conn)?;
    }
    Ok(())
}
