//! Quotas on the parts every customer shares: one customer cannot fill the job queue or the
//! database's disk for the others. Refusals are 409 (a conflict with what is pending, shown
//! in `"job"`) or 429 (a quota, named in the reason with what to do).

use reqwest::Method;
use serde_json::{Value, json};

use crate::api_client::{Answer, World, world};

/// Sends `requests` all at once over real HTTP and returns every answer.
async fn all_at_once(requests: Vec<reqwest::RequestBuilder>) -> Vec<Answer> {
    let sent: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(request.send()))
        .collect();
    let mut answers = Vec::new();
    for reply in sent {
        let response = reply.await.unwrap().expect("the app answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        answers.push(Answer {
            status,
            headers,
            text,
            json,
        });
    }
    answers
}

/// Bytes that stand for an archive: gzip's magic bytes, then nothing any job unpacks here.
fn archive_of(mib: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..mib * 1024 * 1024)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect();
    bytes[..2].copy_from_slice(&[0x1f, 0x8b]);
    bytes
}

/// A request of alice's with an API token: a burst of them costs no password checks.
async fn bearer(w: &World) -> impl Fn(Method, &str) -> reqwest::RequestBuilder + '_ {
    let created = w
        .app
        .api("alice")
        .post("/api/tokens", json!({"name": "burst"}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let token = created.json["token"].as_str().unwrap().to_owned();
    move |method, path| {
        w.app
            .client
            .request(method, w.app.url(path))
            .bearer_auth(&token)
    }
}

async fn upload(w: &World, id: i64, bytes: Vec<u8>) -> Answer {
    let api = w.app.api("alice");
    api.send(
        api.request(Method::PUT, &format!("/api/custom_distro/{id}/image"))
            .body(bytes),
    )
    .await
}

/// `n` distros of alice's storage container `storage`, written directly.
fn distros(w: &World, storage: &crate::helpers::Made, prefix: &str, n: usize) -> Vec<i64> {
    w.app
        .sql(&format!(
            "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path) \
             SELECT c.id, c.server_id, c.customer_id, '{prefix}' || g, '{prefix}' || g \
             FROM containers c, generate_series(1, {n}) g WHERE c.id = {}",
            storage.id
        ))
        .unwrap();
    w.app
        .scalar(&format!(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM custom_distros \
             WHERE path LIKE '{prefix}%' AND container_id = {}",
            storage.id
        ))
        .split(',')
        .map(|id| id.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_parallel_uploads_to_one_distro_take_one_and_leave_nothing_of_the_others() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let alice = bearer(&w).await;

    let uploads = (0..10u8)
        .map(|seed| {
            alice(Method::PUT, &format!("/api/custom_distro/{id}/image")).body(archive_of(3, seed))
        })
        .collect();
    let answers = all_at_once(uploads).await;

    let taken: Vec<&Answer> = answers.iter().filter(|a| a.status == 202).collect();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 409).collect();
    assert_eq!((taken.len(), refused.len()), (1, 9), "{answers:?}");
    for answer in &refused {
        assert!(
            answer.reason().contains("one upload at a time")
                || answer.reason().contains("one image job pending at a time"),
            "{answer:?}"
        );
    }
    let job = &taken[0].json["job"];
    assert_eq!(job["kind"], "unpack_image");

    let kept = w
        .app
        .scalar("SELECT string_agg(id::text, ',') FROM image_uploads");
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM image_uploads WHERE state = 'complete'"),
        "1",
        "only the taken upload is stored"
    );
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT count(*) FROM jobs WHERE kind = 'unpack_image' \
             AND payload -> 'source' ->> 'upload' = '{kept}'"
        )),
        "1"
    );
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT count(*) || ' chunks, ' || count(*) FILTER (WHERE upload_id <> {kept}) \
             || ' of refused uploads' FROM image_upload_chunks"
        )),
        "1 chunks, 0 of refused uploads",
        "3 MiB fit one chunk row"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn while_an_image_job_is_pending_installs_are_refused_with_it_and_a_check_joins_it() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let api = w.app.api("alice");
    let pending = upload(&w, id, archive_of(1, 0)).await;
    assert_eq!(pending.status, 202, "{pending:?}");
    let pending_id = &pending.json["job"]["id"];
    let before = w.app.snapshot();

    for (what, answer) in [
        (
            "unpack",
            api.post(
                &format!("/api/custom_distro/{id}/unpack"),
                json!({"file": "images/alpine.tar"}),
            )
            .await,
        ),
        (
            "fetch",
            api.post(
                &format!("/api/custom_distro/{id}/fetch"),
                json!({"url": "https://example.org/a.tar", "sha256": "0".repeat(64)}),
            )
            .await,
        ),
        ("upload", upload(&w, id, archive_of(1, 1)).await),
        (
            "rollback",
            api.post(&format!("/api/custom_distro/{id}/rollback"), json!({}))
                .await,
        ),
        (
            "purge",
            api.delete(&format!("/api/custom_distro/{id}?purge=1"))
                .await,
        ),
    ] {
        assert_eq!(answer.status, 409, "{what}: {answer:?}");
        assert_eq!(&answer.json["job"]["id"], pending_id, "{what}: {answer:?}");
        assert!(
            answer.reason().contains("Wait until it has finished"),
            "{what}: {answer:?}"
        );
    }
    assert_eq!(w.app.snapshot(), before, "nothing was queued or deleted");

    let check = api
        .post(&format!("/api/custom_distro/{id}/check"), json!({}))
        .await;
    assert_eq!(check.status, 202, "{check:?}");
    assert_eq!(
        &check.json["job"]["id"], pending_id,
        "the install checks anyway"
    );
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM jobs WHERE kind LIKE '%image'"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_51st_pending_job_of_a_customer_is_refused_while_a_reboot_still_works() {
    let w = world().await;
    let mut ids = distros(&w, &w.images, "a", 26);
    ids.extend(distros(&w, &w.far, "f", 25));
    let api = w.app.api("alice");

    let alice = bearer(&w).await;
    let checks: Vec<_> = ids
        .iter()
        .map(|id| alice(Method::POST, &format!("/api/custom_distro/{id}/check")))
        .collect();
    let answers = all_at_once(checks).await;
    let accepted = answers.iter().filter(|a| a.status == 202).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!((accepted, refused.len()), (50, 1), "{answers:?}");
    assert!(
        refused[0].reason().contains("DISTROPANEL_MAX_PENDING_JOBS"),
        "{refused:?}"
    );
    assert!(
        refused[0]
            .reason()
            .contains("Wait until some have finished")
    );
    assert_eq!(w.app.count("jobs WHERE kind = 'check_image'"), 50);

    for _ in 0..2 {
        let reboot = api
            .post(
                &format!("/api/containers/{}", w.web.uid()),
                json!({"reboot": 1}),
            )
            .await;
        assert_eq!(reboot.status, 200, "{reboot:?}");
    }
    assert_eq!(
        w.app.count(&format!(
            "jobs WHERE kind = 'restart' AND container_id = {}",
            w.web.id
        )),
        1,
        "the two reboots collapsed into one restart"
    );

    let bobs = w.custom_distro("bob", &w.bob_images, "bobs", "bb").await;
    let other = w
        .app
        .api("bob")
        .post(&format!("/api/custom_distro/{bobs}/check"), json!({}))
        .await;
    assert_eq!(
        other.status, 202,
        "another customer is not held back: {other:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_container_holds_32_custom_distros() {
    let w = world().await;
    distros(&w, &w.images, "d", 31);
    let thirty_second = w.custom_distro("alice", &w.images, "last", "last").await;
    assert!(thirty_second > 0);

    let refused = w
        .app
        .api("alice")
        .post(
            &format!("/api/custom_distros/{}", w.images.uid()),
            json!({"name": "one more", "path": "more", "note": ""}),
        )
        .await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(
        refused
            .reason()
            .contains("DISTROPANEL_MAX_DISTROS_PER_STORAGE"),
        "{refused:?}"
    );
    assert_eq!(w.app.count("custom_distros WHERE path = 'more'"), 0);
    // another storage container still takes one
    w.custom_distro("alice", &w.far, "elsewhere", "more").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_not_yet_unpacked_are_bounded_per_customer() {
    let w = world().await;
    let first = w.custom_distro("alice", &w.images, "one", "one").await;
    let second = w.custom_distro("alice", &w.images, "two", "two").await;
    // the test configuration takes archives of up to 8 MiB, so 16 MiB may wait per customer
    assert_eq!(upload(&w, first, archive_of(7, 0)).await.status, 202);
    assert_eq!(upload(&w, second, archive_of(7, 1)).await.status, 202);
    let third = w.custom_distro("alice", &w.far, "three", "three").await;
    let refused = upload(&w, third, archive_of(3, 2)).await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(
        refused
            .reason()
            .contains("DISTROPANEL_MAX_UPLOAD_MB_IN_FLIGHT"),
        "{refused:?}"
    );
    assert_eq!(
        w.app.count("image_uploads"),
        2,
        "nothing kept of the refused one"
    );

    let bobs = w.custom_distro("bob", &w.bob_images, "bobs", "bb").await;
    let api = w.app.api("bob");
    let other = api
        .send(
            api.request(Method::PUT, &format!("/api/custom_distro/{bobs}/image"))
                .body(archive_of(3, 3)),
        )
        .await;
    assert_eq!(
        other.status, 202,
        "another customer is not held back: {other:?}"
    );
}
