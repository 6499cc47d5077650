//! A login's own changes: its profile, its password, its API tokens and its sessions, the same
//! for the settings page and the API. A new password is stored in one place, with one clock.

use chrono::Utc;
use diesel::{Connection, PgConnection, QueryResult};

use crate::auth::authenticate::{self, Refused};
use crate::auth::basic::{CredentialCache, Credentials};
use crate::auth::password;
use crate::auth::throttle::LoginGate;
use crate::auth::token::{Secret, TokenName};
use crate::db::models::api_token::{ApiToken, NewApiToken};
use crate::db::queries::{api_tokens, customers, sessions, users};
use crate::db::{self, PgPool};
use crate::domain::ids::{ApiTokenId, CustomerId, UserId};
use crate::domain::values::{Email, Password};
use crate::error::Error;

/// A signed-in user changing their own password on the settings page.
pub struct OwnPasswordChange {
    pub user: UserId,
    pub username: String,
    /// The password the user typed as their current one; checked (and throttled) like a login.
    pub current: String,
    pub new: Password,
    /// Where the request comes from, for the login throttle.
    pub address: String,
    /// The browser session making the change, which stays signed in.
    pub keep: String,
}

/// What a customer changes about themselves through `POST /api/me`; `None` keeps a field.
pub struct ProfileUpdate {
    pub company: Option<String>,
    pub vat: Option<String>,
    pub email: Option<Email>,
    pub password: Option<Password>,
}

/// Checks the current password, then sets the new one. A wrong current password is
/// [`Error::Invalid`] on `current_password`; too many wrong ones, [`Error::TooManyRequests`].
#[tracing::instrument(skip_all, fields(user = change.user.0))]
pub async fn change_own_password(
    pool: &PgPool,
    login_gate: &LoginGate,
    verified_credentials: &CredentialCache,
    change: OwnPasswordChange,
) -> Result<(), Error> {
    let given = Credentials {
        username: change.username,
        password: change.current,
    };
    match authenticate::check_password(pool, login_gate, None, given, change.address).await? {
        Ok(_) => {}
        Err(Refused::WrongCredentials) => {
            return Err(Error::invalid("current_password", "is wrong"));
        }
        Err(Refused::Locked(locked)) => {
            return Err(Error::TooManyRequests {
                retry_after_secs: locked.retry_after_secs,
            });
        }
    }
    let hash = password::hash_off_worker(change.new).await;
    let (user, keep) = (change.user, change.keep);
    db::run(pool, move |conn| {
        conn.transaction(|conn| store_password(conn, user, &hash, Some(&keep)))
            .map_err(Error::from)
    })
    .await?;
    verified_credentials.forget_user(user);
    Ok(())
}

/// Applies `update` to the customer and their login in one transaction. The caller has just
/// authenticated, so a new password needs no other check; it ends every browser session.
#[tracing::instrument(skip_all, fields(customer = customer.0, user = user.0))]
pub async fn update_profile(
    pool: &PgPool,
    verified_credentials: &CredentialCache,
    customer: CustomerId,
    user: UserId,
    update: ProfileUpdate,
) -> Result<(), Error> {
    let hash = match update.password {
        Some(new) => Some(password::hash_off_worker(new).await),
        None => None,
    };
    let changes = customers::ProfileChanges {
        company: update.company,
        vat: update.vat,
        email: update.email.map(Email::into_inner),
    };
    let password_changed = hash.is_some();
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            customers::update_profile(conn, customer, user, &changes)?;
            match &hash {
                Some(hash) => store_password(conn, user, hash, None),
                None => Ok(()),
            }
        })
        .map_err(Error::from)
    })
    .await?;
    if password_changed {
        verified_credentials.forget_user(user);
    }
    Ok(())
}

/// Stores a new password hash, in the caller's transaction, and ends every session of the
/// user but `keep`. The moved `password_changed_at` retires credentials other nodes verified
/// before it; the caller forgets the ones this node verified once the transaction commits.
fn store_password(
    conn: &mut PgConnection,
    user: UserId,
    hash: &str,
    keep: Option<&str>,
) -> QueryResult<()> {
    users::change_password(conn, user, hash, Utc::now())?;
    sessions::end_all_for_user_except(conn, user, keep)?;
    Ok(())
}

/// A new bearer token for `user`, named `name`: the stored row and the secret, which is shown
/// this once and kept only as its digest.
#[tracing::instrument(skip_all, fields(user = user.0))]
pub async fn create_token(
    pool: &PgPool,
    user: UserId,
    name: TokenName,
) -> Result<(ApiToken, Secret), Error> {
    let secret = Secret::generate();
    let digest = secret.digest();
    let token = db::run(pool, move |conn| {
        let new = NewApiToken {
            user_id: user,
            name: name.as_str(),
            token_hash: &digest,
        };
        api_tokens::insert(conn, &new).map_err(Error::from)
    })
    .await?;
    Ok((token, secret))
}

/// Revokes one of `user`'s tokens; someone else's, or none, is [`Error::NotFound`].
#[tracing::instrument(skip_all, fields(user = user.0, token = id.0))]
pub async fn revoke_token(pool: &PgPool, user: UserId, id: ApiTokenId) -> Result<(), Error> {
    let revoked = db::run(pool, move |conn| {
        api_tokens::revoke_for_user(conn, user, id, Utc::now()).map_err(Error::from)
    })
    .await?;
    if revoked == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Ends one of `user`'s browser sessions, named by its public id; someone else's, or none, is
/// [`Error::NotFound`].
#[tracing::instrument(skip_all, fields(user = user.0))]
pub async fn end_session(pool: &PgPool, user: UserId, public_id: String) -> Result<(), Error> {
    let ended = db::run(pool, move |conn| {
        sessions::end_for_user(conn, user, &public_id).map_err(Error::from)
    })
    .await?;
    if ended == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}
