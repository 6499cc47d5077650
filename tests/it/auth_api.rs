//! Authenticating to the JSON API: Basic (uwsgi.it compatible), the uwsgi.it headers, bearer
//! tokens made and revoked by their owner, and credentials that stop working the moment the
//! password changes, on every node.

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::personas::{BasicClient, Browser, TokenClient, another_node, scalar};

#[tokio::test]
async fn a_request_without_valid_credentials_is_401_with_a_basic_challenge() {
    let app = spawn_app().await;
    app.customer("alice");
    for response in [
        app.client.get(app.url("/api/tokens")).send().await.unwrap(),
        BasicClient::new(&app.address, "alice", "wrong")
            .get("/api/tokens")
            .await,
        TokenClient::new(&app.address, "dpt_nonsense")
            .get("/api/tokens")
            .await,
    ] {
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"distropanel\""
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "Unauthorized");
    }
}

#[tokio::test]
async fn the_uwsgi_it_headers_and_a_password_with_colons_authenticate() {
    let app = spawn_app().await;
    app.customer("alice");
    app.sql(&format!(
        "UPDATE users SET password_hash = '{}' WHERE username = 'alice'",
        distropanel::auth::password::hash(
            &distropanel::domain::values::Password::parse("pass:with:colons").unwrap()
        )
    ))
    .unwrap();
    let basic = BasicClient::new(&app.address, "alice", "pass:with:colons");
    assert_eq!(basic.get("/api/tokens").await.status(), 200);
    let headers = app
        .client
        .get(app.url("/api/tokens"))
        .header("X-uwsgi-it-username", hex::encode("alice"))
        .header("X-uwsgi-it-password", hex::encode("pass:with:colons"))
        .send()
        .await
        .unwrap();
    assert_eq!(headers.status(), 200);
}

#[tokio::test]
async fn a_token_is_shown_once_stored_as_a_hash_listed_without_secret_and_works() {
    let app = spawn_app().await;
    app.customer("alice");
    let basic = BasicClient::new(&app.address, "alice", "alice-password");
    let (id, secret) = basic.create_token("deploy").await;
    assert!(secret.starts_with("dpt_"));

    let stored = app
        .sql(&format!(
            "SELECT 1 FROM api_tokens WHERE token_hash = '{}'",
            distropanel::auth::token::digest(&secret)
        ))
        .unwrap();
    assert_eq!(stored, 1, "the row holds the digest");
    assert_eq!(
        app.sql(&format!(
            "SELECT 1 FROM api_tokens WHERE token_hash LIKE '%{}%'",
            &secret[4..]
        ))
        .unwrap(),
        0,
        "and never the secret"
    );

    let bearer = TokenClient::new(&app.address, &secret);
    let listed: Value = bearer.get("/api/tokens").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["name"], "deploy");
    assert!(listed[0].get("token").is_none());
    assert!(!listed.to_string().contains(&secret[4..]));
    assert!(listed[0]["last_used"].is_i64(), "use is recorded");
}

#[tokio::test]
async fn a_revoked_token_is_401_at_once() {
    let app = spawn_app().await;
    app.customer("alice");
    let basic = BasicClient::new(&app.address, "alice", "alice-password");
    let (id, secret) = basic.create_token("deploy").await;
    let bearer = TokenClient::new(&app.address, &secret);
    assert_eq!(bearer.get("/api/tokens").await.status(), 200);

    let revoked = basic
        .request(reqwest::Method::DELETE, &format!("/api/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(revoked.json::<Value>().await.unwrap()["message"], "Ok");
    assert_eq!(bearer.get("/api/tokens").await.status(), 401);
    let again = basic
        .request(reqwest::Method::DELETE, &format!("/api/tokens/{id}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        403,
        "a revoked token is gone like a missing one"
    );
}

#[tokio::test]
async fn a_token_revoked_in_the_panel_is_401_at_once() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    let created = browser
        .post_form("/settings/tokens", &[("name", "laptop")])
        .await;
    assert_eq!(created.status(), 303);
    let shown = browser.get("/settings").await;
    assert_eq!(shown.headers()["cache-control"], "no-store");
    let page = shown.text().await.unwrap();
    let at = page.find("dpt_").expect("the new token is shown");
    let secret: String = page[at..].chars().take_while(|c| *c != '<').collect();
    let bearer = TokenClient::new(&app.address, &secret);
    assert_eq!(bearer.get("/api/tokens").await.status(), 200);
    let (_, settings) = browser.get_text("/settings").await;
    assert!(!settings.contains(&secret), "shown once only");

    let id = scalar(&app, "SELECT id::bigint AS n FROM api_tokens");
    let revoked = browser
        .post_form(
            &format!("/settings/tokens/{id}/revoke"),
            &[("confirmed", "1")],
        )
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(bearer.get("/api/tokens").await.status(), 401);
}

#[tokio::test]
async fn token_requests_that_make_no_sense_get_clear_4xx_answers() {
    let app = spawn_app().await;
    app.customer("alice");
    let basic = BasicClient::new(&app.address, "alice", "alice-password");
    let post = |body: &'static str| {
        basic
            .request(reqwest::Method::POST, "/api/tokens/")
            .body(body)
            .send()
    };
    assert_eq!(post("not json").await.unwrap().status(), 400);
    let unnamed = post("{}").await.unwrap();
    assert_eq!(unnamed.status(), 422);
    assert!(unnamed.json::<Value>().await.unwrap()["fields"]["name"].is_string());
    assert_eq!(post(r#"{"name": 7}"#).await.unwrap().status(), 422);
    assert_eq!(post(r#"{"name": "   "}"#).await.unwrap().status(), 422);
    let huge = format!(
        r#"{{"name": "x", "padding": "{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let too_large = basic
        .request(reqwest::Method::POST, "/api/tokens")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    assert_eq!(
        too_large.json::<Value>().await.unwrap()["error"],
        "Request entity too large"
    );
    let put = basic
        .request(reqwest::Method::PUT, "/api/tokens")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(
        put.json::<Value>().await.unwrap()["error"],
        "Method not allowed"
    );
    assert_eq!(app.count("api_tokens"), 0);
}

#[tokio::test]
async fn after_a_password_change_the_old_basic_credentials_are_401_on_every_node() {
    let app = spawn_app().await;
    app.customer("alice");
    let other_node = another_node(&app.db).await;
    let here = BasicClient::new(&app.address, "alice", "alice-password");
    let there = BasicClient::new(&other_node.address, "alice", "alice-password");
    // both nodes have verified (and remember) the old password
    for _ in 0..2 {
        assert_eq!(here.get("/api/tokens").await.status(), 200);
        assert_eq!(there.get("/api/tokens").await.status(), 200);
    }

    let browser = Browser::customer(&app, "alice").await;
    let elsewhere = Browser::customer(&app, "alice").await;
    let changed = browser
        .post_form(
            "/settings/password",
            &[
                ("current_password", "alice-password"),
                ("new_password", "brand-new-password"),
                ("confirm_password", "brand-new-password"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(changed.headers()["location"], "/settings?done=password");

    assert_eq!(here.get("/api/tokens").await.status(), 401);
    assert_eq!(
        there.get("/api/tokens").await.status(),
        401,
        "the other node too"
    );
    let new = BasicClient::new(&app.address, "alice", "brand-new-password");
    assert_eq!(new.get("/api/tokens").await.status(), 200);
    assert_eq!(
        browser.get("/settings").await.status(),
        200,
        "this session stays"
    );
    assert_eq!(
        elsewhere.get("/settings").await.status(),
        303,
        "other sessions are ended"
    );
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_eight_characters() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    let before = crate::personas::snapshot(&app);
    for (current, new, confirm, says) in [
        (
            "wrong-password",
            "brand-new-password",
            "brand-new-password",
            "current password is wrong",
        ),
        ("alice-password", "short", "short", "at least 8 characters"),
        (
            "alice-password",
            "brand-new-password",
            "brand-new-passw0rd",
            "differ",
        ),
    ] {
        let response = browser
            .post_form(
                "/settings/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", confirm),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains(says), "{says}: {page}");
    }
    assert_eq!(crate::personas::snapshot(&app), before);
    let old = BasicClient::new(&app.address, "alice", "alice-password");
    assert_eq!(old.get("/api/tokens").await.status(), 200);
}

#[tokio::test]
async fn a_browser_session_does_not_authenticate_the_api() {
    // which is why the API needs no CSRF token: a forged request carries no authority there
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    assert_eq!(browser.get("/api/tokens").await.status(), 401);
    let post = browser
        .client
        .post(browser.url("/api/tokens"))
        .body(r#"{"name": "forged"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    assert_eq!(app.count("api_tokens"), 0);
}
