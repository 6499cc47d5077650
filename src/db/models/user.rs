//! A row of `users`, what an insert takes, and a user's role.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::users;
use crate::domain::ids::{CustomerId, UserId};
use crate::domain::staff_role::StaffRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
        }
    }

    pub fn from_db(raw: &str) -> Self {
        if raw == "staff" {
            Role::Staff
        } else {
            Role::Customer
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub customer_id: Option<CustomerId>,
    pub password_changed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub staff_role: Option<String>,
}

impl User {
    pub fn role(&self) -> Role {
        Role::from_db(&self.role)
    }

    /// A staff member's role; `None` for a customer login.
    pub fn staff_role(&self) -> Option<StaffRole> {
        (self.role() == Role::Staff).then(|| StaffRole::from_db(self.staff_role.as_deref()))
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub customer_id: Option<CustomerId>,
    pub staff_role: Option<&'a str>,
}
