use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_readiness_answer_200_when_the_database_is_up() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_is_503_when_the_database_goes_away_and_the_process_keeps_serving() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let db = &app.db;
    tokio::task::block_in_place(|| db.drop_now());
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process is still up");
}

#[tokio::test]
async fn an_unknown_page_is_a_404_page_in_the_layout() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("404"), "{body}");
    assert!(
        body.contains("class=\"brand\""),
        "the error page uses the base layout"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/healthz", "/nothing-here", "/static/app.css"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
}

#[tokio::test]
async fn static_files_are_embedded_with_cache_headers_and_revalidate_with_304() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/static/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = response.headers()["etag"].clone();
    assert!(response.text().await.unwrap().contains("htmx"));
    let again = app
        .client
        .get(app.url("/static/htmx.min.js"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = app
        .client
        .get(app.url("/static/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn once_the_database_is_known_down_requests_are_refused_at_once_until_it_is_back() {
    let app = spawn_app().await;
    app.customer("kratos");
    let me = || {
        app.client
            .get(app.url("/api/me"))
            .basic_auth("kratos", Some("kratos-password"))
            .send()
    };
    assert_eq!(me().await.unwrap().status(), 200);

    let db = &app.db;
    tokio::task::block_in_place(|| db.refuse_connections());
    let first = me().await.unwrap();
    assert_eq!(first.status(), 503, "the first request waits for the pool");
    let refusal = first.text().await.unwrap();
    for _ in 0..3 {
        let asked = std::time::Instant::now();
        let again = me().await.unwrap();
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(2),
            "answered without waiting for the pool's 5 s: {:?}",
            asked.elapsed()
        );
        assert_eq!(again.status(), 503);
        assert_eq!(again.text().await.unwrap(), refusal, "the same refusal");
    }
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    tokio::task::block_in_place(|| db.allow_connections());
    let mut answer = me().await.unwrap().status();
    for _ in 0..100 {
        if answer == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = me().await.unwrap().status();
    }
    assert_eq!(
        answer, 200,
        "the panel serves again once the database is back"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
