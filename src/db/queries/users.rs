use diesel::prelude::*;

use crate::db::models::user::{NewUser, User};
use crate::db::schema::users;

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
