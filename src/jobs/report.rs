//! A worker's report of the servers it runs: a heartbeat for each, and the disk use of each
//! of their containers (home, and stored images), measured on this host and upserted.

use chrono::Utc;

use crate::db::queries::host_reports::{self, DiskUseRow};
use crate::db::queries::jobs::ServerScope;
use crate::domain::values::Uid;
use crate::jobs::run::Runner;

/// What one report wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub servers: usize,
    pub containers: usize,
}

/// Measures every container of the servers in `scope` and records the report. Blocking:
/// one container at a time, one directory open at a time. A container that cannot be
/// measured is logged and left with its last values; the heartbeat is written regardless.
pub fn report(runner: &Runner, scope: &ServerScope) -> anyhow::Result<Reported> {
    let mut conn = runner.pool.get()?;
    let (servers, containers) = match scope {
        ServerScope::All => (
            host_reports::server_ids(&mut conn)?,
            host_reports::containers_of(&mut conn, None)?,
        ),
        ServerScope::Only(ids) => (
            ids.clone(),
            host_reports::containers_of(&mut conn, Some(ids))?,
        ),
    };
    // measuring may take a while: no connection is held meanwhile
    drop(conn);
    let mut uses = Vec::with_capacity(containers.len());
    for measured in &containers {
        let uid = Uid::of(runner.base_uid, measured.container);
        match runner.host.disk_use(uid) {
            Ok(used) => uses.push(DiskUseRow {
                container_id: measured.container,
                home_bytes: i64::try_from(used.home_bytes).unwrap_or(i64::MAX),
                images_bytes: i64::try_from(used.images_bytes).unwrap_or(i64::MAX),
                measured_at: Utc::now(),
            }),
            Err(e) => {
                tracing::warn!(container = measured.container.0, error = %e, "measuring disk use failed")
            }
        }
    }
    let mut conn = runner.pool.get()?;
    host_reports::record(&mut conn, &servers, &runner.worker, &uses)?;
    Ok(Reported {
        servers: servers.len(),
        containers: uses.len(),
    })
}
