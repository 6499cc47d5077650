//! A worker killed in the middle of a job: another worker finishes it after the lease, and
//! nothing that must happen once happens twice.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

fn agent(app: &TestApp) -> Child {
    Command::new(env!("CARGO_BIN_EXE_distropanel"))
        .args(["agent", "--server", "s1"])
        .env("DATABASE_URL", app.db.conninfo())
        .env("DISTROPANEL_VAR_DIR", app.var_dir.path())
        .env("DISTROPANEL_HOST_ROOT", app.host_root.path())
        .env("DISTROPANEL_JOB_LEASE_SECS", "2")
        .env("DISTROPANEL_JOB_POLL_MS", "100")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the agent starts")
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_restart_whose_agent_is_killed_mid_job_is_finished_by_the_next_agent_once() {
    let app = spawn_app().await;
    let estate = estate(&app);
    std::fs::remove_dir(home(&app, estate.storage.uid()).join("distros/ubuntu0001/.old_root"))
        .unwrap();
    let job = map_and_restart(&app, &estate.web, estate.distro);

    // hold the container row as a concurrent change would (alarms and events can still refer
    // to it): the agent stores the fallback alarm, then waits on this lock
    // to record what the container boots
    let mut lock = app.conn();
    diesel::sql_query("BEGIN").execute(&mut lock).unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM containers WHERE id = {} FOR NO KEY UPDATE",
        estate.web.id
    ))
    .execute(&mut lock)
    .unwrap();

    let mut first = agent(&app);
    wait_for("the alarm of the first attempt", || {
        alarms(&app, &estate.web).len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = crate::host_fixtures::job(&app, job.id);
    assert_eq!((during.state.as_str(), during.attempts), ("running", 1));
    first.kill().unwrap();
    first.wait().unwrap();
    diesel::sql_query("ROLLBACK").execute(&mut lock).unwrap();
    assert!(
        !vassal_path(&app, estate.web.uid()).exists(),
        "the first agent died before writing"
    );

    let mut second = agent(&app);
    wait_for("the second agent to finish the job", || {
        crate::host_fixtures::job(&app, job.id).state == "done"
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();

    let finished = crate::host_fixtures::job(&app, job.id);
    assert_eq!(finished.attempts, 2);
    assert_ne!(finished.locked_by, during.locked_by);
    assert_eq!(
        alarms(&app, &estate.web).len(),
        1,
        "the alarm is stored once"
    );
    let ops = operations(&app, &estate.web);
    assert_eq!(
        ops.iter()
            .filter(|(action, outcome, _)| action == "alarm" && outcome == "warning")
            .count(),
        1
    );
    assert!(
        ops.iter().any(|(action, _, detail)| action == "alarm"
            && detail == "already stored by an earlier attempt")
    );
    assert!(vassal(&app, estate.web.uid()).contains("/distros/jammy /ns bind"));
    let log = emperor_log(&app, estate.web.uid());
    assert!(
        log.contains("attempt 1 of 5") && log.contains("attempt 2 of 5"),
        "{log}"
    );
    assert_eq!(app.count("containers WHERE fallback_reason IS NOT NULL"), 1);
}
