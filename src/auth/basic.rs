//! HTTP Basic and uwsgi.it header credentials, and the short-lived memory of credentials
//! already verified, so an API client does not cost an argon2 verification per request.
//!
//! The cache is keyed by an HMAC of username and password under a key drawn at process start:
//! neither the password nor an offline-guessable hash of it is ever held. An entry remembers
//! the user's `password_changed_at`; every request reads the user row anyway, so a password
//! changed on any web node invalidates the entry on every node at once.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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

/// A name with NUL or another control character belongs to no user, and PostgreSQL cannot
/// even compare it: such credentials are absent, not a database error.
pub fn could_be_username(name: &str) -> bool {
    !name.chars().any(char::is_control)
}

/// How long verified credentials are trusted without argon2.
pub const REMEMBER_FOR: Duration = Duration::from_secs(5 * 60);
/// Entries held at most; beyond it stale ones go, then everything.
const CAPACITY: usize = 10_000;

pub type Fingerprint = [u8; 32];

/// What the cache remembers of verified credentials.
#[derive(Debug, Clone, Copy)]
pub struct Verified {
    user_id: UserId,
    password_changed_at: DateTime<Utc>,
    at: Instant,
}

impl Verified {
    /// Whether the credentials were verified recently for this user, as the user is now.
    pub fn vouches_for(&self, user: &User) -> bool {
        self.user_id == user.id
            && self.password_changed_at == user.password_changed_at
            && self.at.elapsed() < REMEMBER_FOR
    }
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

    /// The entries, even after a panic while they were held: each change to the map is a
    /// single insert or removal, so a panic cannot leave it half-changed, and one panic must
    /// not turn every later Basic request into another.
    fn entries(&self) -> MutexGuard<'_, HashMap<Fingerprint, Verified>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is remembered of these credentials, if anything; see [`Verified::vouches_for`].
    pub fn entry(&self, fingerprint: &Fingerprint) -> Option<Verified> {
        self.entries().get(fingerprint).copied()
    }

    /// Whether these credentials were verified recently for this user, as the user is now.
    pub fn recalls(&self, fingerprint: &Fingerprint, user: &User) -> bool {
        let mut entries = self.entries();
        match entries.get(fingerprint) {
            Some(seen) if seen.vouches_for(user) => true,
            Some(_) => {
                entries.remove(fingerprint);
                false
            }
            None => false,
        }
    }

    pub fn remember(&self, fingerprint: Fingerprint, user: &User) {
        let mut entries = self.entries();
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
        self.entries().retain(|_, seen| seen.user_id != user);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            staff_role: None,
        }
    }

    fn creds(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
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
    fn a_panic_while_the_cache_is_held_does_not_break_later_requests() {
        let cache = std::sync::Arc::new(CredentialCache::new());
        let held = cache.clone();
        let panicked = std::thread::spawn(move || {
            let _entries = held.entries.lock().unwrap();
            panic!("a bug while the cache is held");
        })
        .join();
        assert!(panicked.is_err());
        assert!(cache.entries.is_poisoned());
        let given = cache.fingerprint(&creds("u1", "password1"));
        cache.remember(given, &user(1, 100));
        assert!(cache.recalls(&given, &user(1, 100)));
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
