//! Forms and htmx requests that change something carry the session's CSRF token; without it,
//! or from another site, they are refused and change nothing. The JSON API is exempt.

use crate::helpers::spawn_app;
use crate::personas::{BasicClient, Browser, snapshot};

#[tokio::test]
async fn a_customer_without_the_csrf_token_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    let before = snapshot(&app);

    let no_token = browser
        .post_raw(
            "/settings/password",
            &[
                ("current_password", "alice-password"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(no_token.status(), 403);
    assert!(no_token.text().await.unwrap().contains("reload the page"));

    let wrong_token = browser
        .post_raw(
            "/settings/tokens",
            &[("csrf_token", "not-the-token"), ("name", "deploy")],
        )
        .await;
    assert_eq!(wrong_token.status(), 403);

    let logout = browser.post_raw("/logout", &[]).await;
    assert_eq!(logout.status(), 403);

    assert_eq!(snapshot(&app), before, "the database is unchanged");
    assert_eq!(
        browser.get("/settings").await.status(),
        200,
        "still logged in"
    );
}

#[tokio::test]
async fn the_token_is_accepted_as_a_form_field_and_as_the_htmx_header() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    let token = browser.token_on("/settings").await;
    let (_, page) = browser.get_text("/settings").await;
    assert!(
        page.contains(&format!("hx-headers='{{\"X-CSRF-Token\": \"{token}\"}}'")),
        "the layout gives htmx the token"
    );

    let by_field = browser
        .post_raw(
            "/settings/tokens",
            &[("csrf_token", &token), ("name", "one")],
        )
        .await;
    assert_eq!(by_field.status(), 303);
    let by_header = browser
        .client
        .post(browser.url("/settings/tokens"))
        .header("X-CSRF-Token", &token)
        .header("HX-Request", "true")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=two")
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 303);
    assert_eq!(app.count("api_tokens"), 2);
}

#[tokio::test]
async fn a_post_from_another_origin_is_refused_even_with_the_token() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    let token = browser.token_on("/settings").await;
    let response = browser
        .client
        .post(browser.url("/settings/tokens"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={token}&name=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let same_origin = browser
        .client
        .post(browser.url("/settings/tokens"))
        .header("Origin", &app.address)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={token}&name=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 303);
    assert_eq!(app.count("api_tokens"), 1);
}

#[tokio::test]
async fn the_login_form_needs_its_own_token_too() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::new(&app);
    let without = browser
        .post_raw(
            "/login",
            &[("username", "alice"), ("password", "alice-password")],
        )
        .await;
    assert_eq!(without.status(), 403);
    assert_eq!(app.count("sessions"), 0);
    // a token from another browser is no good either: it is bound to the cookie
    let other = Browser::new(&app);
    let foreign = other.token_on("/login").await;
    browser.token_on("/login").await;
    let crossed = browser
        .post_raw(
            "/login",
            &[
                ("csrf_token", &foreign),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
        )
        .await;
    assert_eq!(crossed.status(), 403);
    assert_eq!(app.count("sessions"), 0);
}

#[tokio::test]
async fn the_json_api_with_basic_auth_needs_no_csrf_token() {
    let app = spawn_app().await;
    app.customer("alice");
    let api = BasicClient::new(&app.address, "alice", "alice-password");
    api.create_token("ci").await;
    assert_eq!(app.count("api_tokens"), 1);
}

#[tokio::test]
async fn basic_credentials_a_browser_replays_for_another_site_change_nothing() {
    let app = spawn_app().await;
    app.customer("alice");
    let api = BasicClient::new(&app.address, "alice", "alice-password");
    let response = api
        .request(reqwest::Method::POST, "/api/tokens")
        .header("Origin", "https://evil.example")
        .header("Content-Type", "text/plain")
        .body(r#"{"name": "planted"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Forbidden");
    assert_eq!(app.count("api_tokens"), 0);
    // reading is harmless (the browser keeps the answer from the other site)
    let read = api
        .request(reqwest::Method::GET, "/api/tokens")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

#[tokio::test]
async fn identity_pages_and_refusals_carry_the_security_headers() {
    let app = spawn_app().await;
    app.staff("root");
    let staff = Browser::logged_in(&app, "root", "staff-password").await;
    let refused = staff.post_raw("/settings/tokens", &[("name", "x")]).await;
    assert_eq!(refused.status(), 403);
    let mut responses = vec![refused];
    for path in ["/login", "/settings", "/staff"] {
        responses.push(staff.get(path).await);
    }
    responses.push(Browser::new(&app).get("/settings").await);
    for response in responses {
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{}: {csp}",
            response.url()
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.contains_key("referrer-policy"));
    }
}

#[tokio::test]
async fn a_multipart_form_carries_the_token_in_its_first_field_or_the_header_never_its_address() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    let token = browser.token_on("/settings").await;
    let field = |name: &str, value: &str| {
        format!("--x\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let multipart = |path: String, body: String, header: Option<&str>| {
        let mut request = browser
            .client
            .post(browser.url(&path))
            .header("Content-Type", "multipart/form-data; boundary=x");
        if let Some(token) = header {
            request = request.header("X-CSRF-Token", token);
        }
        request.body(format!("{body}--x--\r\n")).send()
    };
    let name = field("name", "laptop");
    let first = format!("{}{name}", field("csrf_token", &token));
    let later = format!("{name}{}", field("csrf_token", &token));

    let without = multipart("/settings/tokens".into(), name.clone(), None)
        .await
        .unwrap();
    assert_eq!(without.status(), 403);
    let in_address = multipart(
        format!("/settings/tokens?csrf_token={token}"),
        name.clone(),
        None,
    );
    assert_eq!(
        in_address.await.unwrap().status(),
        403,
        "never read from the address"
    );
    let not_first = multipart("/settings/tokens".into(), later, None)
        .await
        .unwrap();
    assert_eq!(not_first.status(), 403, "only the first field is read");
    let forged = multipart(
        "/settings/tokens".into(),
        field("csrf_token", "forged"),
        None,
    );
    assert_eq!(forged.await.unwrap().status(), 403);

    let with_field = multipart("/settings/tokens".into(), first, None)
        .await
        .unwrap();
    assert_ne!(with_field.status(), 403, "past the CSRF check");
    let with_header = multipart("/settings/tokens".into(), name, Some(&token))
        .await
        .unwrap();
    assert_ne!(with_header.status(), 403, "past the CSRF check");
}
