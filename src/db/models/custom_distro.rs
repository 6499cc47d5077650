//! A row of `custom_distros` and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::custom_distros;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, ServerId};
use crate::domain::policy::DistroFacts;

/// A customer's own root filesystem, kept in `distros/<path>` of a storage container.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = custom_distros, check_for_backend(diesel::pg::Pg))]
pub struct CustomDistro {
    pub id: CustomDistroId,
    pub container_id: ContainerId,
    pub server_id: ServerId,
    pub customer_id: CustomerId,
    pub in_storage: bool,
    pub name: String,
    pub path: String,
    pub note: String,
    pub uuid: Uuid,
    pub image_state: String,
    pub image_bytes: Option<i64>,
    pub image_sha256: Option<String>,
    pub check_report: Option<serde_json::Value>,
    pub checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the image an install replaced was (kept on the host for a rollback).
    pub previous_bytes: Option<i64>,
    pub previous_sha256: Option<String>,
}

/// The distro as the rules see it.
impl From<&CustomDistro> for DistroFacts {
    fn from(d: &CustomDistro) -> Self {
        DistroFacts {
            id: d.id,
            name: d.name.clone(),
            customer: d.customer_id,
            server: d.server_id,
            storage_container: d.container_id,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = custom_distros)]
pub struct NewCustomDistro<'a> {
    pub container_id: ContainerId,
    pub server_id: ServerId,
    pub customer_id: CustomerId,
    pub name: &'a str,
    pub path: &'a str,
    pub note: &'a str,
}
