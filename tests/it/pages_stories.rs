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
        let report = w.app.scalar(&format!(
            "SELECT report::text FROM jobs WHERE kind = 'unpack_image' ORDER BY id DESC LIMIT 1"
        ));
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
    let w = world().await;
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

    // a 6 MiB archive over a line that takes 512 KiB a second: time to press Cancel
    let mut big = xz(&tar);
    big.resize(6 << 20, 0x5a);
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
            "downloadThroughput": -1, "uploadThroughput": 512 * 1024
        }),
    )
    .await;

    upload_in_the_browser(&browser, &path).await;
    let cancel = c
        .wait()
        .for_element(Locator::Css("#upload-cancel:not([hidden])"))
        .await
        .unwrap();
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
