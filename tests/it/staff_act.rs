//! Staff act on a customer's behalf from `/staff/containers/{uid}/act` and
//! `/staff/custom-distros/{id}`: the customer's own rules and refusals apply, the customer's
//! operation log and the audit trail both say the change was done by staff.

use std::path::Path;

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use fantoccini::Locator;
use reqwest::Response;

use crate::helpers::{Made, TestApp, spawn_app};
use crate::host_fixtures::{drain, installed_image, vassal};
use crate::personas::{Browser, scalar};

/// Alice (company ACME) with `store`, a container that does not store custom distros yet,
/// and `web`, booting the platform distro; Bob with a distro of his own on the same server.
struct Shop {
    app: TestApp,
    store: Made,
    web: Made,
    bobs_distro: i64,
}

async fn shop() -> Shop {
    let app = spawn_app().await;
    app.customer("alice");
    app.customer("bob");
    app.server("s1");
    let bookworm = app.distro("bookworm");
    let store = app.container("alice", "s1", "store", Some(&bookworm));
    let web = app.container("alice", "s1", "web", Some(&bookworm));
    let bob_store = app.storage_container("bob", "s1", "bob-store");
    app.sql(&format!(
        "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path) \
         SELECT id, server_id, customer_id, 'bobs', 'bobs' FROM containers WHERE id = {}",
        bob_store.id
    ))
    .unwrap();
    let bobs_distro = scalar(&app, "SELECT id::bigint AS n FROM custom_distros");
    app.support("helpdesk");
    Shop {
        app,
        store,
        web,
        bobs_distro,
    }
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// POSTs a staff form with the token the page at `on` carries.
async fn act(browser: &Browser, on: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let token = browser.token_on(on).await;
    let mut with_token = vec![("csrf_token", token.as_str())];
    with_token.extend_from_slice(fields);
    browser.post_raw(path, &with_token).await
}

/// The staff upload form as a browser sends it: multipart, the token its first field.
async fn upload(browser: &Browser, id: i64, archive: &[u8]) -> Response {
    let token = browser
        .token_on(&format!("/staff/custom-distros/{id}"))
        .await;
    let boundary = "----distropanel-staff-boundary-41c9";
    let mut body = Vec::new();
    for (name, value) in [("csrf_token", token.as_str()), ("source", "upload")] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; \
             filename=\"rootfs.tar.gz\"\r\nContent-Type: application/gzip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(archive);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    browser
        .client
        .post(browser.url(&format!("/staff/custom-distros/{id}/image")))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The distro id in a `/staff/custom-distros/<id>?done=...` redirect.
fn distro_of(response: &Response) -> i64 {
    let location = location(response);
    location
        .strip_prefix("/staff/custom-distros/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a distro's staff page: {location}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_support_member_sets_up_storage_installs_an_image_maps_and_restarts_for_a_customer_who_then_sees_it_was_staff()
 {
    let s = shop().await;
    let (store, web) = (s.store.uid(), s.web.uid());
    let helpdesk = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;
    let store_page = format!("/staff/containers/{store}/act");
    let web_page = format!("/staff/containers/{web}/act");

    // storage on, through the customer's rules: a restart and the storage directory follow
    let on = act(
        &helpdesk,
        &store_page,
        &format!("/staff/containers/{store}/storage"),
        &[("storage", "on")],
    )
    .await;
    assert_eq!(on.status(), 303);
    assert_eq!(location(&on), format!("{store_page}?done=storage-on"));
    drain(&s.app).await;

    // a distro in it, and the busybox image uploaded from the staff page
    let (_, page) = helpdesk.get_text(&store_page).await;
    assert!(page.contains("New custom distro"), "{page}");
    let made = act(
        &helpdesk,
        &store_page,
        &format!("/staff/containers/{store}/custom-distros/new"),
        &[("name", "tiny"), ("path", "bb"), ("note", "")],
    )
    .await;
    assert_eq!(made.status(), 303);
    let id = distro_of(&made);
    let tarball = busybox_rootfs(Path::new(BUSYBOX), &[("web", web as u32)]).unwrap();
    let uploaded = upload(&helpdesk, id, &tarball).await;
    assert_eq!(uploaded.status(), 303, "{}", uploaded.text().await.unwrap());
    drain(&s.app).await;
    let (_, page) = helpdesk
        .get_text(&format!("/staff/custom-distros/{id}"))
        .await;
    assert!(
        page.contains(r#"<strong id="image-state">ready</strong>"#),
        "{page}"
    );
    assert!(
        installed_image(&s.app, store, "bb")
            .join("bin/busybox")
            .is_file()
    );

    // web boots it, and restarts once more
    let mapped = act(
        &helpdesk,
        &web_page,
        &format!("/staff/containers/{web}/boot"),
        &[("custom_distro", &id.to_string())],
    )
    .await;
    assert_eq!(mapped.status(), 303);
    let restarted = act(
        &helpdesk,
        &web_page,
        &format!("/staff/containers/{web}/restart"),
        &[],
    )
    .await;
    assert_eq!(location(&restarted), format!("{web_page}?done=restart"));
    drain(&s.app).await;
    assert!(vassal(&s.app, web).contains(&format!("distropanel/images/{store}/bb ")));

    // the customer sees who did it on her own pages
    let alice = Browser::customer(&s.app, "alice").await;
    let (_, page) = alice.get_text(&format!("/containers/{web}")).await;
    assert!(
        page.contains("done by staff member helpdesk for customer ACME"),
        "{page}"
    );
    let (_, page) = alice.get_text(&format!("/containers/{store}")).await;
    assert!(page.contains("done by staff member helpdesk for customer ACME"));
    let (_, page) = alice.get_text(&format!("/distros/{id}")).await;
    let log = &page[page.find(r#"id="log""#).expect("the distro page has a log")..];
    assert!(
        log.contains("custom distro created") && log.contains("done by staff member helpdesk"),
        "{log}"
    );

    // every change has its audit twin, in the customer's name, marked as done by staff
    let alice_id = s.web.customer_id();
    let operations = scalar(
        &s.app,
        &format!(
            "SELECT count(*) AS n FROM events WHERE kind = 'operation' AND by_staff \
             AND actor = 'helpdesk' AND customer_id = {alice_id}"
        ),
    );
    let audited = scalar(
        &s.app,
        &format!(
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND by_staff \
             AND actor = 'helpdesk' AND customer_id = {alice_id} \
             AND detail LIKE '%done by staff member helpdesk for customer ACME%'"
        ),
    );
    // storage restart, distro created, image upload, boot restart, restart
    assert!(operations >= 5, "{operations}");
    assert_eq!(audited, operations);
    assert_eq!(
        scalar(
            &s.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'operation' AND by_staff \
             AND action = 'custom distro created'"
        ),
        1
    );
}

#[tokio::test]
async fn staff_acting_for_a_customer_meet_the_customers_refusals_and_cannot_reach_another_customers_distro()
 {
    let s = shop().await;
    let (store, web) = (s.store.uid(), s.web.uid());
    let helpdesk = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;
    let web_page = format!("/staff/containers/{web}/act");
    let events = s.app.count("events");

    // Bob's distro is not Alice's to boot: refused on the page, nothing changes
    let refused = act(
        &helpdesk,
        &web_page,
        &format!("/staff/containers/{web}/boot"),
        &[
            ("custom_distro", &s.bobs_distro.to_string()),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 404);
    let page = refused.text().await.unwrap();
    assert!(page.contains(r#"id="problem""#), "{page}");
    assert!(page.contains("another customer"), "{page}");
    assert_eq!(
        scalar(
            &s.app,
            &format!(
                "SELECT count(*) AS n FROM containers WHERE id = {} AND custom_distro_id IS NULL",
                s.web.id
            )
        ),
        1
    );

    // no distro in a container that does not store them: the customer's rule, with its reason
    let refused = act(
        &helpdesk,
        &format!("/staff/containers/{store}/act"),
        &format!("/staff/containers/{store}/custom-distros/new"),
        &[("name", "tiny"), ("path", "bb")],
    )
    .await;
    assert_eq!(refused.status(), 403, "the customer's own answer");
    let page = refused.text().await.unwrap();
    assert!(page.contains("store custom distros"), "{page}");
    assert!(
        !page.contains("custom_distros_storage"),
        "page words: {page}"
    );

    // Bob's distro page is reachable to staff, as Bob's; its forms act in Bob's name only
    let (status, page) = helpdesk
        .get_text(&format!("/staff/custom-distros/{}", s.bobs_distro))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("bob-store"), "{page}");
    let no_such = helpdesk.get("/staff/custom-distros/999999").await;
    assert_eq!(no_such.status(), 404);
    assert_eq!(s.app.count("events"), events, "refusals write nothing");
    assert_eq!(s.app.count("custom_distros"), 1);
}

#[tokio::test]
async fn a_cannot_boot_distro_asks_for_confirmation_and_turning_storage_off_asks_first() {
    let s = shop().await;
    let (store, web) = (s.store.uid(), s.web.uid());
    let helpdesk = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;
    s.app
        .sql(&format!(
            "UPDATE containers SET custom_distros_storage = true, distro_id = NULL \
             WHERE id = {}",
            s.store.id
        ))
        .unwrap();
    let made = act(
        &helpdesk,
        &format!("/staff/containers/{store}/act"),
        &format!("/staff/containers/{store}/custom-distros/new"),
        &[("name", "empty"), ("path", "empty")],
    )
    .await;
    let id = distro_of(&made).to_string();
    let web_page = format!("/staff/containers/{web}/act");
    let (_, page) = helpdesk.get_text(&web_page).await;
    assert!(page.contains("cannot boot: no image"), "{page}");
    let asked = act(
        &helpdesk,
        &web_page,
        &format!("/staff/containers/{web}/boot"),
        &[("custom_distro", &id)],
    )
    .await;
    assert_eq!(asked.status(), 422);
    assert!(asked.text().await.unwrap().contains("Boot it even so"));
    let confirmed = act(
        &helpdesk,
        &web_page,
        &format!("/staff/containers/{web}/boot"),
        &[("custom_distro", &id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(confirmed.status(), 303);

    // storage off: a confirmation page first, then the customer's refusal (it stores a distro)
    let store_page = format!("/staff/containers/{store}/act");
    let ask = act(
        &helpdesk,
        &store_page,
        &format!("/staff/containers/{store}/storage"),
        &[("storage", "off")],
    )
    .await;
    assert_eq!(ask.status(), 200);
    let ask = ask.text().await.unwrap();
    assert!(
        ask.contains(&format!(r#"action="/staff/containers/{store}/storage""#)),
        "{ask}"
    );
    let refused = act(
        &helpdesk,
        &store_page,
        &format!("/staff/containers/{store}/storage"),
        &[("storage", "off"), ("confirmed", "1")],
    )
    .await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("empty"));
}

#[tokio::test]
async fn staff_edit_check_and_delete_a_customers_distro_with_a_confirmation() {
    let s = shop().await;
    let store = s.store.uid();
    let helpdesk = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;
    s.app
        .sql(&format!(
            "UPDATE containers SET custom_distros_storage = true, distro_id = NULL \
             WHERE id = {}",
            s.store.id
        ))
        .unwrap();
    let made = act(
        &helpdesk,
        &format!("/staff/containers/{store}/act"),
        &format!("/staff/containers/{store}/custom-distros/new"),
        &[("name", "tiny"), ("path", "bb")],
    )
    .await;
    let id = distro_of(&made);
    let page = format!("/staff/custom-distros/{id}");
    let saved = act(
        &helpdesk,
        &page,
        &format!("{page}/edit"),
        &[("name", "Tiny two"), ("path", "bb"), ("note", "by staff")],
    )
    .await;
    assert_eq!(location(&saved), format!("{page}?done=saved"));
    let bad = act(
        &helpdesk,
        &page,
        &format!("{page}/edit"),
        &[("name", "x"), ("path", "../etc"), ("note", "")],
    )
    .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains(r#"value="../etc""#));

    // an image from a URL of no scheme the rules take is refused with the reason
    let refused = act(
        &helpdesk,
        &page,
        &format!("{page}/image"),
        &[
            ("source", "url"),
            ("url", "ftp://example.com/a.tar"),
            ("sha256", ""),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);

    let ask = act(&helpdesk, &page, &format!("{page}/delete"), &[]).await;
    assert_eq!(ask.status(), 200);
    assert_eq!(s.app.count("custom_distros"), 2);
    let deleted = act(
        &helpdesk,
        &page,
        &format!("{page}/delete"),
        &[("confirmed", "1")],
    )
    .await;
    assert_eq!(
        location(&deleted),
        format!("/staff/containers/{store}/act?done=deleted")
    );
    assert_eq!(s.app.count("custom_distros"), 1);
    assert_eq!(
        scalar(
            &s.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND by_staff \
             AND action = 'custom distro deleted'"
        ),
        1
    );
}

/// Sends the form whose button `css` selects; the page it leads to, and its notice.
async fn submitted(browser: &crate::browser::Browser, css: &str) -> (url::Url, String) {
    let c = &browser.client;
    let from = c.current_url().await.unwrap();
    browser.click(css).await;
    for _ in 0..600 {
        let now = c.current_url().await.unwrap();
        if now != from && now.query().is_some_and(|q| q.contains("done=")) {
            let notice = c.find(Locator::Css("p.flash.ok")).await.unwrap();
            return (now, notice.text().await.unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{css} led nowhere from {from}");
}

#[tokio::test(flavor = "multi_thread")]
async fn in_chromium_a_support_member_finds_the_customer_turns_storage_on_installs_maps_and_restarts_for_her()
 {
    let s = shop().await;
    let (store, web) = (s.store.uid(), s.web.uid());
    let tarball = busybox_rootfs(Path::new(BUSYBOX), &[("web", web as u32)]).unwrap();
    let archive = s.app.var_dir.path().join("rootfs.tar.gz");
    std::fs::write(&archive, &tarball).unwrap();
    let browser = crate::browser::Browser::start().await;
    let c = &browser.client;
    browser
        .log_in(&s.app.url("/login"), "helpdesk", "staff-password")
        .await;
    // a fragment of her e-mail in the top bar lands on the customer, then on her container
    c.find(Locator::Css("form.staff-search input[name=q]"))
        .await
        .unwrap()
        .send_keys("alice@exa\u{E007}")
        .await
        .unwrap();
    c.wait()
        .for_url(
            &url::Url::parse(
                &s.app
                    .url(&format!("/staff/customers/{}", s.store.customer_id())),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    browser
        .click(&format!("a[href='/staff/containers/{store}']"))
        .await;
    browser
        .click(&format!("a[href='/staff/containers/{store}/act']"))
        .await;

    let (_, notice) = submitted(&browser, "#storage button[type=submit]").await;
    assert!(notice.contains("now stores custom distros"), "{notice}");
    drain(&s.app).await;
    browser.fill("name", "tiny").await;
    browser.fill("path", "bb").await;
    let (distro_page, notice) = submitted(&browser, "#new-distro button[type=submit]").await;
    assert!(notice.contains("was created"), "{notice}");
    assert!(distro_page.path().starts_with("/staff/custom-distros/"));
    let id: i64 = distro_page
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // the busybox image, uploaded from the distro's staff page
    c.find(Locator::Id("archive"))
        .await
        .unwrap()
        .send_keys(archive.to_str().unwrap())
        .await
        .unwrap();
    submitted(&browser, "form:has(#archive) button[type=submit]").await;
    drain(&s.app).await;
    c.goto(distro_page.as_str()).await.unwrap();
    c.wait()
        .for_element(Locator::XPath("//strong[@id='image-state'][.='ready']"))
        .await
        .unwrap();

    // her web container boots it, then restarts
    c.goto(&s.app.url(&format!("/staff/containers/{web}/act")))
        .await
        .unwrap();
    browser
        .click(&format!("#custom_distro option[value='{id}']"))
        .await;
    submitted(
        &browser,
        &format!("form[action='/staff/containers/{web}/boot'] button[type=submit]"),
    )
    .await;
    let (_, notice) = submitted(&browser, "#restart button[type=submit]").await;
    assert!(notice.contains("restart is queued"), "{notice}");
    drain(&s.app).await;
    browser.stop().await;
    assert!(vassal(&s.app, web).contains(&format!("distropanel/images/{store}/bb ")));

    let alice = Browser::customer(&s.app, "alice").await;
    let (_, page) = alice.get_text(&format!("/containers/{web}")).await;
    assert!(page.contains("done by staff member helpdesk for customer ACME"));
    let audited = |action: &str| {
        scalar(
            &s.app,
            &format!(
                "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND by_staff \
                 AND actor = 'helpdesk' AND action = '{action}'"
            ),
        )
    };
    let (operations, audits) = (
        scalar(
            &s.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'operation' AND by_staff",
        ),
        scalar(
            &s.app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND by_staff",
        ),
    );
    assert_eq!(
        operations, audits,
        "every line the customer reads has its audit twin"
    );
    assert!(
        audits >= 5,
        "storage, create, install, boot and restart: {audits}"
    );
    assert!(audited("restart") >= 1);
}
