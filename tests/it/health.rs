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
