//! Admin staff provision from the browser: customers and their logins with one-time
//! set-password links, servers and their private-API tokens, containers, platform distros,
//! and staff roles. Every form refuses with its reason and changes nothing, and every change
//! leaves an audit entry; support staff are refused every provisioning route.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, spawn_app};
use crate::personas::{Browser, scalar};

/// POSTs a form as the browser would, with the token the admin's pages carry.
async fn submit(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let token = browser.token_on("/staff/members").await;
    let mut with_token = vec![("csrf_token", token.as_str())];
    with_token.extend_from_slice(fields);
    let response = browser.post_raw(path, &with_token).await;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, response.text().await.unwrap())
}

async fn admin(app: &TestApp) -> Browser {
    app.staff("root");
    Browser::logged_in(app, "root", "staff-password").await
}

/// The `/set-password/…` path a page shows once.
fn link_in(page: &str) -> String {
    let at = page
        .find("/set-password/")
        .unwrap_or_else(|| panic!("no link on the page: {page}"));
    page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'))
        .collect()
}

fn audits(app: &TestApp, action: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT count(*) AS n FROM events WHERE kind = 'audit' AND action = '{action}'"),
    )
}

/// Rows a provisioning form could change, to prove a refusal changed nothing.
fn counts(app: &TestApp) -> Vec<i64> {
    [
        "customers",
        "users",
        "servers",
        "containers",
        "distros",
        "events",
        "jobs",
        "password_links",
    ]
    .iter()
    .map(|t| app.count(t))
    .collect()
}

async fn choose_password(
    browser: &Browser,
    link: &str,
    password: &str,
    again: &str,
) -> (u16, String) {
    let token = browser.token_on("/login").await;
    let response = browser
        .post_raw(
            link,
            &[
                ("csrf_token", &token),
                ("password", password),
                ("password_again", again),
            ],
        )
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn an_admin_creates_a_customer_whose_login_sets_its_password_once_through_the_link() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let (status, _, page) = submit(
        &root,
        "/staff/customers/new",
        &[
            ("company", "Globex"),
            ("vat", "IT0123"),
            ("username", "hank"),
            ("email", "hank@globex.example"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let link = link_in(&page);
    assert!(page.contains("shown only this once"), "{page}");
    assert_eq!(
        app.scalar("SELECT company || '|' || vat FROM customers"),
        "Globex|IT0123"
    );
    assert_eq!(audits(&app, "create customer"), 1);
    assert_eq!(audits(&app, "create login"), 1);
    let secret = link.trim_start_matches("/set-password/");
    assert_eq!(
        app.scalar("SELECT token_hash FROM password_links"),
        hex::encode(Sha256::digest(secret.as_bytes())),
        "only the link's digest is stored"
    );
    assert_eq!(
        Browser::new(&app).login("hank", "").await.status(),
        401,
        "no password works before one is chosen"
    );

    let hank = Browser::new(&app);
    let (status, page) = hank.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("hank"), "{page}");
    let before = app.scalar("SELECT password_hash FROM users WHERE username = 'hank'");
    let (status, page) = choose_password(&hank, &link, "short", "short").await;
    assert_eq!(status, 422);
    assert!(page.contains("at least 8 characters"), "{page}");
    let (status, page) = choose_password(&hank, &link, "long enough", "different").await;
    assert_eq!(status, 422);
    assert!(page.contains("differ"), "{page}");
    assert_eq!(
        app.scalar("SELECT password_hash FROM users WHERE username = 'hank'"),
        before,
        "a refused password changes nothing"
    );

    let (status, page) = choose_password(&hank, &link, "hank's secret", "hank's secret").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your password is set"), "{page}");
    assert_eq!(audits(&app, "set password through link"), 1);
    let response = hank.login("hank", "hank's secret").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/dashboard");

    let again = Browser::new(&app);
    let (status, page) = again.get_text(&link).await;
    assert_eq!(status, 410);
    assert!(page.contains("used already"), "{page}");
    let (status, page) = choose_password(&again, &link, "taken over!", "taken over!").await;
    assert_eq!(status, 410, "{page}");
    assert_eq!(
        Browser::new(&app)
            .login("hank", "taken over!")
            .await
            .status(),
        401,
        "a used link sets nothing"
    );
    assert_eq!(
        Browser::new(&app)
            .login("hank", "hank's secret")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn an_expired_link_shows_why_and_the_password_stays() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let alice = app.customer("alice");
    let user = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'alice'",
    );
    let (status, _, page) = submit(&root, &format!("/staff/users/{user}/link"), &[]).await;
    assert_eq!(status, 200, "{page}");
    let link = link_in(&page);
    assert_eq!(audits(&app, "issue set-password link"), 1);
    assert!(alice.id > 0);
    app.sql(
        "UPDATE password_links SET created_at = now() - interval '25 hours', \
         expires_at = now() - interval '1 hour'",
    )
    .unwrap();
    let visitor = Browser::new(&app);
    let (status, page) = visitor.get_text(&link).await;
    assert_eq!(status, 410);
    assert!(page.contains("expired"), "{page}");
    let before = counts(&app);
    let (status, _) = choose_password(&visitor, &link, "new password", "new password").await;
    assert_eq!(status, 410);
    assert_eq!(counts(&app), before, "an expired link changes nothing");
    assert_eq!(
        Browser::new(&app)
            .login("alice", "alice-password")
            .await
            .status(),
        303
    );
    assert_eq!(
        Browser::new(&app)
            .login("alice", "new password")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_new_link_replaces_the_earlier_one_and_a_mistyped_link_is_unknown() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    app.customer("alice");
    let user = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'alice'",
    );
    let (_, _, first) = submit(&root, &format!("/staff/users/{user}/link"), &[]).await;
    let (_, _, second) = submit(&root, &format!("/staff/users/{user}/link"), &[]).await;
    let (first, second) = (link_in(&first), link_in(&second));
    assert_ne!(first, second);
    let visitor = Browser::new(&app);
    assert_eq!(visitor.get_text(&first).await.0, 404);
    assert_eq!(visitor.get_text("/set-password/mistyped").await.0, 404);
    assert_eq!(visitor.get_text(&second).await.0, 200);
    let (status, _) = choose_password(&visitor, &second, "brand new one", "brand new one").await;
    assert_eq!(status, 200);
    assert_eq!(
        Browser::new(&app)
            .login("alice", "brand new one")
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn a_refused_customer_form_keeps_what_was_typed_and_changes_nothing() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    app.customer("alice");
    let before = counts(&app);
    let (status, _, page) = submit(
        &root,
        "/staff/customers/new",
        &[
            ("company", "Initech"),
            ("vat", "\u{7}"),
            ("username", "alice"),
            ("email", "not-an-address"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("value=\"Initech\""), "{page}");
    assert!(page.contains("VAT number:"), "{page}");
    assert!(page.contains("E-mail:"), "{page}");
    let (status, _, page) = submit(
        &root,
        "/staff/customers/new",
        &[
            ("company", "Initech"),
            ("username", "alice"),
            ("email", "a@initech.example"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("already taken"), "{page}");
    assert!(page.contains("value=\"a@initech.example\""), "{page}");
    assert_eq!(counts(&app), before);
}

#[tokio::test]
async fn an_admin_edits_a_customer_and_adds_a_login() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let alice = app.customer("alice");
    let customer = alice.customer_id();
    let user = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'alice'",
    );
    let email_field = format!("email.{user}");
    let path = format!("/staff/customers/{customer}/edit");
    let (status, _, page) = submit(
        &root,
        &path,
        &[
            ("company", "ACME Ltd"),
            ("vat", "GB1"),
            (&email_field, "broken"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("value=\"ACME Ltd\""), "{page}");
    assert_eq!(audits(&app, "edit customer"), 0);
    let (status, location, _) = submit(
        &root,
        &path,
        &[
            ("company", "ACME Ltd"),
            ("vat", "GB1"),
            (&email_field, "billing@acme.example"),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{path}?done=saved").as_str())
    );
    assert_eq!(
        app.scalar("SELECT company || '|' || vat FROM customers"),
        "ACME Ltd|GB1"
    );
    assert_eq!(
        app.scalar("SELECT email FROM users WHERE username = 'alice'"),
        "billing@acme.example"
    );
    assert_eq!(audits(&app, "edit customer"), 1);

    let (status, _, page) = submit(
        &root,
        &format!("/staff/customers/{customer}/logins/new"),
        &[("username", "alice-ops"), ("email", "ops@acme.example")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    link_in(&page);
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) AS n FROM users WHERE customer_id = {customer}")
        ),
        2
    );
}

#[tokio::test]
async fn an_admin_creates_servers_and_rotates_a_token_shown_once() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let (status, _, page) = submit(
        &root,
        "/staff/servers/new",
        &[
            ("name", "node7"),
            ("address", "10.0.0.7"),
            ("memory", ""),
            ("storage", "4096"),
            ("mode", "agent"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        app.scalar("SELECT pull::text FROM servers WHERE name = 'node7'"),
        "false"
    );
    let (status, _, page) = submit(
        &root,
        "/staff/servers/new",
        &[("name", "bare1"), ("address", "10.0.0.8"), ("mode", "pull")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        app.scalar("SELECT pull::text FROM servers WHERE name = 'bare1'"),
        "true"
    );
    let first = secret_in(&page);
    assert_eq!(
        app.scalar("SELECT token_hash FROM servers WHERE name = 'bare1'"),
        hex::encode(Sha256::digest(first.as_bytes()))
    );
    assert_eq!(audits(&app, "create server"), 2);

    let before = counts(&app);
    let (status, _, page) = submit(
        &root,
        "/staff/servers/new",
        &[
            ("name", "node7"),
            ("address", "10.0.0.9"),
            ("memory", "lots"),
            ("mode", "agent"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("whole number"), "{page}");
    assert!(page.contains("value=\"10.0.0.9\""), "{page}");
    let (status, _, page) = submit(
        &root,
        "/staff/servers/new",
        &[
            ("name", "node7"),
            ("address", "10.0.0.9"),
            ("mode", "agent"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("already exists"), "{page}");
    assert_eq!(counts(&app), before);

    let id = scalar(
        &app,
        "SELECT id::bigint AS n FROM servers WHERE name = 'bare1'",
    );
    let (status, _, page) = submit(&root, &format!("/staff/servers/{id}/token"), &[]).await;
    assert_eq!(status, 200, "{page}");
    let second = secret_in(&page);
    assert_ne!(first, second);
    assert_eq!(
        app.scalar("SELECT token_hash FROM servers WHERE name = 'bare1'"),
        hex::encode(Sha256::digest(second.as_bytes())),
        "the old token stopped working"
    );
    assert_eq!(audits(&app, "rotate server token"), 1);
}

fn secret_in(page: &str) -> String {
    let at = page
        .find("id=\"secret-value\">")
        .expect("a secret on the page")
        + 18;
    page[at..page[at..].find('<').unwrap() + at].to_owned()
}

#[tokio::test]
async fn an_admin_creates_edits_and_deletes_a_container_within_the_rules() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let alice = app.customer("alice");
    app.sql(
        "INSERT INTO servers (name, address, memory_mb) VALUES ('small', 'small.example', 512)",
    )
    .unwrap();
    let server = scalar(&app, "SELECT id::bigint AS n FROM servers");
    let debian = app.distro("debian");
    let customer = alice.customer_id().to_string();
    let server = server.to_string();
    let distro = debian.id.to_string();
    let fields = |name: &'static str, memory: &'static str| {
        vec![
            ("customer", customer.clone()),
            ("server", server.clone()),
            ("name", name.to_owned()),
            ("memory", memory.to_owned()),
            ("storage", "1024".to_owned()),
            ("distro", distro.clone()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let send = |v: Vec<(&'static str, String)>| {
        let root = &root;
        async move {
            let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            submit(root, "/staff/containers/new", &pairs).await
        }
    };
    let before = counts(&app);
    let (status, _, page) = send(as_refs(&fields("too-big", "1024"))).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("is full"), "{page}");
    assert!(page.contains("value=\"too-big\""), "{page}");
    assert_eq!(counts(&app), before);

    let (status, location, _) = send(fields("web", "256")).await;
    assert_eq!(status, 303);
    let uid = scalar(
        &app,
        "SELECT (30000 + id)::bigint AS n FROM containers WHERE name = 'web'",
    );
    assert_eq!(
        location,
        format!("/staff/containers/{uid}/edit?done=created")
    );
    assert_eq!(audits(&app, "create container"), 1);
    let (status, page) = root
        .get_text(&format!("/staff/containers/{uid}/edit"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Nothing blocks deleting it"), "{page}");

    let edit = format!("/staff/containers/{uid}/edit");
    let (status, location, _) = submit(
        &root,
        &edit,
        &[
            ("name", "web-2"),
            ("memory", "384"),
            ("storage", "2048"),
            ("distro", &distro),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{edit}?done=saved").as_str())
    );
    assert_eq!(
        app.scalar("SELECT name || '|' || memory_mb || '|' || storage_mb FROM containers"),
        "web-2|384|2048"
    );
    assert_eq!(audits(&app, "edit container"), 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM jobs WHERE kind = 'restart' AND state = 'queued'"
        ),
        1,
        "a new memory size restarts it"
    );

    let before = counts(&app);
    let (status, _, page) = submit(&root, &format!("/staff/containers/{uid}/delete"), &[]).await;
    assert_eq!(
        status, 200,
        "without JavaScript a delete asks first: {page}"
    );
    assert!(
        page.contains("This cannot be undone") && page.contains("name=\"confirmed\""),
        "{page}"
    );
    assert_eq!(counts(&app), before, "asking changes nothing");
    let (status, _, page) = submit(
        &root,
        &format!("/staff/containers/{uid}/delete"),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("pending job(s)"), "{page}");
    assert!(page.contains("(restart)"), "{page}");
    assert_eq!(counts(&app), before, "a refused delete changes nothing");

    app.sql("UPDATE jobs SET state = 'done', finished_at = now()")
        .unwrap();
    let (status, location, _) = submit(
        &root,
        &format!("/staff/containers/{uid}/delete"),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/staff/containers?done=deleted")
    );
    assert_eq!(app.count("containers"), 0);
    assert_eq!(audits(&app, "delete container"), 1);
}

#[tokio::test]
async fn a_container_delete_names_the_distros_it_stores_and_the_one_it_boots() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    app.customer("alice");
    app.server("node1");
    let debian = app.distro("debian");
    let store = app.storage_container("alice", "node1", "alice-store");
    let web = app.container("alice", "node1", "alice-web", Some(&debian));
    app.sql(&format!(
        "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path) \
         SELECT id, server_id, customer_id, 'mine', 'mine' FROM containers WHERE id = {}",
        store.id
    ))
    .unwrap();
    app.sql(&format!(
        "UPDATE containers SET custom_distro_id = (SELECT id FROM custom_distros) WHERE id = {}",
        web.id
    ))
    .unwrap();
    let before = counts(&app);
    let (status, _, page) = submit(
        &root,
        &format!("/staff/containers/{}/delete", store.uid()),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("stores the custom distro(s) &#39;mine&#39;")
            || page.contains("stores the custom distro(s) 'mine'"),
        "{page}"
    );
    let (status, _, page) = submit(
        &root,
        &format!("/staff/containers/{}/delete", web.uid()),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("mapped onto the custom distro"), "{page}");
    assert_eq!(counts(&app), before);
}

#[tokio::test]
async fn a_retired_distro_is_no_longer_offered_and_is_deleted_only_when_unused() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    app.customer("alice");
    app.server("node1");
    let (status, location, _) = submit(
        &root,
        "/staff/distros/new",
        &[
            ("name", "Buster"),
            ("path", "buster"),
            ("note", "old stable"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let id = scalar(
        &app,
        "SELECT id::bigint AS n FROM distros WHERE path = 'buster'",
    );
    assert_eq!(location, format!("/staff/distros/{id}/edit?done=created"));
    assert_eq!(audits(&app, "create distro"), 1);
    let (status, _, page) = submit(
        &root,
        "/staff/distros/new",
        &[("name", "Other"), ("path", "buster")],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("already exists"), "{page}");
    let bookworm = app.distro("bookworm");
    let web = app.container("alice", "node1", "alice-web", Some(&bookworm));
    let old = app.container("alice", "node1", "alice-old", None);
    app.sql(&format!(
        "UPDATE containers SET distro_id = {id} WHERE id = {}",
        old.id
    ))
    .unwrap();

    let (status, _, page) = submit(
        &root,
        &format!("/staff/distros/{id}/edit"),
        &[("name", "Buster LTS"), ("note", "")],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(
        app.scalar(&format!("SELECT name FROM distros WHERE id = {id}")),
        "Buster LTS"
    );

    let (status, _, _) = submit(&root, &format!("/staff/distros/{id}/retire"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(audits(&app, "retire distro"), 1);
    let (_, page) = root.get_text("/staff/containers/new").await;
    assert!(
        !page.contains("Buster LTS"),
        "a retired distro is not offered: {page}"
    );
    assert!(page.contains("Distro bookworm"), "{page}");
    let (_, page) = root
        .get_text(&format!("/staff/containers/{}/edit", old.uid()))
        .await;
    assert!(
        page.contains("Buster LTS (retired)"),
        "its container keeps it: {page}"
    );
    let answer = app
        .api("alice")
        .post(
            &format!("/api/containers/{}", web.uid()),
            json!({"distro": id}),
        )
        .await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(
        answer.json["fields"]["distro"]
            .as_str()
            .unwrap()
            .contains("retired")
    );
    let answer = app.api("alice").get("/api/distros").await;
    assert!(
        answer.text.contains("Buster LTS"),
        "the API's list stays complete"
    );
    let (status, _, page) = submit(
        &root,
        "/staff/containers/new",
        &[
            ("customer", &web.json["customer"].to_string()),
            ("server", &web.json["server"].to_string()),
            ("name", "new-one"),
            ("memory", "64"),
            ("storage", "64"),
            ("distro", &id.to_string()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("retired"), "{page}");

    let before = counts(&app);
    let (status, _, page) = submit(
        &root,
        &format!("/staff/distros/{id}/delete"),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains(&format!("{} &#39;alice-old&#39;", old.uid()))
            || page.contains(&format!("{} 'alice-old'", old.uid())),
        "{page}"
    );
    assert_eq!(counts(&app), before);
    app.sql(&format!(
        "UPDATE containers SET distro_id = NULL WHERE id = {}",
        old.id
    ))
    .unwrap();
    let (status, location, _) = submit(
        &root,
        &format!("/staff/distros/{id}/delete"),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/staff/distros?done=deleted")
    );
    assert_eq!(audits(&app, "delete distro"), 1);
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT count(*) AS n FROM distros WHERE id = {id}")
        ),
        0
    );
}

#[tokio::test]
async fn an_admin_adds_a_member_and_changes_roles_but_never_demotes_the_last_admin() {
    let app = spawn_app().await;
    let root = admin(&app).await;
    let root_id = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'root'",
    );
    let before = counts(&app);
    let (status, _, page) = submit(
        &root,
        &format!("/staff/members/{root_id}/role"),
        &[("role", "support")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("last admin"), "{page}");
    assert_eq!(counts(&app), before);

    let (status, _, page) = submit(
        &root,
        "/staff/members/new",
        &[
            ("username", "helen"),
            ("email", "helen@example.com"),
            ("role", "admin"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let link = link_in(&page);
    assert_eq!(audits(&app, "create staff member"), 1);
    let helen = Browser::new(&app);
    assert_eq!(
        choose_password(&helen, &link, "helen-password", "helen-password")
            .await
            .0,
        200
    );
    let helen = Browser::logged_in(&app, "helen", "helen-password").await;
    assert_eq!(helen.get_text("/staff/members").await.0, 200);
    let (_, page) = root.get_text("/staff/members").await;
    assert!(page.contains("helen"), "{page}");

    let helen_id = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'helen'",
    );
    let (status, location, _) = submit(
        &root,
        &format!("/staff/members/{helen_id}/role"),
        &[("role", "support")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/staff/members?done=role")
    );
    assert_eq!(
        app.scalar("SELECT staff_role FROM users WHERE username = 'helen'"),
        "support"
    );
    assert_eq!(audits(&app, "change staff role"), 1);
    assert_eq!(
        helen.get("/staff/members").await.status(),
        303,
        "her session ended: the new role applies from her next login"
    );
    let helen = Browser::logged_in(&app, "helen", "helen-password").await;
    assert_eq!(helen.get("/staff/members").await.status(), 403);

    let (status, _, page) = submit(
        &root,
        "/staff/members/new",
        &[
            ("username", "x y"),
            ("email", "x@example.com"),
            ("role", "root"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("not a staff role"), "{page}");
}

/// Every admin route of this file's pages, with what a support member sends.
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/staff/customers/new"),
    ("POST", "/staff/customers/new"),
    ("GET", "/staff/customers/{customer}/edit"),
    ("POST", "/staff/customers/{customer}/edit"),
    ("GET", "/staff/customers/{customer}/logins/new"),
    ("POST", "/staff/customers/{customer}/logins/new"),
    ("POST", "/staff/users/{user}/link"),
    ("GET", "/staff/servers/new"),
    ("POST", "/staff/servers/new"),
    ("POST", "/staff/servers/{server}/token"),
    ("GET", "/staff/containers/new"),
    ("POST", "/staff/containers/new"),
    ("GET", "/staff/containers/{container}/edit"),
    ("POST", "/staff/containers/{container}/edit"),
    ("POST", "/staff/containers/{container}/delete"),
    ("GET", "/staff/distros/new"),
    ("POST", "/staff/distros/new"),
    ("GET", "/staff/distros/{distro}/edit"),
    ("POST", "/staff/distros/{distro}/edit"),
    ("POST", "/staff/distros/{distro}/retire"),
    ("POST", "/staff/distros/{distro}/delete"),
    ("GET", "/staff/members"),
    ("POST", "/staff/members/new"),
    ("POST", "/staff/members/{user}/role"),
];

#[tokio::test]
async fn a_support_member_is_refused_every_provisioning_route_and_changes_nothing() {
    let app = spawn_app().await;
    app.staff("root");
    app.support("helpdesk");
    let alice = app.customer("alice");
    app.server("node1");
    let debian = app.distro("debian");
    let web = app.container("alice", "node1", "alice-web", None);
    let helpdesk = Browser::logged_in(&app, "helpdesk", "staff-password").await;
    let token = helpdesk.token_on("/staff").await;
    let user = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'root'",
    );
    let server = scalar(&app, "SELECT id::bigint AS n FROM servers");
    let before = (
        counts(&app),
        app.scalar("SELECT coalesce(string_agg(token_hash, ','), '') FROM servers"),
    );
    for (method, path) in ADMIN_ROUTES {
        let path = path
            .replace("{customer}", &alice.customer_id().to_string())
            .replace("{user}", &user.to_string())
            .replace("{server}", &server.to_string())
            .replace("{container}", &web.uid().to_string())
            .replace("{distro}", &debian.id.to_string());
        let response = if *method == "GET" {
            helpdesk.get(&path).await
        } else {
            helpdesk
                .post_raw(
                    &path,
                    &[
                        ("csrf_token", &token),
                        ("name", "sneaky"),
                        ("username", "sneaky"),
                        ("email", "s@example.com"),
                        ("role", "admin"),
                        ("address", "sneaky.example"),
                        ("mode", "agent"),
                    ],
                )
                .await
        };
        assert_eq!(response.status(), 403, "{method} {path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Only admin staff"), "{method} {path}: {page}");
    }
    assert_eq!(
        (
            counts(&app),
            app.scalar("SELECT coalesce(string_agg(token_hash, ','), '') FROM servers")
        ),
        before,
        "support changed nothing"
    );
}

mod in_chromium {
    use fantoccini::{Client, Locator};

    use crate::browser::Browser;
    use crate::helpers::{TestApp, spawn_app};
    use crate::pages_looks::{look_at, screen, screenshot_dir};

    /// Chooses the option of the menu `id` whose text contains `label`.
    async fn choose(c: &Client, id: &str, label: &str) {
        let chosen = c
            .execute(
                "const s = document.getElementById(arguments[0]);
                 const o = [...s.options].find(o => o.text.includes(arguments[1]));
                 if (!o) return false; s.value = o.value; return true;",
                vec![id.into(), label.into()],
            )
            .await
            .unwrap();
        assert_eq!(chosen, serde_json::json!(true), "{label} in #{id}");
    }

    async fn submit_first_form(browser: &Browser) {
        browser.click("main form button[type=submit]").await;
    }

    /// The text of the element `css` selects, once there; a page that navigates between
    /// finding the element and reading it is read again.
    async fn text_of(c: &Client, css: &str) -> String {
        for _ in 0..50 {
            let element = c.wait().for_element(Locator::Css(css)).await.unwrap();
            match element.text().await {
                Ok(text) => return text,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
                Err(e) => panic!("{css}: {e}"),
            }
        }
        panic!("{css} kept going stale");
    }

    async fn sign_out(c: &Client, app: &TestApp) {
        c.delete_all_cookies().await.unwrap();
        c.goto(&app.url("/login")).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_admin_provisions_a_customer_who_sets_a_password_through_the_link_and_sees_the_container()
     {
        let app = spawn_app().await;
        app.staff("root");
        app.support("helpdesk");
        app.distro("bookworm");
        let browser = Browser::start().await;
        let c = &browser.client;
        browser
            .log_in(&app.url("/login"), "root", "staff-password")
            .await;

        c.goto(&app.url("/staff/customers/new")).await.unwrap();
        browser.fill("company", "Dora Web Ltd").await;
        browser.fill("vat", "IT999").await;
        browser.fill("username", "dora").await;
        browser.fill("email", "dora@example.com").await;
        submit_first_form(&browser).await;
        let link = text_of(c, "#secret-value").await;
        assert!(link.contains("/set-password/"), "{link}");

        c.goto(&app.url("/staff/servers/new")).await.unwrap();
        browser.fill("name", "node9").await;
        browser.fill("address", "node9.example.com").await;
        submit_first_form(&browser).await;
        assert!(text_of(c, "#secret h1").await.contains("node9"));

        c.goto(&app.url("/staff/containers/new")).await.unwrap();
        choose(c, "customer", "Dora Web Ltd").await;
        choose(c, "server", "node9").await;
        choose(c, "distro", "Distro bookworm").await;
        browser.fill("name", "dora-site").await;
        submit_first_form(&browser).await;
        assert_eq!(text_of(c, "p.flash.ok").await, "The container was created.");

        sign_out(c, &app).await;
        c.goto(&link).await.unwrap();
        browser.fill("password", "dora-chooses-this").await;
        browser.fill("password_again", "dora-chooses-this").await;
        submit_first_form(&browser).await;
        assert_eq!(text_of(c, "#set-password h1").await, "Your password is set");
        browser
            .log_in(&app.url("/login"), "dora", "dora-chooses-this")
            .await;
        c.goto(&app.url("/containers")).await.unwrap();
        let listed = text_of(c, "main").await;
        assert!(listed.contains("dora-site"), "{listed}");

        sign_out(c, &app).await;
        browser
            .log_in(&app.url("/login"), "helpdesk", "staff-password")
            .await;
        c.goto(&app.url("/staff/containers/new")).await.unwrap();
        let refused = text_of(c, "main").await;
        assert!(refused.contains("403"), "{refused}");
        assert!(refused.contains("Only admin staff"), "{refused}");
        assert_eq!(app.count("containers"), 1);
        browser.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_provisioning_page_passes_axe_and_is_screenshotted_light_and_dark() {
        let app = spawn_app().await;
        app.staff("root");
        let alice = app.customer("alice");
        app.server("node1");
        let debian = app.distro("debian");
        let web = app.container("alice", "node1", "alice-web", Some(&debian));
        let customer = alice.customer_id();
        let pages = [
            ("staff-customer-new", "/staff/customers/new".to_owned()),
            (
                "staff-customer-edit",
                format!("/staff/customers/{customer}/edit"),
            ),
            (
                "staff-login-new",
                format!("/staff/customers/{customer}/logins/new"),
            ),
            ("staff-server-new", "/staff/servers/new".into()),
            ("staff-container-new", "/staff/containers/new".into()),
            (
                "staff-container-edit",
                format!("/staff/containers/{}/edit", web.uid()),
            ),
            ("staff-distro-new", "/staff/distros/new".into()),
            (
                "staff-distro-edit",
                format!("/staff/distros/{}/edit", debian.id),
            ),
            ("staff-members", "/staff/members".into()),
        ];
        let dir = screenshot_dir();
        let browser = Browser::start().await;
        let c = &browser.client;
        browser
            .log_in(&app.url("/login"), "root", "staff-password")
            .await;
        let mut problems = Vec::new();
        for (name, path) in &pages {
            screen(c, 1366).await;
            c.goto(&app.url(path)).await.unwrap();
            problems.extend(look_at(c, name, &dir).await);
        }
        // a refused form, and the secret shown once
        screen(c, 1366).await;
        c.goto(&app.url("/staff/customers/new")).await.unwrap();
        browser.fill("username", "alice").await;
        browser.fill("email", "a@example.com").await;
        submit_first_form(&browser).await;
        text_of(c, "#problems").await;
        problems.extend(look_at(c, "staff-customer-refused", &dir).await);
        screen(c, 1366).await;
        c.goto(&app.url(&format!("/staff/customers/{customer}/edit")))
            .await
            .unwrap();
        browser.click("#logins button[type=submit]").await;
        let link = text_of(c, "#secret-value").await;
        problems.extend(look_at(c, "staff-link", &dir).await);

        sign_out(c, &app).await;
        screen(c, 1366).await;
        c.goto(&link).await.unwrap();
        problems.extend(look_at(c, "set-password", &dir).await);
        screen(c, 1366).await;
        c.goto(&app.url("/set-password/mistyped")).await.unwrap();
        problems.extend(look_at(c, "set-password-refused", &dir).await);
        assert!(problems.is_empty(), "{problems:#?}");
        browser.stop().await;
    }
}
