//! A row of `containers` and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::containers;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, DistroId, ServerId};
use crate::domain::policy::ContainerFacts;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = containers, check_for_backend(diesel::pg::Pg))]
pub struct Container {
    pub id: ContainerId,
    pub name: String,
    pub customer_id: CustomerId,
    pub server_id: ServerId,
    pub distro_id: Option<DistroId>,
    pub custom_distros_storage: bool,
    pub custom_distro_id: Option<CustomDistroId>,
    pub memory_mb: i32,
    pub storage_mb: i32,
    pub note: String,
    pub uuid: Uuid,
    pub alarm_key: Option<Uuid>,
    pub quota_threshold: i32,
    pub alarm_freq: i32,
    pub nofollow: bool,
    pub ssh_keys: Vec<Option<String>>,
    pub tags: Vec<Option<String>>,
    pub jid: String,
    pub jid_destinations: String,
    pub pushover_user: String,
    pub pushover_token: String,
    pub pushover_sound: String,
    pub pushbullet_token: String,
    pub slack_webhook: String,
    pub last_reboot: Option<DateTime<Utc>>,
    pub ssh_keys_changed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Container {
    /// The schema forbids NULL elements, so flattening loses nothing.
    pub fn ssh_keys(&self) -> Vec<String> {
        self.ssh_keys.iter().flatten().cloned().collect()
    }

    pub fn tags(&self) -> Vec<String> {
        self.tags.iter().flatten().cloned().collect()
    }
}

/// The container as the rules see it. The name of the custom distro it boots is left empty;
/// only a refusal of a container change names it, and that change reads it.
impl From<&Container> for ContainerFacts {
    fn from(c: &Container) -> Self {
        ContainerFacts {
            id: c.id,
            customer: c.customer_id,
            server: c.server_id,
            storage: c.custom_distros_storage,
            default_distro: c.distro_id,
            custom_distro: c.custom_distro_id.map(|d| (d, String::new())),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = containers)]
pub struct NewContainer<'a> {
    pub name: &'a str,
    pub customer_id: CustomerId,
    pub server_id: ServerId,
    pub distro_id: Option<DistroId>,
    pub custom_distros_storage: bool,
    pub memory_mb: i32,
    pub storage_mb: i32,
    pub note: &'a str,
}
