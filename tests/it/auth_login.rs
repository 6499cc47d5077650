//! Logging in and out in a browser: one answer for every wrong login, renewed and well-marked
//! session cookies, timeouts, and throttling that holds even against the right password.

use std::time::{Duration, Instant};

use crate::helpers::{TestDb, spawn_app, test_config};
use crate::personas::{BasicClient, Browser};

fn set_cookie_for<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

async fn failed_login(
    browser: &Browser,
    username: &str,
    password: &str,
) -> (u16, String, Duration) {
    let token = browser.token_on("/login").await;
    let started = Instant::now();
    let response = browser
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap(), took)
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer_in_similar_time() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::new(&app);

    // one argon2 verification, measured between the logins so that both see the same load
    let phc = distropanel::auth::password::hash(
        &distropanel::domain::values::Password::parse("some password").unwrap(),
    );
    let mut verifications = Vec::new();
    let mut wrong_password = Vec::new();
    let mut unknown_user = Vec::new();
    // four of each: a fifth failure for one username would be throttled
    for _ in 0..4 {
        let (status, page, took) = failed_login(&browser, "alice", "not-her-password").await;
        assert_eq!(status, 401);
        wrong_password.push((page.replace("value=\"alice\"", "value=\"?\""), took));
        let started = Instant::now();
        distropanel::auth::password::verify("another one", &phc);
        verifications.push(started.elapsed());
        let (status, page, took) = failed_login(&browser, "nobody", "not-her-password").await;
        assert_eq!(status, 401);
        unknown_user.push((page.replace("value=\"nobody\"", "value=\"?\""), took));
    }
    assert_eq!(
        wrong_password[0].0, unknown_user[0].0,
        "the pages differ only by the username typed"
    );
    assert!(wrong_password[0].0.contains("Wrong username or password."));

    // Load on the machine only ever adds time, so the fastest of each is the fair figure; an
    // unknown user must cost an argon2 verification as a wrong password does (skipping it
    // makes the login ten times faster than one verification).
    let fastest = |v: &[(String, Duration)]| v.iter().map(|(_, t)| *t).min().unwrap();
    let one_verification = verifications.into_iter().min().unwrap();
    for (who, took) in [
        ("wrong password", fastest(&wrong_password)),
        ("unknown user", fastest(&unknown_user)),
    ] {
        assert!(
            took * 2 >= one_verification,
            "{who}: {took:?}, one argon2 verification: {one_verification:?}"
        );
    }
}

#[tokio::test]
async fn logging_in_sets_a_fresh_httponly_samesite_session_cookie_and_logout_ends_it() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::new(&app);
    assert_eq!(browser.cookie("distropanel_session"), None);

    let response = browser.login("alice", "alice-password").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/dashboard");
    let set_cookie = set_cookie_for(&response, "distropanel_session")
        .expect("a session cookie")
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "not configured for TLS: {set_cookie}"
    );
    assert_eq!(app.count("sessions"), 1);

    let first = browser.cookie("distropanel_session").unwrap();
    let (status, page) = browser.get_text("/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains("alice@example.com"));

    // logging in again (the key an attacker planted before login, say) gives a new key and
    // makes the old one worthless
    let again = browser.login("alice", "alice-password").await;
    assert_eq!(again.status(), 303);
    let second = browser.cookie("distropanel_session").unwrap();
    assert_ne!(first, second, "the session id changes at login");
    let planted = Browser::new(&app);
    planted.set_cookie("distropanel_session", &first);
    assert_eq!(
        planted.get("/settings").await.status(),
        303,
        "the old key opens nothing"
    );
    assert_eq!(app.count("sessions"), 1);

    let token = browser.token_on("/settings").await;
    let out = browser.post_raw("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(
        app.count("sessions"),
        0,
        "logging out deletes the session row"
    );
    let after = browser.get("/settings").await;
    assert_eq!(after.status(), 303);
    assert_eq!(after.headers()["location"], "/login");
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_configured() {
    let db = tokio::task::spawn_blocking(TestDb::new).await.unwrap();
    let (host_root, var_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut config = test_config(&db, host_root.path(), var_dir.path());
    config.secure_cookies = true;
    let server = distropanel::Application::build(config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    tokio::spawn(server.run_until_stopped());
    {
        let mut conn = db.connect();
        distropanel::cli::admin::add_staff(
            &mut conn,
            "root",
            "root@example.com",
            "root-password",
            distropanel::domain::staff_role::StaffRole::Admin,
        )
        .unwrap();
    }
    // a client that keeps Secure cookies over plain HTTP, as a TLS proxy's backend sees them
    let client = reqwest::Client::builder()
        .pool_idle_timeout(crate::helpers::CLIENT_IDLE)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login_page = client.get(format!("{address}/login")).send().await.unwrap();
    let presession = set_cookie_for(&login_page, "distropanel_csrf")
        .unwrap()
        .to_owned();
    assert!(presession.contains("Secure"), "{presession}");
    let cookie = presession.split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let response = client
        .post(format!("{address}/login"))
        .header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(crate::personas::form_body(&[
            ("csrf_token", &token),
            ("username", "root"),
            ("password", "root-password"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let session = set_cookie_for(&response, "distropanel_session").unwrap();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}

#[tokio::test]
async fn an_idle_session_and_a_session_past_its_absolute_limit_are_over() {
    let app = spawn_app().await;
    app.customer("alice");
    let idle = Browser::customer(&app, "alice").await;
    let old = Browser::customer(&app, "alice").await;
    assert_eq!(app.count("sessions"), 2);

    app.sql("UPDATE sessions SET last_seen = now() - interval '31 minutes', expires_at = now() - interval '1 minute' WHERE key_hash = (SELECT key_hash FROM sessions ORDER BY created_at LIMIT 1)")
        .unwrap();
    app.sql(
        "UPDATE sessions SET created_at = now() - interval '13 hours' WHERE expires_at > now()",
    )
    .unwrap();
    assert_eq!(idle.get("/settings").await.status(), 303);
    assert_eq!(old.get("/settings").await.status(), 303);

    let pool = distropanel::db::pool(&app.db.conninfo(), 1).unwrap();
    let (sessions, _) = distropanel::auth::sweep(&pool).await.unwrap();
    assert_eq!(sessions, 2, "the sweep deletes both dead rows");
    assert_eq!(app.count("sessions"), 0);
}

#[tokio::test]
async fn a_request_keeps_a_session_alive() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::customer(&app, "alice").await;
    app.sql("UPDATE sessions SET last_seen = now() - interval '20 minutes', expires_at = now() + interval '10 minutes'")
        .unwrap();
    assert_eq!(browser.get("/settings").await.status(), 200);
    assert_eq!(
        app.sql("SELECT 1 FROM sessions WHERE expires_at > now() + interval '29 minutes'")
            .unwrap(),
        1,
        "the idle expiry moved forward"
    );
}

#[tokio::test]
async fn the_sixth_failed_login_within_15_minutes_is_429_even_with_the_right_password() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::new(&app);
    for attempt in 1..=5 {
        let (status, _, _) = failed_login(&browser, "alice", "guess").await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    let token = browser.token_on("/login").await;
    let response = browser
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
        )
        .await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(browser.cookie("distropanel_session"), None, "not logged in");
    assert_eq!(app.count("sessions"), 0);

    // once the failures are older than 15 minutes the right password works again
    app.sql("UPDATE login_attempts SET at = at - interval '15 minutes'")
        .unwrap();
    let browser = Browser::logged_in(&app, "alice", "alice-password").await;
    assert_eq!(browser.get("/settings").await.status(), 200);
}

#[tokio::test]
async fn failed_basic_authentications_and_form_logins_count_together() {
    let app = spawn_app().await;
    app.customer("alice");
    let wrong = BasicClient::new(&app.address, "alice", "guess");
    for _ in 0..3 {
        assert_eq!(wrong.get("/api/tokens").await.status(), 401);
    }
    let browser = Browser::new(&app);
    for _ in 0..2 {
        let (status, _, _) = failed_login(&browser, "alice", "guess").await;
        assert_eq!(status, 401);
    }
    let right = BasicClient::new(&app.address, "alice", "alice-password");
    let response = right.get("/api/tokens").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Too many requests");
    let (status, _, _) = failed_login(&browser, "alice", "alice-password").await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn twenty_failures_from_one_address_lock_every_username_from_it() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::new(&app);
    for n in 0..20 {
        let (status, _, _) = failed_login(&browser, &format!("user{n}"), "guess").await;
        assert_eq!(status, 401);
    }
    let (status, page, _) = failed_login(&browser, "alice", "alice-password").await;
    assert_eq!(status, 429);
    assert!(page.contains("Too many attempts"), "{page}");
}

#[tokio::test]
async fn the_sweep_forgets_failures_older_than_the_window() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    failed_login(&browser, "ghost", "guess").await;
    failed_login(&browser, "ghost", "guess").await;
    app.sql("UPDATE login_attempts SET at = now() - interval '16 minutes' WHERE id = (SELECT min(id) FROM login_attempts)")
        .unwrap();
    let pool = distropanel::db::pool(&app.db.conninfo(), 1).unwrap();
    let (_, attempts) = distropanel::auth::sweep(&pool).await.unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(app.count("login_attempts"), 1);
}

#[tokio::test]
async fn staff_land_on_the_staff_pages_and_customers_on_their_dashboard() {
    let app = spawn_app().await;
    app.staff("root");
    app.customer("alice");
    let staff = Browser::new(&app);
    let response = staff.login("root", "staff-password").await;
    assert_eq!(response.headers()["location"], "/staff");
    let customer = Browser::new(&app);
    let response = customer.login("alice", "alice-password").await;
    assert_eq!(response.headers()["location"], "/dashboard");
    let (_, home) = customer.get_text("/dashboard").await;
    assert!(home.contains("alice") && home.contains("Log out"), "{home}");
    let (status, page) = customer.get_text("/login").await;
    assert_eq!(status, 200, "the form is there to log in as someone else");
    assert!(page.contains("alice"), "the layout shows who is logged in");
}

#[tokio::test]
async fn the_limit_holds_across_web_nodes() {
    let app = spawn_app().await;
    app.customer("alice");
    let other_node = crate::personas::another_node(&app.db).await;
    let here = Browser::new(&app);
    for _ in 0..3 {
        let (status, _, _) = failed_login(&here, "alice", "guess").await;
        assert_eq!(status, 401);
    }
    let there = Browser::at(&other_node.address);
    for _ in 0..2 {
        let (status, _, _) = failed_login(&there, "alice", "guess").await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = failed_login(&there, "alice", "alice-password").await;
    assert_eq!(status, 429);
    let (status, _, _) = failed_login(&here, "alice", "alice-password").await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_user_sees_their_sessions_and_ends_one_from_another_browser() {
    let app = spawn_app().await;
    app.customer("alice");
    let laptop = Browser::customer(&app, "alice").await;
    let phone = Browser::identified_as(&app.address, "AlicePhone/1.0");
    assert_eq!(phone.login("alice", "alice-password").await.status(), 303);
    assert_eq!(phone.get("/settings").await.status(), 200);
    let phone_session = crate::personas::newest_session_of(&app, "alice");

    let (_, page) = laptop.get_text("/settings").await;
    assert!(
        page.contains("AlicePhone/1.0"),
        "the phone's session is listed"
    );
    assert_eq!(page.matches("this session").count(), 1);

    let ended = laptop
        .post_form(
            &format!("/settings/sessions/{phone_session}/end"),
            &[("confirmed", "1")],
        )
        .await;
    assert_eq!(ended.status(), 303);
    assert_eq!(
        phone.get("/settings").await.status(),
        303,
        "the phone is logged out"
    );
    assert_eq!(laptop.get("/settings").await.status(), 200);

    let own = crate::personas::newest_session_of(&app, "alice");
    let out = laptop
        .post_form(
            &format!("/settings/sessions/{own}/end"),
            &[("confirmed", "1")],
        )
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(app.count("sessions"), 0);
}

#[tokio::test]
async fn a_username_with_a_nul_byte_is_a_wrong_login_that_counts_not_a_server_error() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::new(&app);
    let (status, page, _) = failed_login(&browser, "ali\0ce", "alice-password").await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("Wrong username or password."));
    assert_eq!(
        app.count("login_attempts"),
        1,
        "the failure counts for throttling"
    );
}

#[tokio::test]
async fn ending_a_session_by_a_name_that_is_no_session_id_is_a_404_page() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::logged_in(&app, "alice", "alice-password").await;
    for garbage in ["a%00b", "not-a-session", "0123456789abcdef0123456789abcdeg"] {
        let response = browser
            .post_form(&format!("/settings/sessions/{garbage}/end"), &[])
            .await;
        assert_eq!(response.status(), 404, "{garbage}");
    }
    assert_eq!(
        browser.get("/settings").await.status(),
        200,
        "still signed in"
    );
}

async fn failed_basic_from(app: &crate::helpers::TestApp, forwarded_for: &str) -> String {
    let wrong = BasicClient::new(&app.address, "alice", "guess");
    let answer = wrong
        .request(reqwest::Method::GET, "/api/me")
        .header("X-Forwarded-For", forwarded_for)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    app.scalar("SELECT ip FROM login_attempts ORDER BY id DESC LIMIT 1")
}

#[tokio::test]
async fn behind_a_trusted_proxy_failures_count_against_the_forwarded_address() {
    let app = crate::helpers::spawn_app_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.customer("alice");
    assert_eq!(
        failed_basic_from(&app, "6.6.6.6, 198.51.100.7").await,
        "198.51.100.7",
        "the hop the proxy added, not what the client claimed before it"
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forwarded_address_is_ignored() {
    let app = spawn_app().await;
    app.customer("alice");
    assert_eq!(failed_basic_from(&app, "198.51.100.7").await, "127.0.0.1");
}
