//! The uwsgi.it wire format, pinned: every object a customer reads and every refusal the API
//! answers, as insta snapshots under `snapshots/` (status, the headers that matter, the body).
//!
//! Each test runs on a fresh database, so ids, uids and names are the same in every run; only
//! what the clock or the random generator chose is replaced by a placeholder before comparing.

use reqwest::Method;
use serde_json::json;

use crate::api_client::{Answer, Api, World, world};
use crate::host_fixtures::drain;
use crate::images::{Member, archive};

/// Keys whose value is an epoch time; a time within the last day is the clock's.
const TIME_KEYS: [&str; 7] = [
    "created",
    "started",
    "finished",
    "checked",
    "last_used",
    "last_reboot",
    "unix",
];

/// Headers a client of the API may act on; others (date, length) are the server's business.
const PINNED_HEADERS: [&str; 4] = [
    "content-type",
    "www-authenticate",
    "retry-after",
    "access-control-allow-origin",
];

/// `answer` with what varies between runs replaced: times, uuids, secrets, the host root.
/// Bodies keep the order of their keys, as sent.
fn stable(answer: &Answer, w: &World) -> Ordered {
    let mut headers = Vec::new();
    let retry_after = answer
        .headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    for name in PINNED_HEADERS {
        if let Some(value) = answer.headers.get(name) {
            let value = match name {
                // the lock's remaining time counts down while the test runs
                "retry-after" => "[seconds]",
                _ => value.to_str().unwrap(),
            };
            headers.push((name.to_owned(), Ordered::String(value.to_owned())));
        }
    }
    let mut body = serde_json::from_str::<Ordered>(&answer.text)
        .unwrap_or_else(|_| Ordered::String(answer.text.clone()));
    let host_root = w.app.host_root.path().to_string_lossy().into_owned();
    body.redact(None, &host_root);
    if let (Some(seconds), Ordered::Object(fields)) = (&retry_after, &mut body) {
        for (name, value) in fields {
            if let Ordered::String(reason) = value
                && name == "reason"
            {
                *reason = reason.replace(seconds.as_str(), "[seconds]");
            }
        }
    }
    Ordered::Object(vec![
        (
            "status".into(),
            Ordered::Number(answer.status.as_u16().into()),
        ),
        ("headers".into(), Ordered::Object(headers)),
        ("body".into(), body),
    ])
}

/// A JSON value that keeps its object keys in the order they came in, so a snapshot pins the
/// order of fields too.
#[derive(Debug, Clone)]
enum Ordered {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    fn redact(&mut self, key: Option<&str>, host_root: &str) {
        let now = chrono::Utc::now().timestamp();
        match (key, &mut *self) {
            (Some(key), Ordered::Number(n))
                if TIME_KEYS.contains(&key)
                    && n.as_i64().is_some_and(|t| (now - t).abs() < 86_400) =>
            {
                *self = Ordered::String("[now]".into());
            }
            (Some("uuid"), Ordered::String(s)) => *s = "[uuid]".into(),
            (Some("alarm_key"), Ordered::String(s)) => *s = "[alarm key]".into(),
            (Some("token"), Ordered::String(s)) if s.starts_with("dpt_") => {
                *s = "dpt_[secret]".into()
            }
            (_, Ordered::String(s)) if s.contains(host_root) => {
                *s = s.replace(host_root, "[host root]");
            }
            (_, Ordered::Array(items)) => {
                for item in items {
                    item.redact(key, host_root);
                }
            }
            (_, Ordered::Object(fields)) => {
                for (name, field) in fields.iter_mut() {
                    field.redact(Some(name), host_root);
                }
            }
            _ => {}
        }
    }
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Ordered::Null => serializer.serialize_unit(),
            Ordered::Bool(b) => serializer.serialize_bool(*b),
            Ordered::Number(n) => n.serialize(serializer),
            Ordered::String(s) => serializer.serialize_str(s),
            Ordered::Array(items) => serializer.collect_seq(items),
            Ordered::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (name, value) in fields {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
                Ok(Ordered::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Ordered, E> {
                serde_json::Number::from_f64(n)
                    .map(Ordered::Number)
                    .ok_or_else(|| E::custom("not a JSON number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
                Ok(Ordered::String(s.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Ordered::Object(fields))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A small bootable image, byte for byte the same in every run.
fn tiny_image() -> Vec<u8> {
    archive(&[
        Member::Dir(".old_root"),
        Member::Dir("containers"),
        Member::Dir("etc"),
        Member::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
        Member::Dir("bin"),
    ])
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX alice@home";

#[tokio::test(flavor = "multi_thread")]
async fn every_object_a_customer_reads_through_the_api_keeps_its_uwsgi_it_shape() {
    let w = world().await;
    let api = w.app.api("alice");
    let images = w.images.uid();
    let web = w.web.uid();
    let pin = |name: &str, answer: Answer| {
        insta::assert_json_snapshot!(name, stable(&answer, &w));
    };

    pin("me", api.get("/api/me").await);
    pin(
        "me_updated",
        api.post("/api/me", json!({"company": "ACME Two", "vat": "IT01"}))
            .await,
    );
    pin(
        "custom_distro_created",
        api.post(
            &format!("/api/custom_distros/{images}"),
            json!({"name": "Debian", "path": "debian", "note": "stable"}),
        )
        .await,
    );
    pin(
        "custom_distro_created_second",
        api.post(
            &format!("/api/custom_distros/{images}"),
            json!({"name": "Alpine", "path": "alpine", "note": ""}),
        )
        .await,
    );
    pin(
        "container_updated_mapped",
        api.post(
            &format!("/api/containers/{web}"),
            json!({"custom_distro": 1, "note": "front", "tags": ["prod", "eu"], "ssh_keys": [ED25519]}),
        )
        .await,
    );
    pin("containers", api.get("/api/containers").await);
    pin("me_containers", api.get("/api/me/containers").await);
    pin(
        "containers_tagged",
        api.get("/api/containers?tags=prod").await,
    );
    pin(
        "container_storage",
        api.get(&format!("/api/containers/{images}")).await,
    );
    pin(
        "container_mapped_to_a_custom_distro",
        api.get(&format!("/api/containers/{web}")).await,
    );
    pin("distros", api.get("/api/distros").await);
    pin("custom_distros", api.get("/api/custom_distros").await);
    pin(
        "custom_distros_usable_by_a_container",
        api.get(&format!("/api/custom_distros/{web}")).await,
    );
    pin("custom_distro", api.get("/api/custom_distro/1").await);
    pin(
        "custom_distro_updated",
        api.post(
            "/api/custom_distro/2",
            json!({"name": "Alpine 3", "path": "alpine3", "note": "edge"}),
        )
        .await,
    );
    pin(
        "custom_distro_check_without_an_image",
        api.get("/api/custom_distro/1/check").await,
    );

    // the restarts the mapping queued run before any image exists: they fall back, with alarms
    drain(&w.app).await;
    let image = tiny_image();
    let upload = api
        .request(
            Method::PUT,
            &format!("/api/custom_distro/1/image?sha256={}", sha256(&image)),
        )
        .body(image);
    let accepted = api.send(upload).await;
    let upload_job = accepted.json["job"]["id"].clone();
    pin("image_upload_accepted", accepted);
    pin("jobs_queued", api.get("/api/jobs").await);
    drain(&w.app).await;
    pin("jobs_done", api.get("/api/jobs").await);
    pin(
        "job_of_the_upload",
        api.get(&format!("/api/jobs/{upload_job}")).await,
    );
    pin(
        "jobs_of_a_container",
        api.get(&format!("/api/jobs?container={web}")).await,
    );
    pin(
        "custom_distro_with_an_image",
        api.get("/api/custom_distro/1").await,
    );
    pin(
        "custom_distro_check_of_an_image",
        api.get("/api/custom_distro/1/check").await,
    );
    pin(
        "check_now_accepted",
        api.post_raw("/api/custom_distro/1/check", "").await,
    );
    drain(&w.app).await;
    let accepted = api
        .post(
            "/api/custom_distro/1/unpack",
            json!({"file": "images/missing.tar"}),
        )
        .await;
    let unpack_job = accepted.json["job"]["id"].clone();
    pin("unpack_accepted", accepted);
    drain(&w.app).await;
    pin(
        "job_failed",
        api.get(&format!("/api/jobs/{unpack_job}")).await,
    );
    pin(
        "fetch_accepted",
        api.post(
            "/api/custom_distro/2/fetch",
            json!({"url": "http://127.0.0.1:9/alpine.tar", "sha256": "ab".repeat(32)}),
        )
        .await,
    );

    pin(
        "alarm_raised",
        api.post_raw(
            &format!(
                "/api/alarms/raise/{web}?color=FF0000&class=cls&vassal=v.ini&line=12&func=f&filename=app.py&level=2&unix=1000000000"
            ),
            "disk almost full",
        )
        .await,
    );
    pin(
        "alarm_triggered",
        api.post_raw(&format!("/api/alarms/trigger/{web}"), "second")
            .await,
    );
    pin("alarms", api.get("/api/alarms").await);
    pin(
        "alarms_with_total",
        api.get("/api/alarms?with_total=1").await,
    );
    pin("alarms_range", api.get("/api/alarms?range=1").await);
    pin(
        "alarms_with_total_and_range",
        api.get(&format!(
            "/api/alarms?container={web}&with_total=1&range=1-2"
        ))
        .await,
    );
    let first = api.get("/api/alarms?range=1-2").await.json[0]["id"].clone();
    pin("alarm", api.get(&format!("/api/alarms/{first}")).await);
    pin(
        "alarm_deleted",
        api.delete(&format!("/api/alarms/{first}")).await,
    );
    pin("alarm_key", api.get(&format!("/api/alarm_key/{web}")).await);

    pin(
        "token_created",
        api.post("/api/tokens", json!({"name": "deploy"})).await,
    );
    pin("tokens", api.get("/api/tokens").await);
    pin("token_revoked", api.delete("/api/tokens/1").await);

    pin(
        "container_updated_unmapped",
        api.post(
            &format!("/api/containers/{web}"),
            json!({"custom_distro": null}),
        )
        .await,
    );
    // a purge waits until the distro's image job has finished: the fetch above, which cannot
    // reach its address, is cancelled as staff would
    w.app
        .sql("UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE kind = 'fetch_image'")
        .unwrap();
    pin(
        "custom_distro_deleted",
        api.delete("/api/custom_distro/2?purge=1").await,
    );
    pin(
        "openapi_document",
        Api::anonymous(&w.app).get("/api/openapi.json").await,
    );
}

/// Refusals seen so far, each under the request that got it.
struct Refusals<'w> {
    world: &'w World,
    seen: Vec<(String, u16, Ordered)>,
}

impl Refusals<'_> {
    fn saw(&mut self, request: impl Into<String>, answer: Answer) {
        let status = answer.status.as_u16();
        assert!(status >= 400, "{answer:?}");
        let pinned = stable(&answer, self.world);
        self.seen.push((request.into(), status, pinned));
    }

    /// One snapshot per status, each refusal under its request.
    fn pin(self) {
        let mut statuses: Vec<u16> = self.seen.iter().map(|(_, status, _)| *status).collect();
        statuses.sort();
        statuses.dedup();
        for status in statuses {
            let cases = self
                .seen
                .iter()
                .filter(|(_, s, _)| *s == status)
                .map(|(request, _, pinned)| (request.clone(), pinned.clone()))
                .collect();
            insta::assert_json_snapshot!(format!("refusals_{status}"), Ordered::Object(cases));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_keeps_its_status_body_and_headers() {
    let w = world().await;
    let api = w.app.api("alice");
    let anonymous = Api::anonymous(&w.app);
    let (web, images, bare, bobs) = (w.web.uid(), w.images.uid(), w.bare.uid(), w.bobs.uid());
    let debian = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let alpine = w
        .custom_distro("alice", &w.images, "Alpine", "alpine")
        .await;
    let far = w.custom_distro("alice", &w.far, "Far", "far").await;
    let bobs_distro = w.custom_distro("bob", &w.bob_images, "Bobs", "bobs").await;
    w.map("alice", &w.web, debian).await;
    let mut r = Refusals {
        world: &w,
        seen: Vec::new(),
    };
    let container = format!("/api/containers/{web}");

    // 400: the body cannot be read at all
    for body in [
        "",
        "{",
        "[1,2]",
        r#"{"note": 5}"#,
        r#"{"ssh_keys": "one key"}"#,
    ] {
        r.saw(
            format!("POST /api/containers/{web} {body}"),
            api.post_raw(&container, body).await,
        );
    }
    r.saw("POST /api/me {", api.post_raw("/api/me", "{").await);
    r.saw(
        "POST /api/tokens not json",
        api.post_raw("/api/tokens", "not json").await,
    );
    r.saw(
        format!("POST /api/alarms/raise/{web} (empty)"),
        api.post_raw(&format!("/api/alarms/raise/{web}"), "").await,
    );
    r.saw(
        format!("POST /api/alarms/raise/{web} (not UTF-8)"),
        api.post_raw(&format!("/api/alarms/raise/{web}"), vec![0xff, 0xfe])
            .await,
    );

    // 401: who is calling is unknown
    r.saw(
        "GET /api/me (no credentials)",
        anonymous.get("/api/me").await,
    );
    r.saw(
        "GET /api/me (wrong password)",
        api.send(
            w.app
                .client
                .get(w.app.url("/api/me"))
                .basic_auth("alice", Some("not-her-password")),
        )
        .await,
    );
    r.saw(
        "GET /api/tokens (unknown bearer token)",
        api.send(
            w.app
                .client
                .get(w.app.url("/api/tokens"))
                .header("Authorization", "Bearer dpt_nonsense"),
        )
        .await,
    );

    // 403: someone else's id answers like a missing one
    for path in [
        format!("/api/containers/{bobs}"),
        "/api/containers/99999".to_owned(),
        "/api/containers/abc".to_owned(),
        format!("/api/custom_distro/{bobs_distro}"),
        "/api/custom_distro/999".to_owned(),
        format!("/api/custom_distros/{bobs}"),
        "/api/alarms/999".to_owned(),
        "/api/jobs/999".to_owned(),
        format!("/api/alarm_key/{bobs}"),
    ] {
        r.saw(format!("GET {path}"), api.get(&path).await);
    }
    r.saw(
        format!("POST /api/custom_distros/{web} (not a storage container)"),
        api.post(
            &format!("/api/custom_distros/{web}"),
            json!({"name": "x", "path": "x"}),
        )
        .await,
    );
    r.saw(
        format!("POST /api/containers/{web} (bob's custom distro)"),
        api.post(&container, json!({"custom_distro": bobs_distro}))
            .await,
    );
    r.saw(
        "DELETE /api/tokens/999",
        api.delete("/api/tokens/999").await,
    );
    r.saw(
        format!("PUT /api/custom_distro/{bobs_distro}/image"),
        api.send(
            api.request(
                Method::PUT,
                &format!("/api/custom_distro/{bobs_distro}/image"),
            )
            .body(tiny_image()),
        )
        .await,
    );
    r.saw(
        format!("POST /api/alarms/raise/{bobs}"),
        api.post_raw(&format!("/api/alarms/raise/{bobs}"), "msg")
            .await,
    );

    // 404 and 405: no such address, or not with that method
    r.saw(
        "GET /api/no/such/thing",
        api.get("/api/no/such/thing").await,
    );
    r.saw(
        "DELETE /api/me",
        api.send(api.request(Method::DELETE, "/api/me")).await,
    );
    r.saw(
        "PUT /api/tokens (no credentials)",
        anonymous
            .send(anonymous.request(Method::PUT, "/api/tokens"))
            .await,
    );
    r.saw(
        "POST /api/distros",
        api.post_raw("/api/distros", "{}").await,
    );

    // 409: the rules refuse it, naming what blocks
    r.saw(
        format!("DELETE /api/custom_distro/{debian} (mapped)"),
        api.delete(&format!("/api/custom_distro/{debian}")).await,
    );
    r.saw(
        format!("POST /api/custom_distro/{debian} (new path while mapped)"),
        api.post(
            &format!("/api/custom_distro/{debian}"),
            json!({"path": "other"}),
        )
        .await,
    );
    r.saw(
        format!("POST /api/containers/{images} (storage off while it holds distros)"),
        api.post(
            &format!("/api/containers/{images}"),
            json!({"custom_distros_storage": false}),
        )
        .await,
    );
    r.saw(
        format!("POST /api/containers/{web} (storage on while booting a custom distro)"),
        api.post(&container, json!({"custom_distros_storage": true}))
            .await,
    );
    for (what, body) in [
        ("duplicate name", json!({"name": "Debian", "path": "other"})),
        ("duplicate path", json!({"name": "Other", "path": "debian"})),
    ] {
        r.saw(
            format!("POST /api/custom_distros/{images} ({what})"),
            api.post(&format!("/api/custom_distros/{images}"), body)
                .await,
        );
    }
    for (what, uid, distro) in [
        ("a distro on another server", web, far),
        ("a storage container", images, alpine),
        ("no default distro", bare, alpine),
    ] {
        r.saw(
            format!("POST /api/containers/{uid} (custom_distro of {what})"),
            api.post(
                &format!("/api/containers/{uid}"),
                json!({"custom_distro": distro}),
            )
            .await,
        );
    }
    r.saw(
        format!("POST /api/custom_distro/{alpine}/rollback (no previous image)"),
        api.post_raw(&format!("/api/custom_distro/{alpine}/rollback"), "")
            .await,
    );

    // 413: over a size limit
    r.saw(
        format!("POST /api/containers/{web} (a 70 KiB body)"),
        api.post(&container, json!({ "note": "x".repeat(70 * 1024) }))
            .await,
    );
    r.saw(
        format!("PUT /api/custom_distro/{debian}/image (over 8 MiB)"),
        api.send(
            api.request(Method::PUT, &format!("/api/custom_distro/{debian}/image"))
                .body(vec![0u8; (8 << 20) + 1]),
        )
        .await,
    );

    // 415: an upload that is no archive
    r.saw(
        format!("PUT /api/custom_distro/{debian}/image (a text file)"),
        api.send(
            api.request(Method::PUT, &format!("/api/custom_distro/{debian}/image"))
                .body("just some notes\n".repeat(40)),
        )
        .await,
    );

    // 416: a range that is not one
    r.saw(
        "GET /api/alarms?range=x",
        api.get("/api/alarms?range=x").await,
    );

    // 422: readable, but fields are wrong; each names the field
    let distros = format!("/api/custom_distros/{images}");
    for body in [
        json!({"name": "x", "path": ".."}),
        json!({"name": "x", "path": "a/b"}),
        json!({"name": "x", "path": "a".repeat(65)}),
        json!({"name": "x"}),
        json!({"path": "ok"}),
        json!({"name": "a\nb", "path": "ok"}),
    ] {
        r.saw(
            format!("POST {distros} {body}"),
            api.post(&distros, body).await,
        );
    }
    for body in [
        json!({"name": "", "alarm_freq": 5, "quota_threshold": 101, "tags": ["a,b"]}),
        json!({"ssh_keys": [ED25519, "ssh-ed25519 AAAA alice", "ssh-ed25519 AAAA\nx"]}),
        json!({"distro": 999}),
        json!({"note": "a\u{0}b"}),
    ] {
        r.saw(
            format!("POST {container} {body}"),
            api.post(&container, body).await,
        );
    }
    for body in [
        json!({"email": "not an address"}),
        json!({"password": "short"}),
    ] {
        r.saw(
            format!("POST /api/me {body}"),
            api.post("/api/me", body).await,
        );
    }
    for body in [json!({}), json!({"name": "   "}), json!({"name": 7})] {
        r.saw(
            format!("POST /api/tokens {body}"),
            api.post("/api/tokens", body).await,
        );
    }
    for query in ["level=0", "color=red", "line=x", "unix=yesterday"] {
        r.saw(
            format!("POST /api/alarms/raise/{web}?{query}"),
            api.post_raw(&format!("/api/alarms/raise/{web}?{query}"), "msg")
                .await,
        );
    }
    let image = format!("/api/custom_distro/{debian}/image");
    for (query, bytes) in [
        ("?sha256=xyz", b"x".to_vec()),
        (
            "?sha256=abababababababababababababababababababababababababababababababab",
            b"\x1f\x8b not the archive".to_vec(),
        ),
        ("", Vec::new()),
    ] {
        r.saw(
            format!("PUT {image}{query} ({} bytes)", bytes.len()),
            api.send(
                api.request(Method::PUT, &format!("{image}{query}"))
                    .body(bytes),
            )
            .await,
        );
    }
    for (action, body) in [
        ("unpack", json!({})),
        ("unpack", json!({"file": "../etc/shadow"})),
        ("unpack", json!({"file": "a.tar", "sha256": "xyz"})),
        ("fetch", json!({})),
        (
            "fetch",
            json!({"url": "ftp://example.com/a.tar", "sha256": "xyz"}),
        ),
        (
            "fetch",
            json!({"url": "http://u:p@example.com/a.tar", "sha256": "ab".repeat(32)}),
        ),
    ] {
        let path = format!("/api/custom_distro/{debian}/{action}");
        r.saw(format!("POST {path} {body}"), api.post(&path, body).await);
    }

    // 429: the sixth try within the window, even with the right password
    for _ in 0..5 {
        let answer = api
            .send(
                w.app
                    .client
                    .get(w.app.url("/api/me"))
                    .basic_auth("bob", Some("guess")),
            )
            .await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    r.saw(
        "GET /api/me (bob, after 5 failures)",
        w.app.api("bob").get("/api/me").await,
    );

    // 503: the database is gone
    let db = &w.app.db;
    tokio::task::block_in_place(|| db.drop_now());
    r.saw("GET /api/me (no database)", api.get("/api/me").await);

    r.pin();
}
