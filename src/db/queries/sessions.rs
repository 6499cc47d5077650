//! Server-side browser sessions. Rows are found by the SHA-256 of the cookie's key, so the table
//! alone never lets anyone take a session over.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::session::{ActiveSession, SessionWrite};
use crate::db::schema::sessions;
use crate::domain::ids::UserId;

/// The state of a live session and when it was last seen: not idle past `expires_at`, and
/// started after `started_after` (the absolute timeout).
pub fn live_state(
    conn: &mut PgConnection,
    key_hash: &str,
    now: DateTime<Utc>,
    started_after: DateTime<Utc>,
) -> QueryResult<Option<(serde_json::Value, DateTime<Utc>)>> {
    sessions::table
        .filter(sessions::key_hash.eq(key_hash))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(started_after))
        .select((sessions::state, sessions::last_seen))
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut PgConnection, row: &SessionWrite) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
}

/// Rewrites a session's state; 0 when the session is gone (ended elsewhere or expired).
pub fn rewrite(conn: &mut PgConnection, row: &SessionWrite) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::key_hash.eq(row.key_hash)))
        .set(row)
        .execute(conn)
}

/// Records a request: pushes the idle expiry forward.
pub fn touch(
    conn: &mut PgConnection,
    key_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::key_hash.eq(key_hash)))
        .set((
            sessions::last_seen.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut PgConnection, key_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash))).execute(conn)
}

/// A user's live sessions, most recently used first.
pub fn live_for_user(
    conn: &mut PgConnection,
    user: UserId,
    now: DateTime<Utc>,
    started_after: DateTime<Utc>,
) -> QueryResult<Vec<ActiveSession>> {
    sessions::table
        .filter(sessions::user_id.eq(user))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(started_after))
        .order(sessions::last_seen.desc())
        .select(ActiveSession::as_select())
        .load(conn)
}

/// Ends one of the user's sessions; someone else's id ends nothing, like a missing one.
pub fn end_for_user(conn: &mut PgConnection, user: UserId, public_id: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::public_id.eq(public_id)),
    )
    .execute(conn)
}

/// Ends every session of the user except `keep` (the caller's own, when there is one).
pub fn end_all_for_user_except(
    conn: &mut PgConnection,
    user: UserId,
    keep: Option<&str>,
) -> QueryResult<usize> {
    let of_user = sessions::table.filter(sessions::user_id.eq(user));
    match keep {
        Some(keep) => diesel::delete(of_user.filter(sessions::public_id.ne(keep))).execute(conn),
        None => diesel::delete(of_user).execute(conn),
    }
}

pub fn delete_dead(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    started_after: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::created_at.le(started_after)),
        ),
    )
    .execute(conn)
}
