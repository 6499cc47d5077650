//! The changes a customer makes, shared by the JSON API and the panel's pages: each checks
//! the rules, writes its rows, its jobs and its operation-log line in one transaction, and
//! fails with an [`AppError`] that either front end turns into its own answer.

pub mod containers;

use actix_web::HttpRequest;
use diesel::PgConnection;

use crate::auth::authenticate::client_address;
use crate::auth::guard::{ApiCaller, Customer};
use crate::db::models::event::NewEvent;
use crate::db::queries::events;
use crate::domain::ids::{ContainerId, CustomerId, UserId};
use crate::web::error::{ApiError, AppError};

pub mod custom_distros;
pub mod images;

/// Who makes a change, as the operation log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub customer: CustomerId,
    pub user: UserId,
    pub username: String,
    pub address: String,
}

impl Actor {
    /// An API caller; staff have no customer data to change.
    pub fn of_api(caller: &ApiCaller, request: &HttpRequest) -> Result<Self, ApiError> {
        Ok(Self {
            customer: caller.customer()?,
            user: caller.user_id,
            username: caller.username.clone(),
            address: client_address(request),
        })
    }

    /// A customer signed in to the panel.
    pub fn of_page(customer: &Customer, request: &HttpRequest) -> Self {
        Self {
            customer: customer.customer_id,
            user: customer.session.user_id,
            username: customer.session.username.clone(),
            address: client_address(request),
        }
    }

    /// One line of the operation log, about `container`.
    pub fn log(
        &self,
        conn: &mut PgConnection,
        container: ContainerId,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), AppError> {
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
