//! What job workers report of their servers: a heartbeat per server and the disk use of each
//! container, the latest values only.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::{container_disk_use, containers, host_reports, servers};
use crate::domain::ids::{ContainerId, ServerId};

/// A container to measure: where it lives and whether it stores custom distro images.
#[derive(Debug, Clone, Queryable)]
pub struct Measured {
    pub container: ContainerId,
    pub server: ServerId,
    pub storage: bool,
}

/// The containers of these servers (`None`: of every server).
pub fn containers_of(
    conn: &mut PgConnection,
    servers: Option<&[ServerId]>,
) -> QueryResult<Vec<Measured>> {
    let mut query = containers::table
        .select((
            containers::id,
            containers::server_id,
            containers::custom_distros_storage,
        ))
        .order(containers::id)
        .into_boxed();
    if let Some(ids) = servers {
        query = query.filter(containers::server_id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// Every server's id (the servers a worker of every server reports for).
pub fn server_ids(conn: &mut PgConnection) -> QueryResult<Vec<ServerId>> {
    servers::table
        .select(servers::id)
        .order(servers::id)
        .load(conn)
}

/// One container's measured use.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = container_disk_use)]
pub struct DiskUseRow {
    pub container_id: ContainerId,
    pub home_bytes: i64,
    pub images_bytes: i64,
    pub measured_at: DateTime<Utc>,
}

/// Upserts the measured uses and the servers' heartbeats, in one transaction.
pub fn record(
    conn: &mut PgConnection,
    servers: &[ServerId],
    worker: &str,
    uses: &[DiskUseRow],
) -> QueryResult<()> {
    conn.transaction(|conn| {
        if !uses.is_empty() {
            diesel::insert_into(container_disk_use::table)
                .values(uses)
                .on_conflict(container_disk_use::container_id)
                .do_update()
                .set((
                    container_disk_use::home_bytes.eq(excluded(container_disk_use::home_bytes)),
                    container_disk_use::images_bytes.eq(excluded(container_disk_use::images_bytes)),
                    container_disk_use::measured_at.eq(excluded(container_disk_use::measured_at)),
                ))
                .execute(conn)?;
        }
        for server in servers {
            diesel::insert_into(host_reports::table)
                .values((
                    host_reports::server_id.eq(server),
                    host_reports::worker.eq(worker),
                    host_reports::reported_at.eq(diesel::dsl::now),
                ))
                .on_conflict(host_reports::server_id)
                .do_update()
                .set((
                    host_reports::worker.eq(excluded(host_reports::worker)),
                    host_reports::reported_at.eq(excluded(host_reports::reported_at)),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The last measured use of one container, if any was reported.
pub fn of_container(
    conn: &mut PgConnection,
    container: ContainerId,
) -> QueryResult<Option<DiskUseRow>> {
    container_disk_use::table
        .find(container)
        .select((
            container_disk_use::container_id,
            container_disk_use::home_bytes,
            container_disk_use::images_bytes,
            container_disk_use::measured_at,
        ))
        .first(conn)
        .optional()
}

/// Every container's last measured use: container, home bytes, images bytes.
pub fn all_uses(conn: &mut PgConnection) -> QueryResult<Vec<(ContainerId, i64, i64)>> {
    container_disk_use::table
        .select((
            container_disk_use::container_id,
            container_disk_use::home_bytes,
            container_disk_use::images_bytes,
        ))
        .order(container_disk_use::container_id)
        .load(conn)
}

/// A server and its last heartbeat, if its worker ever reported.
#[derive(Debug, Clone, Queryable)]
pub struct Heartbeat {
    pub server: String,
    pub worker: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
}

/// Every server with its last heartbeat, by name.
pub fn heartbeats(conn: &mut PgConnection) -> QueryResult<Vec<Heartbeat>> {
    servers::table
        .left_join(host_reports::table)
        .select((
            servers::name,
            host_reports::worker.nullable(),
            host_reports::reported_at.nullable(),
        ))
        .order(servers::name)
        .load(conn)
}
