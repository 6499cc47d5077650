//! `/api/me`: the calling customer.

use serde_json::json;

use crate::api_client::world;

#[tokio::test]
async fn a_customer_reads_their_profile_with_container_uids_and_owned_servers() {
    let w = world().await;
    w.app
        .sql("UPDATE servers SET customer_id = (SELECT customer_id FROM users WHERE username = 'alice') WHERE name = 's2'")
        .unwrap();
    let me = w.app.api("alice").get("/api/me").await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json["email"], "alice@example.com");
    assert_eq!(me.json["company"], "ACME");
    assert!(me.json["uuid"].is_string());
    let uids: Vec<i64> = me.json["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(
        uids,
        vec![w.images.uid(), w.web.uid(), w.bare.uid(), w.far.uid()]
    );
    assert_eq!(me.json["servers"], json!(["s2.example.com"]));
}

#[tokio::test]
async fn a_customer_changes_company_vat_email_and_password() {
    let w = world().await;
    let api = w.app.api("alice");
    let answer = api
        .post(
            "/api/me",
            json!({"company": "Olympus", "vat": "IT123", "email": "a@olympus.example", "password": "a-new-password"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["company"], "Olympus");
    assert_eq!(answer.json["vat"], "IT123");
    assert_eq!(answer.json["email"], "a@olympus.example");

    assert_eq!(
        api.get("/api/me").await.status,
        401,
        "the old password no longer works"
    );
    let with_new = w
        .app
        .client
        .get(w.app.url("/api/me"))
        .basic_auth("alice", Some("a-new-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_new.status(), 200);
}

#[tokio::test]
async fn a_short_password_or_a_bad_email_is_422_and_changes_nothing() {
    let w = world().await;
    let before = w.app.snapshot();
    let answer = w
        .app
        .api("alice")
        .post(
            "/api/me",
            json!({"password": "short", "email": "nope", "company": "x"}),
        )
        .await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(answer.json["fields"]["password"].is_string());
    assert!(answer.json["fields"]["email"].is_string());
    assert_eq!(w.app.snapshot(), before);
}
