//! How workers wake and what they hold: a notification wakes an idle worker long before its
//! poll, a restart records when its vassal was renamed into place, a worker with many slots
//! keeps one container's jobs in order, and holds at most two connections.

use std::time::{Duration, Instant};

use distropanel::db::models::container::Container;
use distropanel::db::models::job::NewJob;
use distropanel::db::queries::jobs::ServerScope;
use distropanel::jobs;
use distropanel::jobs::worker::local_worker;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

/// Starts `worker`; the returned sender stops it.
fn start(
    worker: distropanel::jobs::worker::Worker,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    (stop, running)
}

/// Waits until `count` jobs are done, for at most `limit`; returns how long that took.
async fn done(app: &TestApp, count: i64, limit: Duration) -> Duration {
    let started = Instant::now();
    while app.count("jobs WHERE state = 'done'") < count {
        assert!(
            started.elapsed() < limit,
            "the jobs were not done in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// A worker started on an empty queue: it claims once, finds nothing, and would next look
/// in a minute unless something wakes it.
async fn an_idle_worker_polling_once_a_minute(
    app: &TestApp,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut config = config(app);
    config.jobs.poll = Duration::from_secs(60);
    let started = start(local_worker(&config, ServerScope::All).await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    started
}

#[tokio::test]
async fn a_reboot_wakes_an_idle_worker_long_before_its_poll_and_records_the_vassal_time() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let (stop, running) = an_idle_worker_polling_once_a_minute(&app).await;

    let answer = app
        .api("kratos")
        .post(
            &format!("/api/containers/{}", estate.web.uid()),
            json!({"reboot": 1}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let took = done(&app, 1, Duration::from_secs(30)).await;
    assert!(
        took < Duration::from_secs(3),
        "the notification woke the worker, not its one-minute poll ({took:?})"
    );
    assert!(exists(&vassal_path(&app, estate.web.uid())));
    assert_eq!(
        app.scalar(
            "SELECT (vassal_written_at BETWEEN created_at AND finished_at)::text FROM jobs \
             WHERE kind = 'restart'"
        ),
        "true",
        "the restart records when its vassal was renamed into place"
    );
    let _ = stop.send(());
    running.await.unwrap();
}

#[tokio::test]
async fn a_worker_with_many_slots_keeps_each_containers_jobs_in_order_on_one_connection() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let jammy = estate.jammy.clone();
    let mut homes = vec![estate.storage.clone()];
    for n in 0..11 {
        homes.push(app.storage_container("kratos", "s1", &format!("store{n}")));
    }
    // each container first gets its distros/ directory, then restarts
    let mut conn = app.conn();
    for home in &homes {
        enqueue(&mut conn, home, |c| jobs::ensure_storage_dir(c)).unwrap();
        restart(&app, home);
    }
    for n in 0..20 {
        let web = app.container("kratos", "s1", &format!("web{n}"), Some(&jammy));
        restart(&app, &web);
    }
    let total = app.count("jobs");

    let mut config = config(&app);
    config.jobs.slots = 16;
    config.jobs.poll = Duration::from_millis(20);
    let worker = local_worker(&config, ServerScope::All).await.unwrap();
    let name = format!("distropanel worker {}%", worker.name());
    let (stop, running) = start(worker);
    let mut most = 0;
    let started = Instant::now();
    while app.count("jobs WHERE state = 'done'") < total {
        assert!(started.elapsed() < Duration::from_secs(60), "the jobs ran");
        let held = app.scalar(&format!(
            "SELECT count(*)::text FROM pg_stat_activity WHERE application_name LIKE '{name}'"
        ));
        most = most.max(held.parse::<i64>().unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(most >= 1, "the worker's connection is named");
    assert!(
        most <= 2,
        "16 slots, yet at most two connections (saw {most})"
    );
    assert_eq!(
        app.count(
            "jobs d JOIN jobs r ON r.container_id = d.container_id \
             WHERE d.kind = 'ensure_storage_dir' AND r.kind = 'restart' \
               AND r.started_at >= d.finished_at"
        ),
        homes.len() as i64,
        "every restart started after its container's earlier job finished"
    );
    let _ = stop.send(());
    running.await.unwrap();
}

#[tokio::test]
async fn a_job_queued_behind_another_of_its_container_runs_as_that_one_ends_not_at_the_poll() {
    runs_as_the_one_ahead_ends(|c| jobs::ensure_storage_dir(c), |c| jobs::restart(c)).await;
}

#[tokio::test]
async fn a_job_queued_behind_a_restart_runs_as_the_restart_ends_not_at_the_poll() {
    // restarts run as batches, which end by saying whether a job waits behind one of theirs
    runs_as_the_one_ahead_ends(|c| jobs::restart(c), |c| jobs::ensure_storage_dir(c)).await;
}

/// Queues `ahead` then `behind` for a storage container in one transaction (one notification,
/// and a claim can only take the first) before an idle worker that polls once a minute: both
/// are done within seconds.
async fn runs_as_the_one_ahead_ends(
    ahead: impl FnOnce(&Container) -> NewJob,
    behind: impl FnOnce(&Container) -> NewJob,
) {
    let app = spawn_app().await;
    let container = estate(&app).storage;
    let (stop, running) = an_idle_worker_polling_once_a_minute(&app).await;
    let mut conn = app.conn();
    diesel::Connection::transaction::<_, diesel::result::Error, _>(&mut conn, |conn| {
        enqueue(conn, &container, ahead)?;
        enqueue(conn, &container, behind)?;
        Ok(())
    })
    .unwrap();
    let took = done(&app, 2, Duration::from_secs(30)).await;
    assert!(
        took < Duration::from_secs(3),
        "the job behind was claimed when the one ahead ended, not at the poll ({took:?})"
    );
    let _ = stop.send(());
    running.await.unwrap();
}
