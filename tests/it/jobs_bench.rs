//! `scripts/bench-restarts`: a platform distro change restarts 1,000 containers on one host.
//! Prints how long enqueueing takes, when the last vassal is written, and jobs per second.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use distropanel::db::queries::jobs::{self as queue, ServerScope};
use distropanel::jobs::worker::local_worker;

use crate::helpers::spawn_app;
use crate::host_fixtures::*;

#[tokio::test]
#[ignore = "a benchmark: run it with scripts/bench-restarts"]
async fn bench_restarts_of_a_thousand_containers() {
    let containers: i64 = std::env::var("BENCH_CONTAINERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let slots: usize = std::env::var("BENCH_SLOTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let app = spawn_app().await;
    app.customer("kratos");
    app.server("s1");
    let jammy = app.distro("jammy");
    app.sql(&format!(
        "INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb) \
         SELECT 'c' || g, 1, 1, {}, 64, 100 FROM generate_series(1, {containers}) g",
        jammy.id
    ))
    .unwrap();

    // the platform distro changes: every container using it restarts, in one transaction
    let enqueued = Instant::now();
    let mut conn = app.conn();
    conn.transaction(|conn| {
        use distropanel::db::models::container::Container;
        use distropanel::db::schema::containers;
        let rows: Vec<Container> = containers::table
            .filter(containers::distro_id.eq(distropanel::domain::ids::DistroId(jammy.id as i32)))
            .select(Container::as_select())
            .load(conn)?;
        for row in &rows {
            queue::enqueue(conn, &distropanel::jobs::restart(row))?;
        }
        diesel::QueryResult::Ok(())
    })
    .unwrap();
    let enqueue_time = enqueued.elapsed();

    let mut config = config(&app);
    config.jobs.slots = slots;
    config.jobs.poll = Duration::from_millis(20);
    let worker = local_worker(&config, ServerScope::All).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    loop {
        if app.count("jobs WHERE state = 'done'") == containers {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the benchmark stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    running.await.unwrap();

    let written = std::fs::read_dir(&config.vassals_dir).unwrap().count() as i64;
    assert_eq!(written, containers);
    println!(
        "bench-restarts: {containers} containers, {slots} slots: enqueue {:.0} ms; all vassals written after {:.2} s; {:.0} jobs/s",
        enqueue_time.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64(),
        containers as f64 / elapsed.as_secs_f64()
    );
}
