//! The embedded default: with no server to use, the panel runs a PostgreSQL cluster of its own.

use std::os::unix::fs::PermissionsExt;

use diesel::prelude::*;
use distropanel::db::bootstrap::{private_cluster, stop_private_cluster};

#[derive(QueryableByName)]
struct Current {
    #[diesel(sql_type = diesel::sql_types::Text)]
    db: String,
}

#[test]
fn without_a_server_the_panel_starts_a_private_cluster_and_reuses_it() {
    let var = tempfile::tempdir().unwrap();
    // the cluster runs as an unprivileged account when we are root: it must reach the folder
    std::fs::set_permissions(var.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = var.path().join("pg");

    let url = private_cluster(&dir).expect("a private cluster starts");
    let stopper = Stopper(dir.clone());
    let mut conn = PgConnection::establish(&url).unwrap();
    let current: Current = diesel::sql_query("SELECT current_database() AS db")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(current.db, "distropanel");
    distropanel::db::migrate(&mut conn).expect("the schema applies to the private cluster");
    drop(conn);

    assert_eq!(
        private_cluster(&dir).unwrap(),
        url,
        "a running cluster is reused"
    );
    assert!(
        dir.join("run/.s.PGSQL.5432").exists(),
        "it listens on its own socket only"
    );
    drop(stopper);
    assert!(!dir.join("run/.s.PGSQL.5432").exists(), "stopped");
}

/// Stops the cluster however the test ends.
struct Stopper(std::path::PathBuf);

impl Drop for Stopper {
    fn drop(&mut self) {
        let _ = stop_private_cluster(&self.0);
    }
}
