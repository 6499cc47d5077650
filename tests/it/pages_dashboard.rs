//! The customer's dashboard and alarms page, what the container pages say a restart booted,
//! and the parts that update in place while jobs are pending: as plain HTTP (no JavaScript)
//! and in a real browser.

use std::time::Duration;

use fantoccini::Locator;

use crate::api_client::{World, world};
use crate::browser::Browser as RealBrowser;
use crate::host_fixtures::drain;
use crate::personas::{Browser, scrape_csrf};

async fn alice(world: &World) -> Browser {
    Browser::customer(&world.app, "alice").await
}

/// `web` is mapped to a custom distro with no image, and its restart ran: it fell back.
async fn web_fell_back(w: &World) -> i64 {
    let distro = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    w.map("alice", &w.web, distro).await;
    drain(&w.app).await;
    distro
}

fn alarm(w: &World, container: i64, level: i16, class: &str, msg: &str) {
    w.app
        .sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, unix, level, color, class, msg) \
             VALUES ({container}, {}, now(), {level}, '#ffcc00', '{class}', '{msg}')",
            w.web.customer_id()
        ))
        .unwrap();
}

#[tokio::test]
async fn after_a_fallback_the_list_the_container_page_and_the_dashboard_say_what_it_booted() {
    let w = world().await;
    web_fell_back(&w).await;
    let browser = alice(&w).await;
    let uid = w.web.uid();

    let (_, list) = browser.get_text("/containers").await;
    assert!(
        list.contains("default distro “Distro bookworm”: fell back because"),
        "the list says what the restart booted, as the banner does: {list}"
    );
    assert!(
        !list.contains("custom distro “Alpine edge”</td>"),
        "it does not claim to run the custom distro: {list}"
    );

    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    assert!(
        page.contains("It runs the default distro “Distro bookworm”: fell back because"),
        "{page}"
    );
    assert!(page.contains("fell back to the default distro"), "{page}");
    // plain words in the operation log: no field names, no worker ids
    let log = &page[page.find("id=\"log\"").expect("the operation log")..];
    assert!(!log.contains("custom_distro"), "{log}");
    assert!(!log.contains("vm:"), "{log}");
    assert!(log.contains("<td>alice</td>"), "{log}");

    let (status, dashboard) = browser.get_text("/dashboard").await;
    assert_eq!(status, 200);
    assert!(
        dashboard.contains(&format!("id=\"fallback-{uid}\"")),
        "{dashboard}"
    );
    assert!(
        dashboard.contains(&format!("href=\"/containers/{uid}\"")),
        "the fallback links to where it is fixed: {dashboard}"
    );
    assert!(
        !dashboard.contains("hx-trigger=\"every 1s\""),
        "nothing is pending: the dashboard does not poll: {dashboard}"
    );
}

#[tokio::test]
async fn the_dashboard_counts_new_alarms_by_level_until_the_alarms_page_is_opened() {
    let w = world().await;
    alarm(&w, w.web.id, 1, "disk", "disk full");
    alarm(&w, w.web.id, 1, "disk", "disk still full");
    alarm(&w, w.web.id, 2, "app", "exception");
    let browser = alice(&w).await;

    let (_, dashboard) = browser.get_text("/dashboard").await;
    assert!(dashboard.contains("2 new alarms"), "{dashboard}");
    assert!(dashboard.contains("1 new alarm<"), "{dashboard}");
    assert!(
        dashboard.contains("href=\"/alarms?level=2\""),
        "{dashboard}"
    );

    let (status, _) = browser.get_text("/alarms").await;
    assert_eq!(status, 200);
    let (_, dashboard) = browser.get_text("/dashboard").await;
    assert!(
        !dashboard.contains("new alarm"),
        "opened: none is new: {dashboard}"
    );
    let seen = w.app.scalar(
        "SELECT count(*) FROM users WHERE username = 'alice' AND alarms_seen_at IS NOT NULL",
    );
    assert_eq!(seen, "1", "kept per user");
}

#[tokio::test]
async fn a_customer_filters_alarms_pages_through_them_and_deletes_one_without_javascript() {
    let w = world().await;
    for n in 0..30 {
        alarm(&w, w.web.id, 1, "disk", &format!("disk alarm {n}"));
    }
    alarm(&w, w.images.id, 3, "trace", "a traceback");
    w.app
        .sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, unix, level, color, msg) \
             VALUES ({}, {}, now(), 1, '#ff0000', 'bobs alarm')",
            w.bobs.id,
            w.bobs.customer_id()
        ))
        .unwrap();
    let browser = alice(&w).await;

    let (_, page) = browser.get_text("/alarms").await;
    assert!(page.contains("Showing 1 to 25 of 31."), "{page}");
    assert!(!page.contains("bobs alarm"), "bob's alarms are his");
    assert!(page.contains("rel=\"next\""), "{page}");
    assert!(
        page.contains("<svg class=\"swatch\"") && page.contains("fill=\"#ffcc00\""),
        "the alarm's colour is a swatch: {page}"
    );
    assert!(page.contains("badge level-1\">user<"), "{page}");

    let (_, second) = browser.get_text("/alarms?page=2").await;
    assert!(second.contains("Showing 26 to 31 of 31."), "{second}");

    let images = w.images.uid();
    let (_, by_container) = browser
        .get_text(&format!("/alarms?container={images}"))
        .await;
    assert!(by_container.contains("a traceback"), "{by_container}");
    assert!(!by_container.contains("disk alarm"), "{by_container}");
    let (_, by_level) = browser.get_text("/alarms?level=3").await;
    assert!(by_level.contains("Showing 1 to 1 of 1."), "{by_level}");
    let (_, by_class) = browser.get_text("/alarms?class=disk&range=5").await;
    assert!(by_class.contains("Showing 1 to 5 of 30."), "{by_class}");

    // delete, with the page's CSRF token; it returns to the same filter
    let traceback = w
        .app
        .scalar("SELECT id FROM alarms WHERE msg = 'a traceback'");
    let token = scrape_csrf(&by_level).unwrap();
    let response = browser
        .post_raw(
            &format!("/alarms/{traceback}/delete"),
            &[("csrf_token", &token), ("back", "level=3&page=1")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/alarms?level=3&page=1&done=deleted"
    );
    assert_eq!(w.app.count("alarms"), 31);

    // without the token, or bob's alarm: nothing is deleted
    let response = browser.post_raw("/alarms/1/delete", &[("back", "")]).await;
    assert_eq!(response.status(), 403);
    let bobs = w
        .app
        .scalar("SELECT id FROM alarms WHERE msg = 'bobs alarm'");
    let response = browser
        .post_raw(&format!("/alarms/{bobs}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(w.app.count("alarms"), 31);
}

#[tokio::test]
async fn a_distro_that_cannot_boot_is_marked_with_its_storage_and_needs_a_confirmation() {
    let w = world().await;
    w.custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let browser = alice(&w).await;
    let uid = w.web.uid();
    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    assert!(
        page.contains("custom distro: Alpine edge (cannot boot: no image)"),
        "{page}"
    );
    assert!(
        page.contains(&format!("images ({})", w.images.uid())),
        "its storage container: {page}"
    );
    assert!(page.contains("<td>never</td>"), "never checked: {page}");
    assert!(page.contains("name=\"confirm\""), "{page}");
}

#[tokio::test]
async fn storage_use_is_a_bar_against_the_quota_from_the_images_until_an_agent_reports() {
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    w.app
        .sql(&format!(
            "UPDATE custom_distros SET image_state = 'ready', image_bytes = 1048576, \
             image_sha256 = repeat('a', 64) WHERE id = {distro}"
        ))
        .unwrap();
    let browser = alice(&w).await;
    let images = w.images.uid();
    let (_, dashboard) = browser.get_text("/dashboard").await;
    assert!(
        dashboard.contains(&format!("id=\"storage-{images}\"")),
        "{dashboard}"
    );
    assert!(dashboard.contains("<meter"), "{dashboard}");
    assert!(
        dashboard.contains("1.0 MiB of") && dashboard.contains("from the sizes of its images"),
        "{dashboard}"
    );

    w.app
        .sql(&format!(
            "INSERT INTO container_disk_use (container_id, home_bytes, images_bytes, measured_at) \
             VALUES ({}, 2097152, 1048576, now())",
            w.images.id
        ))
        .unwrap();
    let (_, dashboard) = browser.get_text("/dashboard").await;
    assert!(
        dashboard.contains("3.0 MiB of") && dashboard.contains("measured just now"),
        "the agent's figure wins: {dashboard}"
    );
}

#[tokio::test]
async fn the_top_bar_counts_running_and_failed_jobs() {
    let w = world().await;
    let browser = alice(&w).await;
    let (_, page) = browser.get_text("/containers").await;
    assert!(page.contains("no jobs running"), "{page}");
    w.map("alice", &w.web, {
        w.custom_distro("alice", &w.images, "Alpine edge", "alpine")
            .await
    })
    .await;
    let (_, page) = browser.get_text("/containers").await;
    assert!(page.contains("1 job running"), "{page}");
    w.app
        .sql("UPDATE jobs SET state = 'failed', finished_at = now()")
        .unwrap();
    let (_, page) = browser.get_text("/dashboard").await;
    assert!(page.contains("1 failed"), "{page}");
}

/// Waits until the element `css` selects says `text`, reading it again as htmx swaps it.
pub(crate) async fn wait_for_text(browser: &RealBrowser, css: &str, text: &str) -> String {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(element) = browser.client.find(Locator::Css(css)).await
            && let Ok(now) = element.text().await
        {
            if now.contains(text) {
                return now;
            }
            seen = now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never said {text:?}; last: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_row_turns_from_queued_to_done_and_the_dashboard_lists_the_fallback_without_a_reload()
{
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    w.map("alice", &w.web, distro).await;
    let job = w
        .app
        .scalar("SELECT max(id) FROM jobs WHERE kind = 'restart'");
    let uid = w.web.uid();
    let browser = RealBrowser::start().await;
    let c = &browser.client;
    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    assert_eq!(c.current_url().await.unwrap().path(), "/dashboard");
    wait_for_text(&browser, "#jobs-indicator", "1 job running").await;

    c.goto(&w.app.url(&format!("/containers/{uid}")))
        .await
        .unwrap();
    let row = wait_for_text(&browser, &format!("#job-{job}"), "queued").await;
    assert!(row.contains("restart"), "{row}");
    // a marker that a reload would lose
    c.execute("window.notReloaded = true", vec![])
        .await
        .unwrap();

    drain(&w.app).await;
    wait_for_text(&browser, &format!("#job-{job}"), "done").await;
    wait_for_text(&browser, "#container-status", "fell back because").await;
    wait_for_text(&browser, "#jobs-indicator", "no jobs running").await;
    let same_page = c
        .execute("return window.notReloaded === true", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, serde_json::json!(true), "updated in place");
    // idle: the poller lost its trigger
    let polling = c
        .execute(
            "return document.querySelector('#container-poll').hasAttribute('hx-trigger')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(polling, serde_json::json!(false));

    browser.follow("Dashboard").await;
    wait_for_text(&browser, &format!("#fallback-{uid}"), "fell back because").await;
    browser.stop().await;
}

#[tokio::test]
async fn a_pending_restart_makes_the_container_page_poll_and_an_idle_one_stops_it() {
    let w = world().await;
    let browser = alice(&w).await;
    let uid = w.web.uid();
    let token = browser.token_on(&format!("/containers/{uid}")).await;
    let response = browser
        .post_raw(
            &format!("/containers/{uid}/restart"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(response.status(), 303);

    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    assert!(
        page.contains(&format!(
            "hx-get=\"/containers/{uid}/live\" hx-trigger=\"every 1s\""
        )),
        "{page}"
    );
    let poll = |hx: bool| {
        let mut request = browser
            .client
            .get(browser.url(&format!("/containers/{uid}/live")));
        if hx {
            request = request.header("HX-Request", "true");
        }
        request.send()
    };
    let polled = poll(true).await.unwrap().text().await.unwrap();
    assert!(polled.contains("hx-trigger=\"every 1s\""), "{polled}");
    assert!(
        polled.contains("id=\"container-activity\" aria-live=\"polite\" hx-swap-oob=\"true\""),
        "{polled}"
    );
    assert!(polled.contains("id=\"jobs-indicator\""), "{polled}");

    drain(&w.app).await;
    let polled = poll(true).await.unwrap().text().await.unwrap();
    assert!(!polled.contains("hx-trigger"), "idle: {polled}");
    assert!(polled.contains("done"), "{polled}");

    // without JavaScript, the poll's address leads to the page
    let response = poll(false).await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/containers/{uid}").as_str()
    );
}
