//! Logins: inserted, found by username or id, and their password changed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::user::{NewUser, User};
use crate::db::schema::users;
use crate::domain::ids::UserId;

pub fn insert(conn: &mut PgConnection, new: &NewUser) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
}

pub fn by_username(conn: &mut PgConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut PgConnection, id: UserId) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Stores a new password hash; `password_changed_at` moving is what tells every web node to
/// drop credentials it verified against the old one.
pub fn change_password(
    conn: &mut PgConnection,
    id: UserId,
    password_hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::password_changed_at.eq(now),
        ))
        .execute(conn)
}

/// Every login of a customer, for the staff overview.
pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}
