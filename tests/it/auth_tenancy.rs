//! One customer can never reach another's tokens or sessions: customer B using customer A's ids
//! on every route gets exactly what a missing id gets, and the database does not change.

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::personas::{BasicClient, Browser, TokenClient, newest_session_of, snapshot};

async fn answer(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn customer_b_with_customer_as_ids_gets_what_a_missing_id_gets_and_nothing_changes() {
    let app = spawn_app().await;
    app.customer("alice");
    app.customer("bob");
    let alice_api = BasicClient::new(&app.address, "alice", "alice-password");
    let (alice_token_id, alice_secret) = alice_api.create_token("alice's").await;
    let _alice_browser = Browser::customer(&app, "alice").await;
    let alice_session = newest_session_of(&app, "alice");
    let alice_user_id = crate::personas::scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'alice'",
    );

    let bob_api = BasicClient::new(&app.address, "bob", "bob-password");
    let (_, bob_secret) = bob_api.create_token("bob's").await;
    let bob_bearer = TokenClient::new(&app.address, &bob_secret);
    let bob = Browser::customer(&app, "bob").await;
    let missing_token_id = alice_token_id + 1000;
    let missing_session = "0".repeat(32);

    // warm everything that may legitimately write (token use, session touch) before the snapshot
    bob_bearer.get("/api/tokens").await;
    bob.get("/settings").await;
    let before = snapshot(&app);

    // JSON API: Basic and bearer
    for (foreign, missing) in [
        (
            bob_api
                .request(
                    reqwest::Method::DELETE,
                    &format!("/api/tokens/{alice_token_id}"),
                )
                .send()
                .await
                .unwrap(),
            bob_api
                .request(
                    reqwest::Method::DELETE,
                    &format!("/api/tokens/{missing_token_id}"),
                )
                .send()
                .await
                .unwrap(),
        ),
        (
            bob_bearer
                .request(
                    reqwest::Method::DELETE,
                    &format!("/api/tokens/{alice_token_id}/"),
                )
                .send()
                .await
                .unwrap(),
            bob_bearer
                .request(
                    reqwest::Method::DELETE,
                    &format!("/api/tokens/{missing_token_id}/"),
                )
                .send()
                .await
                .unwrap(),
        ),
    ] {
        let (foreign, missing) = (answer(foreign).await, answer(missing).await);
        assert_eq!(foreign.0, 403);
        assert_eq!(foreign, missing);
    }
    let listed: Value = bob_api.get("/api/tokens").await.json().await.unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "bob lists only his own"
    );
    assert_eq!(listed[0]["name"], "bob's");

    // pages
    let token = bob.token_on("/settings").await;
    let form = [("csrf_token", token.as_str()), ("confirmed", "1")];
    let pairs = [
        (
            format!("/settings/tokens/{alice_token_id}/revoke"),
            format!("/settings/tokens/{missing_token_id}/revoke"),
        ),
        (
            format!("/settings/sessions/{alice_session}/end"),
            format!("/settings/sessions/{missing_session}/end"),
        ),
        (
            format!("/staff/users/{alice_user_id}/sessions/end"),
            "/staff/users/999999/sessions/end".to_owned(),
        ),
    ];
    for (foreign_path, missing_path) in pairs {
        let foreign = answer(bob.post_raw(&foreign_path, &form).await).await;
        let missing = answer(bob.post_raw(&missing_path, &form).await).await;
        assert_eq!(foreign.0, 404, "{foreign_path}");
        assert_eq!(foreign, missing, "{foreign_path}");
    }
    let (_, settings) = bob.get_text("/settings").await;
    assert!(
        !settings.contains("alice"),
        "nothing of alice's on bob's settings page"
    );

    assert_eq!(snapshot(&app), before, "the database is unchanged");
    let alice_bearer = TokenClient::new(&app.address, &alice_secret);
    assert_eq!(alice_bearer.get("/api/tokens").await.status(), 200);
}
