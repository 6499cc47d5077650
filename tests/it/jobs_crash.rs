//! A worker killed in the middle of a job: another worker finishes it after the lease, and
//! nothing that must happen once happens twice.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use distropanel::jobs;

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

/// An agent of s1 whose worker logs (when it starts and stops) go to `<var>/<name>.log`.
fn agent(app: &TestApp, name: &str) -> Child {
    let log = std::fs::File::create(agent_log_path(app, name)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_distropanel"))
        .args(["agent", "--server", "s1"])
        .env("DATABASE_URL", app.db.conninfo())
        .env("DISTROPANEL_VAR_DIR", app.var_dir.path())
        .env("DISTROPANEL_HOST_ROOT", app.host_root.path())
        .env("DISTROPANEL_JOB_LEASE_SECS", "2")
        .env("DISTROPANEL_JOB_POLL_MS", "100")
        .env("RUST_LOG", "warn,distropanel::jobs::worker=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the agent starts")
}

fn agent_log_path(app: &TestApp, name: &str) -> std::path::PathBuf {
    app.var_dir.path().join(format!("{name}.log"))
}

fn agent_log(app: &TestApp, name: &str) -> String {
    std::fs::read_to_string(agent_log_path(app, name)).unwrap_or_default()
}

/// Sessions of the test database waiting for a lock another holds.
fn waiting_on_locks(app: &TestApp) -> i64 {
    app.count("pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
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
    std::fs::remove_dir(
        installed_image(&app, estate.storage.uid(), "ubuntu0001").join(".old_root"),
    )
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

    let mut first = agent(&app, "first");
    wait_for("the alarm of the first attempt", || {
        alarms(&app, &estate.web).len() == 1
    })
    .await;
    wait_for("the first agent to wait on the container row", || {
        waiting_on_locks(&app) == 1
    })
    .await;
    let during = crate::host_fixtures::job(&app, job.id);
    assert_eq!((during.state.as_str(), during.attempts), ("running", 1));
    first.kill().unwrap();
    first.wait().unwrap();
    diesel::sql_query("ROLLBACK").execute(&mut lock).unwrap();
    assert!(
        !vassal_path(&app, estate.web.uid()).exists(),
        "the first agent died before writing"
    );

    let mut second = agent(&app, "second");
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
    assert!(vassal(&app, estate.web.uid()).contains("/distros/jammy "));
    let log = emperor_log(&app, estate.web.uid());
    assert!(
        log.contains("attempt 1 of 5") && log.contains("attempt 2 of 5"),
        "{log}"
    );
    assert_eq!(app.count("containers WHERE fallback_reason IS NOT NULL"), 1);
}

#[tokio::test]
async fn an_agent_asked_to_stop_finishes_its_running_job_and_takes_no_new_one() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let job = restart(&app, &estate.web);

    let mut lock = app.conn();
    diesel::sql_query("BEGIN").execute(&mut lock).unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM containers WHERE id = {} FOR NO KEY UPDATE",
        estate.web.id
    ))
    .execute(&mut lock)
    .unwrap();

    let mut agent = agent(&app, "agent");
    wait_for(
        "the agent to start the job and wait on the container row",
        || {
            crate::host_fixtures::job(&app, job.id).state == "running"
                && waiting_on_locks(&app) == 1
        },
    )
    .await;
    let pid = rustix::process::Pid::from_raw(agent.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    wait_for("the agent to stop claiming", || {
        agent_log(&app, "agent").contains("job worker stopping")
    })
    .await;
    // one it could take at once, one it could take as soon as its running job is done
    let later = restart(&app, &estate.storage);
    let behind = enqueue(&mut app.conn(), &estate.web, |c| {
        jobs::ensure_storage_dir(c)
    })
    .unwrap();
    assert!(
        agent.try_wait().unwrap().is_none(),
        "it waits for its running job"
    );

    diesel::sql_query("ROLLBACK").execute(&mut lock).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the agent did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success());
    assert_eq!(crate::host_fixtures::job(&app, job.id).state, "done");
    assert_eq!(crate::host_fixtures::job(&app, later.id).state, "queued");
    assert_eq!(crate::host_fixtures::job(&app, behind.id).state, "queued");
}
