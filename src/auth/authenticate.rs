//! Checking a username and password: the one path form logins, Basic and header
//! authentication and password changes all take, so throttling and timing are the same for all.

use actix_web::HttpRequest;
use chrono::Utc;

use crate::auth::basic::{CredentialCache, Credentials};
use crate::auth::password;
use crate::auth::throttle::{self, Locked};
use crate::db::models::user::User;
use crate::db::queries::login_attempts;
use crate::db::{self, PgPool};
use crate::web::error::AppError;

/// Why a password check failed. Whether the user exists is never told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    WrongCredentials,
    Locked(Locked),
}

/// The client's address as the socket saw it. Forwarded headers are not trusted here: anyone
/// could send a fresh one with each guess and never reach the per-address limit.
pub fn client_address(request: &HttpRequest) -> String {
    request
        .peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Checks `given` for a login from `address`. With a cache, credentials verified in the last
/// few minutes (against the same password) skip argon2; without one, argon2 always runs.
///
/// An unknown user costs a verification against a dummy hash, and every failure is recorded
/// the same way, so an unknown user and a wrong password take the same time and answer alike.
pub async fn check_password(
    pool: &PgPool,
    cache: Option<&CredentialCache>,
    given: Credentials,
    address: String,
) -> Result<Result<User, Refused>, AppError> {
    let now = Utc::now();
    // No username has control characters, and PostgreSQL refuses a NUL in a query: such a
    // name is looked up and recorded with them replaced, so it is an ordinary wrong login.
    let typed: String = given
        .username
        .chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    let username = typed.clone();
    let (user, failures) = {
        let address = address.clone();
        db::run(pool, move |conn| {
            login_attempts::user_and_failures(
                conn,
                &username,
                &address,
                throttle::window_start(now),
                throttle::PER_USERNAME,
                throttle::PER_ADDRESS,
            )
            .map_err(AppError::from)
        })
        .await?
    };
    if let Some(locked) = throttle::verdict(&failures, now) {
        return Ok(Err(Refused::Locked(locked)));
    }

    let fingerprint = cache.map(|c| c.fingerprint(&given));
    if let (Some(cache), Some(fingerprint), Some(user)) = (cache, &fingerprint, &user)
        && cache.recalls(fingerprint, user)
    {
        return Ok(Ok(user.clone()));
    }

    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let verified = password::verify_off_worker(given.password, phc).await;
    match user {
        Some(user) if verified => {
            if let (Some(cache), Some(fingerprint)) = (cache, fingerprint) {
                cache.remember(fingerprint, &user);
            }
            Ok(Ok(user))
        }
        _ => {
            let username = throttle::recorded_username(&typed).to_owned();
            let address: String = address.chars().take(64).collect();
            db::run(pool, move |conn| {
                login_attempts::record_failure(conn, &username, &address).map_err(AppError::from)
            })
            .await?;
            Ok(Err(Refused::WrongCredentials))
        }
    }
}
