//! The changes a customer makes, shared by the JSON API and the panel's pages: each checks
//! the rules, writes its rows, its jobs and its operation-log line in one transaction, and
//! fails with an [`Error`] that either front end turns into its own answer. Staff acting on a
//! customer's behalf go through the same functions with an [`Actor`] that carries both.

pub mod containers;

use diesel::PgConnection;

use crate::db::models::event::NewEvent;
use crate::db::queries::events;
use crate::domain::ids::{ContainerId, CustomerId, JobId, UserId};
use crate::domain::staff_role::StaffRole;
use crate::error::Error;

pub mod custom_distros;
pub mod fair_use;
pub mod images;
mod upload_chunks;

/// Who makes a change, as the operation log records it: a customer's login, or a member of
/// staff acting for the customer (then `user` and `username` are the staff member's, and the
/// rules are the customer's all the same).
#[derive(Debug, Clone)]
pub struct Actor {
    /// The customer whose data changes, whoever changes it.
    pub customer: CustomerId,
    pub user: UserId,
    pub username: String,
    pub address: String,
    /// Set when a member of staff acts on the customer's behalf.
    pub staff: Option<OnBehalf>,
}

/// The staff side of an [`Actor`]: the staff member's role and the customer acted for, by
/// company, as the log line names them.
#[derive(Debug, Clone)]
pub struct OnBehalf {
    pub role: StaffRole,
    pub company: String,
}

impl Actor {
    /// A member of staff (`user`, `username`, `role`) acting for `customer`, known to staff as
    /// `company`.
    pub fn on_behalf(
        customer: CustomerId,
        company: String,
        (user, username, role): (UserId, String, StaffRole),
        address: String,
    ) -> Self {
        Actor {
            customer,
            user,
            username,
            address,
            staff: Some(OnBehalf { role, company }),
        }
    }

    /// "done by staff member S for customer C", when staff act; `None` for the customer.
    pub fn on_behalf_words(&self) -> Option<String> {
        self.staff.as_ref().map(|side| {
            format!(
                "done by staff member {} for customer {}",
                self.username, side.company
            )
        })
    }

    /// One line of the operation log, about `container`.
    pub fn log(
        &self,
        conn: &mut PgConnection,
        container: ContainerId,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), Error> {
        self.record(conn, container, None, action, target, detail)
    }

    /// One line of the operation log, about `container` and the job it queued. When staff
    /// act, the line says so, and the audit trail gets the same entry in the same
    /// transaction.
    pub fn record(
        &self,
        conn: &mut PgConnection,
        container: ContainerId,
        job: Option<JobId>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), Error> {
        let words = self.on_behalf_words();
        let detail = match (&words, detail.is_empty()) {
            (Some(words), true) => words.clone(),
            (Some(words), false) => format!("{detail}; {words}"),
            (None, _) => detail.to_owned(),
        };
        let line = |kind| NewEvent {
            kind,
            actor_user_id: Some(self.user),
            actor: &self.username,
            customer_id: Some(self.customer),
            container_id: Some(container),
            job_id: job,
            action,
            target,
            outcome: "ok",
            detail: &detail,
            ip: Some(&self.address),
        };
        match self.staff {
            None => events::insert_marked(conn, &[line("operation")], false)?,
            Some(_) => events::insert_marked(conn, &[line("operation"), line("audit")], true)?,
        };
        Ok(())
    }
}
pub mod account;
pub mod alarms;
pub mod provision;
pub mod staff;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_actor_says_who_acted_for_whom_and_a_customer_says_nothing_more() {
        let staff = Actor::on_behalf(
            CustomerId(3),
            "ACME".into(),
            (UserId(9), "helpdesk".into(), StaffRole::Support),
            "127.0.0.1".into(),
        );
        assert_eq!(staff.customer, CustomerId(3));
        assert_eq!(staff.user, UserId(9));
        assert_eq!(
            staff.on_behalf_words().as_deref(),
            Some("done by staff member helpdesk for customer ACME")
        );
        let customer = Actor {
            staff: None,
            ..staff
        };
        assert_eq!(customer.on_behalf_words(), None);
    }
}
