//! The staff jobs and alarms consoles: filters, each job's report, retry offered and accepted
//! only for transient failures, bulk retry and cancel of a filtered set (and nothing else),
//! alarms with the API's filters; and every staff page of acting, jobs and alarms in a real
//! browser: axe-core finds nothing serious, screenshots light and dark, laptop and phone.

use std::collections::BTreeSet;

use fantoccini::Locator;

use crate::helpers::{Made, TestApp, spawn_app};
use crate::host_fixtures::drain;
use crate::personas::{Browser, scalar};

/// The job (or alarm) ids a console page lists: its rows' `id="<prefix>-N"`.
fn listed(page: &str, prefix: &str) -> BTreeSet<i64> {
    let marker = format!("<tr id=\"{prefix}-");
    page.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &page[at + marker.len()..];
            rest.split('"').next()?.parse().ok()
        })
        .collect()
}

fn set(ids: &[i64]) -> BTreeSet<i64> {
    ids.iter().copied().collect()
}

/// A job row as given, returning its id.
fn job(
    app: &TestApp,
    container: &Made,
    kind: &str,
    state: &str,
    permanent: bool,
    minutes_ago: i64,
) -> i64 {
    app.sql(&format!(
        "INSERT INTO jobs (kind, server_id, container_id, customer_id, payload, state, attempts, \
                           error, failure_permanent, created_at, finished_at) \
         SELECT '{kind}', server_id, id, customer_id, '{{}}', '{state}', \
                CASE WHEN '{state}' = 'failed' THEN 1 ELSE 0 END, \
                CASE WHEN '{state}' = 'failed' THEN 'it went wrong' END, {permanent}, \
                now() - interval '{minutes_ago} minutes', \
                CASE WHEN '{state}' IN ('done', 'failed', 'cancelled') THEN now() END \
         FROM containers WHERE id = {}",
        container.id
    ))
    .unwrap();
    scalar(app, "SELECT max(id) AS n FROM jobs")
}

struct Floor {
    app: TestApp,
    a1: Made,
    a2: Made,
    b1: Made,
}

/// Alice with a container on s1 and one on s2, Bob with one on s1, and a support member.
async fn floor() -> Floor {
    let app = spawn_app().await;
    app.customer("alice");
    app.customer("bob");
    app.server("s1");
    app.server("s2");
    let a1 = app.container("alice", "s1", "a1", None);
    let a2 = app.container("alice", "s2", "a2", None);
    let b1 = app.container("bob", "s1", "b1", None);
    app.support("helpdesk");
    Floor { app, a1, a2, b1 }
}

async fn ids_on(browser: &Browser, path: &str, prefix: &str) -> BTreeSet<i64> {
    let (status, page) = browser.get_text(path).await;
    assert_eq!(status, 200, "{path}: {page}");
    listed(&page, prefix)
}

#[tokio::test]
async fn the_jobs_console_filters_by_state_kind_server_customer_and_age() {
    let f = floor().await;
    let queued = job(&f.app, &f.a1, "restart", "queued", false, 0);
    let transient = job(&f.app, &f.a1, "unpack_image", "failed", false, 120);
    let permanent = job(&f.app, &f.b1, "restart", "failed", true, 0);
    let done = job(&f.app, &f.a2, "restart", "done", false, 180);
    let s2 = scalar(
        &f.app,
        "SELECT id::bigint AS n FROM servers WHERE name = 's2'",
    );
    let bob = f.b1.customer_id();
    let staff = Browser::logged_in(&f.app, "helpdesk", "staff-password").await;

    let all = ids_on(&staff, "/staff/jobs", "job").await;
    assert_eq!(all, set(&[queued, transient, permanent, done]));
    let cases = [
        ("state=failed".to_owned(), vec![transient, permanent]),
        ("kind=unpack_image".into(), vec![transient]),
        (format!("server={s2}"), vec![done]),
        (format!("customer={bob}"), vec![permanent]),
        ("older=60".into(), vec![transient, done]),
        ("within=60".into(), vec![queued, permanent]),
        (format!("state=failed&customer={bob}"), vec![permanent]),
    ];
    for (query, expected) in cases {
        let shown = ids_on(&staff, &format!("/staff/jobs?{query}"), "job").await;
        assert_eq!(shown, set(&expected), "{query}");
    }
    // sorted by the database: oldest first when asked
    let (_, page) = staff.get_text("/staff/jobs?sort=created&dir=asc").await;
    let first = page.find(&format!("id=\"job-{done}\"")).unwrap();
    let last = page.find(&format!("id=\"job-{queued}\"")).unwrap();
    assert!(first < last, "oldest first");
    // a filter that names nothing is refused with its reason, not ignored
    let (status, page) = staff.get_text("/staff/jobs?state=exploded").await;
    assert_eq!(status, 400);
    assert!(page.contains("no job state"), "{page}");
    let (status, _) = staff.get_text("/staff/jobs?older=soon").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn retry_is_offered_and_accepted_only_for_a_transient_failure() {
    let f = floor().await;
    let transient = job(&f.app, &f.a1, "restart", "failed", false, 0);
    let permanent = job(&f.app, &f.b1, "restart", "failed", true, 0);
    let staff = Browser::logged_in(&f.app, "helpdesk", "staff-password").await;

    let (_, page) = staff.get_text("/staff/jobs?state=failed").await;
    assert!(page.contains(&format!("action=\"/staff/jobs/{transient}/retry\"")));
    assert!(!page.contains(&format!("action=\"/staff/jobs/{permanent}/retry\"")));
    let (status, report) = staff.get_text(&format!("/staff/jobs/{permanent}")).await;
    assert_eq!(status, 200);
    assert!(
        report.contains("permanent: retrying would fail the same way"),
        "{report}"
    );
    assert!(report.contains("it went wrong") && report.contains("Payload"));
    assert!(!report.contains("/retry\""), "{report}");

    let refused = staff
        .post_form(&format!("/staff/jobs/{permanent}/retry"), &[])
        .await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("failed permanently"));
    let state = |id: i64| {
        scalar(
            &f.app,
            &format!("SELECT count(*) AS n FROM jobs WHERE id = {id} AND state = 'queued'"),
        )
    };
    assert_eq!(state(permanent), 0);
    let retried = staff
        .post_form(&format!("/staff/jobs/{transient}/retry"), &[])
        .await;
    assert_eq!(retried.status(), 303);
    assert_eq!(state(transient), 1);
    assert_eq!(
        scalar(
            &f.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND action = 'retry job'"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_host_refuses_fails_permanently_and_is_not_offered_a_retry() {
    let f = floor().await;
    let store = f.app.storage_container("alice", "s1", "store");
    drain(&f.app).await;
    let id = crate::host_fixtures::custom_distro(&f.app, &store, "bb");
    let staff = Browser::logged_in(&f.app, "helpdesk", "staff-password").await;
    let page = format!("/staff/custom-distros/{id}");
    let token = staff.token_on(&page).await;
    let queued = staff
        .post_raw(
            &format!("{page}/image"),
            &[
                ("csrf_token", &token),
                ("source", "home"),
                ("file", "no-such-archive.tar.gz"),
            ],
        )
        .await;
    assert_eq!(queued.status(), 303);
    drain(&f.app).await;
    let failed = scalar(
        &f.app,
        "SELECT id AS n FROM jobs WHERE kind = 'unpack_image' AND state = 'failed' \
         AND failure_permanent",
    );
    let (_, report) = staff.get_text(&format!("/staff/jobs/{failed}")).await;
    assert!(report.contains("id=\"failure\""), "{report}");
    assert!(!report.contains(&format!("/staff/jobs/{failed}/retry")));
}

#[tokio::test]
async fn bulk_cancel_and_retry_act_on_the_filtered_set_only_and_audit_each_job() {
    let f = floor().await;
    let alice_queued = [
        job(&f.app, &f.a1, "restart", "queued", false, 0),
        job(&f.app, &f.a2, "restart", "queued", false, 0),
    ];
    let bob_queued = job(&f.app, &f.b1, "restart", "queued", false, 0);
    let alice_transient = job(&f.app, &f.a1, "unpack_image", "failed", false, 0);
    let alice_permanent = job(&f.app, &f.a2, "unpack_image", "failed", true, 0);
    let bob_transient = job(&f.app, &f.b1, "unpack_image", "failed", false, 0);
    let alice = f.a1.customer_id().to_string();
    let staff = Browser::logged_in(&f.app, "helpdesk", "staff-password").await;
    let state_of = |id: i64| -> String {
        let states = ["queued", "failed", "cancelled"];
        states
            .iter()
            .find(|s| {
                scalar(
                    &f.app,
                    &format!("SELECT count(*) AS n FROM jobs WHERE id = {id} AND state = '{s}'"),
                ) == 1
            })
            .unwrap()
            .to_string()
    };

    let cancelled = staff
        .post_form("/staff/jobs/cancel", &[("customer", &alice)])
        .await;
    assert_eq!(cancelled.status(), 303);
    let back = cancelled.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.contains(&format!("customer={alice}")), "{back}");
    let (_, page) = staff.get_text(&back).await;
    assert!(page.contains("2 jobs cancelled."), "{page}");
    for id in alice_queued {
        assert_eq!(state_of(id), "cancelled");
    }
    assert_eq!(state_of(bob_queued), "queued");

    let retried = staff
        .post_form(
            "/staff/jobs/retry",
            &[("customer", &alice), ("state", "failed")],
        )
        .await;
    assert_eq!(retried.status(), 303);
    assert_eq!(state_of(alice_transient), "queued");
    assert_eq!(state_of(alice_permanent), "failed");
    assert_eq!(state_of(bob_transient), "failed");
    for id in alice_queued {
        assert_eq!(
            state_of(id),
            "cancelled",
            "state=failed left cancelled jobs alone"
        );
    }
    assert_eq!(
        scalar(
            &f.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND actor = 'helpdesk' \
             AND action = 'cancel job'"
        ),
        2
    );
    assert_eq!(
        scalar(
            &f.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND actor = 'helpdesk' \
             AND action = 'retry job'"
        ),
        1
    );
}

fn alarm(app: &TestApp, container: &Made, level: i16, class: &str, minutes_ago: i64) -> i64 {
    app.sql(&format!(
        "INSERT INTO alarms (container_id, customer_id, level, msg, class, unix, color) \
         SELECT id, customer_id, {level}, 'alarm {level} {class}', '{class}', \
                now() - interval '{minutes_ago} minutes', '#ff0000' \
         FROM containers WHERE id = {}",
        container.id
    ))
    .unwrap();
    scalar(app, "SELECT max(id) AS n FROM alarms")
}

#[tokio::test]
async fn the_alarms_console_has_the_apis_filters_and_customer_and_server_with_level_badges() {
    let f = floor().await;
    let a1 = alarm(&f.app, &f.a1, 1, "disk", 30);
    let a2 = alarm(&f.app, &f.a2, 2, "python", 20);
    let b1 = alarm(&f.app, &f.b1, 0, "disk", 10);
    let s2 = scalar(
        &f.app,
        "SELECT id::bigint AS n FROM servers WHERE name = 's2'",
    );
    let bob = f.b1.customer_id();
    let staff = Browser::logged_in(&f.app, "helpdesk", "staff-password").await;

    let cases = [
        (String::new(), vec![a1, a2, b1]),
        (format!("server={s2}"), vec![a2]),
        (format!("customer={bob}"), vec![b1]),
        ("level=0".into(), vec![b1]),
        ("class=disk".into(), vec![a1, b1]),
        (format!("container={}", f.a1.uid()), vec![a1]),
        ("range=1".into(), vec![b1]),
        ("range=1-3".into(), vec![a2, a1]),
        ("class=disk&range=1".into(), vec![b1]),
    ];
    for (query, expected) in cases {
        let shown = ids_on(&staff, &format!("/staff/alarms?{query}"), "alarm").await;
        assert_eq!(shown, set(&expected), "{query}");
    }
    let (_, page) = staff.get_text("/staff/alarms").await;
    assert!(
        page.contains(r#"<span class="badge level-2">exception</span>"#),
        "{page}"
    );
    let (status, page) = staff.get_text("/staff/alarms?level=9").await;
    assert_eq!(status, 400);
    assert!(page.contains("0 to 4"));
    let (status, _) = staff.get_text("/staff/alarms?range=many").await;
    assert_eq!(status, 400);

    // deleting one keeps the filters
    let deleted = staff
        .post_form(
            &format!("/staff/alarms/{b1}/delete"),
            &[("class", "disk"), ("sort", "level"), ("dir", "asc")],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let back = deleted.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with("/staff/alarms?class=disk&sort=level&dir=asc"),
        "{back}"
    );
    assert_eq!(f.app.count("alarms"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_staff_page_of_acting_jobs_and_alarms_passes_axe_and_is_screenshotted_light_and_dark()
{
    let f = floor().await;
    let store = f.app.storage_container("alice", "s1", "store");
    let distro = crate::host_fixtures::custom_distro(&f.app, &store, "alpine");
    let failed = job(&f.app, &f.a1, "restart", "failed", true, 5);
    job(&f.app, &f.b1, "restart", "queued", false, 0);
    alarm(&f.app, &f.a1, 2, "python", 3);
    let pages = [
        (
            "staff-act-container",
            format!("/staff/containers/{}/act", f.a1.uid()),
        ),
        (
            "staff-act-storage",
            format!("/staff/containers/{}/act", store.uid()),
        ),
        (
            "staff-custom-distro",
            format!("/staff/custom-distros/{distro}"),
        ),
        ("staff-jobs", "/staff/jobs".to_owned()),
        ("staff-job", format!("/staff/jobs/{failed}")),
        ("staff-alarms", "/staff/alarms".to_owned()),
    ];
    let dir = crate::pages_looks::screenshot_dir();
    let browser = crate::browser::Browser::start().await;
    let c = &browser.client;
    crate::pages_looks::screen(c, 1366).await;
    browser
        .log_in(&f.app.url("/login"), "helpdesk", "staff-password")
        .await;
    let mut problems = Vec::new();
    for (name, path) in &pages {
        crate::pages_looks::screen(c, 1366).await;
        c.goto(&f.app.url(path)).await.unwrap();
        c.wait().for_element(Locator::Css("main h1")).await.unwrap();
        problems.extend(crate::pages_looks::look_at(c, name, &dir).await);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for (name, _) in &pages {
        assert!(dir.join(format!("{name}-390-dark.png")).is_file());
    }
    browser.stop().await;
}
