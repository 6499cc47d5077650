//! `/metrics`: an operator's Prometheus scrapes the panel from an allowed address, or with a
//! staff token; to anyone else the endpoint does not exist.

use std::collections::HashMap;

use serde_json::json;

use crate::api_client::{Api, world};
use crate::helpers::{TestApp, spawn_app_with};
use crate::personas::TokenClient;

/// One sample line of the text exposition format: `name{label="value",...} value`.
#[derive(Debug)]
struct Sample {
    metric: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Every sample of a scrape. Label values may hold any character (route templates have
/// braces); `\\`, `\"` and `\n` are their escapes.
#[derive(Debug)]
struct Scrape {
    samples: Vec<Sample>,
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("a sample has a value");
    let metric = line[..name_end].to_owned();
    let mut labels = HashMap::new();
    let mut rest = &line[name_end..];
    if let Some(inside) = rest.strip_prefix('{') {
        let mut chars = inside.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next().expect("labels are closed");
            match c {
                '}' => {
                    rest = &inside[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("a label value is closed").1 {
                            '"' => break,
                            '\\' => match chars.next().unwrap().1 {
                                'n' => value.push('\n'),
                                escaped => value.push(escaped),
                            },
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                c => key.push(c),
            }
        }
    }
    let value = rest.split_whitespace().next().expect("a value");
    Sample {
        metric,
        labels,
        value: value
            .parse()
            .unwrap_or_else(|_| panic!("{line}: bad value")),
    }
}

fn parse(text: &str) -> Scrape {
    assert_eq!(
        text.lines().last(),
        Some("# EOF"),
        "the exposition is complete"
    );
    Scrape {
        samples: text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(parse_sample)
            .collect(),
    }
}

/// Scrapes `/metrics` as `request` asks, parsed.
async fn scrape(request: reqwest::RequestBuilder) -> Scrape {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    parse(&response.text().await.unwrap())
}

async fn scrape_from_loopback(app: &TestApp) -> Scrape {
    scrape(app.client.get(app.url("/metrics"))).await
}

/// The value of the sample named `metric` whose labels include all of `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{metric} {labels:?} is ambiguous");
    found.first().map(|s| s.value)
}

#[tokio::test]
async fn an_operator_sees_requests_by_route_and_the_job_queues() {
    let w = world().await;
    let alice = w.app.api("alice");
    for container in [&w.web, &w.bare] {
        let rebooted = alice
            .post(
                &format!("/api/containers/{}", container.uid()),
                json!({"reboot": true}),
            )
            .await;
        assert_eq!(rebooted.status, 200, "{rebooted:?}");
    }
    let before = scrape_from_loopback(&w.app).await;
    let route = [
        ("method", "GET"),
        ("route", "/api/containers/{uid}"),
        ("status", "200"),
    ];
    let counted = |s: &Scrape| value(s, "distropanel_http_requests_total", &route).unwrap_or(0.0);

    for container in [&w.web, &w.bare, &w.images] {
        let shown = alice
            .get(&format!("/api/containers/{}", container.uid()))
            .await;
        assert_eq!(shown.status, 200);
    }
    let after = scrape_from_loopback(&w.app).await;

    assert_eq!(counted(&after) - counted(&before), 3.0, "one per request");
    assert!(
        after
            .samples
            .iter()
            .filter(|s| s.metric == "distropanel_http_requests_total")
            .all(|s| !s.labels["route"].contains(&w.web.uid().to_string())),
        "routes are templates, never raw paths"
    );
    let timed = value(
        &after,
        "distropanel_http_request_duration_seconds_count",
        &[("method", "GET"), ("route", "/api/containers/{uid}")],
    );
    assert!(timed.unwrap() >= 3.0, "every request is timed");

    let restarts = [("kind", "restart"), ("state", "queued")];
    assert_eq!(value(&after, "distropanel_jobs", &restarts), Some(2.0));
    assert_eq!(
        value(&after, "distropanel_job_queue_depth", &[("server", "s1")]),
        Some(2.0)
    );
    assert_eq!(
        value(&after, "distropanel_job_queue_depth", &[("server", "s2")]),
        Some(0.0),
        "a server with nothing to do is still listed"
    );
    let waited = value(
        &after,
        "distropanel_job_queue_oldest_age_seconds",
        &[("server", "s1")],
    );
    assert!(waited.unwrap() >= 0.0);
    let connections = value(&after, "distropanel_db_pool_connections", &[]).unwrap();
    let idle = value(&after, "distropanel_db_pool_idle_connections", &[]).unwrap();
    assert!(connections >= 1.0 && idle <= connections);
}

#[tokio::test]
async fn from_elsewhere_metrics_need_a_staff_token() {
    let app = spawn_app_with(|config| {
        config.metrics_from = vec!["192.0.2.0/24".parse().unwrap()];
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.customer("alice");
    app.staff("staff");

    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 404, "not advertised to strangers");
    let via_proxy = |client: &str| {
        app.client
            .get(app.url("/metrics"))
            .header("X-Forwarded-For", client)
    };
    let stranger = via_proxy("198.51.100.1").send().await.unwrap();
    assert_eq!(stranger.status(), 404);
    let monitoring = scrape(via_proxy("192.0.2.9")).await;
    assert!(
        value(&monitoring, "distropanel_jobs", &[]).is_none(),
        "no jobs yet"
    );

    let token_of = |username: &'static str| {
        let app = &app;
        async move {
            let created = Api::as_customer(app, username)
                .post(
                    "/api/tokens",
                    json!({"name": "prometheus", "read_only": true}),
                )
                .await;
            assert_eq!(created.status, 201, "{created:?}");
            TokenClient::new(&app.address, created.json["token"].as_str().unwrap())
        }
    };
    let customer = token_of("alice").await;
    assert_eq!(customer.get("/metrics").await.status(), 404);

    let staff = token_of("staff").await;
    let scraped = scrape(staff.request(reqwest::Method::GET, "/metrics")).await;
    assert!(value(&scraped, "distropanel_db_pool_connections", &[]).is_some());
}

#[tokio::test]
async fn an_operator_sees_how_often_the_container_lists_were_served_from_memory() {
    let w = world().await;
    let alice = w.app.api("alice");
    let served = |s: &Scrape, rows| {
        value(
            s,
            "distropanel_container_lists_served_total",
            &[("rows", rows)],
        )
        .unwrap_or(0.0)
    };
    let before = scrape_from_loopback(&w.app).await;
    for _ in 0..3 {
        assert_eq!(alice.get("/api/containers").await.status, 200);
    }
    let after = scrape_from_loopback(&w.app).await;
    assert_eq!(served(&after, "read") - served(&before, "read"), 1.0);
    assert_eq!(served(&after, "kept") - served(&before, "kept"), 2.0);
    let rows = value(&after, "distropanel_container_list_rows_kept", &[]);
    assert_eq!(rows, Some(4.0), "alice's four containers");
}
