//! Failed logins (form, Basic and header authentication alike), counted per (username,
//! address), per address and per username, and the addresses each user logged in from. Kept in
//! PostgreSQL so every web node sees the same counts.
//!
//! An attempt is reserved before its password is verified: under a transaction-scoped advisory
//! lock per username and per address, the counts are read and, below every limit, a failure is
//! recorded at once. A right password then takes its reservation back. So however many attempts
//! arrive together, no more are verified than the limits allow.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};

use crate::db::models::user::User;
use crate::db::schema::{login_attempts, login_successes, users};

/// The failures allowed within the window, per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_user_address: i64,
    pub per_address: i64,
    pub per_username: i64,
}

/// For each key, the time of the failure that reached its limit within the window, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub user_address_limit_reached_at: Option<DateTime<Utc>>,
    pub address_limit_reached_at: Option<DateTime<Utc>>,
    pub username_limit_reached_at: Option<DateTime<Utc>>,
}

impl Failures {
    pub fn any(&self) -> bool {
        self.user_address_limit_reached_at.is_some()
            || self.address_limit_reached_at.is_some()
            || self.username_limit_reached_at.is_some()
    }
}

/// One attempt: the username as recorded and the address key.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub address: &'a str,
    /// Failures after this count.
    pub since: DateTime<Utc>,
    /// A success after this makes the address one the user is known at.
    pub known_since: DateTime<Utc>,
}

/// What [`reserve`] found, and whether it recorded the attempt as a failure in advance.
#[derive(Debug)]
pub struct Reservation {
    pub user: Option<User>,
    /// The limits reached; those the address is exempt from (the user is known there) left out.
    pub failures: Failures,
    /// The failure recorded in advance, to take back when the password is right.
    pub reserved: Option<i64>,
}

/// The `limit`-th most recent failure after `since` among those `filter` selects; while it
/// exists, the limit is reached.
macro_rules! nth_recent {
    ($filter:expr, $since:expr, $limit:expr) => {
        login_attempts::table
            .filter($filter)
            .filter(login_attempts::at.gt($since))
            .order(login_attempts::at.desc())
            .offset($limit - 1)
            .limit(1)
            .select(login_attempts::at)
            .single_value()
    };
}

/// A stable advisory-lock key for a throttle key, the same on every node.
fn lock_key(kind: &str, value: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(value)
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

/// Locks the username and the address until the transaction ends, always in the same order,
/// so two attempts never wait on each other crosswise.
fn lock(conn: &mut PgConnection, attempt: &Attempt<'_>) -> QueryResult<()> {
    let mut keys = [
        lock_key("login-username", attempt.username),
        lock_key("login-address", attempt.address),
    ];
    keys.sort_unstable();
    for key in keys {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(key)
            .execute(conn)?;
    }
    Ok(())
}

fn failures(
    conn: &mut PgConnection,
    attempt: &Attempt<'_>,
    limits: Limits,
    known: bool,
) -> QueryResult<Failures> {
    let (username, address, since) = (attempt.username, attempt.address, attempt.since);
    let (pair, by_address, by_username) = diesel::select((
        nth_recent!(
            login_attempts::username
                .eq(username)
                .and(login_attempts::ip.eq(address)),
            since,
            limits.per_user_address
        ),
        nth_recent!(login_attempts::ip.eq(address), since, limits.per_address),
        nth_recent!(
            login_attempts::username.eq(username),
            since,
            limits.per_username
        ),
    ))
    .get_result::<(
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    )>(conn)?;
    Ok(limits_reached((pair, by_address, by_username), known))
}

type Reached = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// The limits reached; those the address is exempt from (the user is known there) left out.
fn limits_reached((pair, by_address, by_username): Reached, known: bool) -> Failures {
    Failures {
        user_address_limit_reached_at: pair,
        address_limit_reached_at: by_address.filter(|_| !known),
        username_limit_reached_at: by_username.filter(|_| !known),
    }
}

/// The user named in `attempt` and the limits reached, in one statement that locks and
/// records nothing: for credentials verified a moment ago, which reserve no attempt. `None`
/// when there is no such user.
pub fn recall(
    conn: &mut PgConnection,
    attempt: Attempt<'_>,
    limits: Limits,
) -> QueryResult<Option<(User, Failures)>> {
    let (username, address, since) = (attempt.username, attempt.address, attempt.since);
    // typed, so the statement is prepared once per connection
    let known = diesel::dsl::exists(
        login_successes::table
            .filter(login_successes::user_id.eq(users::id))
            .filter(login_successes::ip.eq(address))
            .filter(login_successes::at.gt(attempt.known_since)),
    );
    let found = users::table
        .filter(users::username.eq(username))
        .select((
            User::as_select(),
            nth_recent!(
                login_attempts::username
                    .eq(username)
                    .and(login_attempts::ip.eq(address)),
                since,
                limits.per_user_address
            ),
            nth_recent!(login_attempts::ip.eq(address), since, limits.per_address),
            nth_recent!(
                login_attempts::username.eq(username),
                since,
                limits.per_username
            ),
            known,
        ))
        .first::<(
            User,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            bool,
        )>(conn)
        .optional()?;
    Ok(found.map(|(user, pair, by_address, by_username, known)| {
        (user, limits_reached((pair, by_address, by_username), known))
    }))
}

fn known_at(conn: &mut PgConnection, user: &User, attempt: &Attempt<'_>) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        login_successes::table
            .filter(login_successes::user_id.eq(user.id))
            .filter(login_successes::ip.eq(attempt.address))
            .filter(login_successes::at.gt(attempt.known_since)),
    ))
    .get_result(conn)
}

/// Reads the user and the limits reached for `attempt`; below every limit, and unless
/// `verified_already` says the credentials need no verification, records a failure in advance.
pub fn reserve(
    conn: &mut PgConnection,
    attempt: Attempt<'_>,
    limits: Limits,
    verified_already: impl FnOnce(&User) -> bool,
) -> QueryResult<Reservation> {
    conn.transaction(|conn| {
        lock(conn, &attempt)?;
        let user = users::table
            .filter(users::username.eq(attempt.username))
            .select(User::as_select())
            .first::<User>(conn)
            .optional()?;
        let known = match &user {
            Some(user) => known_at(conn, user, &attempt)?,
            None => false,
        };
        let failures = failures(conn, &attempt, limits, known)?;
        let skip = failures.any() || user.as_ref().is_some_and(verified_already);
        let reserved = if skip {
            None
        } else {
            Some(record_failure(conn, attempt.username, attempt.address)?)
        };
        Ok(Reservation {
            user,
            failures,
            reserved,
        })
    })
}

/// Takes back a failure recorded in advance (the attempt was not a failure after all).
pub fn release(conn: &mut PgConnection, reserved: i64) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.find(reserved)).execute(conn)
}

/// Records that `user` logged in from `address` now, and takes back its reservation.
pub fn succeeded(
    conn: &mut PgConnection,
    reserved: Option<i64>,
    user: &User,
    address: &str,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        if let Some(reserved) = reserved {
            release(conn, reserved)?;
        }
        diesel::insert_into(login_successes::table)
            .values((
                login_successes::user_id.eq(user.id),
                login_successes::ip.eq(address),
            ))
            .on_conflict((login_successes::user_id, login_successes::ip))
            .do_update()
            .set(login_successes::at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(())
    })
}

fn record_failure(conn: &mut PgConnection, username: &str, address: &str) -> QueryResult<i64> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::username.eq(username),
            login_attempts::ip.eq(address),
        ))
        .returning(login_attempts::id)
        .get_result(conn)
}

/// Forgets failures too old to count any more.
pub fn delete_before(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.filter(login_attempts::at.lt(before))).execute(conn)
}

/// Forgets successful logins too old to make their address known.
pub fn delete_successes_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(login_successes::table.filter(login_successes::at.lt(before))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_differ_by_kind_and_value() {
        assert_ne!(lock_key("a", "bc"), lock_key("ab", "c"));
        assert_ne!(
            lock_key("login-username", "x"),
            lock_key("login-address", "x")
        );
        assert_eq!(lock_key("a", "b"), lock_key("a", "b"));
    }
}
