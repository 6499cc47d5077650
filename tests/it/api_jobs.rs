//! `/api/jobs`: what the host still has to do for the caller's containers.

use serde_json::json;

use crate::api_client::world;

#[tokio::test]
async fn a_customer_follows_the_jobs_of_a_restart() {
    let w = world().await;
    let api = w.app.api("alice");
    api.post(
        &format!("/api/containers/{}", w.bare.uid()),
        json!({"custom_distros_storage": true}),
    )
    .await;
    api.post(
        &format!("/api/containers/{}", w.web.uid()),
        json!({"reboot": true}),
    )
    .await;
    let all = api.get("/api/jobs").await;
    assert_eq!(all.status, 200);
    let kinds: Vec<&str> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["restart", "restart", "ensure_storage_dir"],
        "newest first"
    );

    let of_web = api
        .get(&format!("/api/jobs?container={}", w.web.uid()))
        .await;
    assert_eq!(of_web.json.as_array().unwrap().len(), 1);
    let job = &of_web.json[0];
    assert_eq!(job["state"], "queued");
    assert_eq!(job["attempts"], 0);
    assert!(job["created"].is_i64());
    assert_eq!(job["started"], json!(null));
    assert_eq!(job["report"], json!([]));

    w.app
        .sql(&format!(
            "UPDATE jobs SET state = 'done', started_at = now(), finished_at = now(), attempts = 1,
             report = '[{{\"level\": \"info\", \"message\": \"vassal written\"}}]' WHERE id = {}",
            job["id"]
        ))
        .unwrap();
    let one = api.get(&format!("/api/jobs/{}", job["id"])).await;
    assert_eq!(one.json["state"], "done");
    assert!(one.json["finished"].is_i64());
    assert_eq!(
        one.json["report"],
        json!([{"level": "info", "message": "vassal written"}])
    );
    let container = api.get(&format!("/api/containers/{}", w.web.uid())).await;
    assert_eq!(
        container.json["pending_jobs"], 0,
        "a finished job is not pending"
    );
}
