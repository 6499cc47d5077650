//! The private API a uwsgi.it server polls: its own containers and their vassals, for its
//! token only, and only when the server is marked pull (it runs no agent).

use distropanel::cli::admin;
use distropanel::db::models::server::ServerMode;
use distropanel::db::queries::{server_tokens, servers};
use distropanel::web::private::token_hash;

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

fn give_token(app: &TestApp, server: &str, token: &str) {
    assert!(server_tokens::set(&mut app.conn(), server, &token_hash(token)).unwrap());
}

fn mark(app: &TestApp, server: &str, mode: ServerMode) {
    admin::set_server_mode(&mut app.conn(), server, mode).unwrap();
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_server_lists_its_containers_and_fetches_the_vassal_the_executor_wrote() {
    let app = spawn_app().await;
    let estate = estate(&app);
    give_token(&app, "s1", "s1-secret");
    mark(&app, "s1", ServerMode::Pull);
    std::fs::remove_dir(
        installed_image(&app, estate.storage.uid(), "ubuntu0001").join(".old_root"),
    )
    .unwrap();
    map_and_restart(&app, &estate.web, estate.distro);
    drain(&app).await;

    let list: serde_json::Value = app
        .client
        .get(app.url("/private/containers/"))
        .bearer_auth("s1-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uid"].as_i64().unwrap())
        .collect();
    assert_eq!(uids, vec![estate.storage.uid(), estate.web.uid()]);
    assert!(list[1]["mtime"].as_i64().unwrap() > 1_700_000_000);
    assert!(list[1]["ssh_keys_mtime"].is_i64());

    let response = app
        .client
        .get(app.url(&format!("/private/containers/{}.ini", estate.web.uid())))
        .bearer_auth("s1-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served = response.text().await.unwrap();
    assert_eq!(
        served,
        vassal(&app, estate.web.uid()),
        "the same vassal, fallback included"
    );
    assert!(served.contains(".old_root does not exist as a custom distro"));
}

#[tokio::test]
async fn a_server_without_a_valid_token_or_asking_for_another_servers_container_gets_nothing() {
    let app = spawn_app().await;
    let estate = estate(&app);
    app.server("s2");
    let jammy = estate.jammy.clone();
    let elsewhere = app.container("kratos", "s2", "elsewhere", Some(&jammy));
    give_token(&app, "s1", "s1-secret");
    give_token(&app, "s2", "s2-secret");
    mark(&app, "s1", ServerMode::Pull);
    mark(&app, "s2", ServerMode::Pull);

    for token in [None, Some("wrong"), Some("")] {
        let mut request = app.client.get(app.url("/private/containers/"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        assert_eq!(request.send().await.unwrap().status(), 401, "{token:?}");
    }
    let response = app
        .client
        .get(app.url(&format!("/private/containers/{}.ini", elsewhere.uid())))
        .bearer_auth("s1-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    for path in ["30001", "abc.ini", "1.ini", "99999999999999999999.ini"] {
        let response = app
            .client
            .get(app.url(&format!("/private/containers/{path}")))
            .bearer_auth("s1-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let theirs: serde_json::Value = app
        .client
        .get(app.url("/private/containers/"))
        .bearer_auth("s2-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["uid"].as_i64(), Some(elsewhere.uid()));

    // a new token replaces the old one
    give_token(&app, "s1", "rotated");
    let old = app
        .client
        .get(app.url("/private/containers/"))
        .bearer_auth("s1-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
}

#[tokio::test]
async fn a_server_running_an_agent_is_refused_its_list_and_its_vassals_and_nothing_changes() {
    let app = spawn_app().await;
    let estate = estate(&app);
    give_token(&app, "s1", "s1-secret");
    let tables = ["jobs", "events", "alarms", "containers", "servers"];
    let before = tables.map(|t| app.count(t));

    for path in [
        "/private/containers/".to_owned(),
        format!("/private/containers/{}.ini", estate.web.uid()),
    ] {
        let response = get(&app, &path, "s1-secret").await;
        assert_eq!(response.status(), 403, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "Forbidden");
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .contains("runs a distropanel agent"),
            "{body}"
        );
    }
    assert_eq!(tables.map(|t| app.count(t)), before);
    assert!(!exists(&vassal_path(&app, estate.web.uid())));

    mark(&app, "s1", ServerMode::Pull);
    let path = format!("/private/containers/{}.ini", estate.web.uid());
    assert_eq!(get(&app, &path, "s1-secret").await.status(), 200);
    mark(&app, "s1", ServerMode::Agent);
    assert_eq!(get(&app, &path, "s1-secret").await.status(), 403);
}

#[tokio::test]
async fn a_server_registered_without_a_mode_runs_an_agent_and_is_not_served() {
    let app = spawn_app().await;
    app.sql("INSERT INTO servers (name, address) VALUES ('old', 'old.example.com')")
        .unwrap();
    let old = servers::by_name(&mut app.conn(), "old").unwrap().unwrap();
    assert!(!old.pull);
    assert_eq!(old.mode(), ServerMode::Agent);
    give_token(&app, "old", "old-secret");
    let response = get(&app, "/private/containers/", "old-secret").await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_pull_vassal_holds_none_of_the_containers_ssh_keys() {
    let app = spawn_app().await;
    let estate = estate(&app);
    give_token(&app, "s1", "s1-secret");
    mark(&app, "s1", ServerMode::Pull);
    let keys = [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl kratos@laptop",
        "ssh-ed25519 AAAA stored-before-keys-were-parsed @(exec://id -u)",
    ];
    app.sql(&format!(
        "UPDATE containers SET ssh_keys = ARRAY['{}', '{}'] WHERE id = {}",
        keys[0], keys[1], estate.web.id
    ))
    .unwrap();

    let response = get(
        &app,
        &format!("/private/containers/{}.ini", estate.web.uid()),
        "s1-secret",
    )
    .await;
    assert_eq!(response.status(), 200);
    let served = response.text().await.unwrap();
    assert!(served.contains(&format!("{}", estate.web.uid())));
    for text in [
        "AAAAC3NzaC1lZDI1NTE5",
        "kratos@laptop",
        "stored-before-keys-were-parsed",
        "exec://",
        "ssh-ed25519",
    ] {
        assert!(!served.contains(text), "{text} is in the vassal:\n{served}");
    }
}
