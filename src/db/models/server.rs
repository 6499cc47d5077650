use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::servers;
use crate::domain::ids::{CustomerId, ServerId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = servers, check_for_backend(diesel::pg::Pg))]
pub struct Server {
    pub id: ServerId,
    pub name: String,
    pub address: String,
    pub memory_mb: Option<i32>,
    pub storage_mb: Option<i32>,
    pub customer_id: Option<CustomerId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = servers)]
pub struct NewServer<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub memory_mb: Option<i32>,
    pub storage_mb: Option<i32>,
    pub customer_id: Option<CustomerId>,
}
