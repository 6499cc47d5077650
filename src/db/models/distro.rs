//! A row of `distros`, the platform's distributions, and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::distros;
use crate::domain::ids::DistroId;

/// A platform distro, shared by every customer.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = distros, check_for_backend(diesel::pg::Pg))]
pub struct Distro {
    pub id: DistroId,
    pub name: String,
    pub path: String,
    pub note: String,
    pub created_at: DateTime<Utc>,
    /// When it stopped being offered for new containers and new default choices.
    pub retired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = distros)]
pub struct NewDistro<'a> {
    pub name: &'a str,
    pub path: &'a str,
    pub note: &'a str,
}
