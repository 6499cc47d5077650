//! An account belongs to whoever knows its password. A leaked token can read, and with a
//! read-write scope act, but it cannot change the password or the e-mail; a new password ends
//! every other session and revokes every token; a read-only token changes nothing at all.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api_client::{Answer, World, world};
use crate::personas::{BasicClient, Browser, TokenClient};

/// Sends `request` and reads the answer as the API tests do.
async fn answer(w: &World, request: reqwest::RequestBuilder) -> Answer {
    w.app.api("alice").send(request).await
}

/// Every row a request could change, sessions and alarms included.
fn everything(w: &World) -> (String, Vec<(String, String)>, String) {
    (
        w.app.snapshot(),
        crate::personas::snapshot(&w.app),
        w.app
            .scalar("SELECT coalesce(string_agg(a::text, '|' ORDER BY a.id), '') FROM alarms a"),
    )
}

/// A token is marked used at most once a minute; marking it ahead keeps a refused request's
/// authentication from showing up as a change.
fn pin_last_use(w: &World) {
    w.app
        .sql("UPDATE api_tokens SET last_used_at = now() + interval '1 day'")
        .unwrap();
}

async fn token(w: &World, name: &str, read_only: bool) -> (i64, TokenClient) {
    let basic = BasicClient::new(&w.app.address, "alice", "alice-password");
    let created = answer(
        w,
        basic
            .request(Method::POST, "/api/tokens")
            .body(json!({"name": name, "read_only": read_only}).to_string()),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json["read_only"], read_only);
    let secret = created.json["token"].as_str().unwrap();
    (
        created.json["id"].as_i64().unwrap(),
        TokenClient::new(&w.app.address, secret),
    )
}

#[tokio::test]
async fn a_token_alone_cannot_change_the_password_or_the_email() {
    let w = world().await;
    let (_, leaked) = token(&w, "deploy", false).await;
    assert_eq!(leaked.get("/api/me").await.status(), 200);
    pin_last_use(&w);
    let before = everything(&w);
    for change in [
        json!({"password": "taken-over-password"}),
        json!({"email": "thief@example.net"}),
        json!({"company": "Thief", "email": "thief@example.net"}),
    ] {
        let refused = answer(
            &w,
            leaked
                .request(Method::POST, "/api/me")
                .body(change.to_string()),
        )
        .await;
        assert_eq!(refused.status, 403, "{change}: {refused:?}");
        assert_eq!(refused.error(), "Forbidden");
        assert!(refused.reason().contains("current password"), "{refused:?}");
    }
    assert_eq!(everything(&w), before, "nothing changed");
    let owner = BasicClient::new(&w.app.address, "alice", "alice-password");
    assert_eq!(
        owner.get("/api/me").await.status(),
        200,
        "the password holds"
    );

    // what needs no password still works with the token, and revokes nothing
    let company = answer(
        &w,
        leaked
            .request(Method::POST, "/api/me")
            .body(json!({"company": "ACME Two"}).to_string()),
    )
    .await;
    assert_eq!(company.status, 200, "{company:?}");
    assert_eq!(company.json["company"], "ACME Two");
    assert_eq!(company.json["revoked_tokens"], 0);
    assert_eq!(leaked.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn the_password_changed_with_basic_credentials_revokes_every_token_and_ends_every_session() {
    let w = world().await;
    let (_, deploy) = token(&w, "deploy", false).await;
    let (_, ci) = token(&w, "ci", true).await;
    let browser = Browser::logged_in(&w.app, "alice", "alice-password").await;
    let laptop = Browser::logged_in(&w.app, "alice", "alice-password").await;
    assert_eq!(browser.get("/settings").await.status(), 200);
    assert_eq!(laptop.get("/settings").await.status(), 200);

    let owner = BasicClient::new(&w.app.address, "alice", "alice-password");
    let changed = answer(
        &w,
        owner
            .request(Method::POST, "/api/me")
            .body(json!({"password": "a-new-password"}).to_string()),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.json["revoked_tokens"], 2);
    assert_eq!(
        changed.json["email"], "alice@example.com",
        "the same object"
    );
    assert!(changed.json["containers"].is_array());

    for revoked in [&deploy, &ci] {
        assert_eq!(revoked.get("/api/me").await.status(), 401);
    }
    for ended in [&browser, &laptop] {
        assert_eq!(ended.get("/settings").await.status(), 303, "logged out");
    }
    assert_eq!(owner.get("/api/me").await.status(), 401);
    let renewed = BasicClient::new(&w.app.address, "alice", "a-new-password");
    assert_eq!(renewed.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn the_uwsgi_it_headers_prove_the_password_for_a_new_email() {
    let w = world().await;
    let changed = answer(
        &w,
        w.app
            .client
            .post(w.app.url("/api/me"))
            .header("X-uwsgi-it-username", hex::encode("alice"))
            .header("X-uwsgi-it-password", hex::encode("alice-password"))
            .body(json!({"email": "alice@olympus.example"}).to_string()),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.json["email"], "alice@olympus.example");
    assert_eq!(
        changed.json["revoked_tokens"], 0,
        "only a new password revokes"
    );
}

#[tokio::test]
async fn a_token_with_the_current_password_changes_it_and_is_revoked_with_the_others() {
    let w = world().await;
    let (_, bearer) = token(&w, "laptop", false).await;
    let (_, other) = token(&w, "deploy", false).await;
    let browser = Browser::logged_in(&w.app, "alice", "alice-password").await;
    assert_eq!(bearer.get("/api/me").await.status(), 200);
    pin_last_use(&w);

    let before = everything(&w);
    let wrong = answer(
        &w,
        bearer
            .request(Method::POST, "/api/me")
            .body(json!({"password": "a-new-password", "current_password": "a-guess"}).to_string()),
    )
    .await;
    assert_eq!(wrong.status, 422, "{wrong:?}");
    assert!(wrong.json["fields"]["current_password"].is_string());
    assert_eq!(
        everything(&w),
        before,
        "a wrong current password changes nothing"
    );

    let changed = answer(
        &w,
        bearer.request(Method::POST, "/api/me").body(
            json!({"password": "a-new-password", "email": "alice@olympus.example",
                   "current_password": "alice-password"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.json["email"], "alice@olympus.example");
    assert_eq!(changed.json["revoked_tokens"], 2);
    assert_eq!(bearer.get("/api/me").await.status(), 401, "itself too");
    assert_eq!(other.get("/api/me").await.status(), 401);
    assert_eq!(browser.get("/settings").await.status(), 303);
    let renewed = BasicClient::new(&w.app.address, "alice", "a-new-password");
    assert_eq!(renewed.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn a_read_only_token_reads_but_changes_nothing() {
    let w = world().await;
    let (ci_id, ci) = token(&w, "ci", true).await;
    let (deploy_id, _) = token(&w, "deploy", false).await;
    let web = w.web.uid();

    for path in ["/api/me", "/api/containers", "/api/alarms", "/api/jobs"] {
        assert_eq!(ci.get(path).await.status(), 200, "{path}");
    }
    let listed: Value = ci.get("/api/tokens").await.json().await.unwrap();
    assert_eq!(listed[0]["id"], ci_id);
    assert_eq!(listed[0]["read_only"], true);
    assert_eq!(listed[1]["read_only"], false);
    pin_last_use(&w);

    let before = everything(&w);
    let writes = [
        (Method::POST, "/api/me".to_owned(), json!({"company": "Ci"})),
        (
            Method::POST,
            "/api/tokens".to_owned(),
            json!({"name": "more"}),
        ),
        (
            Method::DELETE,
            format!("/api/tokens/{deploy_id}"),
            Value::Null,
        ),
        (Method::DELETE, format!("/api/tokens/{ci_id}"), Value::Null),
        (
            Method::POST,
            format!("/api/containers/{web}"),
            json!({"note": "x"}),
        ),
        (
            Method::POST,
            format!("/api/alarms/raise/{web}"),
            json!("down"),
        ),
        (Method::GET, format!("/api/alarm_key/{web}"), Value::Null),
    ];
    for (method, path, body) in writes {
        let mut request = ci.request(method.clone(), &path);
        if !body.is_null() {
            request = request.body(body.to_string());
        }
        let refused = answer(&w, request).await;
        assert_eq!(refused.status, 403, "{method} {path}: {refused:?}");
        assert_eq!(refused.error(), "Forbidden");
        assert!(refused.reason().contains("read-only"), "{refused:?}");
    }
    assert_eq!(everything(&w), before, "nothing changed");
    assert_eq!(ci.get("/api/me").await.status(), 200, "and it still reads");
}

#[tokio::test]
async fn the_settings_page_makes_a_read_only_token_and_lists_its_scope() {
    let w = world().await;
    let browser = Browser::logged_in(&w.app, "alice", "alice-password").await;
    let made = browser
        .post_form("/settings/tokens", &[("name", "ci"), ("read_only", "on")])
        .await;
    assert_eq!(made.status(), 303, "post/redirect/get");
    let page = browser.get("/settings").await.text().await.unwrap();
    let at = page.find("dpt_").expect("the secret is shown once");
    let secret: String = page[at..].chars().take_while(|c| *c != '<').collect();
    let plain = browser
        .post_form("/settings/tokens", &[("name", "deploy")])
        .await;
    assert_eq!(plain.status(), 303);

    let (_, settings) = browser.get_text("/settings").await;
    assert!(
        settings.contains("<td>ci</td><td>read-only</td>"),
        "{settings}"
    );
    assert!(
        settings.contains("<td>deploy</td><td>read-write</td>"),
        "{settings}"
    );
    let ci = TokenClient::new(&w.app.address, &secret);
    assert_eq!(ci.get("/api/me").await.status(), 200);
    let refused = ci
        .request(Method::POST, "/api/me")
        .body(json!({"company": "Ci"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_password_changed_on_the_settings_page_revokes_the_tokens_and_keeps_that_session() {
    let w = world().await;
    let (_, deploy) = token(&w, "deploy", false).await;
    let browser = Browser::logged_in(&w.app, "alice", "alice-password").await;
    let laptop = Browser::logged_in(&w.app, "alice", "alice-password").await;
    let changed = browser
        .post_form(
            "/settings/password",
            &[
                ("current_password", "alice-password"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(deploy.get("/api/me").await.status(), 401);
    assert_eq!(laptop.get("/settings").await.status(), 303, "logged out");
    let (status, page) = browser.get_text("/settings?done=password").await;
    assert_eq!(status, 200, "the session that changed it stays");
    assert!(page.contains("API tokens were revoked"), "{page}");
    assert!(page.contains("No tokens."), "{page}");
}
