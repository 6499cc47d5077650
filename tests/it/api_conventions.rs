//! What every API route shares: trailing slashes, CORS, 405, unknown paths, body limits, JSON
//! without a Content-Type, curl's newline, and the OpenAPI document.

use reqwest::Method;
use serde_json::json;

use crate::api_client::{Api, basic, chunked_post, raw_http, raw_http_then_close, world};

#[tokio::test]
async fn every_route_answers_with_and_without_a_trailing_slash() {
    let w = world().await;
    let api = w.app.api("alice");
    for path in [
        "/api/me",
        "/api/containers",
        "/api/custom_distros",
        "/api/alarms",
        "/api/jobs",
    ] {
        for variant in [path.to_owned(), format!("{path}/")] {
            let answer = api.get(&variant).await;
            assert_eq!(answer.status, 200, "{variant}: {answer:?}");
        }
    }
    let uid = w.web.uid();
    assert_eq!(
        api.get(&format!("/api/containers/{uid}/")).await.status,
        200
    );
}

#[tokio::test]
async fn without_credentials_the_api_answers_401_with_a_basic_challenge() {
    let w = world().await;
    let answer = Api::anonymous(&w.app).get("/api/me").await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error(), "Unauthorized");
    assert!(
        answer.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let wrong = w
        .app
        .client
        .get(w.app.url("/api/me"))
        .basic_auth("alice", Some("not-her-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn the_uwsgi_it_hex_headers_authenticate_too() {
    let w = world().await;
    let response = w
        .app
        .client
        .get(w.app.url("/api/me"))
        .header("X-uwsgi-it-username", hex::encode("alice"))
        .header("X-uwsgi-it-password", hex::encode("alice-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn options_answers_the_cors_preflight_and_answers_carry_allow_origin() {
    let w = world().await;
    let preflight = w
        .app
        .client
        .request(Method::OPTIONS, w.app.url("/api/containers/30001"))
        .header("Origin", "https://example.org")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "POST", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("X-uwsgi-it-username") && allowed.contains("X-uwsgi-it-password"));

    let api = w.app.api("alice");
    assert_eq!(
        api.get("/api/me").await.headers["access-control-allow-origin"],
        "*"
    );
    let refused = Api::anonymous(&w.app).get("/api/me").await;
    assert_eq!(refused.headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_method_a_route_lacks_is_405_json_whoever_owns_the_id() {
    let w = world().await;
    let api = w.app.api("alice");
    let cases = [
        (Method::DELETE, "/api/me".to_owned()),
        (Method::PUT, format!("/api/containers/{}", w.web.uid())),
        (Method::DELETE, format!("/api/containers/{}", w.bobs.uid())),
        (Method::PATCH, "/api/custom_distro/1".to_owned()),
        (Method::GET, format!("/api/alarms/raise/{}", w.web.uid())),
        (
            Method::DELETE,
            format!("/api/alarms/trigger/{}", w.bobs.uid()),
        ),
        (Method::POST, "/api/distros/".to_owned()),
    ];
    let before = w.app.snapshot();
    for (method, path) in cases {
        let answer = api.send(api.request(method.clone(), &path)).await;
        assert_eq!(answer.status, 405, "{method} {path}: {answer:?}");
        assert_eq!(answer.error(), "Method not allowed");
        let anonymous = Api::anonymous(&w.app);
        let answer = anonymous
            .send(anonymous.request(method.clone(), &path))
            .await;
        assert_eq!(
            answer.status, 405,
            "without credentials too: {method} {path}"
        );
    }
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404() {
    let w = world().await;
    let answer = w.app.api("alice").get("/api/no/such/thing").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.error(), "Not found");
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn bodies_are_json_whatever_the_content_type_says() {
    let w = world().await;
    let api = w.app.api("alice");
    let path = format!("/api/containers/{}", w.web.uid());
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = api
            .request(Method::POST, &path)
            .body(json!({"note": "hi"}).to_string());
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let answer = api.send(request).await;
        assert_eq!(answer.status, 200, "{content_type:?}: {answer:?}");
        assert_eq!(answer.json["note"], "hi");
    }
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_and_change_nothing() {
    let w = world().await;
    let api = w.app.api("alice");
    let path = format!("/api/containers/{}", w.web.uid());
    let before = w.app.snapshot();
    for body in [
        "",
        "{",
        "not json",
        "[1,2]",
        "\"a string\"",
        r#"{"note": 5}"#,
        r#"{"custom_distros_storage": "yes"}"#,
        r#"{"ssh_keys": "one key"}"#,
        r#"{"distro": 1.5}"#,
    ] {
        let answer = api.post_raw(&path, body).await;
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
        assert_eq!(answer.error(), "Bad request");
        assert!(!answer.reason().is_empty());
    }
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_field() {
    let w = world().await;
    let api = w.app.api("alice");
    let before = w.app.snapshot();
    let answer = api
        .post(
            &format!("/api/containers/{}", w.web.uid()),
            json!({"name": "", "alarm_freq": 5, "quota_threshold": 101, "tags": ["a,b"]}),
        )
        .await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert_eq!(answer.error(), "Unprocessable entity");
    for field in ["name", "alarm_freq", "quota_threshold", "tags"] {
        assert!(
            answer.json["fields"][field].is_string(),
            "{field}: {answer:?}"
        );
    }
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_declared_or_chunked_and_a_chunked_body_within_is_fine() {
    let w = world().await;
    let api = w.app.api("alice");
    let path = format!("/api/containers/{}", w.web.uid());
    let big = json!({ "note": "x".repeat(70 * 1024) }).to_string();
    let before = w.app.snapshot();

    let answer = api.post_raw(&path, big.clone()).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.error(), "Request entity too large");

    let (status, body) = raw_http(&w.app, &chunked_post(&path, "alice", &big)).await;
    assert_eq!(status, 413, "chunked: {body}");
    assert!(body.contains("Request entity too large"), "{body}");
    assert_eq!(w.app.snapshot(), before);

    let small = json!({ "note": "chunked" }).to_string();
    let (status, body) = raw_http(&w.app, &chunked_post(&path, "alice", &small)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"note\":\"chunked\""), "{body}");
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_clear_4xx() {
    let w = world().await;
    let path = format!("/api/containers/{}", w.web.uid());
    let before = w.app.snapshot();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"note\": \"x\"}}",
        basic("alice")
    );
    let (status, body) = raw_http_then_close(&w.app, request.as_bytes()).await;
    assert!(
        status == 0 || (400..500).contains(&status),
        "a truncated body is refused or the connection closed, never served: {status} {body}"
    );
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_post_without_a_body_is_400() {
    let w = world().await;
    let path = format!("/api/containers/{}", w.web.uid());
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("alice")
    );
    let (status, body) = raw_http(&w.app, request.as_bytes()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no body"), "{body}");
}

#[tokio::test]
async fn curl_gets_a_trailing_newline_others_do_not() {
    let w = world().await;
    let api = w.app.api("alice");
    let curl = api
        .send(
            api.request(Method::GET, "/api/me")
                .header("User-Agent", "curl/8.5.0"),
        )
        .await;
    assert!(curl.text.ends_with("}\n"), "{:?}", curl.text);
    let refused = Api::anonymous(&w.app);
    let refused = refused
        .send(
            refused
                .request(Method::GET, "/api/me")
                .header("User-Agent", "curl/8.5.0"),
        )
        .await;
    assert!(
        refused.text.ends_with("}\n"),
        "errors too: {:?}",
        refused.text
    );
    let other = api.get("/api/me").await;
    assert!(other.text.ends_with('}'), "{:?}", other.text);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_each_answers() {
    let w = world().await;
    let doc = Api::anonymous(&w.app).get("/api/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.json["paths"].as_object().unwrap();
    let registered = distropanel::web::api::openapi::registered();
    assert_eq!(paths.len(), registered.len());
    let api = w.app.api("alice");
    for (path, methods) in registered {
        let item = &paths[&path];
        for method in &methods {
            assert!(
                item[method.to_lowercase()].is_object(),
                "{method} {path} is documented"
            );
        }
        // a documented route exists: it never falls through to the unknown-path 404
        let concrete = path
            .replace("{uid}", &w.web.uid().to_string())
            .replace("{id}", "1");
        let method = Method::from_bytes(methods[0].as_bytes()).unwrap();
        let answer = api
            .send(api.request(method.clone(), &concrete).body("{}"))
            .await;
        assert_ne!(answer.status, 404, "{method} {concrete}: {answer:?}");
        assert_ne!(answer.status, 500, "{method} {concrete}: {answer:?}");
    }
}

#[tokio::test]
async fn credentials_no_user_can_have_are_401_never_500() {
    let w = world().await;
    use base64::Engine;
    let encode = |pair: &[u8]| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let requests = [
        w.app
            .client
            .get(w.app.url("/api/me"))
            .header("X-uwsgi-it-username", hex::encode("a\0b"))
            .header("X-uwsgi-it-password", hex::encode("pass")),
        w.app
            .client
            .get(w.app.url("/api/me"))
            .header("Authorization", encode(b"a\0b:pass")),
        w.app
            .client
            .get(w.app.url("/api/me"))
            .header("Authorization", encode(b"alice:\0")),
        w.app
            .client
            .get(w.app.url("/api/me"))
            .header("Authorization", encode(&[0xff, b':', 0xfe])),
        w.app
            .client
            .get(w.app.url("/api/me"))
            .header("Authorization", "Bearer nonsense"),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
}
