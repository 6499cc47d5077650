//! The database layer: the pool, embedded migrations, and the one helper that runs queries off
//! the actix worker threads. Only this module writes SQL.

pub mod bootstrap;
pub mod models;
pub mod queries;
pub mod schema;

use std::time::Duration;

use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The database could not be reached, or the blocking task running a query did not finish.
/// A panic is a bug, not an outage: callers answer it as an internal error, not a 503.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("a database task was cancelled: {0}")]
    Cancelled(String),
    #[error("a database task panicked: {0}")]
    Panicked(String),
}

impl Unavailable {
    pub(crate) fn of_task(error: tokio::task::JoinError) -> Self {
        if error.is_panic() {
            Unavailable::Panicked(error.to_string())
        } else {
            Unavailable::Cancelled(error.to_string())
        }
    }
}

pub fn pool(url: &str, size: u32) -> anyhow::Result<PgPool> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    let pool = Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        .build(manager)?;
    Ok(pool)
}

/// Applies every pending migration; returns the versions it applied.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migrating the database: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Runs `work` with a pooled connection on the blocking thread pool, so a slow query never
/// stalls an actix worker. The current tracing span follows the work.
pub async fn run<T, E, F>(pool: &PgPool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<Unavailable> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(Unavailable::from)?;
        work(&mut conn)
    })
    .await
    .map_err(Unavailable::of_task)?
}

/// Whether the database answers a trivial query within `timeout`.
pub async fn is_ready(pool: &PgPool, timeout: Duration) -> bool {
    use diesel::RunQueryDsl;
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(mut conn) = pool.get_timeout(timeout) else {
            return false;
        };
        diesel::sql_query("SELECT 1").execute(&mut conn).is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The constraint a write broke, when PostgreSQL refused it for a unique, foreign-key or check
/// violation. Callers turn the name into a sentence for the user.
pub fn violated_constraint(error: &diesel::result::Error) -> Option<&str> {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation
            | DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::CheckViolation
            | DatabaseErrorKind::NotNullViolation,
            info,
        ) => info.constraint_name(),
        _ => None,
    }
}
