//! Checking a username and password: the one path form logins, Basic and header
//! authentication and password changes all take, so throttling and timing are the same for all.

use chrono::{DateTime, Utc};

use crate::auth::basic::{CredentialCache, Credentials};
use crate::auth::guard::{ApiCaller, Via};
use crate::auth::password;
use crate::auth::throttle::{self, Locked};
use crate::auth::token;
use crate::db::models::user::User;
use crate::db::queries::api_tokens;
use crate::db::queries::login_attempts::{self, Failures};
use crate::db::{self, PgPool};
use crate::error::Error;

/// Why a password check failed. Whether the user exists is never told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    WrongCredentials,
    Locked(Locked),
}

/// Walks `X-Forwarded-For` from the nearest hop back while the hops are trusted proxies; the
/// first address not one of them is the client. Anything unreadable stops the walk there.
pub fn forwarded_client(
    peer: std::net::IpAddr,
    forwarded: &str,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let Ok(address) = hop.parse::<std::net::IpAddr>() else {
            break;
        };
        client = address;
        if !trusted.contains(&address) {
            break;
        }
    }
    client
}

/// What an API request presents to say who sends it.
#[derive(Debug)]
pub struct ApiCredentials {
    /// The secret of an `Authorization: Bearer` header.
    pub bearer: Option<String>,
    /// Basic or uwsgi.it header credentials.
    pub given: Option<Credentials>,
    /// An unsafe request from another site carrying Basic credentials: a browser replaying
    /// credentials it cached from a login prompt.
    pub replayed_by_browser: bool,
    pub address: String,
}

/// The API caller `presented` names: a bearer token first, else a password checked (and
/// throttled) like any login.
pub async fn api_caller(
    pool: &PgPool,
    cache: &CredentialCache,
    presented: ApiCredentials,
) -> Result<ApiCaller, Error> {
    if let Some(secret) = presented.bearer {
        return by_token(pool, secret).await;
    }
    let given = presented.given.ok_or(Error::Unauthorized)?;
    if presented.replayed_by_browser {
        return Err(Error::Forbidden(
            "Another site sent this request with your saved credentials; it was refused.".into(),
        ));
    }
    match check_password(pool, Some(cache), given, presented.address).await? {
        Ok(user) => Ok(ApiCaller {
            user_id: user.id,
            role: user.role(),
            customer_id: user.customer_id,
            username: user.username,
            via: Via::Password,
        }),
        Err(Refused::WrongCredentials) => Err(Error::Unauthorized),
        Err(Refused::Locked(locked)) => Err(Error::TooManyRequests {
            retry_after_secs: locked.retry_after_secs,
        }),
    }
}

async fn by_token(pool: &PgPool, secret: String) -> Result<ApiCaller, Error> {
    let digest = token::digest(&secret);
    let now = Utc::now();
    db::run(pool, move |conn| {
        let Some((token, user)) = api_tokens::active_with_user(conn, &digest)? else {
            return Err(Error::Unauthorized);
        };
        let stale = token
            .last_used_at
            .is_none_or(|used| now - used > chrono::Duration::minutes(1));
        if stale {
            api_tokens::mark_used(conn, token.id, now)?;
        }
        Ok(ApiCaller {
            user_id: user.id,
            role: user.role(),
            customer_id: user.customer_id,
            username: user.username,
            via: Via::Token {
                read_only: token.read_only,
            },
        })
    })
    .await
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
) -> Result<Result<User, Refused>, Error> {
    let now = Utc::now();
    let typed = storable_username(&given.username);
    let (user, failures) = user_and_failures(pool, typed.clone(), address.clone(), now).await?;
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
            record_failure(pool, &typed, &address).await?;
            Ok(Err(Refused::WrongCredentials))
        }
    }
}

/// No username has control characters, and PostgreSQL refuses a NUL in a query: such a name
/// is looked up and recorded with them replaced, so it is an ordinary wrong login.
fn storable_username(typed: &str) -> String {
    typed
        .chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// The user named `username`, if any, and the recent failed logins that count against the
/// name and against `address`.
async fn user_and_failures(
    pool: &PgPool,
    username: String,
    address: String,
    now: DateTime<Utc>,
) -> Result<(Option<User>, Failures), Error> {
    db::run(pool, move |conn| {
        login_attempts::user_and_failures(
            conn,
            &username,
            &address,
            throttle::window_start(now),
            throttle::PER_USERNAME,
            throttle::PER_ADDRESS,
        )
        .map_err(Error::from)
    })
    .await
}

/// Records a failed login for the throttle, under the name as typed (bounded) and `address`.
async fn record_failure(pool: &PgPool, typed: &str, address: &str) -> Result<(), Error> {
    let username = throttle::recorded_username(typed).to_owned();
    let address: String = address.chars().take(64).collect();
    db::run(pool, move |conn| {
        login_attempts::record_failure(conn, &username, &address).map_err(Error::from)
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_can_name_the_client() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let client = |peer, header| forwarded_client(ip(peer), header, &proxies).to_string();
        // straight from the internet: the header is whatever the client wanted it to be
        assert_eq!(client("203.0.113.5", "198.51.100.1"), "203.0.113.5");
        // through the proxy: the address it appended
        assert_eq!(client("10.0.0.1", "198.51.100.1"), "198.51.100.1");
        // a forged first entry is not believed: only the hops the proxies added count
        assert_eq!(client("10.0.0.1", "6.6.6.6, 198.51.100.1"), "198.51.100.1");
        // two proxies in a row
        assert_eq!(client("10.0.0.1", "198.51.100.1, 10.0.0.2"), "198.51.100.1");
        // no header, or garbage: the proxy itself
        assert_eq!(client("10.0.0.1", ""), "10.0.0.1");
        assert_eq!(client("10.0.0.1", "not-an-ip"), "10.0.0.1");
        assert_eq!(client("10.0.0.1", "198.51.100.1, junk"), "10.0.0.1");
    }
}
