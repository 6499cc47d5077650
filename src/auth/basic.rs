//! HTTP Basic and uwsgi.it header credentials, and the short-lived memory of credentials
//! already verified, so an API client does not cost an argon2 verification per request.
//!
//! The cache is keyed by an HMAC of username and password under a key drawn at process start:
//! neither the password nor an offline-guessable hash of it is ever held. An entry remembers
//! the user's `password_changed_at`; every request reads the user row anyway, so a password
//! changed on any web node invalidates the entry on every node at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::models::user::User;
use crate::domain::ids::UserId;

/// Credentials as sent: username and password.
#[derive(PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Reads Basic or uwsgi.it header credentials. A Basic password may contain `:`: the
/// credentials split at the first colon only. `None` when neither is present or readable.
pub fn credentials(request: &HttpRequest) -> Option<Credentials> {
    let headers = request.headers();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        if !could_be_username(username) {
            return None;
        }
        return Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        });
    }
    let hex_header = |name: &str| -> Option<String> {
        let raw = headers.get(name)?.to_str().ok()?;
        String::from_utf8(hex::decode(raw.trim()).ok()?).ok()
    };
    let username = hex_header("X-uwsgi-it-username")?;
    if !could_be_username(&username) {
        return None;
    }
    Some(Credentials {
        username,
        password: hex_header("X-uwsgi-it-password")?,
    })
}

/// A name with NUL or another control character belongs to no user, and PostgreSQL cannot
/// even compare it: such credentials are absent, not a database error.
fn could_be_username(name: &str) -> bool {
    !name.chars().any(char::is_control)
}

/// How long verified credentials are trusted without argon2.
pub const REMEMBER_FOR: Duration = Duration::from_secs(5 * 60);
/// Entries held at most; beyond it stale ones go, then everything.
const CAPACITY: usize = 10_000;

type Fingerprint = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Verified {
    user_id: UserId,
    password_changed_at: DateTime<Utc>,
    at: Instant,
}

pub struct CredentialCache {
    key: [u8; 32],
    entries: Mutex<HashMap<Fingerprint, Verified>>,
}

impl Default for CredentialCache {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialCache {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// HMAC-SHA256 over the username's length, the username and the password, so no two
    /// different pairs share a message.
    pub fn fingerprint(&self, given: &Credentials) -> Fingerprint {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(&(given.username.len() as u64).to_be_bytes());
        mac.update(given.username.as_bytes());
        mac.update(given.password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether these credentials were verified recently for this user, as the user is now.
    pub fn recalls(&self, fingerprint: &Fingerprint, user: &User) -> bool {
        let mut entries = self.entries.lock().expect("cache lock");
        match entries.get(fingerprint) {
            Some(seen)
                if seen.user_id == user.id
                    && seen.password_changed_at == user.password_changed_at
                    && seen.at.elapsed() < REMEMBER_FOR =>
            {
                true
            }
            Some(_) => {
                entries.remove(fingerprint);
                false
            }
            None => false,
        }
    }

    pub fn remember(&self, fingerprint: Fingerprint, user: &User) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CAPACITY {
            entries.retain(|_, seen| seen.at.elapsed() < REMEMBER_FOR);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            fingerprint,
            Verified {
                user_id: user.id,
                password_changed_at: user.password_changed_at,
                at: Instant::now(),
            },
        );
    }

    /// Drops everything verified for this user (their password changed here).
    pub fn forget_user(&self, user: UserId) {
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|_, seen| seen.user_id != user);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn user(id: i32, changed: i64) -> User {
        User {
            id: UserId(id),
            username: format!("u{id}"),
            email: "u@example.com".into(),
            password_hash: String::new(),
            role: "customer".into(),
            customer_id: None,
            password_changed_at: DateTime::from_timestamp(changed, 0).unwrap(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    fn creds(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss:word");
        let request = TestRequest::default()
            .insert_header(("Authorization", format!("Basic {encoded}")))
            .to_http_request();
        assert_eq!(credentials(&request), Some(creds("alice", "pa:ss:word")));
    }

    #[test]
    fn uwsgi_it_headers_are_hex_decoded() {
        let request = TestRequest::default()
            .insert_header(("X-uwsgi-it-username", hex::encode("alice")))
            .insert_header(("X-uwsgi-it-password", hex::encode("s3cret:x")))
            .to_http_request();
        assert_eq!(credentials(&request), Some(creds("alice", "s3cret:x")));
        let not_hex = TestRequest::default()
            .insert_header(("X-uwsgi-it-username", "alice"))
            .insert_header(("X-uwsgi-it-password", "zz"))
            .to_http_request();
        assert_eq!(credentials(&not_hex), None);
    }

    #[test]
    fn a_fingerprint_depends_on_both_parts_and_on_the_process_key() {
        let cache = CredentialCache::new();
        let a = cache.fingerprint(&creds("ab", "c"));
        assert_ne!(a, cache.fingerprint(&creds("a", "bc")));
        assert_ne!(a, cache.fingerprint(&creds("ab", "d")));
        assert_ne!(a, CredentialCache::new().fingerprint(&creds("ab", "c")));
    }

    #[test]
    fn remembered_credentials_are_recalled_until_the_password_changes() {
        let cache = CredentialCache::new();
        let given = cache.fingerprint(&creds("u1", "password1"));
        assert!(!cache.recalls(&given, &user(1, 100)));
        cache.remember(given, &user(1, 100));
        assert!(cache.recalls(&given, &user(1, 100)));
        assert!(
            !cache.recalls(&given, &user(1, 200)),
            "changed elsewhere: the row says so"
        );
        assert!(
            !cache.recalls(&given, &user(1, 100)),
            "and the entry is gone"
        );
    }

    #[test]
    fn forgetting_a_user_drops_only_their_entries() {
        let cache = CredentialCache::new();
        cache.remember(cache.fingerprint(&creds("u1", "x")), &user(1, 0));
        cache.remember(cache.fingerprint(&creds("u2", "y")), &user(2, 0));
        cache.forget_user(UserId(1));
        assert_eq!(cache.len(), 1);
        assert!(cache.recalls(&cache.fingerprint(&creds("u2", "y")), &user(2, 0)));
    }
}
