//! The number of SQL statements a request runs does not grow with the rows it reads: no query
//! per container, per distro or per alarm; and the lists take one for who is calling and one
//! for the rows. Counted with diesel's instrumentation, per database, so tests running alongside
//! do not disturb the count; the pool's `SELECT 1` check of a connection that sat idle for
//! seconds is not the request's and is left out (`scripts/bench-pages` shows none is run on a
//! busy path). The statements of the lists' steady path are prepared once
//! per connection, not parsed and planned on every request.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use serde_json::json;

use crate::api_client::{World, world};
use crate::personas::Browser;

static STATEMENTS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Default::default);
/// The SQL each database ran, in order, without its binds.
static RAN: LazyLock<Mutex<HashMap<String, Vec<String>>>> = LazyLock::new(Default::default);
/// The SQL diesel prepared and kept for reuse on its connection, in any database.
static PREPARED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);

/// Counts the statements of each connection under its database's name.
struct Counter {
    database: Option<String>,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.database = url
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix("dbname="))
                    .map(str::to_owned);
            }
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                if text.starts_with("SELECT 1 -- ") {
                    return;
                }
                if let Some(db) = &self.database {
                    *STATEMENTS.lock().unwrap().entry(db.clone()).or_default() += 1;
                    let sql = text
                        .rfind(" -- binds: ")
                        .map_or(&text[..], |at| &text[..at]);
                    RAN.lock()
                        .unwrap()
                        .entry(db.clone())
                        .or_default()
                        .push(sql.to_owned());
                }
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                PREPARED.lock().unwrap().insert(sql.to_owned());
            }
            _ => {}
        }
    }
}

/// The SQL the database ran after its `from`-th statement that diesel did not keep prepared.
fn unprepared_since(database: &str, from: usize) -> Vec<String> {
    let ran = RAN.lock().unwrap();
    let prepared = PREPARED.lock().unwrap();
    ran.get(database)
        .map(|all| all[from.min(all.len())..].to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter(|sql| !prepared.contains(sql))
        .collect()
}

fn ran(database: &str) -> usize {
    RAN.lock().unwrap().get(database).map_or(0, Vec::len)
}

fn statements(database: &str) -> u64 {
    STATEMENTS
        .lock()
        .unwrap()
        .get(database)
        .copied()
        .unwrap_or(0)
}

/// Alice gets `n` more containers, `n` custom distros and `10 n` alarms on `web`.
fn grow(w: &World, n: usize) {
    let alice = w
        .app
        .scalar("SELECT customer_id FROM users WHERE username = 'alice'");
    let s1 = w.app.scalar("SELECT id FROM servers WHERE name = 's1'");
    w.app
        .sql(&format!(
            "INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb, tags)
             SELECT 'c' || i, {alice}, {s1}, {}, 64, 64, ARRAY['t' || (i % 3)] FROM generate_series(1, {n}) i",
            w.bookworm.id
        ))
        .unwrap();
    w.app
        .sql(&format!(
            "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path)
             SELECT {}, {s1}, {alice}, 'd' || i, 'd' || i FROM generate_series(1, {n}) i",
            w.images.id
        ))
        .unwrap();
    w.app
        .sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, level, msg, unix)
             SELECT {}, {alice}, 1 + i % 4, 'm' || i, now() - i * interval '1 second'
             FROM generate_series(1, {}) i",
            w.web.id,
            10 * n
        ))
        .unwrap();
    w.app
        .sql(&format!(
            "UPDATE containers SET custom_distro_id = (SELECT min(id) FROM custom_distros) WHERE customer_id = {alice} AND name LIKE 'c%'"
        ))
        .unwrap();
}

/// Statements each request runs, fewest of three tries (a pool refilling in the background
/// can only add to a count).
async fn profile(w: &World) -> Vec<(String, u64)> {
    let web = w.web.uid();
    let requests = [
        "GET /api/me".to_owned(),
        "GET /api/containers".to_owned(),
        "GET /api/containers?tags=t1,t2".to_owned(),
        format!("GET /api/containers/{web}"),
        "GET /api/custom_distros".to_owned(),
        format!("GET /api/custom_distros/{web}"),
        format!("GET /api/alarms?container={web}&level=2&range=5-15"),
        "GET /api/alarms?with_total=1&range=20".to_owned(),
        "GET /api/jobs".to_owned(),
        format!("POST /api/containers/{web} {}", json!({"reboot": 1})),
    ];
    let api = w.app.api("alice");
    let mut out = Vec::new();
    for request in requests {
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            let before = statements(&w.app.db.name);
            let answer = match request.split_once(' ').unwrap() {
                ("GET", path) => api.get(path).await,
                (_, rest) => {
                    let (path, body) = rest.split_once(' ').unwrap();
                    api.post_raw(path, body.to_owned()).await
                }
            };
            assert!(answer.status.is_success(), "{request}: {answer:?}");
            fewest = fewest.min(statements(&w.app.db.name) - before);
        }
        out.push((request.replace(&web.to_string(), "<uid>"), fewest));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_per_request_stay_constant_as_rows_grow() {
    count_statements();
    let small = world().await;
    grow(&small, 2);
    let large = world().await;
    grow(&large, 150);
    let (few, many) = (profile(&small).await, profile(&large).await);
    for ((request, a), (_, b)) in few.iter().zip(&many) {
        println!("{request:55} {a} statements with 2 rows each, {b} with 150");
        assert!(*a > 0, "{request}: counted");
    }
    assert_eq!(few, many);
}

fn count_statements() {
    set_default_instrumentation(|| Some(Box::new(Counter { database: None }))).unwrap();
}

/// The fewest statements of three runs of `request`, after one that may write `last_seen` or
/// `last_used` or remember verified credentials.
async fn steady<F, Fut>(w: &World, request: F) -> u64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    assert_eq!(request().await, 200);
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        let before = statements(&w.app.db.name);
        assert_eq!(request().await, 200);
        fewest = fewest.min(statements(&w.app.db.name) - before);
    }
    fewest
}

#[tokio::test(flavor = "multi_thread")]
async fn the_container_lists_and_the_dashboard_take_a_statement_for_the_caller_and_one_for_the_page()
 {
    count_statements();
    let w = world().await;
    grow(&w, 200);
    let created = w
        .app
        .api("alice")
        .post("/api/tokens", json!({"name": "ci"}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let token = created.json["token"].as_str().unwrap().to_owned();
    let alice = Browser::customer(&w.app, "alice").await;
    let url = w.app.url("/api/containers");
    let client = &w.app.client;

    let page = steady(&w, || async {
        let (status, page) = alice.get_text("/containers").await;
        assert!(page.contains("c200"), "{page}");
        status
    })
    .await;
    let dashboard = steady(&w, || async {
        let (status, page) = alice.get_text("/dashboard").await;
        assert!(page.contains("new alarm"), "{page}");
        status
    })
    .await;
    let basic = steady(&w, || async {
        let sent = client.get(&url).basic_auth("alice", Some("alice-password"));
        sent.send().await.unwrap().status().as_u16()
    })
    .await;
    let bearer = steady(&w, || async {
        let sent = client.get(&url).bearer_auth(&token);
        sent.send().await.unwrap().status().as_u16()
    })
    .await;
    assert_eq!(
        [
            ("GET /containers (session)", page),
            ("GET /dashboard (session)", dashboard),
            ("GET /api/containers (Basic)", basic),
            ("GET /api/containers (bearer)", bearer)
        ],
        [
            // the list's state, with the top bar's job counts, and rows kept since the last
            // change (the first load reads them)
            ("GET /containers (session)", 2),
            // the summary with its counts and its job list
            ("GET /dashboard (session)", 2),
            ("GET /api/containers (Basic)", 2),
            ("GET /api/containers (bearer)", 2)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_container_lists_and_the_dashboard_run_statements_prepared_once_per_connection() {
    count_statements();
    let w = world().await;
    grow(&w, 20);
    let created = w
        .app
        .api("alice")
        .post("/api/tokens", json!({"name": "ci"}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let token = created.json["token"].as_str().unwrap().to_owned();
    let alice = Browser::customer(&w.app, "alice").await;
    let url = w.app.url("/api/containers");
    let client = &w.app.client;
    let requests = || async {
        for page in ["/containers", "/dashboard"] {
            let (status, page) = alice.get_text(page).await;
            assert_eq!(status, 200, "{page}");
        }
        for tags in [None, Some("t1,t2")] {
            let url = match tags {
                Some(tags) => format!("{url}?tags={tags}"),
                None => url.clone(),
            };
            let basic = client.get(&url).basic_auth("alice", Some("alice-password"));
            assert_eq!(basic.send().await.unwrap().status(), 200);
            let bearer = client.get(&url).bearer_auth(&token);
            assert_eq!(bearer.send().await.unwrap().status(), 200);
        }
    };
    // the first requests write `last_seen`, `last_used` and remember the credentials
    requests().await;
    let from = ran(&w.app.db.name);
    for _ in 0..3 {
        requests().await;
    }
    assert!(ran(&w.app.db.name) > from, "counted");
    assert_eq!(
        unprepared_since(&w.app.db.name, from),
        Vec::<String>::new(),
        "planned on every request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_change_the_list_reads_its_rows_once_and_keeps_them_again() {
    count_statements();
    let w = world().await;
    grow(&w, 20);
    let api = w.app.api("alice");
    let list = || async {
        let before = statements(&w.app.db.name);
        let answer = api.get("/api/containers").await;
        assert!(answer.status.is_success(), "{answer:?}");
        (
            statements(&w.app.db.name) - before,
            answer.json.as_array().unwrap().len(),
        )
    };
    list().await;
    assert_eq!(list().await, (2, 24), "kept");
    w.app
        .sql("UPDATE containers SET name = 'renamed' WHERE name = 'c1'")
        .unwrap();
    assert_eq!(list().await, (3, 24), "read again after the change");
    assert_eq!(list().await, (2, 24), "kept again");
}
