//! The platform's distributions: inserted, listed, found by id or path.

use diesel::prelude::*;

use crate::db::models::distro::{Distro, NewDistro};
use crate::db::schema::distros;
use crate::domain::ids::DistroId;

pub fn insert(conn: &mut PgConnection, new: &NewDistro) -> QueryResult<Distro> {
    diesel::insert_into(distros::table)
        .values(new)
        .returning(Distro::as_returning())
        .get_result(conn)
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<Distro>> {
    distros::table
        .order(distros::id)
        .select(Distro::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: DistroId) -> QueryResult<Option<Distro>> {
    distros::table
        .find(id)
        .select(Distro::as_select())
        .first(conn)
        .optional()
}

pub fn by_path(conn: &mut PgConnection, path: &str) -> QueryResult<Option<Distro>> {
    distros::table
        .filter(distros::path.eq(path))
        .select(Distro::as_select())
        .first(conn)
        .optional()
}
