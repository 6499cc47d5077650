//! A login's own changes: its profile, its password, its API tokens and its sessions, the same
//! for the settings page and the API. A new password is stored in one place, with one clock.

use chrono::Utc;
use diesel::result::DatabaseErrorKind;
use diesel::result::Error::DatabaseError;
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
    /// The password the user typed as their current one; checked (and throttled) like a login.
    pub current: CurrentPassword,
    pub new: Password,
    /// The browser session making the change, which stays signed in.
    pub keep: String,
}

/// A password typed as the current one, with the login it belongs to and where the request
/// comes from, for the login throttle.
pub struct CurrentPassword {
    pub username: String,
    pub password: String,
    pub address: String,
}

/// What a caller offers to show they know the account's password.
pub enum Proof {
    /// The request itself carried the password, already checked: HTTP Basic or the uwsgi.it
    /// headers.
    Authenticated,
    /// A `current_password` field, checked (and throttled) like a login.
    Typed(CurrentPassword),
    /// Nothing: a bearer token alone, which may not take over the account.
    Nothing,
}

/// What a customer changes about themselves through `POST /api/me`; `None` keeps a field.
pub struct ProfileUpdate {
    pub company: Option<String>,
    pub vat: Option<String>,
    pub email: Option<Email>,
    pub password: Option<Password>,
}

/// What a profile update did besides the fields: a new password revokes every token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProfileChanged {
    pub revoked_tokens: usize,
}

/// Checks `current` like a login. A wrong one is [`Error::Invalid`] on `current_password`;
/// too many wrong ones, [`Error::TooManyRequests`].
async fn check_current(
    pool: &PgPool,
    login_gate: &LoginGate,
    current: CurrentPassword,
) -> Result<(), Error> {
    let given = Credentials {
        username: current.username,
        password: current.password,
    };
    match authenticate::check_password(pool, login_gate, None, given, current.address).await? {
        Ok(_) => Ok(()),
        Err(Refused::WrongCredentials) => Err(Error::invalid("current_password", "is wrong")),
        Err(Refused::Locked(locked)) => Err(Error::TooManyRequests {
            retry_after_secs: locked.retry_after_secs,
        }),
    }
}

/// Passes when `proof` shows the current password, or when nothing that needs it changes.
/// A typed password is checked whenever it is given.
async fn check_proof(
    pool: &PgPool,
    login_gate: &LoginGate,
    proof: Proof,
    needed: bool,
) -> Result<(), Error> {
    match proof {
        Proof::Typed(current) => check_current(pool, login_gate, current).await,
        Proof::Authenticated => Ok(()),
        Proof::Nothing if !needed => Ok(()),
        Proof::Nothing => Err(Error::Forbidden(
            "Changing the password or e-mail needs the current password: authenticate with \
             your username and password (HTTP Basic or the uwsgi.it headers), or send it as \
             current_password. A token alone cannot."
                .into(),
        )),
    }
}

/// Checks the current password, then sets the new one, ends the user's other sessions and
/// revokes their tokens; how many tokens were revoked.
#[tracing::instrument(skip_all, fields(user = change.user.0))]
pub async fn change_own_password(
    pool: &PgPool,
    login_gate: &LoginGate,
    verified_credentials: &CredentialCache,
    change: OwnPasswordChange,
) -> Result<usize, Error> {
    check_current(pool, login_gate, change.current).await?;
    let hash = password::hash_off_worker(change.new).await;
    let (user, keep) = (change.user, change.keep);
    let revoked = db::run(pool, move |conn| {
        conn.transaction(|conn| store_password(conn, user, &hash, Some(&keep)))
            .map_err(Error::from)
    })
    .await?;
    verified_credentials.forget_user(user);
    Ok(revoked)
}

/// Applies `update` to the customer and their login in one transaction. A new e-mail or
/// password needs `proof` of the current password; a new password ends every browser session
/// and revokes every token.
#[tracing::instrument(skip_all, fields(customer = customer.0, user = user.0))]
pub async fn update_profile(
    pool: &PgPool,
    login_gate: &LoginGate,
    verified_credentials: &CredentialCache,
    customer: CustomerId,
    user: UserId,
    proof: Proof,
    update: ProfileUpdate,
) -> Result<ProfileChanged, Error> {
    let needs_proof = update.email.is_some() || update.password.is_some();
    check_proof(pool, login_gate, proof, needs_proof).await?;
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
    let revoked_tokens = db::run(pool, move |conn| {
        conn.transaction(|conn| {
            customers::update_profile(conn, customer, user, &changes)?;
            match &hash {
                Some(hash) => store_password(conn, user, hash, None),
                None => Ok(0),
            }
        })
        .map_err(Error::from)
    })
    .await?;
    if password_changed {
        verified_credentials.forget_user(user);
    }
    Ok(ProfileChanged { revoked_tokens })
}

/// Stores a new password hash, in the caller's transaction, ends every session of the user
/// but `keep` and revokes all their tokens; how many tokens. The moved `password_changed_at`
/// retires credentials other nodes verified before it; the caller forgets the ones this node
/// verified once the transaction commits.
fn store_password(
    conn: &mut PgConnection,
    user: UserId,
    hash: &str,
    keep: Option<&str>,
) -> QueryResult<usize> {
    let now = Utc::now();
    users::change_password(conn, user, hash, now)?;
    sessions::end_all_for_user_except(conn, user, keep)?;
    api_tokens::revoke_all_for_user(conn, user, now)
}

/// A new bearer token for `user`, named `name` and read-only or not: the stored row and the
/// secret, which is shown this once and kept only as its digest. A name one of the user's live
/// tokens has is [`Error::Conflict`] (a unique index holds it).
#[tracing::instrument(skip_all, fields(user = user.0))]
pub async fn create_token(
    pool: &PgPool,
    user: UserId,
    name: TokenName,
    read_only: bool,
) -> Result<(ApiToken, Secret), Error> {
    let secret = Secret::generate();
    let digest = secret.digest();
    let token = db::run(pool, move |conn| {
        let new = NewApiToken {
            user_id: user,
            name: name.as_str(),
            token_hash: &digest,
            read_only,
        };
        api_tokens::insert(conn, &new).map_err(|error| match error {
            DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                if info.constraint_name() == Some("api_tokens_user_live_name") =>
            {
                Error::Conflict(format!(
                    "You already have a token named '{}'; choose another name.",
                    name.as_str()
                ))
            }
            other => other.into(),
        })
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

/// Ends every browser session of `user` but `keep` (the one asking); how many ended.
#[tracing::instrument(skip_all, fields(user = user.0))]
pub async fn end_other_sessions(pool: &PgPool, user: UserId, keep: String) -> Result<usize, Error> {
    db::run(pool, move |conn| {
        sessions::end_all_for_user_except(conn, user, Some(&keep)).map_err(Error::from)
    })
    .await
}
