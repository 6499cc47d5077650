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

/// `scripts/bench-claim`: one customer has flooded the queue with 100,000 unfinished jobs on
/// one container (the first running, so the rest wait behind it); ten other containers have
/// one job each. Prints how long a claim of four jobs takes and the claim's plan.
#[tokio::test]
#[ignore = "a benchmark: run it with scripts/bench-claim"]
async fn bench_claim_behind_a_long_queue_of_one_customer() {
    let flood: i64 = std::env::var("BENCH_PENDING")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let app = spawn_app().await;
    app.customer("flooder");
    app.customer("kratos");
    app.server("s1");
    let jammy = app.distro("jammy");
    let flooded = app.storage_container("flooder", "s1", "images");
    app.sql(&format!(
        "INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb) \
         SELECT 'c' || g, 2, 1, {}, 64, 100 FROM generate_series(1, 10) g",
        jammy.id
    ))
    .unwrap();
    let filled = Instant::now();
    let storage = flooded.id;
    for statement in [
        format!(
            "INSERT INTO jobs (kind, container_id, customer_id, server_id, state, locked_by, \
                               locked_until) \
             VALUES ('check_image', {storage}, 1, 1, 'running', 'elsewhere', \
                     now() + interval '1 hour')"
        ),
        format!(
            "INSERT INTO jobs (kind, container_id, customer_id, server_id) \
             SELECT 'check_image', {storage}, 1, 1 FROM generate_series(2, {flood})"
        ),
        "INSERT INTO jobs (kind, container_id, customer_id, server_id) \
         SELECT 'restart', id, 2, 1 FROM containers WHERE customer_id = 2"
            .to_owned(),
        "ANALYZE jobs".to_owned(),
    ] {
        app.sql(&statement).unwrap();
    }
    let fill_time = filled.elapsed();

    let mut conn = app.conn();
    let mut times = Vec::new();
    for _ in 0..20 {
        let _ = conn.transaction::<(), _, _>(|conn| {
            let took = Instant::now();
            let claimed = queue::claim(
                conn,
                "bench",
                &ServerScope::All,
                &distropanel::db::models::job::JobKind::ALL[..],
                4,
                Duration::from_secs(60),
            )?;
            times.push(took.elapsed());
            assert_eq!(claimed.len(), 4, "the other customer's jobs are claimed");
            assert!(claimed.iter().all(|job| job.customer_id.unwrap().0 == 2));
            Err(diesel::result::Error::RollbackTransaction)
        });
    }
    times.sort();
    let plan = explain_claim(&mut conn);
    println!("bench-claim: plan of the claim:");
    for line in plan.lines() {
        println!("bench-claim |  {line}");
    }
    println!(
        "bench-claim: {flood} unfinished jobs of one customer (filled in {:.1} s), 10 of another: \
         claim of 4 jobs median {:.2} ms, slowest {:.2} ms (20 claims)",
        fill_time.as_secs_f64(),
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
    );
}

/// The claim's plan, run and rolled back.
fn explain_claim(conn: &mut diesel::PgConnection) -> String {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let mut plan = String::new();
    let _ = conn.transaction::<(), _, _>(|conn| {
        let lines: Vec<Line> = diesel::sql_query(format!(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {}",
            queue::CLAIM
        ))
        .bind::<diesel::sql_types::Text, _>("bench")
        .bind::<diesel::sql_types::Double, _>(60.0)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Integer>>, _>(
            None::<Vec<i32>>,
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(
            &distropanel::db::models::job::JobKind::ALL[..],
        )
        .bind::<diesel::sql_types::BigInt, _>(4i64)
        .load(conn)?;
        plan = lines
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n");
        Err(diesel::result::Error::RollbackTransaction)
    });
    plan
}
