//! The durable queue: collapsing, ordering, leases, backoff, giving up, staff retry and cancel.

use std::time::{Duration, Instant};

use distropanel::db::models::job::JobKind;
use distropanel::db::queries::jobs::{self as queue, AfterFailure, ServerScope, StaffRefusal};
use distropanel::jobs;

use crate::helpers::spawn_app;
use crate::host_fixtures::*;

const KINDS: [JobKind; 4] = [
    JobKind::Restart,
    JobKind::EnsureStorageDir,
    JobKind::RenameImage,
    JobKind::PurgeImage,
];

/// Calls `probe` until it answers, failing after ten seconds.
async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn several_restarts_of_one_container_collapse_into_one_job() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let first = restart(&app, &estate.web);
    let second = restart(&app, &estate.web);
    let mapped = map_and_restart(&app, &estate.web, estate.distro);
    assert_eq!((first.id, second.id), (first.id, mapped.id));
    assert_eq!(app.count("jobs WHERE kind = 'restart'"), 1);

    // another container's restart is its own job
    restart(&app, &estate.storage);
    assert_eq!(app.count("jobs WHERE kind = 'restart'"), 2);

    // a restart asked for while one runs is a new job: the running one may have read old state
    let mut conn = app.conn();
    let claimed = queue::claim(
        &mut conn,
        "w1",
        &ServerScope::All,
        &KINDS,
        10,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(claimed.len(), 2);
    let third = restart(&app, &estate.web);
    assert_ne!(third.id, first.id);
}

#[tokio::test]
async fn one_containers_jobs_run_in_order_different_containers_in_parallel() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let mut conn = app.conn();
    let storage_dir = enqueue(&mut conn, &estate.storage, |c| jobs::ensure_storage_dir(c)).unwrap();
    let storage_restart = restart(&app, &estate.storage);
    let web_restart = restart(&app, &estate.web);
    let lease = Duration::from_secs(60);

    let first = queue::claim(&mut conn, "w1", &ServerScope::All, &KINDS, 10, lease).unwrap();
    let ids: Vec<_> = first.iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        vec![storage_dir.id, web_restart.id],
        "one job per container at a time"
    );

    // another worker finds nothing while those run
    let other = queue::claim(&mut conn, "w2", &ServerScope::All, &KINDS, 10, lease).unwrap();
    assert!(other.is_empty());

    assert!(queue::finish(&mut conn, storage_dir.id, "w1").unwrap());
    let next = queue::claim(&mut conn, "w2", &ServerScope::All, &KINDS, 10, lease).unwrap();
    assert_eq!(
        next.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![storage_restart.id]
    );

    // a worker scoped to another server sees nothing
    let s2 = app.server("s2");
    let scoped = ServerScope::Only(vec![distropanel::domain::ids::ServerId(s2.id as i32)]);
    restart(&app, &estate.web);
    assert!(
        queue::claim(&mut conn, "w3", &scoped, &KINDS, 10, lease)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_batch_of_restarts_marked_done_says_which_have_a_job_waiting_behind() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let mut conn = app.conn();
    let web_restart = restart(&app, &estate.web);
    let storage_restart = restart(&app, &estate.storage);
    enqueue(&mut conn, &estate.storage, |c| jobs::ensure_storage_dir(c)).unwrap();
    let lease = Duration::from_secs(60);
    let claimed = queue::claim(&mut conn, "w1", &ServerScope::All, &KINDS, 10, lease).unwrap();
    assert_eq!(claimed.len(), 2, "the first job of each container");

    let finished = |job: &distropanel::db::models::job::Job| queue::FinishedRestart {
        id: job.id,
        customer_id: job.customer_id,
        container_id: job.container_id,
        steps: serde_json::json!([]),
        boot_kind: None,
        fallback_reason: None,
        vassal_written_at: None,
    };
    let batch = [finished(&web_restart), finished(&storage_restart)];
    // a worker that does not hold them marks nothing
    assert!(
        queue::finish_restarts(&mut conn, "w2", &batch)
            .unwrap()
            .is_empty()
    );
    let mut held = queue::finish_restarts(&mut conn, "w1", &batch).unwrap();
    held.sort_by_key(|h| h.id);
    assert_eq!(
        held,
        vec![
            queue::HeldRestart {
                id: web_restart.id,
                behind: false
            },
            queue::HeldRestart {
                id: storage_restart.id,
                behind: true
            },
        ]
    );
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_again_when_its_lease_expires() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let job = restart(&app, &estate.web);
    let mut conn = app.conn();
    let lease = Duration::from_secs(60);
    let taken = queue::claim(&mut conn, "dead", &ServerScope::All, &KINDS, 10, lease).unwrap();
    assert_eq!(taken.len(), 1);

    assert!(
        queue::claim(&mut conn, "alive", &ServerScope::All, &KINDS, 10, lease)
            .unwrap()
            .is_empty()
    );
    // the dead worker's last heartbeat renewed the lease for a moment only
    let last_heartbeat = Duration::from_millis(200);
    assert_eq!(
        queue::extend_leases(&mut conn, "dead", last_heartbeat).unwrap(),
        1
    );
    let again = wait_for("the lease to expire", || {
        queue::claim(&mut conn, "alive", &ServerScope::All, &KINDS, 10, lease)
            .unwrap()
            .into_iter()
            .find(|j| j.id == job.id)
    })
    .await;
    assert_eq!(
        (again.attempts, again.locked_by.as_deref()),
        (2, Some("alive"))
    );

    // the dead worker, back from the dead, cannot overwrite what the new owner does
    assert!(!queue::finish(&mut conn, job.id, "dead").unwrap());
    assert_eq!(
        queue::fail_attempt(&mut conn, job.id, "dead", "late", false, lease).unwrap(),
        AfterFailure::Lost
    );
    assert!(queue::finish(&mut conn, job.id, "alive").unwrap());
}

#[tokio::test]
async fn a_failing_job_backs_off_then_fails_with_an_alarm_and_staff_can_retry_it() {
    let app = spawn_app().await;
    let estate = estate(&app);
    // a directory where the vassal must go: writing it fails until someone removes it
    let blocker = vassal_path(&app, estate.web.uid());
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let job = restart(&app, &estate.web);
    app.sql(&format!(
        "UPDATE jobs SET max_attempts = 2 WHERE id = {}",
        job.id
    ))
    .unwrap();

    drain(&app).await;
    let after_one = crate::host_fixtures::job(&app, job.id);
    assert_eq!(after_one.state, "retrying");
    let failed_at = failed_step_at(&after_one);
    assert!(
        after_one.run_after - failed_at >= chrono::Duration::milliseconds(199),
        "it waits the backoff (200 ms in tests) before trying again: failed at {failed_at}, \
         runs again at {}",
        after_one.run_after
    );
    assert!(after_one.error.is_some());
    assert!(alarms(&app, &estate.web).is_empty());

    // drained until the backoff has passed and the second attempt ran
    let start = Instant::now();
    let failed = loop {
        drain(&app).await;
        let now = crate::host_fixtures::job(&app, job.id);
        if now.state != "retrying" {
            break now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the second attempt never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 2));
    let alarms = alarms(&app, &estate.web);
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].0, 0);
    assert!(
        alarms[0]
            .1
            .starts_with(&format!("[distropanel] job {} (restart) failed:", job.id))
    );

    std::fs::remove_dir_all(&blocker).unwrap();
    let retried = queue::retry(&mut app.conn(), job.id).unwrap().unwrap();
    assert_eq!((retried.state.as_str(), retried.attempts), ("queued", 0));
    drain(&app).await;
    assert_eq!(crate::host_fixtures::job(&app, job.id).state, "done");
    assert!(vassal(&app, estate.web.uid()).contains("[uwsgi]"));
}

/// When the job's last attempt failed, as its report says.
fn failed_step_at(job: &distropanel::db::models::job::Job) -> chrono::DateTime<chrono::Utc> {
    let steps = job.report.as_array().expect("a report is a list of steps");
    let failed = steps
        .iter()
        .rev()
        .find(|step| step["step"] == "failed")
        .expect("the failure is a step of the report");
    serde_json::from_value(failed["at"].clone()).expect("steps say when they happened")
}

#[tokio::test]
async fn staff_cancel_waiting_jobs_only_and_retry_refuses_a_duplicate() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let job = restart(&app, &estate.web);
    let mut conn = app.conn();

    let cancelled = queue::cancel(&mut conn, job.id).unwrap().unwrap();
    assert_eq!(cancelled.state, "cancelled");
    assert!(matches!(
        queue::cancel(&mut conn, job.id).unwrap(),
        Err(StaffRefusal::WrongState { .. })
    ));

    let waiting = restart(&app, &estate.web);
    assert_ne!(waiting.id, job.id);
    assert_eq!(
        queue::retry(&mut conn, job.id).unwrap().unwrap_err(),
        StaffRefusal::Duplicate {
            id: job.id,
            waiting: waiting.id
        }
    );

    queue::claim(
        &mut conn,
        "w",
        &ServerScope::All,
        &KINDS,
        10,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(
        matches!(
            queue::cancel(&mut conn, waiting.id).unwrap(),
            Err(StaffRefusal::WrongState { .. })
        ),
        "a running job cannot be cancelled"
    );
    let missing = distropanel::domain::ids::JobId(999_999);
    assert_eq!(
        queue::cancel(&mut conn, missing).unwrap().unwrap_err(),
        StaffRefusal::NotFound(missing)
    );
}

#[tokio::test]
async fn the_job_commands_list_retry_and_cancel() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let job = restart(&app, &estate.web);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_distropanel"))
            .args(args)
            .env("DATABASE_URL", app.db.conninfo())
            .env("DISTROPANEL_VAR_DIR", app.var_dir.path())
            .env("DISTROPANEL_HOST_ROOT", app.host_root.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, _) = run(&["job", "list", "--container", &estate.web.uid().to_string()]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (listed["id"].as_i64(), listed["state"].as_str()),
        (Some(job.id.0), Some("queued"))
    );

    let (ok, out, _) = run(&["job", "cancel", &job.id.to_string()]);
    assert!(ok);
    assert!(out.contains("\"cancelled\""));
    let (ok, _, err) = run(&["job", "cancel", &job.id.to_string()]);
    assert!(!ok);
    assert!(
        err.contains("only queued or retrying jobs can be cancelled"),
        "{err}"
    );
    let (ok, out, _) = run(&["job", "retry", &job.id.to_string()]);
    assert!(ok && out.contains("\"queued\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_jobs_past_the_retention_are_pruned_and_their_steps_stay_in_the_log() {
    let app = spawn_app().await;
    app.customer("alice");
    app.server("s1");
    let bookworm = app.distro("bookworm");
    let web = app.container("alice", "s1", "web", Some(&bookworm));
    let api = app.api("alice");
    for _ in 0..2 {
        let rebooted = api
            .post(
                &format!("/api/containers/{}", web.uid()),
                serde_json::json!({"reboot": 1}),
            )
            .await;
        assert_eq!(rebooted.status, 200, "{rebooted:?}");
        drain(&app).await;
    }
    // one restart finished long ago, one just now; a third waits
    app.sql("UPDATE jobs SET finished_at = now() - interval '40 days' WHERE id = (SELECT min(id) FROM jobs)")
        .unwrap();
    api.post(
        &format!("/api/containers/{}", web.uid()),
        serde_json::json!({"reboot": 1}),
    )
    .await;
    let steps = app.count("events");

    let pool = distropanel::db::pool(&app.db.conninfo(), 2).unwrap();
    let retention = Some(Duration::from_secs(30 * 86_400));
    let swept = distropanel::jobs::maintenance::sweep(&pool, retention)
        .await
        .unwrap();
    assert_eq!(swept.jobs, 1);
    assert_eq!(app.count("jobs"), 2, "the recent and the waiting job stay");
    assert_eq!(
        app.count("events"),
        steps,
        "the operation log keeps every step"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM events WHERE job_id IS NULL AND action = 'vassal'"),
        "1",
        "the pruned job's steps no longer name it"
    );
    // kept forever when asked
    app.sql("UPDATE jobs SET finished_at = now() - interval '400 days' WHERE state = 'done'")
        .unwrap();
    let kept = distropanel::jobs::maintenance::sweep(&pool, None)
        .await
        .unwrap();
    assert_eq!(kept.jobs, 0);
    assert_eq!(app.count("jobs"), 2);
}
