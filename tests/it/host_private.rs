//! The private API a uwsgi.it server polls: its own containers and their vassals, for its
//! token only.

use distropanel::db::queries::server_tokens;
use distropanel::web::private::token_hash;

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

fn give_token(app: &TestApp, server: &str, token: &str) {
    assert!(server_tokens::set(&mut app.conn(), server, &token_hash(token)).unwrap());
}

#[tokio::test]
async fn a_server_lists_its_containers_and_fetches_the_vassal_the_executor_wrote() {
    let app = spawn_app().await;
    let estate = estate(&app);
    give_token(&app, "s1", "s1-secret");
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
