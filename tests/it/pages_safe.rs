//! Safe to click, without JavaScript: destructive forms ask on a confirmation page first, a
//! token form answers with a redirect so that a reload makes no second token, token names are
//! unique, every page and API read answers `HEAD`, and the settings page edits the profile.

use serde_json::json;

use crate::api_client::world;
use crate::helpers::spawn_app;
use crate::personas::{BasicClient, Browser, scrape_csrf};

/// A form field: its name and value.
type Field<'a> = (&'a str, &'a str);

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn live_tokens(app: &crate::helpers::TestApp) -> i64 {
    crate::personas::scalar(
        app,
        "SELECT count(*) AS n FROM api_tokens WHERE revoked_at IS NULL",
    )
}

#[tokio::test]
async fn making_a_token_redirects_shows_the_secret_once_and_a_reload_makes_no_second_one() {
    let app = spawn_app().await;
    app.customer("alice");
    let alice = Browser::customer(&app, "alice").await;

    let made = alice
        .post_form("/settings/tokens", &[("name", "laptop")])
        .await;
    assert_eq!(made.status(), 303);
    assert_eq!(location(&made), "/settings#new-token");
    assert_eq!(live_tokens(&app), 1);

    let (status, page) = alice.get_text("/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains("Your new token “laptop”"), "{page}");
    assert!(
        page.contains("data-copy=\"new-token-secret\""),
        "a copy button"
    );
    let secret = page
        .split("id=\"new-token-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    assert!(secret.starts_with("dpt_"), "{secret}");

    // reloading the page shows the token list, not the secret, and sends nothing
    let (_, again) = alice.get_text("/settings").await;
    assert!(!again.contains(secret), "the secret is shown once");
    assert!(!again.contains("id=\"new-token\""));
    assert_eq!(live_tokens(&app), 1, "no second token");
}

#[tokio::test]
async fn a_second_live_token_of_the_same_name_is_refused_with_409_on_the_page_and_in_the_api() {
    let app = spawn_app().await;
    app.customer("alice");
    let alice = Browser::customer(&app, "alice").await;
    assert_eq!(
        alice
            .post_form("/settings/tokens", &[("name", "deploy")])
            .await
            .status(),
        303
    );

    let again = alice
        .post_form("/settings/tokens", &[("name", "deploy")])
        .await;
    assert_eq!(again.status(), 409);
    let page = again.text().await.unwrap();
    assert!(
        page.contains("You already have a token named &#39;deploy&#39;; choose another name."),
        "{page}"
    );

    let api = BasicClient::new(&app.address, "alice", "alice-password");
    let refused = api
        .request(reqwest::Method::POST, "/api/tokens")
        .json(&json!({ "name": "deploy" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "Conflict");
    assert_eq!(live_tokens(&app), 1);

    // a revoked token's name is free again
    app.sql("UPDATE api_tokens SET revoked_at = now()").unwrap();
    let (_, secret) = api.create_token("deploy").await;
    assert!(secret.starts_with("dpt_"));

    // the database holds the rule by itself
    let twin = app.sql(
        "INSERT INTO api_tokens (user_id, name, token_hash) \
         SELECT user_id, name, repeat('a', 64) FROM api_tokens WHERE revoked_at IS NULL",
    );
    assert!(twin.unwrap_err().contains("api_tokens_user_live_name"));
}

#[tokio::test]
async fn revoking_a_token_without_javascript_asks_on_a_confirmation_page_that_sends_it_again() {
    let app = spawn_app().await;
    app.customer("alice");
    let alice = Browser::customer(&app, "alice").await;
    alice.post_form("/settings/tokens", &[("name", "ci")]).await;
    let id = crate::personas::scalar(&app, "SELECT id::bigint AS n FROM api_tokens");

    let asked = alice
        .post_form(&format!("/settings/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(asked.status(), 200);
    let page = asked.text().await.unwrap();
    assert!(page.contains("Revoke this API token?"), "{page}");
    assert!(page.contains(&format!("action=\"/settings/tokens/{id}/revoke\"")));
    assert!(page.contains("name=\"confirmed\" value=\"1\""));
    assert!(page.contains("href=\"/settings#tokens\""), "a way back");
    assert_eq!(live_tokens(&app), 1, "asking revokes nothing");

    // the confirmation page's own form, sent as it stands
    let token = scrape_csrf(&page).unwrap();
    let confirmed = alice
        .post_raw(
            &format!("/settings/tokens/{id}/revoke"),
            &[("csrf_token", &token), ("confirmed", "1")],
        )
        .await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(live_tokens(&app), 0);
}

#[tokio::test]
async fn deleting_purging_rolling_back_and_storage_off_each_ask_first_without_javascript() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let alice = Browser::customer(&w.app, "alice").await;
    let before = w.app.snapshot();
    let storage = [("storage", "off")];
    let purge = [("purge", "1")];
    let asks: [(String, &[Field], &str); 4] = [
        (
            format!("/distros/{id}/delete"),
            &[],
            "Delete this custom distro?",
        ),
        (
            format!("/distros/{id}/delete"),
            &purge,
            "Delete this custom distro and its image files?",
        ),
        (
            format!("/distros/{id}/rollback"),
            &[],
            "Roll back to the previous image?",
        ),
        (
            format!("/containers/{}/storage", w.images.uid()),
            &storage,
            "Stop storing custom distros in this container?",
        ),
    ];
    for (path, fields, question) in asks {
        let asked = alice.post_form(&path, fields).await;
        assert_eq!(asked.status(), 200, "{path}");
        let page = asked.text().await.unwrap();
        assert!(page.contains(question), "{path}: {page}");
        assert!(page.contains(&format!("action=\"{path}\"")), "{page}");
        for (name, value) in fields {
            assert!(
                page.contains(&format!("name=\"{name}\" value=\"{value}\"")),
                "{path} keeps {name}: {page}"
            );
        }
    }
    assert_eq!(w.app.snapshot(), before, "asking changed nothing");

    let deleted = alice
        .post_form(&format!("/distros/{id}/delete"), &[("confirmed", "1")])
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(w.app.count("custom_distros"), 0);
}

#[tokio::test]
async fn every_get_route_answers_head_with_the_get_status_and_headers_and_no_body() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Alpine", "alpine")
        .await;
    let alice = Browser::customer(&w.app, "alice").await;
    let pages = [
        "/".to_owned(),
        "/containers".into(),
        format!("/containers/{}", w.web.uid()),
        "/distros".into(),
        format!("/distros/{id}"),
        "/settings".into(),
        "/static/app.css".into(),
        "/static/favicon.svg".into(),
        "/healthz".into(),
    ];
    for path in &pages {
        let get = alice.get(path).await;
        let head = alice.client.head(alice.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(get.status(), 200, "GET {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    let anonymous = Browser::new(&w.app);
    let login = anonymous.client.head(anonymous.url("/login")).send().await;
    assert_eq!(login.unwrap().status(), 200);

    let api = BasicClient::new(&w.app.address, "alice", "alice-password");
    for path in ["/api/me", "/api/distros", "/api/containers/", "/api/tokens"] {
        let head = api
            .request(reqwest::Method::HEAD, path)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
    }
    // HEAD is no way round a missing page or a POST-only route
    assert_eq!(
        alice
            .client
            .head(alice.url("/nowhere"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn the_layout_links_an_svg_favicon_and_favicon_ico_leads_to_it() {
    let app = spawn_app().await;
    let visitor = Browser::new(&app);
    let (_, page) = visitor.get_text("/login").await;
    assert!(page.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#));
    let icon = visitor.get("/static/favicon.svg").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    let ico = visitor.get("/favicon.ico").await;
    assert_eq!(ico.status(), 301);
    assert_eq!(location(&ico), "/static/favicon.svg");
}

#[tokio::test]
async fn a_customer_changes_company_and_vat_freely_and_the_e_mail_only_with_the_password() {
    let app = spawn_app().await;
    app.customer("alice");
    let alice = Browser::customer(&app, "alice").await;
    let (_, page) = alice.get_text("/settings").await;
    assert!(
        page.contains("value=\"ACME\""),
        "the company is in the form"
    );

    let saved = alice
        .post_form(
            "/settings/profile",
            &[
                ("email", "alice@example.com"),
                ("company", "ACME Srl"),
                ("vat", "IT01234567890"),
                ("current_password", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/settings?done=profile");
    let (_, page) = alice.get_text("/settings?done=profile").await;
    assert!(page.contains("Your details were saved."));
    assert!(page.contains("value=\"ACME Srl\"") && page.contains("value=\"IT01234567890\""));

    let fields = |password: &'static str| {
        [
            ("email", "alice@acme.example"),
            ("company", "ACME Srl"),
            ("vat", "IT01234567890"),
            ("current_password", password),
        ]
    };
    let without = alice.post_form("/settings/profile", &fields("")).await;
    assert_eq!(without.status(), 403);
    assert!(
        without
            .text()
            .await
            .unwrap()
            .contains("Type your current password to change the e-mail address.")
    );
    let wrong = alice
        .post_form("/settings/profile", &fields("nope-nope"))
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The current password is wrong.")
    );
    assert_eq!(
        crate::personas::scalar(
            &app,
            "SELECT count(*) AS n FROM users WHERE email = 'alice@example.com'"
        ),
        1,
        "unchanged"
    );

    let right = alice
        .post_form("/settings/profile", &fields("alice-password"))
        .await;
    assert_eq!(right.status(), 303);
    let me: serde_json::Value = BasicClient::new(&app.address, "alice", "alice-password")
        .get("/api/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "alice@acme.example");
    assert_eq!(me["company"], "ACME Srl");
    assert_eq!(me["vat"], "IT01234567890");
}

#[tokio::test]
async fn ending_all_other_sessions_asks_first_then_keeps_only_this_one_with_browsers_named() {
    let app = spawn_app().await;
    app.customer("alice");
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    let laptop = Browser::identified_as(&app.address, firefox);
    assert_eq!(laptop.login("alice", "alice-password").await.status(), 303);
    let other = Browser::identified_as(&app.address, phone);
    assert_eq!(other.login("alice", "alice-password").await.status(), 303);
    let third = Browser::new(&app);
    assert_eq!(third.login("alice", "alice-password").await.status(), 303);

    let (_, page) = laptop.get_text("/settings").await;
    assert!(page.contains("<td>Firefox on Linux</td>"), "{page}");
    assert!(page.contains("<td>Safari on iPhone</td>"), "{page}");
    assert!(page.contains("End all other sessions"));

    let asked = laptop.post_form("/settings/sessions/end-others", &[]).await;
    assert_eq!(asked.status(), 200);
    assert!(
        asked
            .text()
            .await
            .unwrap()
            .contains("End all your other sessions?")
    );
    assert_eq!(app.count("sessions"), 3, "asking ends nothing");

    let ended = laptop
        .post_form("/settings/sessions/end-others", &[("confirmed", "1")])
        .await;
    assert_eq!(ended.status(), 303);
    assert_eq!(app.count("sessions"), 1);
    assert_eq!(
        laptop.get("/settings").await.status(),
        200,
        "this one stays"
    );
    assert_eq!(
        other.get("/settings").await.status(),
        303,
        "the phone must log in"
    );
    assert_eq!(third.get("/settings").await.status(), 303);
}
