//! Failed logins (form, Basic and header authentication alike), counted per username and per
//! client address. Kept in PostgreSQL so every web node sees the same counts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::user::User;
use crate::db::schema::{login_attempts, users};

/// The failures that decide whether a login may be tried: for the username and for the
/// address, the time of the failure that reached the limit within the window, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub username_limit_reached_at: Option<DateTime<Utc>>,
    pub address_limit_reached_at: Option<DateTime<Utc>>,
}

/// The `limit`-th most recent failure after `since` for this username (or address); while it
/// exists, the limit is reached.
macro_rules! nth_recent {
    ($column:expr, $value:expr, $since:expr, $limit:expr) => {
        login_attempts::table
            .filter($column.eq($value))
            .filter(login_attempts::at.gt($since))
            .order(login_attempts::at.desc())
            .offset($limit - 1)
            .limit(1)
            .select(login_attempts::at)
            .single_value()
    };
}

/// The user with this username (if any) and the failures that may lock the login, in one
/// round trip: the path every Basic-authenticated API request takes.
pub fn user_and_failures(
    conn: &mut PgConnection,
    username: &str,
    address: &str,
    since: DateTime<Utc>,
    per_username: i64,
    per_address: i64,
) -> QueryResult<(Option<User>, Failures)> {
    let found = users::table
        .filter(users::username.eq(username))
        .select((
            User::as_select(),
            nth_recent!(login_attempts::username, username, since, per_username),
            nth_recent!(login_attempts::ip, address, since, per_address),
        ))
        .first::<(User, Option<DateTime<Utc>>, Option<DateTime<Utc>>)>(conn)
        .optional()?;
    match found {
        Some((user, by_username, by_address)) => Ok((
            Some(user),
            Failures {
                username_limit_reached_at: by_username,
                address_limit_reached_at: by_address,
            },
        )),
        None => Ok((
            None,
            failures(conn, username, address, since, per_username, per_address)?,
        )),
    }
}

pub fn failures(
    conn: &mut PgConnection,
    username: &str,
    address: &str,
    since: DateTime<Utc>,
    per_username: i64,
    per_address: i64,
) -> QueryResult<Failures> {
    let (by_username, by_address) = diesel::select((
        nth_recent!(login_attempts::username, username, since, per_username),
        nth_recent!(login_attempts::ip, address, since, per_address),
    ))
    .get_result::<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)>(conn)?;
    Ok(Failures {
        username_limit_reached_at: by_username,
        address_limit_reached_at: by_address,
    })
}

pub fn record_failure(
    conn: &mut PgConnection,
    username: &str,
    address: &str,
) -> QueryResult<usize> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::username.eq(username),
            login_attempts::ip.eq(address),
        ))
        .execute(conn)
}

/// Forgets failures too old to count any more.
pub fn delete_before(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.filter(login_attempts::at.lt(before))).execute(conn)
}
