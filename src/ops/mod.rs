//! The changes a customer makes, shared by the JSON API and the panel's pages: each checks
//! the rules, writes its rows, its jobs and its operation-log line in one transaction, and
//! fails with an [`Error`] that either front end turns into its own answer.

pub mod containers;

use diesel::PgConnection;

use crate::db::models::event::NewEvent;
use crate::db::queries::events;
use crate::domain::ids::{ContainerId, CustomerId, UserId};
use crate::error::Error;

pub mod custom_distros;
pub mod fair_use;
pub mod images;
mod upload_chunks;

/// Who makes a change, as the operation log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub customer: CustomerId,
    pub user: UserId,
    pub username: String,
    pub address: String,
}

impl Actor {
    /// One line of the operation log, about `container`.
    pub fn log(
        &self,
        conn: &mut PgConnection,
        container: ContainerId,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), Error> {
        events::insert(
            conn,
            &NewEvent {
                kind: "operation",
                actor_user_id: Some(self.user),
                actor: &self.username,
                customer_id: Some(self.customer),
                container_id: Some(container),
                action,
                target,
                outcome: "ok",
                detail,
                ip: Some(&self.address),
                ..Default::default()
            },
        )?;
        Ok(())
    }
}
pub mod account;
pub mod alarms;
pub mod provision;
pub mod staff;
