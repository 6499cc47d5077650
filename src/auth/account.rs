//! Changes to a login that other parts of the panel must not do by hand.

use chrono::Utc;
use diesel::Connection;

use crate::auth::basic::CredentialCache;
use crate::auth::password;
use crate::db::queries::{sessions, users};
use crate::db::{self, PgPool};
use crate::domain::ids::UserId;
use crate::domain::values::Password;
use crate::error::Error;

/// Sets a new password (hashed off the worker) and, with it, ends every session of the user
/// but `keep` (the browser session making the change, if any) and forgets the credentials this
/// node verified. Other nodes notice the moved `password_changed_at` on their next request.
/// Checking the old password is the caller's business: the settings page asks for it; the API
/// caller has just authenticated with it.
pub async fn change_password(
    pool: &PgPool,
    verified_credentials: &CredentialCache,
    user: UserId,
    new: Password,
    keep: Option<String>,
) -> Result<(), Error> {
    let hash = password::hash_off_worker(new).await;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            users::change_password(conn, user, &hash, Utc::now())?;
            sessions::end_all_for_user_except(conn, user, keep.as_deref())
        })
        .map_err(Error::from)
    })
    .await?;
    verified_credentials.forget_user(user);
    Ok(())
}
