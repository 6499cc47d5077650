//! Container hosts: inserted, found by name, locked, their mode set and their allocation summed.

use diesel::prelude::*;

use crate::db::models::server::{NewServer, Server, ServerMode};
use crate::db::schema::{containers, servers};
use crate::domain::ids::ServerId;

pub fn insert(conn: &mut PgConnection, new: &NewServer) -> QueryResult<Server> {
    diesel::insert_into(servers::table)
        .values(new)
        .returning(Server::as_returning())
        .get_result(conn)
}

pub fn by_name(conn: &mut PgConnection, name: &str) -> QueryResult<Option<Server>> {
    servers::table
        .filter(servers::name.eq(name))
        .select(Server::as_select())
        .first(conn)
        .optional()
}

/// Sets how the named server gets its vassals; `None` when no server has that name.
pub fn set_mode(
    conn: &mut PgConnection,
    name: &str,
    mode: ServerMode,
) -> QueryResult<Option<Server>> {
    diesel::update(servers::table.filter(servers::name.eq(name)))
        .set(servers::pull.eq(mode.is_pull()))
        .returning(Server::as_returning())
        .get_result(conn)
        .optional()
}

/// The server row, locked until the transaction ends, so two placements cannot both take the
/// last free megabytes.
pub fn lock(conn: &mut PgConnection, id: ServerId) -> QueryResult<Server> {
    servers::table
        .find(id)
        .select(Server::as_select())
        .for_update()
        .first(conn)
}

/// Memory and storage (MB) already given to the server's containers.
pub fn allocated(conn: &mut PgConnection, id: ServerId) -> QueryResult<(i64, i64)> {
    use diesel::dsl::sum;
    let (memory, storage): (Option<i64>, Option<i64>) = containers::table
        .filter(containers::server_id.eq(id))
        .select((sum(containers::memory_mb), sum(containers::storage_mb)))
        .first(conn)?;
    Ok((memory.unwrap_or(0), storage.unwrap_or(0)))
}
