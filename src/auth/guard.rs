//! Who is calling, once authenticated, and the scope each caller's queries must use. `web`
//! makes extractors of these, so a handler that takes one is unreachable without it.
//!
//! - [`ApiCaller`]: the JSON API, by bearer token, HTTP Basic or the uwsgi.it headers.
//! - [`SignedIn`]: any signed-in browser session.
//! - [`Customer`]: a customer's session, carrying the customer every query is scoped to.
//! - [`Staff`]: a staff session; anyone else gets the 404 page (customers) or the login page.
//! - [`Admin`]: a staff session whose role provisions; support staff get a 403 page.

use crate::db::models::event::NewEvent;
use crate::db::models::user::Role;
use crate::domain::ids::{ContainerId, CustomerId, UserId};
use crate::domain::staff_role::StaffRole;
use crate::error::Error;

pub use crate::auth::session::SignedIn;

/// An authenticated caller of the JSON API: a bearer token, HTTP Basic, or the uwsgi.it
/// `X-uwsgi-it-username` / `X-uwsgi-it-password` headers (hex-encoded).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    /// The customer whose data this caller sees; `None` for staff.
    pub customer_id: Option<CustomerId>,
    /// What the caller presented.
    pub via: Via,
}

/// How an API caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The account's password: HTTP Basic or the uwsgi.it headers.
    Password,
    /// A bearer token; a read-only one may change nothing.
    Token { read_only: bool },
}

impl ApiCaller {
    /// Whether the caller proved they know the account's password (a token proves it not).
    pub fn proved_password(&self) -> bool {
        self.via == Via::Password
    }

    /// Refuses a read-only token anything that changes state.
    pub fn may_change(&self) -> Result<(), Error> {
        match self.via {
            Via::Token { read_only: true } => Err(Error::Forbidden(
                "This token is read-only: it cannot change anything. Use a read-write token or \
                 your username and password."
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// The caller's customer, or a refusal for staff (who use the staff pages).
    pub fn customer(&self) -> Result<CustomerId, Error> {
        self.customer_id.ok_or_else(|| {
            Error::Forbidden("Staff accounts have no customer data of their own.".into())
        })
    }
}

/// A signed-in customer. Every customer page scopes its queries by `customer_id`.
#[derive(Debug, Clone)]
pub struct Customer {
    pub session: SignedIn,
    pub customer_id: CustomerId,
}

impl Customer {
    /// Only a customer's session is one; staff have no customer data of their own.
    pub fn from_session(session: SignedIn) -> Result<Self, Error> {
        match (session.role, session.customer_id) {
            (Role::Customer, Some(customer_id)) => Ok(Customer {
                session,
                customer_id,
            }),
            _ => Err(Error::Forbidden(
                "Staff accounts have no containers of their own; use the staff pages.".into(),
            )),
        }
    }
}

/// A signed-in member of staff, with the address their actions are audited from.
#[derive(Debug, Clone)]
pub struct Staff {
    pub session: SignedIn,
    pub address: String,
    pub role: StaffRole,
}

/// A member of staff whose role may provision and manage staff; support get a 403 page.
#[derive(Debug, Clone)]
pub struct Admin(pub Staff);

impl Staff {
    /// The audit entry for an action of this member of staff on a customer's data; insert it
    /// in the transaction that makes the change.
    pub fn audit<'a>(
        &'a self,
        customer: Option<CustomerId>,
        container: Option<ContainerId>,
        action: &'a str,
        target: &'a str,
        detail: &'a str,
    ) -> NewEvent<'a> {
        NewEvent {
            kind: "audit",
            actor_user_id: Some(self.session.user_id),
            actor: &self.session.username,
            customer_id: customer,
            container_id: container,
            job_id: None,
            action,
            target,
            outcome: "ok",
            detail,
            ip: Some(&self.address),
        }
    }
}

impl Staff {
    /// Only a staff session is one; a customer cannot tell the staff pages from pages that do
    /// not exist.
    pub fn from_session(session: SignedIn, address: String) -> Result<Self, Error> {
        match session.role {
            Role::Staff => Ok(Staff {
                role: session.staff_role.unwrap_or(StaffRole::Support),
                session,
                address,
            }),
            Role::Customer => Err(Error::NotFound),
        }
    }

    /// Provisioning and staff management are for admins; support are told so.
    pub fn require_admin(self) -> Result<Admin, Error> {
        if self.role.may_provision() {
            Ok(Admin(self))
        } else {
            Err(Error::Forbidden(
                "Only admin staff can do this; support staff can read and act on a customer's behalf."
                    .into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(role: Role, customer: Option<i32>) -> SignedIn {
        SignedIn {
            user_id: UserId(7),
            username: "someone".into(),
            role,
            staff_role: (role == Role::Staff).then_some(StaffRole::Support),
            customer_id: customer.map(CustomerId),
            csrf_token: "t".into(),
            public_id: "p".into(),
        }
    }

    #[test]
    fn a_customer_session_carries_its_customer_and_staff_are_not_customers() {
        let customer = Customer::from_session(session(Role::Customer, Some(3))).unwrap();
        assert_eq!(customer.customer_id, CustomerId(3));
        assert!(matches!(
            Customer::from_session(session(Role::Staff, None)),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn only_staff_are_staff_and_customers_see_a_missing_page() {
        assert!(Staff::from_session(session(Role::Staff, None), "::1".into()).is_ok());
        assert!(matches!(
            Staff::from_session(session(Role::Customer, Some(3)), "::1".into()),
            Err(Error::NotFound)
        ));
    }

    #[test]
    fn support_staff_are_refused_what_only_admins_do() {
        let support = Staff::from_session(session(Role::Staff, None), "::1".into()).unwrap();
        assert!(matches!(support.require_admin(), Err(Error::Forbidden(_))));
        let mut signed_in = session(Role::Staff, None);
        signed_in.staff_role = Some(StaffRole::Admin);
        let admin = Staff::from_session(signed_in, "::1".into()).unwrap();
        assert_eq!(admin.require_admin().unwrap().0.role, StaffRole::Admin);
    }

    #[test]
    fn a_read_only_token_may_change_nothing_and_only_a_password_proves_the_password() {
        let caller = |via| ApiCaller {
            user_id: UserId(7),
            username: "someone".into(),
            role: Role::Customer,
            customer_id: Some(CustomerId(3)),
            via,
        };
        let read_only = caller(Via::Token { read_only: true });
        assert!(matches!(read_only.may_change(), Err(Error::Forbidden(_))));
        assert!(!read_only.proved_password());
        let read_write = caller(Via::Token { read_only: false });
        assert!(read_write.may_change().is_ok());
        assert!(!read_write.proved_password());
        let password = caller(Via::Password);
        assert!(password.may_change().is_ok());
        assert!(password.proved_password());
    }

    #[test]
    fn an_audit_entry_names_the_actor_and_the_address() {
        let staff = Staff::from_session(session(Role::Staff, None), "192.0.2.1".into()).unwrap();
        let entry = staff.audit(Some(CustomerId(3)), None, "reset", "alice", "why");
        assert_eq!(entry.kind, "audit");
        assert_eq!(entry.actor, "someone");
        assert_eq!(entry.actor_user_id, Some(UserId(7)));
        assert_eq!(entry.customer_id, Some(CustomerId(3)));
        assert_eq!(entry.ip, Some("192.0.2.1"));
    }
}
