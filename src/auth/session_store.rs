//! Browser sessions on actix-session, with the state kept server-side in PostgreSQL, and the
//! reading and writing of the typed [`SignedIn`] view in a session.
//!
//! The cookie carries only a random key (signed); the table keeps the SHA-256 of it. A session
//! dies after [`IDLE_TIMEOUT`] without a request, or [`ABSOLUTE_TIMEOUT`] after login whatever
//! happens; dead rows are swept by [`crate::auth::sweep_forever`].

use std::collections::HashMap;

use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::session::{ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, SignedIn};
use crate::config::Config;
use crate::db::models::session::SessionWrite;
use crate::db::models::user::{Role, User};
use crate::db::queries::sessions;
use crate::db::{self, PgPool};
use crate::domain::ids::{CustomerId, UserId};
use crate::domain::staff_role::StaffRole;

pub const COOKIE_NAME: &str = "distropanel_session";
/// A request within this long of the last recorded one does not write `last_seen` again, so a
/// page view costs one read, and a write at most once a minute.
const TOUCH_EVERY: Duration = Duration::seconds(60);

pub fn middleware(pool: PgPool, config: &Config) -> SessionMiddleware<PgSessionStore> {
    let idle = actix_web::cookie::time::Duration::seconds(IDLE_TIMEOUT.num_seconds());
    SessionMiddleware::builder(PgSessionStore { pool }, Key::from(&config.session_key.0))
        .cookie_name(COOKIE_NAME.into())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(config.secure_cookies)
        .cookie_content_security(CookieContentSecurity::Signed)
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(idle)
                // the idle expiry moves on in `load`, which sees when the session was last used
                .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}

/// What the database keeps instead of the cookie's key.
pub fn key_digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub struct PgSessionStore {
    pool: PgPool,
}

type State = HashMap<String, String>;

/// State values are JSON texts (actix-session serialises each); the table keeps them as one
/// JSON object of strings, and draws the owner, public id and client out into columns.
struct Row {
    state: Value,
    user_id: Option<UserId>,
    public_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl Row {
    fn from_state(state: &State) -> Self {
        fn field<T: serde::de::DeserializeOwned>(state: &State, key: &str) -> Option<T> {
            serde_json::from_str(state.get(key)?).ok()
        }
        Row {
            state: Value::Object(
                state
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
            user_id: field::<i32>(state, keys::USER_ID).map(UserId),
            public_id: field(state, keys::PUBLIC_ID),
            ip: field(state, keys::IP),
            user_agent: field(state, keys::USER_AGENT),
        }
    }

    fn write<'a>(
        &'a self,
        key_hash: &'a str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> SessionWrite<'a> {
        SessionWrite {
            key_hash,
            user_id: self.user_id,
            public_id: self.public_id.as_deref(),
            state: &self.state,
            ip: self.ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            last_seen: now,
            expires_at: now + ttl,
        }
    }
}

fn state_from_json(value: Value) -> anyhow::Result<State> {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(anyhow!("session value {k} is not a string: {other}")),
            })
            .collect(),
        other => Err(anyhow!("session state is not an object: {other}")),
    }
}

fn chrono_ttl(ttl: &actix_web::cookie::time::Duration) -> Duration {
    Duration::seconds(ttl.whole_seconds())
}

fn new_key() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 64)
}

impl PgSessionStore {
    async fn insert(&self, row: Row, ttl: Duration) -> anyhow::Result<SessionKey> {
        let key = new_key();
        let key_hash = key_digest(&key);
        let now = Utc::now();
        db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            sessions::insert(conn, &row.write(&key_hash, now, ttl))?;
            Ok(())
        })
        .await?;
        key.try_into().map_err(anyhow::Error::from)
    }
}

impl SessionStore for PgSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let key_hash = key_digest(session_key.as_ref());
        let now = Utc::now();
        let stored = db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            let Some((state, last_seen)) =
                sessions::live_state(conn, &key_hash, now, now - ABSOLUTE_TIMEOUT)?
            else {
                return Ok(None);
            };
            if now - last_seen > TOUCH_EVERY {
                sessions::touch(conn, &key_hash, now, now + IDLE_TIMEOUT)?;
            }
            Ok(Some(state))
        })
        .await
        .map_err(LoadError::Other)?;
        stored
            .map(state_from_json)
            .transpose()
            .map_err(LoadError::Deserialization)
    }

    async fn save(
        &self,
        session_state: State,
        ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, SaveError> {
        self.insert(Row::from_state(&session_state), chrono_ttl(ttl))
            .await
            .map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: State,
        ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, UpdateError> {
        let ttl = chrono_ttl(ttl);
        let key_hash = key_digest(session_key.as_ref());
        let row = Row::from_state(&session_state);
        let now = Utc::now();
        let updated = db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            Ok(sessions::rewrite(conn, &row.write(&key_hash, now, ttl))?)
        })
        .await
        .map_err(UpdateError::Other)?;
        if updated == 1 {
            return Ok(session_key);
        }
        // Ended elsewhere (a password change, "end session") while this request ran: whatever
        // it wanted to write must not bring the login back.
        self.insert(Row::from_state(&State::new()), ttl)
            .await
            .map_err(UpdateError::Other)
    }

    /// Not called with [`TtlExtensionPolicy::OnStateChanges`]; `load` keeps sessions alive.
    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &actix_web::cookie::time::Duration,
    ) -> Result<(), anyhow::Error> {
        let key_hash = key_digest(session_key.as_ref());
        let now = Utc::now();
        let expires_at = now + chrono_ttl(ttl);
        db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            sessions::touch(conn, &key_hash, now, expires_at)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let key_hash = key_digest(session_key.as_ref());
        db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            sessions::delete(conn, &key_hash)?;
            Ok(())
        })
        .await
    }
}

/// The names of the values a signed-in session holds.
mod keys {
    pub const USER_ID: &str = "user_id";
    pub const USERNAME: &str = "username";
    pub const ROLE: &str = "role";
    pub const STAFF_ROLE: &str = "staff_role";
    pub const CUSTOMER_ID: &str = "customer_id";
    pub const CSRF: &str = "csrf";
    pub const PUBLIC_ID: &str = "sid";
    pub const IP: &str = "ip";
    pub const USER_AGENT: &str = "user_agent";
}

impl SignedIn {
    pub fn read(session: &Session) -> Option<Self> {
        let get = |key: &str| session.get::<String>(key).ok().flatten();
        Some(SignedIn {
            user_id: UserId(session.get::<i32>(keys::USER_ID).ok()??),
            username: get(keys::USERNAME)?,
            role: Role::from_db(&get(keys::ROLE)?),
            staff_role: match Role::from_db(&get(keys::ROLE)?) {
                Role::Staff => Some(StaffRole::from_db(get(keys::STAFF_ROLE).as_deref())),
                Role::Customer => None,
            },
            customer_id: session
                .get::<Option<i32>>(keys::CUSTOMER_ID)
                .ok()??
                .map(CustomerId),
            csrf_token: get(keys::CSRF)?,
            public_id: get(keys::PUBLIC_ID)?,
        })
    }

    /// Signs `user` in: the session gets a new key (so a key planted before login is worth
    /// nothing), a new CSRF token and a new public id.
    pub fn begin(
        session: &Session,
        user: &User,
        ip: &str,
        user_agent: &str,
    ) -> Result<Self, actix_session::SessionInsertError> {
        session.clear();
        session.renew();
        let signed_in = SignedIn {
            user_id: user.id,
            username: user.username.clone(),
            role: user.role(),
            staff_role: user.staff_role(),
            customer_id: user.customer_id,
            csrf_token: crate::auth::csrf::new_token(),
            public_id: hex::encode(rand::random::<[u8; 16]>()),
        };
        session.insert(keys::USER_ID, signed_in.user_id.0)?;
        session.insert(keys::USERNAME, &signed_in.username)?;
        session.insert(keys::ROLE, signed_in.role.as_str())?;
        if let Some(staff_role) = signed_in.staff_role {
            session.insert(keys::STAFF_ROLE, staff_role.as_str())?;
        }
        session.insert(keys::CUSTOMER_ID, signed_in.customer_id.map(|c| c.0))?;
        session.insert(keys::CSRF, &signed_in.csrf_token)?;
        session.insert(keys::PUBLIC_ID, &signed_in.public_id)?;
        session.insert(keys::IP, ip)?;
        let user_agent: String = user_agent.chars().take(255).collect();
        session.insert(keys::USER_AGENT, user_agent)?;
        Ok(signed_in)
    }

    /// The token forms of this session must carry.
    pub fn csrf_token(session: &Session) -> Option<String> {
        session.get::<String>(keys::CSRF).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_json_and_feeds_the_columns() {
        let mut state = State::new();
        state.insert(keys::USER_ID.into(), "42".into());
        state.insert(keys::PUBLIC_ID.into(), "\"abc\"".into());
        state.insert(keys::IP.into(), "\"127.0.0.1\"".into());
        let row = Row::from_state(&state);
        assert_eq!(row.user_id, Some(UserId(42)));
        assert_eq!(row.public_id.as_deref(), Some("abc"));
        assert_eq!(row.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(row.user_agent, None);
        assert_eq!(state_from_json(row.state).unwrap(), state);
    }

    #[test]
    fn a_stored_key_is_a_digest_not_the_key() {
        let key = new_key();
        assert_eq!(key.len(), 64);
        let digest = key_digest(&key);
        assert_eq!(digest.len(), 64);
        assert_ne!(digest, key);
    }
}
