//! The customer panel in a real browser, story by story: images of every format put in from the
//! distro page, a junk file turned away at once, an upload cancelled in flight, the choice of
//! what a container boots, the alarms page and the settings.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use fantoccini::Locator;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api_client::{World, world};
use crate::browser::Browser;
use crate::host_fixtures::{drain, installed_image};
use crate::pages_dashboard::wait_for_text;
use crate::pages_looks::cdp;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The busybox image for `web`, as a plain tar.
fn busybox_tar(w: &World) -> Vec<u8> {
    let gzipped =
        busybox_rootfs(Path::new(BUSYBOX), &[("web", w.web.uid() as u32)]).expect("busybox-static");
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut tar)
        .unwrap();
    tar
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A file named `name` holding `bytes`, for the browser's file field.
fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// Waits until `holds` (a question about the database, say) is true, for at most 30 s.
async fn until(what: &str, mut holds: impl FnMut() -> bool) {
    let started = Instant::now();
    while !holds() {
        assert!(started.elapsed() < Duration::from_secs(30), "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A browser logged in as alice.
async fn alice_in_a_browser(w: &World) -> Browser {
    let browser = Browser::start().await;
    browser
        .log_in(&w.app.url("/login"), "alice", "alice-password")
        .await;
    browser
}

/// Picks `path` in the upload form's file field (instead of whatever it held) and sends the
/// form.
async fn upload_in_the_browser(browser: &Browser, path: &str) {
    let field = browser.client.find(Locator::Id("archive")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(path).await.unwrap();
    let picked = browser
        .client
        .execute(
            "return Array.from(document.getElementById('archive').files, f => f.name)",
            vec![],
        )
        .await
        .unwrap();
    let name = Path::new(path).file_name().unwrap().to_str().unwrap();
    assert_eq!(picked, json!([name]));
    browser.click("#upload button[type=submit]").await;
}

fn installed_digest(w: &World, id: i64) -> String {
    w.app.scalar(&format!(
        "SELECT coalesce(image_sha256, '') FROM custom_distros WHERE id = {id}"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_xz_and_a_zstd_image_install_from_the_distro_page_and_a_junk_file_is_refused_at_once() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let tar = busybox_tar(&w);
    let files = tempfile::tempdir().unwrap();
    let xz_image = xz(&tar);
    let zstd_image = zstd::encode_all(&tar[..], 3).unwrap();
    let junk = "my notes, not a root filesystem\n".repeat(32 * 1024);
    let browser = alice_in_a_browser(&w).await;
    let c = &browser.client;
    c.goto(&w.app.url(&format!("/distros/{id}"))).await.unwrap();

    // a text file named like an archive: refused while it is sent, the reason on the page
    upload_in_the_browser(&browser, &file(&files, "rootfs.tar.gz", junk.as_bytes())).await;
    let refused = wait_for_text(&browser, "#upload-message", "not an image archive").await;
    assert!(refused.contains("xz, zstd or bzip2"), "{refused}");
    let submit = c
        .find(Locator::Css("#upload button[type=submit]"))
        .await
        .unwrap();
    assert!(submit.is_enabled().await.unwrap(), "it may be sent again");
    assert_eq!(w.app.count("image_uploads"), 0);
    assert_eq!(w.app.count("image_upload_chunks"), 0);
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM jobs WHERE kind = 'unpack_image'"),
        "0",
        "no job"
    );

    // an xz image (as linuxcontainers.org has them), then a zstd one
    for (name, image, format) in [
        ("rootfs.tar.xz", &xz_image, "xz"),
        ("rootfs.tar.zst", &zstd_image, "zstd"),
    ] {
        upload_in_the_browser(&browser, &file(&files, name, image)).await;
        wait_for_text(&browser, "#upload-sent", "(100 %)").await;
        // the server took it: the host unpacks it next
        wait_for_text(&browser, "#upload-message", "Unpacking").await;
        drain(&w.app).await;
        let digest = sha256(image);
        // the image block follows the job without a reload
        wait_for_text(&browser, "#image", &digest).await;
        wait_for_text(&browser, "#image .image-state", "ready").await;
        assert_eq!(installed_digest(&w, id), digest, "{name}");
        let report = w.app.scalar(
            "SELECT report::text FROM jobs WHERE kind = 'unpack_image' ORDER BY id DESC LIMIT 1",
        );
        assert!(
            report.contains(&format!("the archive ({format}): ")),
            "{name}: {report}"
        );
        assert!(
            installed_image(&w.app, w.images.uid(), "bb")
                .join("bin/busybox")
                .is_file()
        );
    }
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_cancelled_in_flight_stores_nothing_and_the_previous_image_stays() {
    let w = crate::api_images::world_taking_several_chunk_rows().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let tar = busybox_tar(&w);
    let installed = w
        .app
        .api("alice")
        .send(
            w.app
                .api("alice")
                .request(
                    reqwest::Method::PUT,
                    &format!("/api/custom_distro/{id}/image"),
                )
                .body(tar.clone()),
        )
        .await;
    assert_eq!(installed.status, 202, "{installed:?}");
    drain(&w.app).await;
    let digest = installed_digest(&w, id);
    assert_eq!(digest, sha256(&tar));
    let jobs_before = w.app.count("jobs");

    // a 32 MiB archive (two 16 MiB chunk rows) over a line that takes 4 MiB a second: the
    // first row is stored after about 4 s, and there are 4 s left to press Cancel
    let mut big = xz(&tar);
    big.resize(32 << 20, 0x5a);
    let files = tempfile::tempdir().unwrap();
    let path = file(&files, "big.tar.xz", &big);
    let browser = alice_in_a_browser(&w).await;
    let c = &browser.client;
    c.goto(&w.app.url(&format!("/distros/{id}"))).await.unwrap();
    cdp(c, "Network.enable", json!({})).await;
    cdp(
        c,
        "Network.emulateNetworkConditions",
        json!({
            "offline": false, "latency": 0,
            "downloadThroughput": -1, "uploadThroughput": 4 << 20
        }),
    )
    .await;

    let cancel = c.find(Locator::Id("upload-cancel")).await.unwrap();
    assert!(
        !cancel.is_displayed().await.unwrap(),
        "nothing to cancel yet"
    );
    upload_in_the_browser(&browser, &path).await;
    c.wait()
        .for_element(Locator::Css("#upload-cancel:not([hidden])"))
        .await
        .unwrap();
    assert!(cancel.is_displayed().await.unwrap());
    let submit = c
        .find(Locator::Css("#upload button[type=submit]"))
        .await
        .unwrap();
    assert!(!submit.is_enabled().await.unwrap(), "no second submit");
    until("the host stores the first chunk", || {
        w.app.count("image_upload_chunks") > 0
    })
    .await;
    let sent = c
        .find(Locator::Id("upload-sent"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!sent.contains("(100 %)"), "still sending: {sent}");
    cancel.click().await.unwrap();

    wait_for_text(
        &browser,
        "#upload-message",
        "The upload was cancelled; nothing was installed.",
    )
    .await;
    assert!(submit.is_enabled().await.unwrap(), "it may be sent again");
    assert!(
        !cancel.is_displayed().await.unwrap(),
        "nothing left to cancel"
    );
    until("the partial upload is dropped", || {
        w.app.count("image_uploads") == 0 && w.app.count("image_upload_chunks") == 0
    })
    .await;
    assert_eq!(w.app.count("jobs"), jobs_before, "no install was queued");
    assert_eq!(installed_digest(&w, id), digest, "the image stays");

    // the same form sends the next archive, on a line at full speed again
    cdp(
        c,
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
    )
    .await;
    upload_in_the_browser(&browser, &file(&files, "again.tar.xz", &xz(&tar))).await;
    wait_for_text(&browser, "#upload-message", "Unpacking").await;
    assert_eq!(w.app.count("image_uploads"), 1, "this one is kept");
    drain(&w.app).await;
    assert_eq!(installed_digest(&w, id), sha256(&xz(&tar)));
    c.refresh().await.unwrap();
    wait_for_text(&browser, "#image .image-state", "ready").await;
    assert!(
        installed_image(&w.app, w.images.uid(), "bb")
            .join("bin/busybox")
            .is_file()
    );
    browser.stop().await;
}

/// The text of the element `css` selects, once it is there.
async fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Picks the option labelled `label` in the select with id `id`.
async fn choose(browser: &Browser, id: &str, label: &str) {
    browser
        .client
        .wait()
        .for_element(Locator::Id(id))
        .await
        .unwrap()
        .select_by_label(label)
        .await
        .unwrap_or_else(|e| panic!("{id}: no option {label:?}: {e}"));
}

fn boots(w: &World, container: i64) -> String {
    w.app.scalar(&format!(
        "SELECT coalesce(custom_distro_id::text, 'default') FROM containers WHERE id = {container}"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_boot_choice_shows_storage_image_and_last_check_and_an_unbootable_distro_needs_the_box()
{
    let w = world().await;
    let alpine = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    let debian = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    w.app
        .sql(&format!(
            "UPDATE custom_distros SET image_state = 'ready', image_bytes = 1048576, \
             image_sha256 = repeat('a', 64), checked_at = '2026-11-02 10:30:00+00' \
             WHERE id = {debian}"
        ))
        .unwrap();
    let restarts = || {
        w.app
            .scalar("SELECT count(*) FROM jobs WHERE kind = 'restart'")
    };
    let browser = alice_in_a_browser(&w).await;
    let c = &browser.client;
    browser.follow("Containers").await;
    browser.follow("web").await;

    // each choice says where it is stored, its image and when it was last checked
    let storage = format!("images ({})", w.images.uid());
    let unbootable = text_of(&browser, &format!("#choice-{alpine}")).await;
    assert!(
        unbootable.contains(&storage)
            && unbootable.contains("no image · cannot boot")
            && unbootable.contains("never"),
        "{unbootable}"
    );
    let marked = c
        .find(Locator::Css(&format!("#choice-{alpine}")))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap();
    assert_eq!(marked.as_deref(), Some("cannot-boot"));
    let ready = text_of(&browser, &format!("#choice-{debian}")).await;
    assert!(
        ready.contains(&storage)
            && ready.contains("image ready")
            && !ready.contains("cannot boot")
            && ready.contains("2026-11-02 10:30 UTC"),
        "{ready}"
    );

    // a distro that cannot boot, without the box ticked: the reason, in place, and no change
    choose(
        &browser,
        "custom_distro",
        "custom distro: Alpine edge (cannot boot: no image)",
    )
    .await;
    browser.click("#boot button[type=submit]").await;
    let refusal = text_of(&browser, "#problem").await;
    assert!(
        refusal.contains("“Alpine edge” cannot boot now (no image)")
            && refusal.contains("Tick “Boot it even so”"),
        "{refusal}"
    );
    assert_eq!(boots(&w, w.web.id), "default");
    assert_eq!(restarts(), "0");

    // a ready one needs no box
    choose(&browser, "custom_distro", "custom distro: Debian").await;
    browser.click("#boot button[type=submit]").await;
    wait_for_text(&browser, ".flash.ok", "a restart is queued").await;
    assert_eq!(boots(&w, w.web.id), debian.to_string());

    // the one that cannot boot, with the box ticked
    choose(
        &browser,
        "custom_distro",
        "custom distro: Alpine edge (cannot boot: no image)",
    )
    .await;
    browser.click("#boot input[name=confirm]").await;
    browser.click("#boot button[type=submit]").await;
    until("the container boots Alpine", || {
        boots(&w, w.web.id) == alpine.to_string()
    })
    .await;
    wait_for_text(&browser, "#jobs", "queued").await;
    assert_eq!(
        restarts(),
        "1",
        "the queued restart boots what was chosen last"
    );
    browser.stop().await;
}

fn alarm(w: &World, container: i64, level: i16, class: &str, colour: &str, msg: &str) {
    w.app
        .sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, unix, level, color, class, msg) \
             VALUES ({container}, {}, now(), {level}, '{colour}', '{class}', '{msg}')",
            w.web.customer_id()
        ))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_filters_pages_through_and_deletes_alarms_with_badges_and_swatches_in_the_browser()
 {
    let w = world().await;
    for n in 0..30 {
        alarm(
            &w,
            w.web.id,
            1,
            "disk",
            "#ffcc00",
            &format!("disk alarm {n}"),
        );
    }
    alarm(&w, w.images.id, 3, "trace", "#0000ff", "a traceback");
    let browser = alice_in_a_browser(&w).await;
    let c = &browser.client;
    browser.follow("Alarms").await;
    wait_for_text(&browser, "#alarm-count", "Showing 1 to 25 of 31.").await;

    // the level as a badge in the theme's colours, the alarm's own colour as a swatch beside it
    let looks = c
        .execute(
            "const row = Array.from(document.querySelectorAll('#alarms tbody tr'))
               .find(r => r.textContent.includes('disk alarm'));
             const badge = row.querySelector('.badge'), rect = row.querySelector('svg.swatch rect');
             const s = getComputedStyle(badge);
             return [badge.textContent, rect.getAttribute('fill'), s.color, s.backgroundColor];",
            vec![],
        )
        .await
        .unwrap();
    let looks: Vec<String> = serde_json::from_value(looks).unwrap();
    assert_eq!(looks[0], "user", "{looks:?}");
    assert_eq!(looks[1], "#ffcc00", "{looks:?}");
    assert!(
        looks[2] != "rgb(255, 204, 0)" && looks[3] != "rgb(255, 204, 0)",
        "the badge's contrast owes nothing to the alarm's colour: {looks:?}"
    );

    // paging
    browser.click("a[rel=next]").await;
    wait_for_text(&browser, "#alarm-count", "Showing 26 to 31 of 31.").await;
    browser.click("a[rel=prev]").await;
    wait_for_text(&browser, "#alarm-count", "Showing 1 to 25 of 31.").await;

    // the filters: container, then level, then class and range
    let images = format!("images ({})", w.images.uid());
    choose(&browser, "f-container", &images).await;
    browser.click("#alarm-filters button[type=submit]").await;
    wait_for_text(&browser, "#alarm-count", "Showing 1 to 1 of 1.").await;
    assert!(
        text_of(&browser, "#alarms tbody")
            .await
            .contains("a traceback")
    );
    choose(&browser, "f-container", "any").await;
    choose(&browser, "f-level", "3 · traceback").await;
    browser.click("#alarm-filters button[type=submit]").await;
    wait_for_text(&browser, "#alarm-count", "Showing 1 to 1 of 1.").await;
    choose(&browser, "f-level", "any").await;
    browser.fill("f-class", "disk").await;
    browser.fill("f-range", "5").await;
    browser.click("#alarm-filters button[type=submit]").await;
    wait_for_text(&browser, "#alarm-count", "Showing 1 to 5 of 30.").await;
    let rows = c
        .find_all(Locator::Css("#alarms tbody tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(rows, 5);

    // delete one: the page comes back with the same filter
    let first = text_of(&browser, "#alarms tbody tr .alarm-msg").await;
    browser.click("#alarms tbody tr button.danger").await;
    wait_for_text(&browser, "#alarm-count", "Showing 1 to 5 of 29.").await;
    let url = c.current_url().await.unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query.get("class").map(String::as_str),
        Some("disk"),
        "{url}"
    );
    assert_eq!(
        query.get("done").map(String::as_str),
        Some("deleted"),
        "{url}"
    );
    assert_eq!(w.app.count("alarms"), 30);
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT count(*) FROM alarms WHERE msg = '{first}'"
        )),
        "0"
    );
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_edits_her_details_ends_her_other_sessions_and_copies_a_new_token_in_the_browser()
 {
    let app = crate::helpers::spawn_app().await;
    app.customer("alice");
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let laptop = crate::personas::Browser::identified_as(&app.address, firefox);
    assert_eq!(laptop.login("alice", "alice-password").await.status(), 303);
    let browser = Browser::start().await;
    let c = &browser.client;
    browser
        .log_in(&app.url("/login"), "alice", "alice-password")
        .await;
    // the user's name in the top bar leads to the settings
    browser.click(".topbar a[href='/settings']").await;
    c.wait().for_element(Locator::Id("account")).await.unwrap();

    // company and VAT change freely; the e-mail only with the current password
    let field = |id: &'static str| async move {
        let input = c.find(Locator::Id(id)).await.unwrap();
        input.clear().await.unwrap();
        input
    };
    field("company").await.send_keys("ACME Srl").await.unwrap();
    field("vat").await.send_keys("IT01234567890").await.unwrap();
    field("email")
        .await
        .send_keys("alice@acme.example")
        .await
        .unwrap();
    browser.click("#account button[type=submit]").await;
    let refusal = text_of(&browser, "#account .flash.error").await;
    assert!(
        refusal.contains("Type your current password to change the e-mail address."),
        "{refusal}"
    );
    assert_eq!(
        app.scalar("SELECT email FROM users WHERE username = 'alice'"),
        "alice@example.com"
    );
    field("company").await.send_keys("ACME Srl").await.unwrap();
    field("vat").await.send_keys("IT01234567890").await.unwrap();
    field("email")
        .await
        .send_keys("alice@acme.example")
        .await
        .unwrap();
    browser.fill("profile_password", "alice-password").await;
    browser.click("#account button[type=submit]").await;
    wait_for_text(&browser, ".flash.ok", "Your details were saved.").await;
    assert_eq!(
        app.scalar(
            "SELECT u.email || ' ' || c.company || ' ' || c.vat FROM users u \
             JOIN customers c ON c.id = u.customer_id WHERE u.username = 'alice'"
        ),
        "alice@acme.example ACME Srl IT01234567890"
    );

    // the other session, named as people name browsers, is ended after a question
    let sessions = text_of(&browser, "#sessions table").await;
    assert!(
        sessions.contains("Firefox on Linux") && sessions.contains("Chrome on Linux"),
        "{sessions}"
    );
    browser
        .click("#sessions form[action$=end-others] button")
        .await;
    let question = text_of(&browser, "#confirm-dialog-question").await;
    assert!(
        question.starts_with("End your other session?"),
        "{question}"
    );
    assert_eq!(app.count("sessions"), 2, "asking ends nothing");
    browser.click("#confirm-dialog-yes").await;
    until("the other session ends", || app.count("sessions") == 1).await;
    assert_eq!(laptop.get("/settings").await.status(), 303, "logged out");
    c.wait()
        .for_element(Locator::Css("#sessions"))
        .await
        .unwrap();
    assert!(
        c.find(Locator::Css("#sessions form[action$=end-others]"))
            .await
            .is_err(),
        "no other session left"
    );

    // a new token, copied with its button
    let origin = app.url("");
    cdp(
        c,
        "Browser.grantPermissions",
        json!({ "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
    )
    .await;
    browser.fill("token_name", "laptop").await;
    browser.click("#tokens > form button[type=submit]").await;
    let secret = text_of(&browser, "#new-token-secret").await;
    browser.click("button[data-copy=new-token-secret]").await;
    wait_for_text(&browser, "button[data-copy=new-token-secret]", "Copied").await;
    let copied = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, e => done('refused: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(copied, json!(secret.trim()));
    browser.stop().await;
}

/// Serves `body` to every request on a local port, with its length.
async fn serve(body: Vec<u8>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    port
}

/// An archive a container could not boot: no `/.old_root`, no `/containers`.
fn unbootable_archive() -> Vec<u8> {
    crate::images::archive(&[
        crate::images::Member::Dir("etc"),
        crate::images::Member::File("etc/hostname", b"broken\n", 0o644),
    ])
}

/// Installs asked for (uploads, files from the home and URLs).
fn installs(w: &World) -> i64 {
    w.app
        .scalar("SELECT count(*) FROM jobs WHERE kind IN ('unpack_image', 'fetch_image')")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_archive_from_the_home_or_a_url_keeps_the_image_and_force_shows_in_the_log() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let tar = busybox_tar(&w);
    let api = w.app.api("alice");
    let installed = api
        .send(
            api.request(
                reqwest::Method::PUT,
                &format!("/api/custom_distro/{id}/image"),
            )
            .body(tar.clone()),
        )
        .await;
    assert_eq!(installed.status, 202, "{installed:?}");
    drain(&w.app).await;
    let good = sha256(&tar);
    let uploaded = installs(&w);
    let broken = unbootable_archive();
    let images = crate::host_fixtures::home(&w.app, w.images.uid()).join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("broken.tar"), &broken).unwrap();
    let port = serve(broken.clone()).await;
    let kept = |w: &World| {
        assert_eq!(installed_digest(w, id), good, "the image stays");
        let root = installed_image(&w.app, w.images.uid(), "bb");
        assert!(root.join("bin/busybox").is_file() && !root.join("etc/hostname").exists());
    };
    let browser = alice_in_a_browser(&w).await;
    let c = &browser.client;
    c.goto(&w.app.url(&format!("/distros/{id}"))).await.unwrap();

    // from the storage home: refused by the check, the reason next to the image state
    browser.click("#tab-unpack").await;
    browser.fill("file", "images/broken.tar").await;
    browser.click("#unpack button[type=submit]").await;
    until("the unpack is queued", || installs(&w) == uploaded + 1).await;
    drain(&w.app).await;
    let failed = wait_for_text(&browser, "#install-latest", "The last install failed").await;
    assert!(
        failed.contains("the image check found errors, so the installed image was kept")
            && failed.contains("/.old_root is missing"),
        "{failed}"
    );
    wait_for_text(&browser, "#image .image-state", "ready").await;
    kept(&w);

    // from a URL: the same
    browser.click("#tab-fetch").await;
    let url = format!("http://127.0.0.1:{port}/broken.tar");
    browser.fill("url", &url).await;
    browser.fill("fetch_sha256", &sha256(&broken)).await;
    browser.click("#fetch button[type=submit]").await;
    until("the fetch is queued", || installs(&w) == uploaded + 2).await;
    drain(&w.app).await;
    let jobs = w
        .app
        .scalar("SELECT string_agg(state || ' ' || attempts, ',' ORDER BY id) FROM jobs WHERE kind = 'fetch_image'");
    assert_eq!(jobs, "failed 1", "refused for good, not retried");
    c.refresh().await.unwrap();
    let failed = wait_for_text(&browser, "#install-latest", "The last install failed").await;
    assert!(failed.contains("/containers is missing"), "{failed}");
    kept(&w);

    // from a URL with the box ticked: installed with force, which the operation log says
    browser.click("#tab-fetch").await;
    browser.fill("url", &url).await;
    browser.fill("fetch_sha256", &sha256(&broken)).await;
    browser.click("#fetch_force").await;
    browser.click("#fetch button[type=submit]").await;
    until("the forced fetch is queued", || {
        installs(&w) == uploaded + 3
    })
    .await;
    drain(&w.app).await;
    wait_for_text(&browser, "#image .image-state", "broken").await;
    assert_eq!(installed_digest(&w, id), sha256(&broken));
    c.goto(&w.app.url(&format!("/containers/{}", w.images.uid())))
        .await
        .unwrap();
    let log = text_of(&browser, "#log").await;
    assert!(log.contains("installed with force"), "{log}");
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_customer_page_full_of_data_passes_axe_and_fits_a_360_px_phone() {
    let w = world().await;
    let api = w.app.api("alice");
    let tiny = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    for body in [busybox_tar(&w), unbootable_archive()] {
        let sent = api
            .send(
                api.request(
                    reqwest::Method::PUT,
                    &format!("/api/custom_distro/{tiny}/image"),
                )
                .body(body),
            )
            .await;
        assert_eq!(sent.status, 202, "{sent:?}");
        drain(&w.app).await;
    }
    let alpine = w
        .custom_distro("alice", &w.images, "Alpine edge", "alpine")
        .await;
    w.map("alice", &w.web, alpine).await;
    drain(&w.app).await;
    let long = "/home/alice/www/app/some/deeply/nested/module/".repeat(6);
    for n in 0..30 {
        alarm(
            &w,
            w.web.id,
            (n % 5) as i16,
            "a-rather-long-alarm-class-name",
            "#ffcc00",
            &format!("alarm {n}: {long}"),
        );
    }
    api.post(
        "/api/tokens",
        json!({ "name": "deploy-from-the-build-server" }),
    )
    .await;
    let pages = [
        ("dashboard", "/dashboard".to_owned()),
        ("containers", "/containers".into()),
        ("container", format!("/containers/{}", w.web.uid())),
        (
            "storage-container",
            format!("/containers/{}", w.images.uid()),
        ),
        ("distros", "/distros".into()),
        ("distro", format!("/distros/{tiny}")),
        ("distro-no-image", format!("/distros/{alpine}")),
        ("alarms", "/alarms".into()),
        ("alarms-page-2", "/alarms?page=2".into()),
        ("settings", "/settings".into()),
    ];
    let dir = crate::pages_looks::screenshot_dir();
    eprintln!(
        "screenshots of the customer pages full of data: {}",
        dir.display()
    );
    let browser = alice_in_a_browser(&w).await;
    let c = &browser.client;
    let mut problems = Vec::new();
    for (name, path) in &pages {
        crate::pages_looks::screen(c, 1366).await;
        c.goto(&w.app.url(path)).await.unwrap();
        // what the page says, in the customer's words: no API field names or worker ids (an
        // alarm's message is the alarm's own, as the API has it)
        let said = c
            .execute(
                "const main = document.querySelector('main').cloneNode(true);
                 main.querySelectorAll('.alarm-msg').forEach(m => m.remove());
                 document.body.appendChild(main);
                 const said = main.innerText;
                 main.remove();
                 return said;",
                vec![],
            )
            .await
            .unwrap();
        let said = said.as_str().unwrap();
        for api_word in ["custom_distro", "_image", "ensure_storage_dir", "vm:"] {
            if said.contains(api_word) {
                problems.push(format!("{name} says {api_word:?}: {said}"));
            }
        }
        problems.extend(crate::pages_looks::look_at(c, &format!("full-{name}"), &dir).await);
        // on the phone (where look_at ends), no column of text is squeezed to a sliver
        let squeezed = c
            .execute(
                "return Array.from(document.querySelectorAll('main td'))
                   .filter(td => td.innerText.trim().length > 20 && td.getBoundingClientRect().width < 100)
                   .map(td => Math.round(td.getBoundingClientRect().width) + ' px: ' + td.innerText.slice(0, 40))",
                vec![],
            )
            .await
            .unwrap();
        for cell in squeezed.as_array().unwrap() {
            problems.push(format!("{name} at 360 px: a cell of {cell}"));
        }
    }
    // the settings page showing a new token once
    crate::pages_looks::screen(c, 1366).await;
    c.goto(&w.app.url("/settings")).await.unwrap();
    browser.fill("token_name", "laptop").await;
    browser.click("#tokens > form button[type=submit]").await;
    c.wait()
        .for_element(Locator::Id("new-token-secret"))
        .await
        .unwrap();
    problems.extend(crate::pages_looks::look_at(c, "full-new-token", &dir).await);
    assert!(problems.is_empty(), "{problems:#?}");
    browser.stop().await;
}
