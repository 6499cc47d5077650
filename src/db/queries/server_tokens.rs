//! The tokens uwsgi.it servers use on `/private`; only their SHA-256 is stored.

use diesel::prelude::*;

use crate::db::models::server::ServerMode;
use crate::db::schema::servers;
use crate::domain::ids::ServerId;

/// Replaces the server's token hash; false when no server has that name.
pub fn set(conn: &mut PgConnection, server_name: &str, token_hash: &str) -> QueryResult<bool> {
    let updated = diesel::update(servers::table.filter(servers::name.eq(server_name)))
        .set(servers::token_hash.eq(token_hash))
        .execute(conn)?;
    Ok(updated == 1)
}

/// The server holding the token, and how it gets its vassals.
pub fn server_for(
    conn: &mut PgConnection,
    token_hash: &str,
) -> QueryResult<Option<(ServerId, ServerMode)>> {
    let found: Option<(ServerId, bool)> = servers::table
        .filter(servers::token_hash.eq(token_hash))
        .select((servers::id, servers::pull))
        .first(conn)
        .optional()?;
    Ok(found.map(|(id, pull)| (id, ServerMode::from_pull(pull))))
}
