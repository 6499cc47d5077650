//! The pools' connections. A connection that went back to its pool moments ago is handed out
//! again without a test query: a request then costs only its own statements. One that sat idle
//! longer is tested first. When work on a connection fails, [`Connection::lost`] tells whether
//! the server is gone, so [`crate::db::run`] can answer "unavailable" and the pool drops it.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Error, ManageConnection, R2D2Connection};

/// How long after its return a connection is handed out without a test query. A server that
/// went away within this window shows as a failed statement, after which the connection is
/// tested and dropped.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// A pooled PostgreSQL connection; it derefs to diesel's.
pub struct Connection {
    conn: PgConnection,
    returned_at: Instant,
    lost: bool,
}

impl Connection {
    /// Whether the server still answers, asked after work on this connection failed: a
    /// refusal leaves it usable, a closed socket does not. A lost connection is not reused.
    pub fn lost(&mut self) -> bool {
        self.lost = self.lost || self.conn.ping().is_err();
        self.lost
    }
}

impl Deref for Connection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Opens, tests and retires [`Connection`]s for r2d2.
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
}

impl Manager {
    pub fn new(url: &str) -> Self {
        Manager {
            inner: ConnectionManager::new(url),
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection, Error> {
        Ok(Connection {
            conn: self.inner.connect()?,
            returned_at: Instant::now(),
            lost: false,
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), Error> {
        if conn.returned_at.elapsed() < FRESH_FOR {
            return Ok(());
        }
        self.inner.is_valid(&mut conn.conn)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.returned_at = Instant::now();
        conn.lost || self.inner.has_broken(&mut conn.conn)
    }
}
