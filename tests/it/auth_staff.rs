//! Staff pages: only staff see them, customers get the 404 page, and what staff change on a
//! customer's behalf is in the audit trail.

use crate::helpers::spawn_app;
use crate::personas::{Browser, scalar};

#[tokio::test]
async fn staff_see_every_customer_server_and_container() {
    let app = spawn_app().await;
    app.staff("root");
    app.customer("alice");
    app.customer("bob");
    app.server("node1");
    let distro = app.distro("debian");
    app.container("alice", "node1", "alice-web", Some(&distro));
    app.storage_container("bob", "node1", "bob-store");
    let staff = Browser::logged_in(&app, "root", "staff-password").await;
    let (status, page) = staff.get_text("/staff").await;
    assert_eq!(status, 200);
    for shown in [
        "alice",
        "bob",
        "node1.example.com",
        "<td>node1.example.com</td><td>agent</td>",
    ] {
        assert!(page.contains(shown), "{shown} is listed");
    }
    let (_, containers) = staff.get_text("/staff/containers").await;
    for shown in ["alice-web", "bob-store", "30001"] {
        assert!(containers.contains(shown), "{shown} is listed");
    }
}

#[tokio::test]
async fn a_customer_gets_the_404_page_under_staff_and_a_stranger_the_login_page() {
    let app = spawn_app().await;
    app.customer("alice");
    let customer = Browser::customer(&app, "alice").await;
    let (status, page) = customer.get_text("/staff").await;
    let (missing_status, missing_page) = customer.get_text("/no-such-page").await;
    assert_eq!(status, 404);
    assert_eq!((status, page), (missing_status, missing_page));
    let alice_id = scalar(&app, "SELECT id::bigint AS n FROM users");
    let token = customer.token_on("/settings").await;
    let post = customer
        .post_raw(
            &format!("/staff/users/{alice_id}/sessions/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(post.status(), 404);
    assert_eq!(app.count("sessions"), 1);

    let stranger = Browser::new(&app);
    let response = stranger.get("/staff").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
}

#[tokio::test]
async fn staff_ending_a_customers_sessions_is_audited() {
    let app = spawn_app().await;
    app.staff("root");
    app.customer("alice");
    let alice = Browser::customer(&app, "alice").await;
    let staff = Browser::logged_in(&app, "root", "staff-password").await;
    let alice_id = scalar(
        &app,
        "SELECT id::bigint AS n FROM users WHERE username = 'alice'",
    );
    let token = staff.token_on("/staff").await;
    let response = staff
        .post_raw(
            &format!("/staff/users/{alice_id}/sessions/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        alice.get("/settings").await.status(),
        303,
        "alice is logged out"
    );
    assert_eq!(staff.get("/settings").await.status(), 200);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM events e JOIN users u ON u.id = e.actor_user_id \
             WHERE e.kind = 'audit' AND u.username = 'root' AND e.action = 'end sessions' \
             AND e.target = 'alice' AND e.ip = '127.0.0.1' \
             AND e.customer_id = (SELECT customer_id FROM users WHERE username = 'alice')"
        ),
        1
    );
    let (_, page) = staff.get_text("/staff").await;
    assert!(
        page.contains("end sessions"),
        "the trail is on the staff page"
    );
}
