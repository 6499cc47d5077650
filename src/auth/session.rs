//! A signed-in browser session as handlers see it, and how long one lives. The session
//! middleware and its PostgreSQL store are in [`crate::auth::session_store`].

use chrono::Duration;

use crate::db::models::user::Role;
use crate::domain::ids::{CustomerId, UserId};
use crate::domain::staff_role::StaffRole;

pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);

/// A signed-in browser session, as handlers see it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    /// A member of staff's role, as it was when they signed in; changing a role ends the
    /// member's sessions.
    pub staff_role: Option<StaffRole>,
    pub customer_id: Option<CustomerId>,
    pub csrf_token: String,
    /// Names this session in the list of sessions; not the cookie's key.
    pub public_id: String,
}
