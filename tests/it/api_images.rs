//! Putting root filesystems into custom distros through the API: uploads, files in the home,
//! fetches, rollbacks and checks, with the worker doing the host work on a real host root.

use std::io::{Read as _, Write as _};
use std::path::Path;

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_client::{Answer, World, world, world_with};
use crate::host_fixtures::{drain, home, installed_image};
use crate::images::{Member, archive};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A bootable busybox image for `web`.
fn busybox_image(w: &World) -> Vec<u8> {
    busybox_rootfs(Path::new(BUSYBOX), &[("web", w.web.uid() as u32)]).expect("busybox-static")
}

/// A distro `tiny` at `distros/bb` of alice's storage container (whose home the first image
/// job sets up).
async fn storage_with_distro(w: &World) -> i64 {
    w.custom_distro("alice", &w.images, "tiny", "bb").await
}

/// A world whose uploads may hold several 16 MiB chunk rows (up to 40 MiB).
pub(crate) async fn world_taking_several_chunk_rows() -> World {
    let limit = 40 << 20;
    world_with(|config| {
        config.images.max_archive_bytes = limit;
        config.quotas = distropanel::config::Quotas::for_archives(limit);
    })
    .await
}

async fn upload(w: &World, id: i64, bytes: Vec<u8>, query: &str) -> Answer {
    let api = w.app.api("alice");
    api.send(
        api.request(
            Method::PUT,
            &format!("/api/custom_distro/{id}/image{query}"),
        )
        .body(bytes),
    )
    .await
}

async fn job(w: &World, id: i64) -> Value {
    let answer = w.app.api("alice").get(&format!("/api/jobs/{id}")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json
}

fn image_dir(w: &World, path: &str) -> std::path::PathBuf {
    installed_image(&w.app, w.images.uid(), path)
}

fn messages(report: &Value) -> String {
    report
        .as_array()
        .unwrap()
        .iter()
        .map(|line| format!("{}: {}", line["level"], line["message"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_uploads_an_image_and_the_host_unpacks_and_checks_it() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let tarball = busybox_image(&w);
    let digest = sha256(&tarball);

    let accepted = upload(&w, id, tarball.clone(), &format!("?sha256={digest}")).await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(accepted.json["message"], "Accepted");
    assert_eq!(accepted.json["job"]["kind"], "unpack_image");
    assert_eq!(accepted.json["job"]["state"], "queued");
    assert_eq!(accepted.json["job"]["container"], w.images.uid());
    let shown = w
        .app
        .api("alice")
        .get(&format!("/api/custom_distro/{id}"))
        .await;
    assert_eq!(shown.json["image_state"], "unpacking");

    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    let report = messages(&done["report"]);
    assert!(report.contains("/.old_root is present"), "{report}");
    assert!(report.contains(&digest), "{report}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());

    let shown = w
        .app
        .api("alice")
        .get(&format!("/api/custom_distro/{id}"))
        .await;
    assert_eq!(shown.json["image_state"], "ready", "{shown:?}");
    assert_eq!(shown.json["image_sha256"], digest.as_str());
    assert!(shown.json["image_bytes"].as_i64().unwrap() > 100_000);
    let check = w
        .app
        .api("alice")
        .get(&format!("/api/custom_distro/{id}/check"))
        .await;
    assert_eq!(check.status, 200, "{check:?}");
    assert_eq!(check.json["image_state"], "ready");
    assert_eq!(check.json["sha256"], digest.as_str());
    assert!(check.json["checked"].is_i64());
    assert!(messages(&check.json["report"]).contains("/containers is present"));
    assert_eq!(
        w.app.count("image_uploads"),
        0,
        "the upload is dropped once unpacked"
    );
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_of_several_chunk_rows_is_stored_whole_and_in_order() {
    let w = world_taking_several_chunk_rows().await;
    let id = storage_with_distro(&w).await;
    // a gzip header, then bytes that never repeat within a row: two full 16 MiB rows and a
    // part
    let mut body = vec![0x1f, 0x8b, 0x08, 0x00];
    let mut x: u32 = 0x9e37_79b9;
    body.extend((0..(33 << 20) - 5_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let digest = sha256(&body);

    let accepted = upload(&w, id, body.clone(), &format!("?sha256={digest}")).await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(
        w.app.scalar(
            "SELECT count(*) || ' rows, ' || sum(octet_length(data)) || ' bytes, seq ' \
             || min(seq) || '..' || max(seq) || ', ' \
             || encode(sha256(string_agg(data, ''::bytea ORDER BY seq)), 'hex') \
             FROM image_upload_chunks"
        ),
        format!("3 rows, {} bytes, seq 0..2, {digest}", body.len())
    );
    assert_eq!(
        w.app
            .scalar("SELECT state || ' ' || bytes || ' ' || sha256 FROM image_uploads"),
        format!("complete {} {digest}", body.len())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_whose_digest_differs_from_the_one_given_is_refused_and_leaves_nothing() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let before = w.app.snapshot();
    let refused = upload(
        &w,
        id,
        b"\x1f\x8b not the archive".to_vec(),
        &format!("?sha256={}", "ab".repeat(32)),
    )
    .await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(
        refused.json["fields"]["sha256"]
            .as_str()
            .unwrap()
            .contains("not ab")
    );
    let malformed = upload(&w, id, b"x".to_vec(), "?sha256=xyz").await;
    assert_eq!(malformed.status, 422, "{malformed:?}");
    let empty = upload(&w, id, Vec::new(), "").await;
    assert_eq!(empty.status, 422, "{empty:?}");
    assert_eq!(w.app.snapshot(), before, "nothing changed");
    assert_eq!(w.app.count("image_uploads"), 0);
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_over_the_size_limit_is_refused_declared_or_streamed() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let before = w.app.snapshot();
    let limit = 8 << 20;

    let declared = upload(&w, id, vec![0u8; limit + 1], "").await;
    assert_eq!(declared.status, 413, "{declared:?}");
    assert!(declared.reason().contains("8 MiB"), "{declared:?}");

    // chunked, with no length up front: refused once the limit is crossed
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", w.app.port))
        .await
        .unwrap();
    let auth = base64_basic("alice", "alice-password");
    let head = format!(
        "PUT /api/custom_distro/{id}/image HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut piece = vec![7u8; 256 * 1024];
    piece[..2].copy_from_slice(&[0x1f, 0x8b]); // gzip's magic bytes, so only the size refuses it
    for _ in 0..(limit / piece.len() + 2) {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(&piece);
        chunk.extend_from_slice(b"\r\n");
        if stream.write_all(&chunk).await.is_err() {
            break; // the server stopped reading: it has answered
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    assert_eq!(w.app.snapshot(), before, "nothing changed");
    assert_eq!(w.app.count("image_uploads"), 0);
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_cancelled_midway_leaves_no_chunk_behind() {
    let w = world_taking_several_chunk_rows().await;
    let id = storage_with_distro(&w).await;
    let before = w.app.snapshot();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", w.app.port))
        .await
        .unwrap();
    let auth = base64_basic("alice", "alice-password");
    let head = format!(
        "PUT /api/custom_distro/{id}/image HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nContent-Length: {}\r\n\r\n",
        33 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut body = vec![0x1f, 0x8b, 0x08]; // a gzip stream, as far as its first bytes tell
    body.resize(20 << 20, 7); // more than a chunk row
    stream.write_all(&body).await.unwrap();
    // chunks are stored as they come
    let started = std::time::Instant::now();
    while w.app.count("image_upload_chunks") < 1 {
        assert!(started.elapsed().as_secs() < 30, "the upload streams in");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(stream); // what a browser's abort does to the connection

    let started = std::time::Instant::now();
    while w.app.count("image_uploads") > 0 || w.app.count("image_upload_chunks") > 0 {
        assert!(
            started.elapsed().as_secs() < 30,
            "the partial upload is dropped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(w.app.snapshot(), before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_that_is_no_archive_is_refused_with_415_and_nothing_is_stored() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let before = w.app.snapshot();
    let html = b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n".repeat(100);

    for junk in [html, b"short".to_vec(), vec![0u8; 64 * 1024]] {
        let refused = upload(&w, id, junk, "").await;
        assert_eq!(refused.status, 415, "{refused:?}");
        assert_eq!(refused.error(), "Unsupported media type");
        assert!(
            refused.reason().contains("not an image archive"),
            "{refused:?}"
        );
    }
    assert_eq!(w.app.snapshot(), before, "nothing changed");
    assert_eq!(w.app.count("image_uploads"), 0);
    assert_eq!(w.app.count("image_upload_chunks"), 0);

    // each accepted format passes the sniff (the job decides what it can unpack)
    let formats: [&[u8]; 4] = [
        b"\xfd7zXZ\x00rest",
        b"\x28\xb5\x2f\xfdrest",
        b"BZh91AY&SY",
        b"\x1f\x8b\x08rest",
    ];
    for (n, magic) in formats.iter().enumerate() {
        let other = w
            .custom_distro("alice", &w.images, &format!("f{n}"), &format!("f{n}"))
            .await;
        let accepted = upload(&w, other, magic.to_vec(), "").await;
        assert_eq!(accepted.status, 202, "{accepted:?}");
    }
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_archive_fails_its_job_with_the_reason_and_the_image_stays() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let good = busybox_image(&w);
    assert_eq!(upload(&w, id, good.clone(), "").await.status, 202);
    drain(&w.app).await;

    let hostile = archive(&[
        Member::Dir("etc"),
        Member::File("etc/motd", b"hello", 0o644),
        Member::File("../../escaped", b"out", 0o644),
    ]);
    let accepted = upload(&w, id, hostile, "").await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    drain(&w.app).await;
    let failed = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("refused") && error.contains(".."), "{error}");

    assert!(
        image_dir(&w, "bb").join("bin/busybox").is_file(),
        "the image is whole"
    );
    assert!(!image_dir(&w, "bb").join("etc/motd").exists());
    assert!(!home(&w.app, w.images.uid()).join("escaped").exists());
    let shown = w
        .app
        .api("alice")
        .get(&format!("/api/custom_distro/{id}"))
        .await;
    assert_eq!(shown.json["image_state"], "ready");
    assert_eq!(shown.json["image_sha256"], sha256(&good).as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_fifos_and_setuid_bits_are_dropped_and_reported_and_the_unpack_succeeds() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let odd = archive(&[
        Member::Dir(".old_root"),
        Member::Dir("containers"),
        Member::CharDevice("null"),
        Member::Fifo("pipe"),
        Member::File("su", b"#!/bin/sh\n", 0o4755),
    ]);
    let accepted = upload(&w, id, odd, "").await;
    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    let report = messages(&done["report"]);
    assert!(
        report.contains("null") && report.contains("pipe"),
        "{report}"
    );
    assert!(report.contains("su"), "{report}");
    assert!(!image_dir(&w, "bb").join("null").exists());
    let mode = std::fs::metadata(image_dir(&w, "bb").join("su")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o6000,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_unpacks_an_archive_from_the_storage_home_and_bad_names_are_refused() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let tarball = busybox_image(&w);
    let images_dir = home(&w.app, w.images.uid()).join("uploads");
    std::fs::create_dir_all(&images_dir).unwrap();
    std::fs::File::create(images_dir.join("bb.tar.gz"))
        .unwrap()
        .write_all(&tarball)
        .unwrap();
    let api = w.app.api("alice");

    let before = w.app.snapshot();
    for bad in ["../../etc/shadow", "/etc/shadow", ""] {
        let refused = api
            .post(
                &format!("/api/custom_distro/{id}/unpack"),
                json!({"file": bad}),
            )
            .await;
        assert_eq!(refused.status, 422, "{bad}: {refused:?}");
        assert!(refused.json["fields"]["file"].is_string());
    }
    let missing = api
        .post(&format!("/api/custom_distro/{id}/unpack"), json!({}))
        .await;
    assert_eq!(missing.status, 422, "{missing:?}");
    assert_eq!(w.app.snapshot(), before, "nothing changed");

    let accepted = api
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": "uploads/bb.tar.gz"}),
        )
        .await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
    let shown = api.get(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(shown.json["image_sha256"], sha256(&tarball).as_str());

    let gone = api
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": "uploads/nothing.tar"}),
        )
        .await;
    assert_eq!(gone.status, 202);
    drain(&w.app).await;
    let failed = job(&w, gone.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("uploads/nothing.tar"),
        "{failed}"
    );
}

/// Serves `body` to every request on a local port, answering `status`.
async fn serve_once_per_request(status: &'static str, body: Vec<u8>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_fetches_an_image_and_checks_its_digest_before_swapping_it_in() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let tarball = busybox_image(&w);
    let port = serve_once_per_request("200 OK", tarball.clone()).await;
    let url = format!("http://127.0.0.1:{port}/bb.tar.gz");
    let api = w.app.api("alice");

    let before = w.app.snapshot();
    for (body, field) in [
        (json!({"url": url}), "sha256"),
        (json!({"sha256": sha256(&tarball)}), "url"),
        (
            json!({"url": "file:///etc/passwd", "sha256": sha256(&tarball)}),
            "url",
        ),
        (json!({"url": url, "sha256": "123"}), "sha256"),
    ] {
        let refused = api
            .post(&format!("/api/custom_distro/{id}/fetch"), body.clone())
            .await;
        assert_eq!(refused.status, 422, "{body}: {refused:?}");
        assert!(
            refused.json["fields"][field].is_string(),
            "{body}: {refused:?}"
        );
    }
    assert_eq!(w.app.snapshot(), before, "nothing changed");

    let wrong = api
        .post(
            &format!("/api/custom_distro/{id}/fetch"),
            json!({"url": url, "sha256": "cd".repeat(32)}),
        )
        .await;
    assert_eq!(wrong.status, 202, "{wrong:?}");
    drain(&w.app).await;
    let failed = job(&w, wrong.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains(&"cd".repeat(32)),
        "{failed}"
    );
    assert!(
        !image_dir(&w, "bb").join("bin").exists(),
        "nothing was swapped in"
    );

    let right = api
        .post(
            &format!("/api/custom_distro/{id}/fetch"),
            json!({"url": url, "sha256": sha256(&tarball)}),
        )
        .await;
    assert_eq!(right.status, 202, "{right:?}");
    assert_eq!(right.json["job"]["kind"], "fetch_image");
    drain(&w.app).await;
    let done = job(&w, right.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_brings_back_the_image_the_last_install_replaced() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let api = w.app.api("alice");

    let before = w.app.snapshot();
    let nothing = api
        .post(&format!("/api/custom_distro/{id}/rollback"), json!({}))
        .await;
    assert_eq!(nothing.status, 409, "{nothing:?}");
    assert!(nothing.reason().contains("no earlier image"), "{nothing:?}");
    assert_eq!(w.app.snapshot(), before, "nothing changed");

    let first = busybox_image(&w);
    let second = archive(&[
        Member::Dir(".old_root"),
        Member::Dir("containers"),
        Member::Dir("etc"),
        Member::File("etc/release", b"second\n", 0o644),
    ]);
    upload(&w, id, first.clone(), "").await;
    drain(&w.app).await;
    upload(&w, id, second.clone(), "").await;
    drain(&w.app).await;
    assert!(image_dir(&w, "bb").join("etc/release").is_file());

    let accepted = api
        .post(&format!("/api/custom_distro/{id}/rollback"), json!({}))
        .await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(accepted.json["job"]["kind"], "rollback_image");
    drain(&w.app).await;
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());
    assert!(!image_dir(&w, "bb").join("etc/release").exists());
    let shown = api.get(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(shown.json["image_sha256"], sha256(&first).as_str());

    // a second rollback undoes the first
    api.post(&format!("/api/custom_distro/{id}/rollback"), json!({}))
        .await;
    drain(&w.app).await;
    assert!(image_dir(&w, "bb").join("etc/release").is_file());
    let shown = api.get(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(shown.json["image_sha256"], sha256(&second).as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_of_an_image_that_cannot_boot_marks_it_broken() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let api = w.app.api("alice");
    let check = api.get(&format!("/api/custom_distro/{id}/check")).await;
    assert_eq!(check.json["image_state"], "none", "{check:?}");

    let unbootable = archive(&[
        Member::Dir("etc"),
        Member::File("etc/hostname", b"x\n", 0o644),
    ]);
    // forced in: without force the check refuses it before the swap
    upload(&w, id, unbootable, "?force=1").await;
    drain(&w.app).await;
    let check = api.get(&format!("/api/custom_distro/{id}/check")).await;
    assert_eq!(check.json["image_state"], "broken", "{check:?}");
    let report = messages(&check.json["report"]);
    assert!(
        report.contains("error") && report.contains(".old_root"),
        "{report}"
    );

    // files put in place by hand: a fresh check finds them
    for dir in [".old_root", "containers"] {
        std::fs::create_dir_all(image_dir(&w, "bb").join(dir)).unwrap();
    }
    let accepted = api
        .post(&format!("/api/custom_distro/{id}/check"), json!({}))
        .await;
    assert_eq!(accepted.json["job"]["kind"], "check_image");
    drain(&w.app).await;
    let check = api.get(&format!("/api/custom_distro/{id}/check")).await;
    assert_eq!(check.json["image_state"], "ready", "{check:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_for_a_distro_deleted_before_its_job_ran_is_skipped_and_dropped() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let accepted = upload(&w, id, busybox_image(&w), "").await;
    assert_eq!(accepted.status, 202);
    assert_eq!(w.app.count("image_uploads"), 1);
    let deleted = w
        .app
        .api("alice")
        .delete(&format!("/api/custom_distro/{id}"))
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(
        w.app.count("image_uploads"),
        0,
        "the upload went with its distro"
    );
    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(messages(&done["report"]).contains("deleted meanwhile"));
    assert!(!image_dir(&w, "bb").join("bin").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_image_restarts_the_containers_that_boot_the_distro() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    upload(&w, id, busybox_image(&w), "").await;
    drain(&w.app).await;
    w.map("alice", &w.web, id).await;
    drain(&w.app).await;
    let restarts = "SELECT count(*) FROM jobs WHERE kind = 'restart'";
    let before: i64 = w.app.scalar(restarts).parse().unwrap();

    let accepted = upload(&w, id, busybox_image(&w), "").await;
    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(
        messages(&done["report"]).contains(&format!("web ({})", w.web.uid())),
        "{done}"
    );
    let after: i64 = w.app.scalar(restarts).parse().unwrap();
    assert_eq!(after, before + 1, "web restarts into the new image");
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT state FROM jobs WHERE kind = 'restart' AND container_id = {} ORDER BY id DESC LIMIT 1",
            w.web.id
        )),
        "done"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_that_is_no_number_answers_like_a_missing_one_with_the_403_json() {
    let w = world().await;
    storage_with_distro(&w).await;
    let api = w.app.api("alice");
    let missing = api.get("/api/custom_distro/99999/check").await;
    assert_eq!(missing.status, 403, "{missing:?}");
    for garbage in ["abc", "1.5", "%00", "99999999999999999999"] {
        let answer = api
            .get(&format!("/api/custom_distro/{garbage}/check"))
            .await;
        assert_eq!(answer.status, 403, "{garbage}: {answer:?}");
        assert_eq!(answer.error(), "Forbidden", "{garbage}");
        assert_eq!(answer.reason(), missing.reason(), "{garbage}");
        let answer = api.get(&format!("/api/custom_distro/{garbage}")).await;
        assert_eq!(answer.status, 403, "{garbage}: {answer:?}");
        assert_eq!(answer.error(), "Forbidden", "{garbage}");
        let answer = api
            .post(
                &format!("/api/custom_distro/{garbage}/unpack"),
                json!({"file": "x.tar"}),
            )
            .await;
        assert_eq!(answer.status, 403, "{garbage}: {answer:?}");
        assert_eq!(answer.error(), "Forbidden", "{garbage}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_and_the_digest_are_trimmed_as_the_forms_trim_them() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let tarball = busybox_image(&w);
    let uploads = home(&w.app, w.images.uid()).join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("bb.tar.gz"), &tarball).unwrap();
    let api = w.app.api("alice");

    let unpack = api
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": " uploads/bb.tar.gz\n", "sha256": format!(" {} ", sha256(&tarball))}),
        )
        .await;
    assert_eq!(unpack.status, 202, "{unpack:?}");
    drain(&w.app).await;
    let done = job(&w, unpack.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());

    let blank = api
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": "  "}),
        )
        .await;
    assert_eq!(blank.status, 422, "{blank:?}");
    assert!(blank.json["fields"]["file"].is_string());
}

/// An archive a container could not boot: no `/.old_root`, no `/containers`.
fn unbootable_archive() -> Vec<u8> {
    archive(&[
        Member::Dir("etc"),
        Member::File("etc/hostname", b"broken\n", 0o644),
    ])
}

/// The accepted install `accepted` failed on its first attempt, not retried, naming `missing`.
async fn refused_for_good(w: &World, accepted: &Answer, missing: &str) {
    assert_eq!(accepted.status, 202, "{accepted:?}");
    drain(&w.app).await;
    let failed = job(w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(
        (&failed["state"], &failed["attempts"]),
        (&json!("failed"), &json!(1))
    );
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains(missing), "{error}");
}

fn still_busybox(w: &World, id: i64, digest: &str) {
    assert!(image_dir(w, "bb").join("bin/busybox").is_file());
    assert!(!image_dir(w, "bb").join("etc/hostname").exists());
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT image_sha256 FROM custom_distros WHERE id = {id}"
        )),
        digest
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_archive_leaves_the_working_image_in_place_and_force_installs_it() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let good = busybox_image(&w);
    assert_eq!(upload(&w, id, good.clone(), "").await.status, 202);
    drain(&w.app).await;

    let refused = upload(&w, id, unbootable_archive(), "").await;
    assert_eq!(refused.status, 202, "{refused:?}");
    drain(&w.app).await;
    let failed = job(&w, refused.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(
        failed["attempts"], 1,
        "a refusal by the check is not retried"
    );
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("the image check found errors, so the installed image was kept")
            && error.contains("/.old_root is missing")
            && error.contains("/containers is missing"),
        "{error}"
    );
    let report = messages(&failed["report"]);
    let image = format!("/containers/{}/distros/bb", w.images.uid());
    assert!(
        report.contains(&format!("check {image} -> error: /.old_root is missing"))
            && report.contains(&format!("refused {image} -> error")),
        "the report lists the errors: {report}"
    );
    still_busybox(&w, id, &sha256(&good));
    let check = w
        .app
        .api("alice")
        .get(&format!("/api/custom_distro/{id}/check"))
        .await;
    assert_eq!(check.json["image_state"], "ready", "{check:?}");

    let bad = upload(&w, id, unbootable_archive(), "?force=1").await;
    assert_eq!(bad.status, 202, "{bad:?}");
    drain(&w.app).await;
    let forced = job(&w, bad.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(forced["state"], "done", "{forced}");
    assert!(
        messages(&forced["report"])
            .contains("installed with force although the check found errors"),
        "{forced}"
    );
    assert!(image_dir(&w, "bb").join("etc/hostname").is_file());
    let check = w
        .app
        .api("alice")
        .get(&format!("/api/custom_distro/{id}/check"))
        .await;
    assert_eq!(check.json["image_state"], "broken", "{check:?}");

    let nonsense = upload(&w, id, good, "?force=please").await;
    assert_eq!(nonsense.status, 422, "{nonsense:?}");
    assert!(nonsense.json["fields"]["force"].is_string(), "{nonsense:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn force_shows_in_the_operation_log() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let bad = upload(&w, id, unbootable_archive(), "?force=true").await;
    assert_eq!(bad.status, 202, "{bad:?}");
    drain(&w.app).await;
    let job_id = bad.json["job"]["id"].as_i64().unwrap();

    let requested = w.app.scalar(
        "SELECT string_agg(action || ': ' || detail, ' / ') FROM events \
         WHERE action = 'image uploaded'",
    );
    assert!(
        requested.contains("with force: installed even if its check finds errors"),
        "{requested}"
    );
    let step = w.app.scalar(&format!(
        "SELECT string_agg(outcome || ': ' || detail, ' / ') FROM events \
         WHERE job_id = {job_id} AND action = 'force'"
    ));
    assert!(step.starts_with("warning: installed with force"), "{step}");
    let emperor_log =
        std::fs::read_to_string(home(&w.app, w.images.uid()).join("logs/emperor.log")).unwrap();
    assert!(
        emperor_log.contains("force /containers/")
            && emperor_log.contains("-> warning: installed with force"),
        "{emperor_log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_before_swap_holds_for_home_and_url_sources() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let good = busybox_image(&w);
    assert_eq!(upload(&w, id, good.clone(), "").await.status, 202);
    drain(&w.app).await;
    let broken = unbootable_archive();
    let api = w.app.api("alice");

    let images = home(&w.app, w.images.uid()).join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("broken.tar"), &broken).unwrap();
    let from_home = api
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": "images/broken.tar"}),
        )
        .await;
    refused_for_good(&w, &from_home, "/.old_root is missing").await;
    still_busybox(&w, id, &sha256(&good));

    let port = serve_once_per_request("200 OK", broken.clone()).await;
    let url = format!("http://127.0.0.1:{port}/broken.tar");
    let fetched = api
        .post(
            &format!("/api/custom_distro/{id}/fetch"),
            json!({"url": url, "sha256": sha256(&broken)}),
        )
        .await;
    refused_for_good(&w, &fetched, "/containers is missing").await;
    still_busybox(&w, id, &sha256(&good));

    let forced = api
        .post(
            &format!("/api/custom_distro/{id}/fetch"),
            json!({"url": url, "sha256": sha256(&broken), "force": true}),
        )
        .await;
    assert_eq!(forced.status, 202, "{forced:?}");
    drain(&w.app).await;
    let done = job(&w, forced.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(image_dir(&w, "bb").join("etc/hostname").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_job_shows_progress() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let tarball = busybox_image(&w);
    let accepted = upload(&w, id, tarball.clone(), "").await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(accepted.json["job"]["progress"], Value::Null, "not started");
    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    let progress = &done["progress"];
    assert_eq!(progress["phase"], "checking", "{done}");
    assert_eq!(progress["done"], tarball.len(), "{done}");
    assert_eq!(progress["total"], tarball.len(), "{done}");
    assert!(progress["members"].as_u64().unwrap() > 3, "{done}");
    assert!(progress["bytes"].as_u64().unwrap() > 100_000, "{done}");
}

/// Serves `body` slowly: the headers, then 2 KiB every 50 ms.
async fn serve_slowly(body: Vec<u8>) -> u16 {
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
                for piece in body.chunks(2048) {
                    if stream.write_all(piece).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_leaves_the_previous_image() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let good = busybox_image(&w);
    assert_eq!(upload(&w, id, good.clone(), "").await.status, 202);
    drain(&w.app).await;
    let api = w.app.api("alice");

    // a queued install is cancelled at once and never runs
    let queued = upload(&w, id, good.clone(), "").await;
    let queued_id = queued.json["job"]["id"].as_i64().unwrap();
    let cancelled = api
        .post(&format!("/api/jobs/{queued_id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    assert_eq!(cancelled.json["state"], "cancelled");
    let again = api
        .post(&format!("/api/jobs/{queued_id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status, 409, "{again:?}");

    // a running fetch stops at its next progress write
    let other = {
        let mut other = good.clone();
        other.extend_from_slice(&[0; 512]);
        other
    };
    let port = serve_slowly(other.clone()).await;
    let fetch = api
        .post(
            &format!("/api/custom_distro/{id}/fetch"),
            json!({"url": format!("http://127.0.0.1:{port}/slow.tar.gz"), "sha256": sha256(&other)}),
        )
        .await;
    assert_eq!(fetch.status, 202, "{fetch:?}");
    let fetch_id = fetch.json["job"]["id"].as_i64().unwrap();
    let cancel = async {
        loop {
            let shown = job(&w, fetch_id).await;
            if shown["state"] == "running" && shown["progress"]["done"].as_u64() > Some(0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let asked = api
            .post(&format!("/api/jobs/{fetch_id}/cancel"), json!({}))
            .await;
        assert_eq!(asked.status, 200, "{asked:?}");
        assert_eq!(asked.json["state"], "running", "it stops by itself");
    };
    let started = std::time::Instant::now();
    tokio::join!(drain(&w.app), cancel);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the fetch stopped before the download ended"
    );
    let stopped = job(&w, fetch_id).await;
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
    assert!(
        messages(&stopped["report"]).contains("the fetch was cancelled: the installed image stays"),
        "{stopped}"
    );
    still_busybox(&w, id, &sha256(&good));
    assert!(
        !w.app
            .host_root
            .path()
            .join(format!("var/lib/distropanel/staging/{}/bb", w.images.uid()))
            .exists(),
        "nothing is left staged"
    );

    // only installs are cancelled
    let check = api
        .post(&format!("/api/custom_distro/{id}/check"), json!({}))
        .await;
    let check_id = check.json["job"]["id"].as_i64().unwrap();
    let refused = api
        .post(&format!("/api/jobs/{check_id}/cancel"), json!({}))
        .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(job(&w, check_id).await["state"], "queued");
}

/// Asks for `file` of the storage home to be unpacked into the distro; the job's id.
async fn unpack_home_file(w: &World, id: i64, file: &str) -> i64 {
    let accepted = w
        .app
        .api("alice")
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": file}),
        )
        .await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    accepted.json["job"]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_xz_upload_and_a_zstd_file_from_the_home_install_and_a_text_file_fails_for_good() {
    let w = world().await;
    let id = storage_with_distro(&w).await;
    let tarball = busybox_image(&w);
    let plain = {
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&tarball[..])
            .read_to_end(&mut tar)
            .unwrap();
        tar
    };
    let xz = {
        let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
        encoder.write_all(&plain).unwrap();
        encoder.finish().unwrap()
    };
    let accepted = upload(&w, id, xz.clone(), "").await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    drain(&w.app).await;
    let done = job(&w, accepted.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(
        messages(&done["report"]).contains("the archive (xz): "),
        "{done}"
    );
    assert!(image_dir(&w, "bb").join("bin/busybox").is_file());

    let uploads = home(&w.app, w.images.uid()).join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let zstd = zstd::encode_all(&plain[..], 3).unwrap();
    std::fs::write(uploads.join("rootfs.tar.zst"), &zstd).unwrap();
    std::fs::write(
        uploads.join("notes.tar.gz"),
        b"remember to pack the image\n",
    )
    .unwrap();
    let api = w.app.api("alice");
    let from_home = unpack_home_file(&w, id, "uploads/rootfs.tar.zst").await;
    drain(&w.app).await;
    assert_eq!(job(&w, from_home).await["state"], "done");
    let shown = api.get(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(shown.json["image_sha256"], sha256(&zstd).as_str());

    let junk = unpack_home_file(&w, id, "uploads/notes.tar.gz").await;
    drain(&w.app).await;
    let failed = job(&w, junk).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "not retried: {failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("the file is not an image archive: it starts with 72 65 6d 65")
            && error.contains("gzip, xz, zstd or bzip2"),
        "{error}"
    );
    let shown = api.get(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(
        shown.json["image_sha256"],
        sha256(&zstd).as_str(),
        "the image stays"
    );
    assert_eq!(shown.json["image_state"], "ready");
}
