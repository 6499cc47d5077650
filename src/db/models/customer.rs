//! A row of `customers` and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::customers;
use crate::domain::ids::CustomerId;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = customers, check_for_backend(diesel::pg::Pg))]
pub struct Customer {
    pub id: CustomerId,
    pub company: String,
    pub vat: String,
    pub uuid: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer<'a> {
    pub company: &'a str,
    pub vat: &'a str,
}
