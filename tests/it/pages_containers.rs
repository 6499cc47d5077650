//! The customer's container pages: listing, mapping a custom distro, storage, restarts and
//! alarms, with plain forms, each refusal changing nothing.

use fantoccini::Locator;

use crate::api_client::{World, world};
use crate::browser::Browser as RealBrowser;
use crate::host_fixtures::drain;
use crate::personas::{Browser, scrape_csrf};

async fn alice(world: &World) -> Browser {
    Browser::customer(&world.app, "alice").await
}

/// Sends a form from the container page with the token that page carries.
async fn submit(
    browser: &Browser,
    uid: i64,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    let token = scrape_csrf(&page).expect("the container page carries a CSRF token");
    let mut with_token = vec![("csrf_token", token.as_str())];
    with_token.extend_from_slice(fields);
    browser
        .post_raw(&format!("/containers/{uid}/{action}"), &with_token)
        .await
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_customer_lists_their_containers_and_not_bobs() {
    let w = world().await;
    let browser = alice(&w).await;

    let (status, home) = browser.get_text("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/containers\""), "{home}");

    let (status, page) = browser.get_text("/containers").await;
    assert_eq!(status, 200);
    for (name, made) in [("images", &w.images), ("web", &w.web), ("bare", &w.bare)] {
        assert!(
            page.contains(&format!(">{name}</a>")),
            "{name} is listed: {page}"
        );
        assert!(page.contains(&made.uid().to_string()));
    }
    assert!(page.contains("default distro “Distro bookworm”"), "{page}");
    assert!(!page.contains("bobs"), "bob's container is not shown");
    assert!(!page.contains(&w.bobs.uid().to_string()));
}

#[tokio::test]
async fn a_customer_maps_a_custom_distro_through_the_form_and_sees_the_restart_queued() {
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let browser = alice(&w).await;
    let uid = w.web.uid();

    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    assert!(
        page.contains(&format!("<option value=\"{distro}\"")),
        "the distro is offered: {page}"
    );
    let jobs_before = w.app.count("jobs");

    // it has no image yet: the page asks to confirm a choice that would fall back
    let response = submit(
        &browser,
        uid,
        "boot",
        &[("custom_distro", &distro.to_string())],
    )
    .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("cannot boot now (no image)"), "{page}");
    assert_eq!(
        w.app.count("jobs"),
        jobs_before,
        "nothing queued unconfirmed"
    );

    let response = submit(
        &browser,
        uid,
        "boot",
        &[("custom_distro", &distro.to_string()), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/containers/{uid}?done=boot"));
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT custom_distro_id FROM containers WHERE id = {}",
            w.web.id
        )),
        distro.to_string()
    );
    assert_eq!(w.app.count("jobs"), jobs_before + 1, "one restart job");

    let (status, page) = browser.get_text(&location(&response)).await;
    assert_eq!(status, 200);
    assert!(page.contains("a restart is queued"), "{page}");
    assert!(page.contains("custom distro “Alpine edge”"), "{page}");
    assert!(
        page.contains("restart</td>") && page.contains("queued"),
        "{page}"
    );
    assert!(
        page.contains("boots the custom distro &#39;Alpine edge&#39;"),
        "logged in plain words: {page}"
    );
    let log = &page[page.find("id=\"log\"").unwrap()..];
    assert!(!log.contains("custom_distro"), "no API field names: {log}");

    // the image was never installed: the restart falls back, and the page says so
    drain(&w.app).await;
    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    assert!(page.contains("fell back to the default distro"), "{page}");
    let (_, list) = browser.get_text("/containers").await;
    assert!(list.contains("fell back to the default distro"), "{list}");
}

#[tokio::test]
async fn a_customer_goes_back_to_the_default_distro() {
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    w.map("alice", &w.web, distro).await;
    let browser = alice(&w).await;
    let uid = w.web.uid();

    let response = submit(&browser, uid, "boot", &[("custom_distro", "default")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT coalesce(custom_distro_id::text, 'default') FROM containers WHERE id = {}",
            w.web.id
        )),
        "default"
    );
    let (_, page) = browser.get_text(&location(&response)).await;
    assert!(page.contains("default distro “Distro bookworm”"), "{page}");
}

#[tokio::test]
async fn a_refused_change_shows_the_reason_and_changes_nothing() {
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let browser = alice(&w).await;
    let before = w.app.snapshot();

    // a storage container holding distros cannot stop storing them
    let response = submit(
        &browser,
        w.images.uid(),
        "storage",
        &[("storage", "off"), ("confirmed", "1")],
    )
    .await;
    assert_eq!(response.status(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("role=\"alert\" id=\"problem\""), "{page}");
    assert!(
        page.contains("Alpine edge"),
        "the reason names the distro: {page}"
    );

    // a value the form never offers
    let response = submit(&browser, w.web.uid(), "storage", &[("storage", "maybe")]).await;
    assert_eq!(response.status(), 422);

    // a storage container cannot boot a custom distro, even from a forged form
    let response = submit(
        &browser,
        w.images.uid(),
        "boot",
        &[("custom_distro", &distro.to_string())],
    )
    .await;
    assert_eq!(response.status(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("id=\"problem\""), "{page}");

    assert_eq!(w.app.snapshot(), before, "nothing changed");
}

#[tokio::test]
async fn with_htmx_a_refusal_is_swapped_in_place_and_changes_nothing() {
    let w = world().await;
    w.custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let browser = alice(&w).await;
    let uid = w.images.uid();
    let token = browser.token_on(&format!("/containers/{uid}")).await;
    let before = w.app.snapshot();
    let response = browser
        .client
        .post(browser.url(&format!("/containers/{uid}/storage")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("storage=off&confirmed=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "htmx swaps only successful answers");
    let page = response.text().await.unwrap();
    assert!(page.contains("id=\"container-detail\""), "{page}");
    assert!(page.contains("Alpine edge"), "{page}");
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_customer_turns_storage_on_and_restarts() {
    let w = world().await;
    let browser = alice(&w).await;
    let uid = w.bare.uid();

    let response = submit(&browser, uid, "storage", &[("storage", "on")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT custom_distros_storage FROM containers WHERE id = {}",
            w.bare.id
        )),
        "true"
    );
    let response = submit(&browser, uid, "restart", &[]).await;
    assert_eq!(response.status(), 303);
    let (_, page) = browser.get_text(&location(&response)).await;
    assert!(page.contains("A restart is queued."), "{page}");
    assert!(page.contains("restart asked for"), "{page}");
}

#[tokio::test]
async fn a_customer_deletes_an_alarm_of_their_container() {
    let w = world().await;
    w.app
        .sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, unix, level, color, msg) \
             VALUES ({}, {}, now(), 1, '#ff0000', '<b>disk</b> full')",
            w.web.id,
            w.web.customer_id()
        ))
        .unwrap();
    let alarm = w.app.scalar("SELECT max(id) FROM alarms");
    let browser = alice(&w).await;
    let uid = w.web.uid();

    let (_, page) = browser.get_text(&format!("/containers/{uid}")).await;
    assert!(
        page.contains("disk&#60;/b&#62; full"),
        "shown, escaped: {page}"
    );
    assert!(!page.contains("<b>disk"), "never as markup");

    // the alarm is not the storage container's
    let response = submit(
        &browser,
        w.images.uid(),
        &format!("alarms/{alarm}/delete"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(w.app.count("alarms"), 1);

    let response = submit(&browser, uid, &format!("alarms/{alarm}/delete"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(w.app.count("alarms"), 0);
}

#[tokio::test]
async fn bobs_uid_and_nonsense_are_a_404_like_a_missing_container() {
    let w = world().await;
    let browser = alice(&w).await;
    let before = w.app.snapshot();
    for uid in [
        w.bobs.uid().to_string(),
        "999999".into(),
        "web".into(),
        "-1".into(),
    ] {
        let (status, _) = browser.get_text(&format!("/containers/{uid}")).await;
        assert_eq!(status, 404, "GET {uid}");
    }
    let bobs = w.bobs.uid();
    let token = browser.token_on("/containers").await;
    for action in ["restart", "storage", "boot"] {
        let response = browser
            .post_raw(
                &format!("/containers/{bobs}/{action}"),
                &[
                    ("csrf_token", &token),
                    ("storage", "on"),
                    ("custom_distro", "default"),
                ],
            )
            .await;
        assert_eq!(response.status(), 404, "POST {action}");
    }
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused() {
    let w = world().await;
    let browser = alice(&w).await;
    let before = w.app.snapshot();
    let uid = w.web.uid();
    let response = browser
        .post_raw(&format!("/containers/{uid}/restart"), &[])
        .await;
    assert_eq!(response.status(), 403);
    let response = browser
        .post_raw(
            &format!("/containers/{uid}/restart"),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn staff_have_no_containers_page() {
    let w = world().await;
    w.app.staff("root");
    let browser = Browser::logged_in(&w.app, "root", "staff-password").await;
    let (status, page) = browser.get_text("/containers").await;
    assert_eq!(status, 403);
    assert!(page.contains("Staff accounts have no containers"), "{page}");
    let (status, _) = browser
        .get_text(&format!("/containers/{}", w.web.uid()))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_chooses_a_custom_distro_in_a_real_browser_and_sees_the_pending_restart() {
    let w = world().await;
    w.custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let browser = RealBrowser::start().await;
    let c = &browser.client;

    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    browser.follow("Containers").await;
    browser.follow("web").await;

    let select = c
        .wait()
        .for_element(Locator::Id("custom_distro"))
        .await
        .unwrap();
    select
        .select_by_label("custom distro: Alpine edge (cannot boot: no image)")
        .await
        .unwrap();
    c.find(Locator::Css("#boot input[name=confirm]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#boot button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let pending = c
        .wait()
        .for_element(Locator::Css("#jobs tr.pending"))
        .await
        .unwrap();
    let text = pending.text().await.unwrap();
    assert!(
        text.contains("restart") && text.contains("queued"),
        "{text}"
    );
    let notice = c.find(Locator::Css(".flash.ok")).await.unwrap();
    assert!(notice.text().await.unwrap().contains("a restart is queued"));
    browser.stop().await;
}

#[tokio::test]
async fn a_signed_in_customer_meets_a_missing_page_inside_their_own_layout() {
    let w = world().await;
    let alice = Browser::logged_in(&w.app, "alice", "alice-password").await;
    let (status, page) = alice.get_text("/containers/99999").await;
    assert_eq!(status, 404);
    assert!(
        page.contains(">alice</a>"),
        "the top bar names alice: {page}"
    );
    assert!(page.contains("Log out"), "{page}");
    let (status, page) = alice.get_text("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(page.contains(">alice</a>"), "{page}");

    let visitor = Browser::new(&w.app);
    let (status, page) = visitor.get_text("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(
        page.contains("Log in") && !page.contains("Log out"),
        "{page}"
    );
}
