//! One customer never reaches another's rows: over every API route, customer B's container
//! uid, custom distro id, alarm id or job id answers exactly like an id that does not exist,
//! and nothing changes.

use reqwest::Method;
use serde_json::json;

use crate::api_client::world;

#[tokio::test]
async fn another_customers_ids_answer_like_missing_ones_on_every_route_and_change_nothing() {
    let w = world().await;
    let bob = w.app.api("bob");
    let bobs_distro = w.custom_distro("bob", &w.bob_images, "Bobs", "bobs").await;
    bob.post_raw(
        &format!("/api/alarms/raise/{}", w.bobs.uid()),
        "bob's alarm",
    )
    .await;
    bob.post(
        &format!("/api/containers/{}", w.bobs.uid()),
        json!({"reboot": 1}),
    )
    .await;
    let bobs_alarm: i64 = w.app.scalar("SELECT max(id) FROM alarms").parse().unwrap();
    let bobs_job: i64 = w.app.scalar("SELECT max(id) FROM jobs").parse().unwrap();

    let (uid, storage_uid) = (w.bobs.uid(), w.bob_images.uid());
    let (missing_uid, missing_id) = (39_999, 99_999);
    // (method, path with {uid}/{id} for the foreign id, the same path for a missing id, body)
    let routes: Vec<(Method, String, String, Option<serde_json::Value>)> = vec![
        (
            Method::GET,
            format!("/api/containers/{uid}"),
            format!("/api/containers/{missing_uid}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/containers/{uid}"),
            format!("/api/containers/{missing_uid}"),
            Some(json!({"note": "mine now"})),
        ),
        (
            Method::POST,
            format!("/api/containers/{uid}"),
            format!("/api/containers/{missing_uid}"),
            Some(json!({"reboot": 1})),
        ),
        (
            Method::POST,
            format!("/api/containers/{uid}"),
            format!("/api/containers/{missing_uid}"),
            Some(json!({"custom_distros_storage": true})),
        ),
        (
            Method::POST,
            format!("/api/containers/{}", w.web.uid()),
            format!("/api/containers/{}", w.web.uid()),
            Some(json!({"custom_distro": bobs_distro})),
        ),
        (
            Method::GET,
            format!("/api/custom_distros/{uid}"),
            format!("/api/custom_distros/{missing_uid}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/custom_distros/{storage_uid}"),
            format!("/api/custom_distros/{missing_uid}"),
            Some(json!({"name": "x", "path": "x"})),
        ),
        (
            Method::GET,
            format!("/api/custom_distro/{bobs_distro}"),
            format!("/api/custom_distro/{missing_id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/custom_distro/{bobs_distro}"),
            format!("/api/custom_distro/{missing_id}"),
            Some(json!({"name": "taken"})),
        ),
        (
            Method::DELETE,
            format!("/api/custom_distro/{bobs_distro}"),
            format!("/api/custom_distro/{missing_id}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/custom_distro/{bobs_distro}/image"),
            format!("/api/custom_distro/{missing_id}/image"),
            Some(json!("not really an archive")),
        ),
        (
            Method::POST,
            format!("/api/custom_distro/{bobs_distro}/unpack"),
            format!("/api/custom_distro/{missing_id}/unpack"),
            Some(json!({"file": "images/a.tar.gz"})),
        ),
        (
            Method::POST,
            format!("/api/custom_distro/{bobs_distro}/fetch"),
            format!("/api/custom_distro/{missing_id}/fetch"),
            Some(json!({"url": "https://example.com/a.tar", "sha256": "ab".repeat(32)})),
        ),
        (
            Method::POST,
            format!("/api/custom_distro/{bobs_distro}/rollback"),
            format!("/api/custom_distro/{missing_id}/rollback"),
            None,
        ),
        (
            Method::GET,
            format!("/api/custom_distro/{bobs_distro}/check"),
            format!("/api/custom_distro/{missing_id}/check"),
            None,
        ),
        (
            Method::POST,
            format!("/api/custom_distro/{bobs_distro}/check"),
            format!("/api/custom_distro/{missing_id}/check"),
            None,
        ),
        (
            Method::GET,
            format!("/api/alarms/{bobs_alarm}"),
            format!("/api/alarms/{missing_id}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/alarms/{bobs_alarm}"),
            format!("/api/alarms/{missing_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/alarms?container={uid}"),
            format!("/api/alarms?container={missing_uid}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/alarms/raise/{uid}"),
            format!("/api/alarms/raise/{missing_uid}"),
            Some(json!("alice was here")),
        ),
        (
            Method::POST,
            format!("/api/alarms/trigger/{uid}"),
            format!("/api/alarms/trigger/{missing_uid}"),
            Some(json!("alice was here")),
        ),
        (
            Method::GET,
            format!("/api/alarm_key/{uid}"),
            format!("/api/alarm_key/{missing_uid}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/jobs?container={uid}"),
            format!("/api/jobs?container={missing_uid}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/jobs/{bobs_job}"),
            format!("/api/jobs/{missing_id}"),
            None,
        ),
    ];

    let alice = w.app.api("alice");
    let before = w.app.snapshot();
    for (method, foreign, missing, body) in routes {
        let call = |path: String| {
            let mut request = alice.request(method.clone(), &path);
            if let Some(body) = &body {
                request = request.body(body.to_string());
            }
            alice.send(request)
        };
        let (theirs, nobodys) = (call(foreign.clone()).await, call(missing).await);
        assert_eq!(theirs.status, 403, "{method} {foreign}: {theirs:?}");
        assert_eq!(theirs.error(), "Forbidden");
        assert_eq!(
            theirs.json, nobodys.json,
            "{method} {foreign}: same answer as a missing id"
        );
    }
    assert_eq!(w.app.snapshot(), before, "nothing changed");

    let lists = [
        "/api/containers",
        "/api/custom_distros",
        "/api/alarms",
        "/api/jobs",
    ];
    for path in lists {
        let text = alice.get(path).await.text;
        assert!(
            !text.contains(&uid.to_string()),
            "{path} shows nothing of bob's: {text}"
        );
        assert!(!text.contains("Bobs"), "{path}: {text}");
    }
    let me = alice.get("/api/me").await;
    assert!(
        !me.json["containers"]
            .as_array()
            .unwrap()
            .contains(&json!(uid))
    );
}

#[tokio::test]
async fn staff_have_no_customer_data_of_their_own_in_the_api() {
    let w = world().await;
    w.app.staff("root");
    let response = w
        .app
        .client
        .get(w.app.url("/api/containers"))
        .basic_auth("root", Some("staff-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}
