//! Checking a username and password: the one path form logins, Basic and header
//! authentication and password changes all take, so throttling and timing are the same for all.

use chrono::{DateTime, Utc};

use crate::auth::basic::{CredentialCache, Credentials, Verified};
use crate::auth::guard::{ApiCaller, Via};
use crate::auth::password;
use crate::auth::throttle::{self, Locked, LoginGate};
use crate::auth::token;
use crate::db::models::user::User;
use crate::db::queries::api_tokens;
use crate::db::queries::login_attempts::{self, Attempt, Reservation};
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
    gate: &LoginGate,
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
    match check_password(pool, gate, Some(cache), given, presented.address).await? {
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
/// The attempt is reserved (recorded as a failure) before the password is verified and taken
/// back when it is right, so attempts arriving together are verified no more often than the
/// limits allow. An unknown user costs a verification against a dummy hash, so an unknown user
/// and a wrong password take the same time and answer alike. With every verification slot
/// and the queue taken, the answer is [`Error::Busy`].
pub async fn check_password(
    pool: &PgPool,
    gate: &LoginGate,
    cache: Option<&CredentialCache>,
    given: Credentials,
    address: String,
) -> Result<Result<User, Refused>, Error> {
    let now = Utc::now();
    let attempt = Keys {
        username: throttle::recorded_username(&storable_username(&given.username)).to_owned(),
        address: throttle::address_key(&address),
    };
    let fingerprint = cache.map(|c| c.fingerprint(&given));
    let remembered = cache
        .zip(fingerprint.as_ref())
        .and_then(|(c, f)| c.entry(f));
    let reservation = reserve(pool, gate, &attempt, now, remembered).await?;
    if let Some(locked) = throttle::verdict(&reservation.failures, now) {
        return Ok(Err(Refused::Locked(locked)));
    }
    let Some(reserved) = reservation.reserved else {
        // the cache vouched for these credentials: nothing to verify
        return Ok(reservation.user.ok_or(Refused::WrongCredentials));
    };
    let phc = reservation.user.as_ref().map(|u| u.password_hash.clone());
    let Ok(slot) = gate.slot().await else {
        db::run(pool, move |conn| {
            login_attempts::release(conn, reserved).map_err(Error::from)
        })
        .await?;
        return Err(Error::Busy {
            retry_after_secs: throttle::BUSY_RETRY_AFTER_SECS,
        });
    };
    let verified = password::verify_off_worker(given.password, phc, slot).await;
    match reservation.user {
        Some(user) if verified => {
            let (known, address) = (user.clone(), attempt.address);
            db::run(pool, move |conn| {
                login_attempts::succeeded(conn, Some(reserved), &known, &address)
                    .map_err(Error::from)
            })
            .await?;
            if let (Some(cache), Some(fingerprint)) = (cache, fingerprint) {
                cache.remember(fingerprint, &user);
            }
            Ok(Ok(user))
        }
        // the reservation stays: it is the recorded failure
        _ => Ok(Err(Refused::WrongCredentials)),
    }
}

/// What an attempt counts under: the username as recorded and the address key.
struct Keys {
    username: String,
    address: String,
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

/// The user named in `attempt`, if any, and the limits reached; below them, the attempt
/// recorded as a failure in advance unless `remembered` vouches for the credentials. When it
/// vouches for the user as they are now, one statement reads both and nothing is locked.
async fn reserve(
    pool: &PgPool,
    gate: &LoginGate,
    attempt: &Keys,
    now: DateTime<Utc>,
    remembered: Option<Verified>,
) -> Result<Reservation, Error> {
    let (username, address, limits) = (
        attempt.username.clone(),
        attempt.address.clone(),
        gate.limits,
    );
    db::run(pool, move |conn| {
        let attempt = Attempt {
            username: &username,
            address: &address,
            since: throttle::window_start(now),
            known_since: now - throttle::KNOWN_FOR,
        };
        if let Some(remembered) = remembered
            && let Some((user, failures)) = login_attempts::recall(conn, attempt, limits)?
            && remembered.vouches_for(&user)
        {
            return Ok(Reservation {
                user: Some(user),
                failures,
                reserved: None,
            });
        }
        login_attempts::reserve(conn, attempt, limits, |user| {
            remembered.is_some_and(|r| r.vouches_for(user))
        })
        .map_err(Error::from)
    })
    .await
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
