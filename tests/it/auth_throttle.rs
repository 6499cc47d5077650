//! Login throttling under pressure: a burst of guesses is verified no more often than the limit
//! allows, password checks are bounded, and a stranger's guesses lock a user out only of
//! addresses the user never logged in from. Tokens and sessions are never locked out.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app_with};
use crate::personas::{BasicClient, Browser, TokenClient};

/// `GET /api/me` as `username`/`password` from `address` (the proxy in front names it).
async fn me_from(app: &TestApp, address: &str, password: &str) -> StatusCode {
    BasicClient::new(&app.address, "alice", password)
        .request(Method::GET, "/api/me")
        .header("X-Forwarded-For", address)
        .send()
        .await
        .unwrap()
        .status()
}

/// The same guess as the uwsgi.it headers send it, hex-encoded.
async fn me_by_headers(app: &TestApp, password: &str) -> StatusCode {
    app.client
        .get(app.url("/api/me"))
        .header("X-uwsgi-it-username", hex::encode("alice"))
        .header("X-uwsgi-it-password", hex::encode(password))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn forty_guesses_at_once_are_checked_five_times_and_refused_the_rest() {
    let app = spawn_app_with(|config| {
        config.login.argon2_slots = 4;
        config.login.argon2_queue = 64;
    })
    .await;
    app.customer("alice");

    // half by Basic, half by the uwsgi.it headers, all sent together
    let guesses = (0..40).map(|n| {
        let app = &app;
        async move {
            let guess = format!("guess-{n}");
            if n % 2 == 0 {
                me_from(app, "127.0.0.1", &guess).await
            } else {
                me_by_headers(app, &guess).await
            }
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let count = |status| answers.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::UNAUTHORIZED), 5, "{answers:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 35, "{answers:?}");
    assert_eq!(
        app.count("login_attempts"),
        5,
        "only the checked ones count"
    );
}

#[tokio::test]
async fn with_every_password_check_slot_taken_a_login_is_told_to_come_back() {
    let app = spawn_app_with(|config| {
        config.login.argon2_slots = 1;
        config.login.argon2_queue = 0;
    })
    .await;
    app.customer("alice");
    let alice = BasicClient::new(&app.address, "alice", "alice-password");
    let (_, token) = alice.create_token("deploy").await;
    let browser = Browser::customer(&app, "alice").await;

    let held = app.login_gate.slot().await.expect("a free slot");
    let guess = BasicClient::new(&app.address, "alice", "guess");
    let refused = guess.get("/api/me").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "Service unavailable");
    assert!(
        body["reason"].as_str().unwrap().contains("try again"),
        "{body}"
    );
    let stranger = Browser::new(&app);
    let page = stranger.login("alice", "alice-password").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.headers()["retry-after"], "1");
    assert_eq!(
        app.count("login_attempts"),
        0,
        "a refused check is no failure"
    );

    // nothing that needs no password check waits for one
    let by_token = TokenClient::new(&app.address, &token).get("/api/me").await;
    assert_eq!(by_token.status(), StatusCode::OK);
    assert_eq!(browser.get("/settings").await.status(), StatusCode::OK);

    drop(held);
    assert_eq!(
        guess.get("/api/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(alice.get("/api/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_stranger_cannot_lock_alice_out_of_the_address_she_logs_in_from() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        config.login.per_username = 10;
    })
    .await;
    app.customer("alice");
    let home = "198.51.100.1";
    assert_eq!(me_from(&app, home, "alice-password").await, StatusCode::OK);

    // a stranger guesses from two addresses: each pair locks, and the name reaches its ceiling
    for stranger in ["203.0.113.7", "203.0.113.8"] {
        for _ in 0..5 {
            assert_eq!(
                me_from(&app, stranger, "guess").await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            me_from(&app, stranger, "alice-password").await,
            StatusCode::TOO_MANY_REQUESTS,
            "{stranger} is locked, even for the right password"
        );
    }
    assert_eq!(
        me_from(&app, "192.0.2.50", "alice-password").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a new address is refused while the username is at its ceiling"
    );

    assert_eq!(
        me_from(&app, home, "alice-password").await,
        StatusCode::OK,
        "at home alice's password still works"
    );
    // and a wrong guess from home still counts and is answered like any other
    assert_eq!(me_from(&app, home, "guess").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn guesses_from_one_ipv6_subscriber_count_together() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.customer("alice");
    for n in 1..=5 {
        let address = format!("2001:db8:1:2::{n}");
        assert_eq!(
            me_from(&app, &address, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        me_from(&app, "2001:db8:1:2:ffff::9", "guess").await,
        StatusCode::TOO_MANY_REQUESTS,
        "another address in the same /64"
    );
    assert_eq!(
        me_from(&app, "2001:db8:1:3::1", "alice-password").await,
        StatusCode::OK,
        "the next /64 is someone else"
    );
}

#[tokio::test]
async fn a_bearer_token_and_a_session_keep_working_while_the_password_is_locked() {
    let app = spawn_app_with(|_| {}).await;
    app.customer("alice");
    let (_, token) = BasicClient::new(&app.address, "alice", "alice-password")
        .create_token("deploy")
        .await;
    let browser = Browser::customer(&app, "alice").await;

    for _ in 0..5 {
        assert_eq!(
            me_from(&app, "127.0.0.1", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        me_from(&app, "127.0.0.1", "alice-password").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let by_token = TokenClient::new(&app.address, &token).get("/api/me").await;
    assert_eq!(by_token.status(), StatusCode::OK);
    assert_eq!(browser.get("/settings").await.status(), StatusCode::OK);
}
