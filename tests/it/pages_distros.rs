//! A customer keeps custom distros in the panel: lists them by storage container, creates,
//! edits and deletes them, and puts images into them, all with plain forms.

use std::path::{Path, PathBuf};

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use fantoccini::Locator;
use reqwest::Response;
use sha2::{Digest, Sha256};

use crate::api_client::{World, world};
use crate::helpers::spawn_app;
use crate::host_fixtures::{drain, installed_image};
use crate::images::{Member, archive};
use crate::personas::Browser;

fn busybox_image(w: &World) -> Vec<u8> {
    busybox_rootfs(Path::new(BUSYBOX), &[("web", w.web.uid() as u32)]).expect("busybox-static")
}

fn image_dir(w: &World, path: &str) -> PathBuf {
    installed_image(&w.app, w.images.uid(), path)
}

/// The id in a `/distros/<id>?done=...` redirect.
fn distro_of(response: &Response) -> i64 {
    let location = response.headers()["location"].to_str().unwrap();
    location
        .strip_prefix("/distros/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a distro's page: {location}"))
}

/// Sends the upload form as a browser does: `multipart/form-data`, the token its first field.
async fn upload_form(
    browser: &Browser,
    id: i64,
    file_name: &str,
    archive: &[u8],
    sha256: &str,
    token: Option<&str>,
) -> Response {
    upload_form_with(
        browser,
        id,
        (file_name, archive),
        &[("sha256", sha256)],
        token,
    )
    .await
}

/// The upload form with these text `fields` before the archive.
async fn upload_form_with(
    browser: &Browser,
    id: i64,
    (file_name, archive): (&str, &[u8]),
    fields: &[(&str, &str)],
    token: Option<&str>,
) -> Response {
    let boundary = "----distropanel-test-boundary-7d1f";
    let mut body = Vec::new();
    if let Some(token) = token {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"{file_name}\"\r\nContent-Type: application/gzip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(archive);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    browser
        .client
        .post(browser.url(&format!("/distros/{id}/image")))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn upload(browser: &Browser, id: i64, archive: &[u8]) -> Response {
    let token = browser.token_on(&format!("/distros/{id}")).await;
    upload_form(browser, id, "rootfs.tar.gz", archive, "", Some(&token)).await
}

/// Alice's distro "tiny" (path `bb`) with the busybox image uploaded from its page and installed.
async fn busybox_installed_from_the_page() -> (World, i64, Browser) {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    assert_eq!(upload(&alice, id, &busybox_image(&w)).await.status(), 303);
    drain(&w.app).await;
    (w, id, alice)
}

async fn page(browser: &Browser, path: &str) -> String {
    let (status, page) = browser.get_text(path).await;
    assert_eq!(status, 200, "{path}: {page}");
    page
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_lists_her_storage_containers_and_creates_a_distro_with_the_form() {
    let w = world().await;
    let alice = Browser::customer(&w.app, "alice").await;
    let listed = page(&alice, "/distros").await;
    assert!(listed.contains("images"), "{listed}");
    assert!(listed.contains("No custom distros here yet."));
    assert!(!listed.contains("bob-images"), "only her own containers");

    let storage = w.images.uid().to_string();
    let created = alice
        .post_form(
            "/distros",
            &[
                ("storage", &storage),
                ("name", "Tiny <busybox>"),
                ("path", "bb"),
                ("note", "for the web container"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let id = distro_of(&created);

    let shown = page(&alice, &format!("/distros/{id}?done=created")).await;
    assert!(shown.contains("The custom distro was created."));
    assert!(
        shown.contains("<h1>Tiny &#60;busybox&#62;</h1>"),
        "escaped: {shown}"
    );
    assert!(shown.contains("distros/bb"));
    let listed = page(&alice, "/distros").await;
    assert!(
        listed.contains(&format!("href=\"/distros/{id}\"")),
        "{listed}"
    );
    assert!(listed.contains("state-none"));
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM events WHERE action = 'custom distro created'"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_without_a_storage_container_is_told_how_to_get_one() {
    let app = spawn_app().await;
    app.customer("carol");
    app.server("s1");
    let bookworm = app.distro("bookworm");
    app.container("carol", "s1", "site", Some(&bookworm));
    let carol = Browser::customer(&app, "carol").await;
    let shown = page(&carol, "/distros").await;
    assert!(
        shown.contains("You have no storage container yet"),
        "{shown}"
    );
    assert!(shown.contains("/containers/&lt;uid&gt;"), "{shown}");
    assert!(!shown.contains("Create distro"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_path_or_a_path_change_under_a_booting_container_is_refused_and_nothing_changes()
 {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    w.map("alice", &w.web, id).await;
    let alice = Browser::customer(&w.app, "alice").await;
    let before = w.app.snapshot();

    let storage = w.images.uid().to_string();
    let duplicate = alice
        .post_form(
            "/distros",
            &[("storage", &storage), ("name", "other"), ("path", "bb")],
        )
        .await;
    assert_eq!(duplicate.status(), 409);
    let shown = duplicate.text().await.unwrap();
    assert!(
        shown.contains("already holds a custom distro with this path"),
        "{shown}"
    );
    assert!(
        shown.contains("value=\"other\""),
        "the form keeps what was typed"
    );

    let renamed = alice
        .post_form(
            &format!("/distros/{id}"),
            &[("name", "tiny"), ("path", "moved"), ("note", "")],
        )
        .await;
    assert_eq!(renamed.status(), 409);
    let shown = renamed.text().await.unwrap();
    assert!(shown.contains("web"), "names the container: {shown}");

    let bad_name = alice
        .post_form(
            &format!("/distros/{id}"),
            &[("name", ""), ("path", "bb"), ("note", "")],
        )
        .await;
    assert_eq!(bad_name.status(), 422);

    let rollback = alice
        .post_form(&format!("/distros/{id}/rollback"), &[("confirmed", "1")])
        .await;
    assert_eq!(rollback.status(), 409);
    assert!(
        rollback
            .text()
            .await
            .unwrap()
            .contains("no earlier image to roll back to")
    );

    let unpack = alice
        .post_form(
            &format!("/distros/{id}/unpack"),
            &[("file", "../etc/shadow"), ("sha256", "")],
        )
        .await;
    assert_eq!(unpack.status(), 422);

    assert_eq!(w.app.snapshot(), before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uploaded_image_is_unpacked_by_the_host_and_its_page_shows_it_ready_with_the_check() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    w.map("alice", &w.web, id).await;
    let alice = Browser::customer(&w.app, "alice").await;
    let tarball = busybox_image(&w);

    let token = alice.token_on(&format!("/distros/{id}")).await;
    let uploaded = upload_form(
        &alice,
        id,
        "rootfs.tar.gz",
        &tarball,
        &sha256(&tarball),
        Some(&token),
    )
    .await;
    assert_eq!(uploaded.status(), 303);
    let location = uploaded.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("/distros/{id}?done=uploaded&job=")),
        "{location}"
    );
    let waiting = page(&alice, &format!("/distros/{id}")).await;
    assert!(waiting.contains("state-unpacking"), "{waiting}");
    assert!(
        waiting.contains("hx-trigger=\"every 1s\""),
        "pending: it polls"
    );
    assert!(waiting.contains("unpack image"));
    assert!(
        waiting.contains("Unpacking: waiting for the host"),
        "the latest install sits next to the image state: {waiting}"
    );

    drain(&w.app).await;
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(shown.contains("state-ready"), "{shown}");
    assert!(
        !shown.contains("hx-trigger"),
        "idle: it stops polling: {shown}"
    );
    assert!(shown.contains("is present"), "the check report: {shown}");
    assert!(shown.contains(&sha256(&tarball)));
    assert!(shown.contains("MiB"));
    let listed = page(&alice, "/distros").await;
    assert!(listed.contains("state-ready"));
    assert!(listed.contains("<td>web</td>"), "booted by web: {listed}");
    assert_eq!(w.app.count("image_uploads"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_with_another_digest_or_no_file_is_refused_and_leaves_nothing() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    let token = alice.token_on(&format!("/distros/{id}")).await;
    let before = w.app.snapshot();

    let wrong = upload_form(
        &alice,
        id,
        "rootfs.tar.gz",
        b"\x1f\x8b not the archive",
        &"ab".repeat(32),
        Some(&token),
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("not abab"));

    let malformed = upload_form(&alice, id, "rootfs.tar", b"data", "xyz", Some(&token)).await;
    assert_eq!(malformed.status(), 422);

    let no_file = upload_form(&alice, id, "", b"", "", Some(&token)).await;
    assert_eq!(no_file.status(), 422);
    assert!(
        no_file
            .text()
            .await
            .unwrap()
            .contains("choose an archive file")
    );

    assert_eq!(w.app.snapshot(), before, "nothing changed");
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_file_named_like_an_archive_is_refused_at_once_with_415_and_leaves_nothing() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    let token = alice.token_on(&format!("/distros/{id}")).await;
    let before = w.app.snapshot();
    let text = "these are my notes, not a root filesystem\n".repeat(2000);

    let refused = upload_form(
        &alice,
        id,
        "rootfs.tar.gz",
        text.as_bytes(),
        "",
        Some(&token),
    )
    .await;
    assert_eq!(refused.status(), 415);
    let shown = refused.text().await.unwrap();
    assert!(shown.contains("not an image archive"), "{shown}");
    assert!(shown.contains("xz, zstd or bzip2"), "{shown}");

    assert_eq!(w.app.snapshot(), before, "nothing changed");
    assert_eq!(w.app.count("image_uploads"), 0);
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_without_its_csrf_field_stores_no_chunk_even_with_the_token_in_the_address() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    let token = alice.token_on(&format!("/distros/{id}")).await;
    let page = page(&alice, &format!("/distros/{id}")).await;
    assert!(
        !page.contains("?csrf_token="),
        "the token is never put in an address"
    );
    let tarball = busybox_image(&w);
    let boundary = "b-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"r.tar.gz\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&tarball);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    let refused = alice
        .client
        .post(alice.url(&format!("/distros/{id}/image?csrf_token={token}")))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(w.app.count("image_uploads"), 0);
    assert_eq!(w.app.count("image_upload_chunks"), 0);

    let sent = upload_form(&alice, id, "r.tar.gz", &tarball, "", Some(&token)).await;
    assert_eq!(
        sent.status(),
        303,
        "the same archive with its token first is taken"
    );
    assert_eq!(w.app.count("image_uploads"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_archive_fails_on_the_page_and_the_previous_image_stays() {
    let (w, id, alice) = busybox_installed_from_the_page().await;

    let hostile = archive(&[
        Member::Dir("etc"),
        Member::File("etc/motd", b"hello", 0o644),
        Member::File("../../escaped", b"out", 0o644),
    ]);
    assert_eq!(upload(&alice, id, &hostile).await.status(), 303);
    drain(&w.app).await;

    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(shown.contains("class=\"job-failed\""), "{shown}");
    assert!(shown.contains("class=\"job-error\""), "{shown}");
    assert!(shown.contains("refused"), "{shown}");
    assert!(shown.contains("state-ready"), "the image stays: {shown}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
    assert!(!image_dir(&w, "bb").join("etc/motd").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_distro_page_says_why_the_last_install_was_refused_and_its_force_box_installs_it() {
    let (w, id, alice) = busybox_installed_from_the_page().await;
    let broken = archive(&[
        Member::Dir("etc"),
        Member::File("etc/hostname", b"broken\n", 0o644),
    ]);

    assert_eq!(upload(&alice, id, &broken).await.status(), 303);
    drain(&w.app).await;
    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(
        shown.contains("The last install failed:")
            && shown.contains("the image check found errors, so the installed image was kept"),
        "{shown}"
    );
    assert!(shown.contains("state-ready"), "the image stays: {shown}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());

    let token = alice.token_on(&format!("/distros/{id}")).await;
    let forced = upload_form_with(
        &alice,
        id,
        ("broken.tar", &broken),
        &[("csrf_token", &token), ("force", "1")],
        Some(&token),
    )
    .await;
    assert_eq!(forced.status(), 303);
    drain(&w.app).await;
    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(shown.contains("state-broken"), "{shown}");
    assert!(shown.contains("installed with force"), "{shown}");
    assert!(image_dir(&w, "bb").join("etc/hostname").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_install_is_cancelled_from_its_page_without_javascript() {
    let (w, id, alice) = busybox_installed_from_the_page().await;
    let unpack = alice
        .post_form(
            &format!("/distros/{id}/unpack"),
            &[("file", "images/other.tar.gz")],
        )
        .await;
    assert_eq!(unpack.status(), 303);
    let waiting = page(&alice, &format!("/distros/{id}")).await;
    let action = waiting
        .split("action=\"")
        .map(|rest| rest.split('"').next().unwrap())
        .find(|action| action.ends_with("/cancel"))
        .unwrap_or_else(|| panic!("a cancel button: {waiting}"))
        .to_owned();

    let cancelled = alice.post_form(&action, &[]).await;
    assert_eq!(cancelled.status(), 303);
    assert_eq!(
        cancelled.headers()["location"],
        format!("/distros/{id}?done=cancelled#image").as_str()
    );
    drain(&w.app).await;
    let shown = page(&alice, &format!("/distros/{id}?done=cancelled")).await;
    assert!(shown.contains("The install was cancelled"), "{shown}");
    assert!(shown.contains("state-ready"), "{shown}");
    assert!(
        !shown.contains("/cancel\""),
        "nothing left to cancel: {shown}"
    );
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_with_purge_removes_the_distro_and_its_image_files() {
    let (w, id, alice) = busybox_installed_from_the_page().await;
    assert!(image_dir(&w, "bb").is_dir());

    let deleted = alice
        .post_form(
            &format!("/distros/{id}/delete"),
            &[("purge", "1"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(deleted.headers()["location"], "/distros?done=purged");
    drain(&w.app).await;
    assert_eq!(w.app.count("custom_distros"), 0);
    assert!(!image_dir(&w, "bb").exists(), "the image files are gone");
    let listed = page(&alice, "/distros?done=purged").await;
    assert!(listed.contains("image files are being removed"));
    let (status, _) = alice.get_text(&format!("/distros/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn bobs_distro_and_nonsense_ids_are_a_404_page_like_a_missing_one() {
    let w = world().await;
    let bobs = w.custom_distro("bob", &w.bob_images, "bobs", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    for path in [
        format!("/distros/{bobs}"),
        "/distros/99999".into(),
        "/distros/nonsense".into(),
        "/distros/-1".into(),
    ] {
        let (status, _) = alice.get_text(&path).await;
        assert_eq!(status, 404, "{path}");
    }
    let stranger = Browser::new(&w.app).get(&format!("/distros/{bobs}")).await;
    assert_eq!(stranger.status(), 303, "a visitor is asked to log in");
    assert_eq!(stranger.headers()["location"], "/login");
    let before = w.app.snapshot();
    let edited = alice
        .post_form(
            &format!("/distros/{bobs}"),
            &[("name", "mine"), ("path", "mine"), ("note", "")],
        )
        .await;
    assert_eq!(edited.status(), 404);
    let deleted = alice
        .post_form(
            &format!("/distros/{bobs}/delete"),
            &[("purge", "1"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(deleted.status(), 404);
    let token = alice.token_on("/distros").await;
    let uploaded = upload_form(&alice, bobs, "x.tar", b"data", "", Some(&token)).await;
    assert_eq!(uploaded.status(), 404);
    let into_bobs_storage = alice
        .post_form(
            "/distros",
            &[
                ("storage", &w.bob_images.uid().to_string()),
                ("name", "x"),
                ("path", "x"),
            ],
        )
        .await;
    assert_eq!(into_bobs_storage.status(), 422);
    assert_eq!(w.app.snapshot(), before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_without_the_csrf_token_is_refused() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    let before = w.app.snapshot();
    let storage = w.images.uid().to_string();
    let created = alice
        .post_raw(
            "/distros",
            &[("storage", &storage), ("name", "x"), ("path", "x")],
        )
        .await;
    assert_eq!(created.status(), 403);
    let deleted = alice
        .post_raw(
            &format!("/distros/{id}/delete"),
            &[("purge", "1"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(deleted.status(), 403);
    let uploaded = upload_form(&alice, id, "x.tar", b"data", "", None).await;
    assert_eq!(uploaded.status(), 403);
    let forged = upload_form(&alice, id, "x.tar", b"data", "", Some("forged")).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(w.app.snapshot(), before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_creates_a_distro_and_uploads_an_image_in_a_real_browser() {
    let w = world().await;
    let archive_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(archive_file.path(), busybox_image(&w)).unwrap();
    let browser = crate::browser::Browser::start().await;
    let c = &browser.client;

    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    browser.follow("Custom distros").await;

    c.wait().for_element(Locator::Id("name")).await.unwrap();
    browser.fill("name", "tiny").await;
    browser.fill("path", "bb").await;
    browser.click("#new-distro button[type=submit]").await;
    let notice = c
        .wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    assert!(notice.text().await.unwrap().contains("was created"));

    browser
        .fill("archive", &archive_file.path().display().to_string())
        .await;
    browser.click("#upload button[type=submit]").await;
    // the progress bar reaches 100 %, then the image block shows the unpacking
    let sent = c
        .wait()
        .for_element(Locator::XPath(
            "//*[@id='upload-sent'][contains(., '(100 %)')]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sent.contains(" sent (100 %)"), "{sent}");
    let bar = c.find(Locator::Id("upload-progress")).await.unwrap();
    assert_eq!(bar.attr("value").await.unwrap().as_deref(), Some("100"));
    let unpacking = c
        .wait()
        .for_element(Locator::Css("#image #install-progress"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(unpacking.starts_with("Unpacking"), "{unpacking}");
    let submit = c
        .find(Locator::Css("#upload button[type=submit]"))
        .await
        .unwrap();
    assert!(
        submit.is_enabled().await.unwrap(),
        "enabled again once sent"
    );

    // the image block follows the job without a reload
    drain(&w.app).await;
    c.wait()
        .at_most(std::time::Duration::from_secs(20))
        .for_element(Locator::Css("#image .state-ready"))
        .await
        .unwrap();
    let report = c
        .find(Locator::Css("#check-report"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report.contains("/.old_root is present"), "{report}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_over_the_size_limit_is_refused_with_the_limit_and_leaves_nothing() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    let token = alice.token_on(&format!("/distros/{id}")).await;
    let before = w.app.snapshot();
    let too_big = vec![0u8; (8 << 20) + (128 << 10)];
    let refused = upload_form(&alice, id, "huge.tar", &too_big, "", Some(&token)).await;
    assert_eq!(refused.status(), 413);
    let shown = refused.text().await.unwrap();
    assert!(shown.contains("8 MiB"), "{shown}");
    assert_eq!(w.app.snapshot(), before, "nothing changed");
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_renames_a_distro_checks_it_again_and_rolls_back_to_the_earlier_image() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;

    let saved = alice
        .post_form(
            &format!("/distros/{id}"),
            &[("name", "busybox"), ("path", "bb"), ("note", "small")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let shown = page(&alice, &format!("/distros/{id}?done=saved")).await;
    assert!(shown.contains("<h1>busybox</h1>"), "{shown}");
    assert!(shown.contains("The changes were saved."));

    let first = busybox_image(&w);
    let second = busybox_rootfs(
        Path::new(BUSYBOX),
        &[("web", w.web.uid() as u32), ("bare", w.bare.uid() as u32)],
    )
    .expect("busybox-static");
    assert_ne!(sha256(&first), sha256(&second));
    assert_eq!(upload(&alice, id, &first).await.status(), 303);
    drain(&w.app).await;
    assert_eq!(upload(&alice, id, &second).await.status(), 303);
    drain(&w.app).await;
    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(shown.contains(&sha256(&second)));
    assert!(shown.contains("Roll back to the previous image"));

    let rolled = alice
        .post_form(&format!("/distros/{id}/rollback"), &[("confirmed", "1")])
        .await;
    assert_eq!(rolled.status(), 303);
    drain(&w.app).await;
    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(shown.contains(&sha256(&first)), "{shown}");
    assert!(shown.contains("rollback image"));

    let checked = alice.post_form(&format!("/distros/{id}/check"), &[]).await;
    assert_eq!(checked.status(), 303);
    assert_eq!(
        checked.headers()["location"],
        format!("/distros/{id}?done=check").as_str()
    );
    drain(&w.app).await;
    let shown = page(&alice, &format!("/distros/{id}")).await;
    assert!(shown.contains("check image"), "{shown}");
    assert!(shown.contains("state-ready"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_that_is_no_number_shows_the_404_page_like_a_missing_one() {
    let w = world().await;
    let alice = Browser::customer(&w.app, "alice").await;
    for path in [
        "/distros/abc",
        "/distros/1.5",
        "/distros/99999999999999999999",
        "/containers/abc",
        "/containers/-1",
    ] {
        let (status, shown) = alice.get_text(path).await;
        assert_eq!(status, 404, "{path}: {shown}");
        assert!(shown.contains(">alice</a>"), "inside her layout: {shown}");
    }
    let token = alice.token_on("/distros").await;
    let refused = alice
        .client
        .post(alice.url("/distros/abc/check"))
        .header("X-CSRF-Token", token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn htmx_polling_a_distro_gets_its_image_block_and_a_browser_the_whole_page() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = Browser::customer(&w.app, "alice").await;
    let polled = alice
        .client
        .get(alice.url(&format!("/distros/{id}")))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(polled.status(), 200);
    assert_eq!(polled.headers()["vary"], "HX-Request");
    let block = polled.text().await.unwrap();
    assert!(
        block
            .trim_start()
            .starts_with("<section class=\"card\" id=\"image\""),
        "{block}"
    );
    assert!(
        !block.contains("<html") && !block.contains("id=\"upload\""),
        "{block}"
    );
    assert!(
        block.contains("id=\"jobs\" aria-live=\"polite\" hx-swap-oob=\"true\""),
        "the job rows come along, out of band: {block}"
    );
    let whole = page(&alice, &format!("/distros/{id}")).await;
    assert!(
        whole.contains("<html")
            && whole.contains("id=\"image\"")
            && whole.contains("id=\"upload\"")
    );
}
