//! `scripts/bench-restarts`: a platform distro change restarts 1,000 containers on one host.
//! Prints how long enqueueing takes, when the last vassal is written, and jobs per second.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use distropanel::db::queries::jobs::{self as queue, ServerScope};
use distropanel::jobs::worker::local_worker;

use crate::helpers::spawn_app;
use crate::host_fixtures::*;

/// The number in the environment variable `name`, or `default`.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
#[ignore = "a benchmark: run it with scripts/bench-restarts"]
async fn bench_restarts_of_a_thousand_containers() {
    let containers: i64 = setting("BENCH_CONTAINERS", 1000);
    let slots: usize = setting("BENCH_SLOTS", 4);
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
    distropanel::phases::reset();
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
    let (p50, p99) = vassal_latency(&app, "TRUE");
    let run = app.scalar(
        "SELECT round(avg(extract(epoch FROM finished_at - started_at)) * 1000)::text FROM jobs",
    );
    println!(
        "bench-restarts: {containers} containers, {slots} slots: enqueue {:.0} ms; all vassals written after {:.2} s; {:.0} jobs/s; enqueue->vassal p50 {p50:.0} ms, p99 {p99:.0} ms; a job runs {run} ms on average",
        enqueue_time.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64(),
        containers as f64 / elapsed.as_secs_f64()
    );
    println!(
        "bench-restarts: where the batches' time went (thread time summed over the slots, count): {}",
        distropanel::phases::summary()
    );
}

/// p50 and p99, in milliseconds, from a restart's creation to its vassal's rename, over the
/// done restarts matching `filter`.
fn vassal_latency(app: &crate::helpers::TestApp, filter: &str) -> (f64, f64) {
    #[derive(QueryableByName)]
    struct Latency {
        #[diesel(sql_type = diesel::sql_types::Double)]
        p50: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        p99: f64,
    }
    let row: Latency = diesel::sql_query(format!(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99 \
         FROM (SELECT extract(epoch FROM vassal_written_at - created_at)::float8 * 1000 AS ms \
               FROM jobs WHERE kind = 'restart' AND state = 'done' AND {filter}) l"
    ))
    .get_result(&mut app.conn())
    .unwrap();
    (row.p50, row.p99)
}

/// Jobs done so far, on `conn`.
fn done_count(conn: &mut PgConnection) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM jobs WHERE state = 'done'")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

/// `scripts/bench-restarts`, second part: 200 reboots through the API one after the other, an
/// idle worker (polling once a second) woken by each. Prints the p50/p99 from the job's
/// creation to its vassal's rename.
#[tokio::test]
#[ignore = "a benchmark: run it with scripts/bench-restarts"]
async fn bench_latency_of_sequential_reboots() {
    let reboots: i64 = setting("BENCH_REBOOTS", 200);
    let app = spawn_app().await;
    app.customer("kratos");
    app.server("s1");
    let jammy = app.distro("jammy");
    let web = app.container("kratos", "s1", "web", Some(&jammy));
    let mut config = config(&app);
    config.jobs.poll = Duration::from_secs(1);
    let worker = local_worker(&config, ServerScope::All).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let api = app.api("kratos");
    let mut conn = app.conn();
    let started = Instant::now();
    for n in 1..=reboots {
        let answer = api
            .post(
                &format!("/api/containers/{}", web.uid()),
                serde_json::json!({"reboot": 1}),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        while done_count(&mut conn) < n {
            assert!(started.elapsed() < Duration::from_secs(600), "stalled");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let _ = stop.send(());
    running.await.unwrap();
    let (p50, p99) = vassal_latency(&app, "TRUE");
    let claimed = app.scalar(
        "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY \
                extract(epoch FROM started_at - created_at)) * 1000)::numeric, 1)::text FROM jobs",
    );
    println!(
        "bench-restarts: {reboots} sequential reboots through the API, idle worker polling every 1 s: created->vassal renamed p50 {p50:.1} ms, p99 {p99:.1} ms (created->claimed p50 {claimed} ms)"
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

/// `scripts/bench-scale`: one web node and 50 agents (each its own host root and server) on
/// one PostgreSQL, 100 containers per server. Every container is rebooted through the API;
/// prints the accept rate, the p50/p99 from enqueue to done, the drain time and the peak
/// number of connections to the database (sampled from `pg_stat_activity`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: run it with scripts/bench-scale"]
async fn bench_scale_reboots_over_fifty_agents() {
    let env = |name: &str, default: i64| -> i64 {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let (servers, per_server) = (env("BENCH_AGENTS", 50), env("BENCH_PER_SERVER", 100));
    let clients = env("BENCH_CLIENTS", 16) as usize;
    // the web node's pool stays small: the agents need the connections
    let app = crate::helpers::spawn_app_with(|c| c.db_pool = 8).await;
    app.customer("kratos");
    let jammy = app.distro("jammy");
    for s in 1..=servers {
        app.server(&format!("s{s}"));
    }
    app.sql(&format!(
        "INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb) \
         SELECT 'c' || g, 1, (SELECT id FROM servers ORDER BY id OFFSET (g - 1) / {per_server} \
                              LIMIT 1), {}, 64, 100 \
         FROM generate_series(1, {}) g",
        jammy.id,
        servers * per_server
    ))
    .unwrap();
    let peak = Peak::sample(app.db.conninfo());
    let mut agents = Vec::new();
    for server in 1..=servers {
        agents.push(Agent::start(&app, server as i32).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let uids: Vec<i64> = (1..=servers * per_server)
        .map(|id| i64::from(crate::helpers::BASE_UID) + id)
        .collect();
    let created = app
        .api("kratos")
        .post("/api/tokens", serde_json::json!({"name": "bench"}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let bearer = format!("Bearer {}", created.json["token"].as_str().unwrap());
    distropanel::phases::reset();
    let started = Instant::now();
    let mut posting = tokio::task::JoinSet::new();
    for part in uids.chunks(uids.len().div_ceil(clients)) {
        let (client, address) = (app.client.clone(), app.address.clone());
        let (part, bearer) = (part.to_vec(), bearer.clone());
        posting.spawn(async move {
            for uid in part {
                let response = client
                    .post(format!("{address}/api/containers/{uid}"))
                    .header("Authorization", &bearer)
                    .body(r#"{"reboot": 1}"#)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
            }
        });
    }
    while let Some(posted) = posting.join_next().await {
        posted.unwrap();
    }
    let accepted = started.elapsed();
    let total = servers * per_server;
    let mut conn = app.conn();
    while done_count(&mut conn) < total {
        assert!(started.elapsed() < Duration::from_secs(900), "stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = started.elapsed();
    let (peak_db, peak_all) = peak.stop();
    for agent in agents {
        agent.stop().await;
    }
    let (p50, p99) = done_latency(&mut conn);
    let [queued, ran, settled] = phase_medians(&mut conn);
    println!(
        "bench-scale: {servers} agents, {total} containers, {clients} API clients: accepted {total} reboots in {:.2} s ({:.0}/s); enqueue->done p50 {p50:.0} ms, p99 {p99:.0} ms (medians: enqueue->claimed {queued:.1} ms, claimed->vassal {ran:.1} ms, vassal->done {settled:.1} ms); drained after {:.2} s; peak connections {peak_db} to the database ({peak_all} on the server, max_connections {})",
        accepted.as_secs_f64(),
        total as f64 / accepted.as_secs_f64(),
        drained.as_secs_f64(),
        app.scalar("SELECT current_setting('max_connections')"),
    );
    println!(
        "bench-scale: where the agents' time went (thread time summed over all agents, count): {}",
        distropanel::phases::summary()
    );
}

/// The medians, in milliseconds, of a done restart's three stretches: from its creation to
/// its claim, from the claim to its vassal's rename, and from there to its end.
fn phase_medians(conn: &mut PgConnection) -> [f64; 3] {
    #[derive(QueryableByName)]
    struct Medians {
        #[diesel(sql_type = diesel::sql_types::Double)]
        queued: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        ran: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        settled: f64,
    }
    let ms = |from: &str, to: &str| {
        format!(
            "percentile_cont(0.5) WITHIN GROUP \
             (ORDER BY extract(epoch FROM {to} - {from})::float8 * 1000)"
        )
    };
    let row: Medians = diesel::sql_query(format!(
        "SELECT {} AS queued, {} AS ran, {} AS settled FROM jobs WHERE state = 'done'",
        ms("created_at", "started_at"),
        ms("started_at", "vassal_written_at"),
        ms("vassal_written_at", "finished_at"),
    ))
    .get_result(conn)
    .unwrap();
    [row.queued, row.ran, row.settled]
}

/// p50 and p99 from a job's creation to its end, in milliseconds.
fn done_latency(conn: &mut PgConnection) -> (f64, f64) {
    #[derive(QueryableByName)]
    struct Latency {
        #[diesel(sql_type = diesel::sql_types::Double)]
        p50: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        p99: f64,
    }
    let row: Latency = diesel::sql_query(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99 \
         FROM (SELECT extract(epoch FROM finished_at - created_at)::float8 * 1000 AS ms \
               FROM jobs WHERE state = 'done') l",
    )
    .get_result(conn)
    .unwrap();
    (row.p50, row.p99)
}

/// An agent of one server: a worker on a host root of its own.
struct Agent {
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl Agent {
    async fn start(app: &crate::helpers::TestApp, server: i32) -> Self {
        let root = tempfile::tempdir().unwrap();
        let mut config = crate::helpers::test_config(&app.db, root.path(), root.path());
        config.jobs.poll = Duration::from_secs(1);
        let scope = ServerScope::Only(vec![distropanel::domain::ids::ServerId(server)]);
        let worker = local_worker(&config, scope).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        Agent {
            stop,
            running,
            _root: root,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.running.await.unwrap();
    }
}

/// The most connections seen, every 10 ms, to the database and to the whole server.
struct Peak {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampling: std::thread::JoinHandle<(i64, i64)>,
}

impl Peak {
    fn sample(conninfo: String) -> Self {
        use std::sync::atomic::Ordering;
        #[derive(QueryableByName)]
        struct Counts {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            db: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            all: i64,
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let sampling = std::thread::spawn(move || {
            let mut conn = PgConnection::establish(&conninfo).unwrap();
            let mut peak = (0, 0);
            while !stopping.load(Ordering::Relaxed) {
                let counts: Counts = diesel::sql_query(
                    "SELECT count(*) FILTER (WHERE datname = current_database()) AS db, \
                            count(*) FILTER (WHERE backend_type = 'client backend') AS all \
                     FROM pg_stat_activity",
                )
                .get_result(&mut conn)
                .unwrap();
                peak = (peak.0.max(counts.db), peak.1.max(counts.all));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        Peak { stop, sampling }
    }

    fn stop(self) -> (i64, i64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.sampling.join().unwrap()
    }
}
