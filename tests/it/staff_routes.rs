//! Every staff route against every kind of visitor: anonymous visitors are sent to the login
//! page, customers get the 404 page, an unsafe route without its CSRF token changes nothing,
//! support staff are refused what only admins do, and admins reach everything.
//!
//! A new staff route gets a row in [`ROUTES`]; the placeholders are filled from [`Seeded`].

use crate::helpers::{TestApp, spawn_app};
use crate::personas::{Browser, scalar};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Any member of staff: support and admin.
    Support,
    /// Admin staff only; support get a 403 page.
    Admin,
}

/// (method, path, who may use it). Placeholders: `{customer}`, `{user}`, `{container}` (uid),
/// `{server}`, `{distro}`, `{custom_distro}`, `{job}`, `{alarm}`.
const ROUTES: &[(&str, &str, Needs)] = &[
    ("GET", "/staff", Needs::Support),
    ("GET", "/staff/containers", Needs::Support),
    ("GET", "/staff/distros", Needs::Support),
    ("GET", "/staff/jobs", Needs::Support),
    ("GET", "/staff/alarms", Needs::Support),
    ("POST", "/staff/alarms/{alarm}/delete", Needs::Support),
    ("POST", "/staff/jobs/{job}/retry", Needs::Support),
    ("POST", "/staff/jobs/{job}/cancel", Needs::Support),
    ("POST", "/staff/users/{user}/sessions/end", Needs::Support),
    ("GET", "/staff/containers/{container}/act", Needs::Support),
    (
        "POST",
        "/staff/containers/{container}/storage",
        Needs::Support,
    ),
    ("POST", "/staff/containers/{container}/boot", Needs::Support),
    (
        "POST",
        "/staff/containers/{container}/restart",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/containers/{container}/custom-distros/new",
        Needs::Support,
    ),
    (
        "GET",
        "/staff/custom-distros/{custom_distro}",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/custom-distros/{custom_distro}/edit",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/custom-distros/{custom_distro}/delete",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/custom-distros/{custom_distro}/image",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/custom-distros/{custom_distro}/rollback",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/custom-distros/{custom_distro}/check",
        Needs::Support,
    ),
    (
        "POST",
        "/staff/custom-distros/{custom_distro}/jobs/{job}/cancel",
        Needs::Support,
    ),
    ("GET", "/staff/jobs/{job}", Needs::Support),
    ("POST", "/staff/jobs/retry", Needs::Support),
    ("POST", "/staff/jobs/cancel", Needs::Support),
    ("GET", "/staff/customers/new", Needs::Admin),
    ("POST", "/staff/customers/new", Needs::Admin),
    ("GET", "/staff/customers/{customer}/edit", Needs::Admin),
    ("POST", "/staff/customers/{customer}/edit", Needs::Admin),
    (
        "GET",
        "/staff/customers/{customer}/logins/new",
        Needs::Admin,
    ),
    (
        "POST",
        "/staff/customers/{customer}/logins/new",
        Needs::Admin,
    ),
    ("POST", "/staff/users/{user}/link", Needs::Admin),
    ("GET", "/staff/servers/new", Needs::Admin),
    ("POST", "/staff/servers/new", Needs::Admin),
    ("POST", "/staff/servers/{server}/token", Needs::Admin),
    ("GET", "/staff/containers/new", Needs::Admin),
    ("POST", "/staff/containers/new", Needs::Admin),
    ("GET", "/staff/containers/{container}/edit", Needs::Admin),
    ("POST", "/staff/containers/{container}/edit", Needs::Admin),
    ("POST", "/staff/containers/{container}/delete", Needs::Admin),
    ("GET", "/staff/distros/new", Needs::Admin),
    ("POST", "/staff/distros/new", Needs::Admin),
    ("GET", "/staff/distros/{distro}/edit", Needs::Admin),
    ("POST", "/staff/distros/{distro}/edit", Needs::Admin),
    ("POST", "/staff/distros/{distro}/retire", Needs::Admin),
    ("POST", "/staff/distros/{distro}/delete", Needs::Admin),
    ("GET", "/staff/members", Needs::Admin),
    ("POST", "/staff/members/new", Needs::Admin),
    ("POST", "/staff/members/{user}/role", Needs::Admin),
    ("GET", "/staff/search?q=alice", Needs::Support),
    ("GET", "/staff/customers/{customer}", Needs::Support),
    ("GET", "/staff/containers/{container}", Needs::Support),
    ("GET", "/staff/servers", Needs::Support),
    ("GET", "/staff/servers/{server}", Needs::Support),
    ("GET", "/staff/distros/{distro}", Needs::Support),
    ("GET", "/staff/audit", Needs::Support),
    ("GET", "/staff/audit.csv", Needs::Support),
];

/// One of each thing a staff route can name, owned by the customer `alice`.
struct Seeded {
    customer: i64,
    user: i64,
    container: i64,
    server: i64,
    distro: i64,
    custom_distro: i64,
    job: i64,
    alarm: i64,
}

fn seed(app: &TestApp) -> Seeded {
    app.customer("alice");
    app.server("node1");
    let distro = app.distro("debian");
    let store = app.storage_container("alice", "node1", "alice-store");
    let web = app.container("alice", "node1", "alice-web", Some(&distro));
    app.sql(&format!(
        "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path) \
         SELECT id, server_id, customer_id, 'mine', 'mine' FROM containers WHERE id = {}",
        store.id
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO jobs (kind, server_id, container_id, customer_id, payload) \
         SELECT 'restart', server_id, id, customer_id, '{{}}' FROM containers WHERE id = {}",
        web.id
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO alarms (container_id, customer_id, level, msg, unix) \
         SELECT id, customer_id, 1, 'disk almost full', now() FROM containers WHERE id = {}",
        web.id
    ))
    .unwrap();
    Seeded {
        customer: scalar(app, "SELECT id::bigint AS n FROM customers"),
        user: scalar(
            app,
            "SELECT id::bigint AS n FROM users WHERE username = 'alice'",
        ),
        container: web.uid(),
        server: scalar(app, "SELECT id::bigint AS n FROM servers"),
        distro: distro.id,
        custom_distro: scalar(app, "SELECT id::bigint AS n FROM custom_distros"),
        job: scalar(app, "SELECT id::bigint AS n FROM jobs"),
        alarm: scalar(app, "SELECT id::bigint AS n FROM alarms"),
    }
}

fn fill(path: &str, seeded: &Seeded) -> String {
    path.replace("{customer}", &seeded.customer.to_string())
        .replace("{user}", &seeded.user.to_string())
        .replace("{container}", &seeded.container.to_string())
        .replace("{server}", &seeded.server.to_string())
        .replace("{distro}", &seeded.distro.to_string())
        .replace("{custom_distro}", &seeded.custom_distro.to_string())
        .replace("{job}", &seeded.job.to_string())
        .replace("{alarm}", &seeded.alarm.to_string())
}

async fn call(browser: &Browser, method: &str, path: &str, csrf: Option<&str>) -> (u16, String) {
    let response = if method == "GET" {
        browser.get(path).await
    } else {
        let fields: Vec<(&str, &str)> = csrf.map(|t| vec![("csrf_token", t)]).unwrap_or_default();
        browser.post_raw(path, &fields).await
    };
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location)
}

/// What the database holds that a staff route could change, to prove a refusal changed nothing.
fn state(app: &TestApp) -> Vec<i64> {
    [
        "SELECT count(*) AS n FROM customers",
        "SELECT count(*) AS n FROM users",
        "SELECT count(*) AS n FROM servers",
        "SELECT count(*) AS n FROM containers",
        "SELECT count(*) AS n FROM distros",
        "SELECT count(*) AS n FROM custom_distros",
        "SELECT count(*) AS n FROM alarms",
        "SELECT count(*) AS n FROM sessions",
        "SELECT count(*) AS n FROM events",
        "SELECT count(*) AS n FROM jobs WHERE state = 'queued'",
    ]
    .iter()
    .map(|query| scalar(app, query))
    .collect()
}

#[tokio::test]
async fn strangers_are_sent_to_log_in_and_customers_find_no_staff_route() {
    let app = spawn_app().await;
    let seeded = seed(&app);
    let stranger = Browser::new(&app);
    let stranger_token = stranger.token_on("/login").await;
    let customer = Browser::customer(&app, "alice").await;
    let token = customer.token_on("/settings").await;
    let before = state(&app);
    for (method, path, _) in ROUTES {
        let path = fill(path, &seeded);
        let (status, location) = call(&stranger, method, &path, Some(&stranger_token)).await;
        assert_eq!(
            (status, location.as_str()),
            (303, "/login"),
            "{method} {path}, anonymous"
        );
        let (status, _) = call(&customer, method, &path, Some(&token)).await;
        assert_eq!(status, 404, "{method} {path}, customer");
    }
    assert_eq!(state(&app), before, "nothing changed");
}

#[tokio::test]
async fn an_unsafe_staff_route_without_its_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let seeded = seed(&app);
    app.staff("root");
    let admin = Browser::logged_in(&app, "root", "staff-password").await;
    let before = state(&app);
    for (method, path, _) in ROUTES.iter().filter(|(m, _, _)| *m != "GET") {
        let path = fill(path, &seeded);
        let (status, _) = call(&admin, method, &path, None).await;
        assert_eq!(status, 403, "{method} {path} without a CSRF token");
        let (status, _) = call(&admin, method, &path, Some("forged")).await;
        assert_eq!(status, 403, "{method} {path} with a forged CSRF token");
    }
    assert_eq!(state(&app), before, "nothing changed");
}

#[tokio::test]
async fn support_staff_are_refused_admin_routes_and_admins_reach_every_route() {
    let app = spawn_app().await;
    let seeded = seed(&app);
    app.staff("root");
    app.support("helpdesk");
    let admin = Browser::logged_in(&app, "root", "staff-password").await;
    let support = Browser::logged_in(&app, "helpdesk", "staff-password").await;
    let support_token = support.token_on("/staff").await;
    let before = state(&app);
    for (method, path, needs) in ROUTES.iter().filter(|(_, _, n)| *n == Needs::Admin) {
        let path = fill(path, &seeded);
        let (status, _) = call(&support, method, &path, Some(&support_token)).await;
        assert_eq!(status, 403, "{method} {path}, support");
        assert_eq!(*needs, Needs::Admin);
    }
    assert_eq!(state(&app), before, "support changed nothing");

    let admin_token = admin.token_on("/staff").await;
    // reads first, deletes last: a delete that goes through must not hide what later rows name
    let mut in_order: Vec<_> = ROUTES.iter().collect();
    in_order.sort_by_key(|(method, path, _)| (*method != "GET", path.ends_with("/delete")));
    for (method, path, needs) in in_order {
        let path = fill(path, &seeded);
        let who = if *needs == Needs::Support {
            &support
        } else {
            &admin
        };
        let token = if *needs == Needs::Support {
            &support_token
        } else {
            &admin_token
        };
        let (status, _) = call(who, method, &path, Some(token)).await;
        assert!(
            status != 403 && status != 404 && status < 500,
            "{method} {path} as {needs:?}: {status}"
        );
        if *method == "GET" {
            let (status, _) = call(&admin, method, &path, None).await;
            assert_eq!(status, 200, "{method} {path} as admin");
        }
    }
}

#[tokio::test]
async fn a_support_member_sees_an_explained_403_page_on_an_admin_page() {
    let app = spawn_app().await;
    app.support("helpdesk");
    let support = Browser::logged_in(&app, "helpdesk", "staff-password").await;
    let (method, path, _) = ROUTES
        .iter()
        .find(|(m, _, n)| *m == "GET" && *n == Needs::Admin)
        .expect("an admin page to open");
    assert_eq!(*method, "GET");
    let (status, page) = support.get_text(path).await;
    assert_eq!(status, 403);
    assert!(page.contains("Only admin staff"), "{page}");
}
