//! What a member of staff may do. Support read everything and act on a customer's behalf;
//! admins also provision customers, servers, containers and platform distros, and manage staff.

use std::fmt;
use std::str::FromStr;

use crate::domain::values::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    Support,
    Admin,
}

impl StaffRole {
    pub const ALL: [StaffRole; 2] = [StaffRole::Support, StaffRole::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Support => "support",
            StaffRole::Admin => "admin",
        }
    }

    /// Whether this role may create, edit and delete customers, servers, containers and
    /// platform distros, and manage staff accounts.
    pub fn may_provision(self) -> bool {
        self == StaffRole::Admin
    }

    /// The role stored for a member of staff; anything unknown gets the lesser role.
    pub fn from_db(raw: Option<&str>) -> Self {
        raw.and_then(|raw| raw.parse().ok())
            .unwrap_or(StaffRole::Support)
    }
}

impl FromStr for StaffRole {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        match raw.trim() {
            "support" => Ok(StaffRole::Support),
            "admin" => Ok(StaffRole::Admin),
            other => Err(Invalid(format!(
                "'{other}' is not a staff role: choose support or admin."
            ))),
        }
    }
}

impl fmt::Display for StaffRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in StaffRole::ALL {
            assert_eq!(role.as_str().parse::<StaffRole>(), Ok(role));
        }
    }

    #[test]
    fn an_unknown_role_is_refused_by_name() {
        let refused = "root".parse::<StaffRole>().unwrap_err();
        assert!(refused.0.contains("'root'"), "{refused}");
    }

    #[test]
    fn only_admins_provision_and_unknown_stored_roles_get_support() {
        assert!(StaffRole::Admin.may_provision());
        assert!(!StaffRole::Support.may_provision());
        assert_eq!(StaffRole::from_db(None), StaffRole::Support);
        assert_eq!(StaffRole::from_db(Some("superuser")), StaffRole::Support);
        assert_eq!(StaffRole::from_db(Some("admin")), StaffRole::Admin);
    }
}
