//! Who is asking: passwords, sessions, tokens and roles.

pub mod authenticate;
pub mod basic;
pub mod csrf;
pub mod csrf_middleware;
pub mod extract;
pub mod guard;
pub mod password;
pub mod session;
pub mod session_store;
pub mod throttle;
pub mod token;

use std::time::Duration;

use chrono::Utc;

use crate::db::{self, PgPool};
use crate::error::Error;

/// How often dead sessions and failures too old to count are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);

/// Deletes dead sessions and stale failed logins, now and every [`SWEEP_EVERY`]. Runs for as
/// long as the server does; several web nodes sweeping at once do no harm.
pub async fn sweep_forever(pool: PgPool) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        if let Err(error) = sweep(&pool).await {
            tracing::warn!(?error, "sweeping sessions and login attempts failed");
        }
    }
}

pub async fn sweep(pool: &PgPool) -> Result<(usize, usize), Error> {
    let now = Utc::now();
    db::run(pool, move |conn| {
        let sessions =
            db::queries::sessions::delete_dead(conn, now, now - session::ABSOLUTE_TIMEOUT)?;
        let attempts =
            db::queries::login_attempts::delete_before(conn, throttle::window_start(now))?;
        db::queries::login_attempts::delete_successes_before(conn, now - throttle::KNOWN_FOR)?;
        Ok::<_, Error>((sessions, attempts))
    })
    .await
}
