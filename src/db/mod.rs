//! The database layer: the pool, embedded migrations, and the one helper that runs queries off
//! the actix worker threads. Only this module writes SQL.

pub mod bootstrap;
pub mod connection;
pub mod fixed;
pub mod health;
pub mod models;
pub mod queries;
pub mod schema;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use diesel::PgConnection;
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub type PgPooled = PooledConnection<connection::Manager>;

/// A connection pool and what it knows of its database's health (see [`health`]). It derefs to
/// the r2d2 pool, for callers that take connections themselves.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool<connection::Manager>,
    health: Arc<health::Health>,
}

impl Deref for PgPool {
    type Target = Pool<connection::Manager>;

    fn deref(&self) -> &Self::Target {
        &self.pool
    }
}

impl PgPool {
    pub fn health(&self) -> &health::Health {
        &self.health
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The database could not be reached, or the blocking task running a query did not finish.
/// A panic is a bug, not an outage: callers answer it as an internal error, not a 503.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("the database is down (a probe is waiting for it)")]
    Down,
    #[error("a database task was cancelled: {0}")]
    Cancelled(String),
    #[error("the database closed the connection during a statement")]
    Lost,
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
    let manager = connection::Manager::new(url);
    let pool = Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        .build(manager)?;
    Ok(PgPool {
        pool,
        health: Arc::default(),
    })
}

/// A job worker's connection: one, whatever its slots, subscribed to the job notifications
/// ([`queries::jobs::READY_CHANNEL`]) and named `name` in `pg_stat_activity`. Checking it out
/// costs no round trip (no test query): a broken connection fails its statement and is
/// replaced.
pub fn worker_pool(url: &str, name: &str) -> anyhow::Result<PgPool> {
    let manager = connection::Manager::new(url);
    let pool = Pool::builder()
        .max_size(1)
        .min_idle(Some(1))
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(30))
        .connection_customizer(Box::new(Listening {
            application_name: name.to_owned(),
        }))
        .build(manager)?;
    Ok(PgPool {
        pool,
        health: Arc::default(),
    })
}

/// A connection for a long read (an upload streamed back), opened on demand and closed once
/// idle.
pub fn on_demand_pool(url: &str, name: &str) -> anyhow::Result<PgPool> {
    let manager = connection::Manager::new(url);
    let pool = Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .idle_timeout(Some(Duration::from_secs(10)))
        .connection_timeout(Duration::from_secs(30))
        .connection_customizer(Box::new(Named {
            application_name: name.to_owned(),
        }))
        .build_unchecked(manager);
    Ok(PgPool {
        pool,
        health: Arc::default(),
    })
}

/// Drops a connection whose socket has failed so its pool opens a new one. The worker pool
/// checks out without a test query, so it would keep the dead connection otherwise: r2d2
/// discards a connection that returns while its thread unwinds, and `resume_unwind` unwinds
/// without the panic hook (nothing is printed).
pub fn discard(conn: PgPooled) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _held = conn;
        std::panic::resume_unwind(Box::new("discarding a broken connection"));
    }));
}

#[derive(Debug)]
struct Listening {
    application_name: String,
}

impl diesel::r2d2::CustomizeConnection<connection::Connection, diesel::r2d2::Error> for Listening {
    fn on_acquire(&self, conn: &mut connection::Connection) -> Result<(), diesel::r2d2::Error> {
        set_application_name(conn, &self.application_name)?;
        // A worker's commits need not wait for the WAL flush: a job whose outcome a database
        // crash loses runs again (jobs are idempotent), and what a job writes on the host is
        // durable before the job is marked done. Everyone else's commits stay synchronous.
        use diesel::RunQueryDsl;
        diesel::sql_query("SET synchronous_commit = off")
            .execute(&mut **conn)
            .map_err(diesel::r2d2::Error::QueryError)?;
        queries::jobs::listen(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

#[derive(Debug)]
struct Named {
    application_name: String,
}

impl diesel::r2d2::CustomizeConnection<connection::Connection, diesel::r2d2::Error> for Named {
    fn on_acquire(&self, conn: &mut connection::Connection) -> Result<(), diesel::r2d2::Error> {
        set_application_name(conn, &self.application_name)
    }
}

fn set_application_name(conn: &mut PgConnection, name: &str) -> Result<(), diesel::r2d2::Error> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT set_config('application_name', $1, false)")
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(conn)
        .map(drop)
        .map_err(diesel::r2d2::Error::QueryError)
}

/// The advisory lock `migrate` holds, so concurrent runs apply each migration once.
const MIGRATION_LOCK: i64 = 0x6469_7374_726f_0001;

/// Applies every pending migration under an advisory lock; returns the versions it applied.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(conn)?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|applied| applied.iter().map(|v| v.to_string()).collect())
        .map_err(|e| anyhow::anyhow!("migrating the database: {e}"));
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(conn)?;
    applied
}

#[derive(diesel::QueryableByName)]
struct TableExists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

#[derive(diesel::QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// How many embedded migrations the database lacks. Reads only: it creates no table, so it
/// needs no DDL rights.
pub fn pending_migrations(conn: &mut PgConnection) -> anyhow::Result<usize> {
    use diesel::RunQueryDsl;
    use diesel::migration::MigrationSource;
    let table: TableExists =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists")
            .get_result(conn)?;
    let applied: Vec<AppliedVersion> = if table.exists {
        diesel::sql_query("SELECT version::text AS version FROM __diesel_schema_migrations")
            .load(conn)?
    } else {
        Vec::new()
    };
    let known: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("reading the embedded migrations: {e}"))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    Ok(known
        .iter()
        .filter(|v| !applied.iter().any(|a| &a.version == *v))
        .count())
}

/// Refuses, in one line, a database that lacks migrations: only `distropanel migrate` (and
/// `demo`) apply them.
pub fn require_migrated(conn: &mut PgConnection) -> anyhow::Result<()> {
    match pending_migrations(conn)? {
        0 => Ok(()),
        n => anyhow::bail!(
            "the database has {n} pending migration{}; run `distropanel migrate`",
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// Runs `work` with a pooled connection on the blocking thread pool, so a slow query never
/// stalls an actix worker. The current tracing span follows the work. While the database is
/// known to be down it answers `Unavailable::Down` at once (see [`health`]).
pub async fn run<T, E, F>(pool: &PgPool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<Unavailable> + Send + 'static,
{
    if pool.health.is_down() {
        return Err(Unavailable::Down.into());
    }
    let taken = pool.clone();
    let span = tracing::Span::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = taken.get().map_err(Unavailable::Pool)?;
        let done = work(&mut conn);
        if done.is_err() && conn.lost() {
            return Err(Unavailable::Lost);
        }
        Ok(done)
    })
    .await
    .map_err(Unavailable::of_task)?;
    outcome.unwrap_or_else(|unavailable| {
        health::lost(pool);
        Err(unavailable.into())
    })
}

/// Whether the database answers a trivial query within `timeout`: at once `false` while it is
/// known to be down.
pub async fn is_ready(pool: &PgPool, timeout: Duration) -> bool {
    if pool.health.is_down() {
        return false;
    }
    let up = answers(pool, timeout).await;
    if !up {
        health::lost(pool);
    }
    up
}

/// Whether the database answers a trivial query within `timeout`.
async fn answers(pool: &PgPool, timeout: Duration) -> bool {
    use diesel::RunQueryDsl;
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(mut conn) = pool.get_timeout(timeout) else {
            return false;
        };
        diesel::sql_query("SELECT 1").execute(&mut **conn).is_ok()
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
