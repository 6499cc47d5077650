//! Support staff see every container, distro and alarm on the platform; they delete alarms,
//! audited; customers find none of these pages.

use crate::helpers::spawn_app;
use crate::host_fixtures::custom_distro;
use crate::personas::{Browser, scalar};

/// The text of the table row with this id attribute.
fn row<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row {id}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

#[tokio::test]
async fn staff_see_the_containers_of_every_customer_and_filter_by_customer() {
    let app = spawn_app().await;
    app.staff("ops");
    let alice = app.customer("alice");
    app.customer("bob");
    app.server("s1");
    let debian = app.distro("debian");
    let store = app.storage_container("alice", "s1", "alice-store");
    let web = app.container("alice", "s1", "alice-web", Some(&debian));
    app.container("bob", "s1", "bob-web", Some(&debian));
    let distro = custom_distro(&app, &store, "trixie");
    app.sql(&format!(
        "UPDATE containers SET custom_distro_id = {distro}, \
         fallback_reason = 'no .old_root in the image' WHERE id = {}",
        web.id
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO jobs (kind, container_id, customer_id, server_id, run_after) \
         SELECT 'restart', id, customer_id, server_id, now() + interval '1 hour' \
         FROM containers WHERE id = {}",
        web.id
    ))
    .unwrap();
    let staff = Browser::logged_in(&app, "ops", "staff-password").await;

    let (status, page) = staff.get_text("/staff/containers").await;
    assert_eq!(status, 200);
    for name in ["alice-store", "alice-web", "bob-web"] {
        assert!(page.contains(name), "{name} is listed: {page}");
    }
    let shown = row(&page, &format!("container-{}", web.uid()));
    for fact in [
        "Distro debian",
        "Distro trixie",
        &store.uid().to_string(),
        "no .old_root in the image",
        "s1",
    ] {
        assert!(shown.contains(fact), "{fact} in {shown}");
    }
    assert!(
        page.find("bob-web").unwrap() < page.find("alice-web").unwrap(),
        "newest first"
    );
    assert!(row(&page, &format!("container-{}", store.uid())).contains("yes"));

    let (_, only_alice) = staff
        .get_text(&format!(
            "/staff/containers?customer={}",
            alice.customer_id()
        ))
        .await;
    assert!(only_alice.contains("alice-web") && !only_alice.contains("bob-web"));
    let (_, searched) = staff.get_text("/staff/containers?q=bob").await;
    assert!(searched.contains("bob-web") && !searched.contains("alice-web"));
    let (_, nothing) = staff.get_text("/staff/containers?q=%25%25x").await;
    assert!(!nothing.contains("bob-web"), "a % is searched as typed");
    let (_, by_name) = staff.get_text("/staff/containers?sort=name&dir=asc").await;
    assert!(
        by_name.find("alice-store").unwrap() < by_name.find("bob-web").unwrap(),
        "sorted by name when asked"
    );
    assert_eq!(
        staff.get("/staff/containers?customer=x").await.status(),
        400
    );
}

#[tokio::test]
async fn staff_page_through_the_containers() {
    let app = spawn_app().await;
    app.staff("ops");
    app.customer("alice");
    app.server("s1");
    for n in 0..105 {
        app.container("alice", "s1", &format!("c{n:03}"), None);
    }
    let staff = Browser::logged_in(&app, "ops", "staff-password").await;
    let (_, first) = staff.get_text("/staff/containers").await;
    assert!(first.contains(">c104<") && first.contains(">c055<") && !first.contains(">c054<"));
    let next = |page: &str| {
        let at = page.find("rel=\"next\" href=\"").expect("a next link") + 17;
        page[at..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#38;", "&")
    };
    let (_, second) = staff.get_text(&next(&first)).await;
    assert!(second.contains(">c054<") && second.contains(">c005<") && !second.contains(">c055<"));
    let (_, third) = staff.get_text(&next(&second)).await;
    assert!(third.contains(">c004<") && third.contains(">c000<") && !third.contains(">c005<"));
    assert!(!third.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_distros_page_shows_platform_and_custom_distros_with_state_and_users() {
    let app = spawn_app().await;
    app.staff("ops");
    let alice = app.customer("alice");
    app.customer("bob");
    app.server("s1");
    let debian = app.distro("debian");
    app.distro("alpine");
    let store = app.storage_container("alice", "s1", "alice-store");
    let web = app.container("alice", "s1", "alice-web", Some(&debian));
    let bob_store = app.storage_container("bob", "s1", "bob-store");
    let trixie = custom_distro(&app, &store, "trixie");
    let sid = custom_distro(&app, &store, "sid");
    custom_distro(&app, &bob_store, "arch");
    app.sql(&format!(
        "UPDATE custom_distros SET image_state = 'ready', image_bytes = 2048, \
         image_sha256 = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', checked_at = now() WHERE id = {trixie}"
    ))
    .unwrap();
    app.sql(&format!(
        "UPDATE containers SET custom_distro_id = {trixie} WHERE id = {}",
        web.id
    ))
    .unwrap();
    // an install of sid that has not started yet
    app.sql(&format!(
        "INSERT INTO jobs (kind, container_id, customer_id, server_id, payload, run_after) \
         SELECT 'unpack_image', id, customer_id, server_id, jsonb_build_object('distro', {sid}), \
                now() + interval '1 hour' FROM containers WHERE id = {}",
        store.id
    ))
    .unwrap();
    let staff = Browser::logged_in(&app, "ops", "staff-password").await;

    let (status, page) = staff.get_text("/staff/distros").await;
    assert_eq!(status, 200);
    let platform = row(&page, &format!("distro-{}", debian.id));
    assert!(platform.contains("1 container(s)"), "{platform}");
    let at = page.find("Distro trixie").unwrap();
    let trixie_row = &page[page[..at].rfind("<tr").unwrap()..];
    let trixie_row = &trixie_row[..trixie_row.find("</tr>").unwrap()];
    for fact in [
        "state-ready",
        "2.0 KiB",
        "abcdef012345",
        &web.uid().to_string(),
        "alice-web",
        &store.uid().to_string(),
    ] {
        assert!(trixie_row.contains(fact), "{fact} in {trixie_row}");
    }
    let at = page.find("Distro sid").unwrap();
    let sid_row = &page[page[..at].rfind("<tr").unwrap()..];
    let sid_row = &sid_row[..sid_row.find("</tr>").unwrap()];
    assert!(sid_row.contains("state-unpacking"), "{sid_row}");
    assert!(page.contains("Distro arch"));

    let (_, only_alice) = staff
        .get_text(&format!("/staff/distros?customer={}", alice.customer_id()))
        .await;
    assert!(only_alice.contains("Distro trixie") && !only_alice.contains("Distro arch"));
}

fn alarm(app: &crate::helpers::TestApp, container: i64, level: i16, msg: &str, minutes_ago: i32) {
    app.sql(&format!(
        "INSERT INTO alarms (container_id, customer_id, unix, level, color, msg) \
         SELECT id, customer_id, now() - interval '{minutes_ago} minutes', {level}, '#ff0000', \
                '{}' FROM containers WHERE id = {container}",
        msg.replace('\'', "''")
    ))
    .unwrap();
}

fn alarm_id(app: &crate::helpers::TestApp, msg: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT id AS n FROM alarms WHERE msg = '{msg}'"),
    )
}

#[tokio::test]
async fn staff_list_alarms_newest_first_filter_them_and_delete_one_audited() {
    let app = spawn_app().await;
    app.staff("ops");
    app.customer("alice");
    app.customer("bob");
    app.server("s1");
    let web = app.container("alice", "s1", "alice-web", None);
    let bob = app.container("bob", "s1", "bob-web", None);
    alarm(&app, web.id, 0, "oldest platform alarm", 30);
    alarm(&app, bob.id, 2, "middle alarm", 20);
    alarm(
        &app,
        web.id,
        3,
        "newest alarm\nsecond line <script>alert(1)</script>",
        10,
    );
    let staff = Browser::logged_in(&app, "ops", "staff-password").await;

    let (status, page) = staff.get_text("/staff/alarms").await;
    assert_eq!(status, 200);
    let newest = page.find("newest alarm").unwrap();
    let middle = page.find("middle alarm").unwrap();
    let oldest = page.find("oldest platform alarm").unwrap();
    assert!(newest < middle && middle < oldest, "newest first");
    assert!(!page.contains("<script>alert(1)"), "the message is escaped");
    assert!(page.contains("&#60;script&#62;alert(1)"), "{page}");
    assert!(
        page.contains("newest alarm\nsecond line"),
        "line breaks are kept"
    );
    assert!(page.contains("bob-web") && page.contains(&bob.uid().to_string()));

    let (_, level_two) = staff.get_text("/staff/alarms?level=2").await;
    assert!(level_two.contains("middle alarm") && !level_two.contains("newest alarm"));
    let (_, of_web) = staff
        .get_text(&format!("/staff/alarms?container={}", web.uid()))
        .await;
    assert!(of_web.contains("newest alarm") && !of_web.contains("middle alarm"));
    assert_eq!(staff.get("/staff/alarms?level=9").await.status(), 400);

    // a platform alarm goes too
    let platform = alarm_id(&app, "oldest platform alarm");
    let token = staff.token_on("/staff/alarms").await;
    let deleted = staff
        .post_raw(
            &format!("/staff/alarms/{platform}/delete"),
            &[("csrf_token", &token), ("level", "0")],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(
        deleted.headers()["location"],
        "/staff/alarms?level=0&done=deleted"
    );
    assert_eq!(app.count("alarms"), 2);
    let (_, after) = staff.get_text("/staff/alarms?done=deleted").await;
    assert!(after.contains("The alarm is deleted.") && !after.contains("oldest platform alarm"));
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND action = 'delete alarm' \
                 AND actor = 'ops' AND container_id = {} AND target LIKE 'alarm {platform} %'",
                web.id
            )
        ),
        1
    );
    let again = staff
        .post_raw(
            &format!("/staff/alarms/{platform}/delete"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn deleting_an_alarm_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.staff("ops");
    app.customer("alice");
    app.server("s1");
    let web = app.container("alice", "s1", "alice-web", None);
    alarm(&app, web.id, 1, "keep me", 1);
    let id = alarm_id(&app, "keep me");
    let staff = Browser::logged_in(&app, "ops", "staff-password").await;
    let refused = staff
        .post_raw(&format!("/staff/alarms/{id}/delete"), &[])
        .await;
    assert_eq!(refused.status(), 403);
    let forged = staff
        .post_raw(
            &format!("/staff/alarms/{id}/delete"),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(app.count("alarms"), 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit'"
        ),
        0
    );
}

#[tokio::test]
async fn a_customer_finds_none_of_the_staff_views() {
    let app = spawn_app().await;
    app.customer("alice");
    app.server("s1");
    let web = app.container("alice", "s1", "alice-web", None);
    alarm(&app, web.id, 1, "mine", 1);
    let id = alarm_id(&app, "mine");
    let alice = Browser::customer(&app, "alice").await;
    // the same page as the other staff pages give a customer
    let (_, missing) = alice.get_text("/staff").await;
    for page in ["/staff/containers", "/staff/distros", "/staff/alarms"] {
        let (status, body) = alice.get_text(page).await;
        assert_eq!((status, &body), (404, &missing), "{page}");
    }
    let token = alice.token_on("/settings").await;
    let post = alice
        .post_raw(
            &format!("/staff/alarms/{id}/delete"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(post.status(), 404);
    assert_eq!(app.count("alarms"), 1);
}
