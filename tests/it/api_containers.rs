//! `/api/containers`: listing, reading and changing containers, and what a change sets in
//! motion (restart jobs, events, last_reboot).

use serde_json::json;

use crate::api_client::world;

#[tokio::test]
async fn a_customer_lists_their_containers_with_upstream_fields() {
    let w = world().await;
    for path in ["/api/containers", "/api/me/containers"] {
        let answer = w.app.api("alice").get(path).await;
        assert_eq!(answer.status, 200);
        let list = answer.json.as_array().unwrap();
        let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["images", "web", "bare", "far"],
            "only alice's, oldest first"
        );
        let web = &list[1];
        assert_eq!(web["uid"], w.web.uid());
        assert_eq!(web["distro"], w.bookworm.id);
        assert_eq!(web["distro_name"], "Distro bookworm");
        assert_eq!(web["server"], "s1");
        assert_eq!(web["server_address"], "s1.example.com");
        assert_eq!(web["custom_distro"], json!(null));
        assert_eq!(web["memory"], 128);
        assert_eq!(web["pending_jobs"], 0);
        for field in [
            "hostname",
            "ip",
            "uuid",
            "tags",
            "custom_distro_name",
            "storage",
        ] {
            assert!(web.get(field).is_some(), "{field}");
        }
    }
}

#[tokio::test]
async fn tags_filter_the_list_by_any_of_them() {
    let w = world().await;
    let api = w.app.api("alice");
    api.post(
        &format!("/api/containers/{}", w.web.uid()),
        json!({"tags": ["prod", "eu"]}),
    )
    .await;
    api.post(
        &format!("/api/containers/{}", w.bare.uid()),
        json!({"tags": ["dev"]}),
    )
    .await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&api.get("/api/containers?tags=prod").await.json),
        ["web"]
    );
    assert_eq!(
        names(&api.get("/api/containers?tags=dev,eu").await.json),
        ["web", "bare"]
    );
    assert!(names(&api.get("/api/containers?tags=none").await.json).is_empty());
}

#[tokio::test]
async fn a_container_shows_every_setting() {
    let w = world().await;
    let answer = w
        .app
        .api("alice")
        .get(&format!("/api/containers/{}", w.images.uid()))
        .await;
    assert_eq!(answer.status, 200);
    let c = &answer.json;
    assert_eq!(c["custom_distros_storage"], true);
    assert_eq!(c["quota_threshold"], 90);
    assert_eq!(c["alarm_freq"], 60);
    assert_eq!(c["ssh_keys"], json!([]));
    assert_eq!(c["linked_to"], json!([]));
    for field in [
        "note",
        "nofollow",
        "jid",
        "jid_destinations",
        "pushover_user",
        "pushover_token",
        "pushover_sound",
        "pushbullet_token",
        "slack_webhook",
        "pending_jobs",
    ] {
        assert!(c.get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn plain_settings_change_without_a_restart() {
    let w = world().await;
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.web.uid()),
            json!({"name": "web2", "note": "n", "quota_threshold": 80, "alarm_freq": 120,
                   "nofollow": true, "jid": "a@b", "slack_webhook": "https://hooks.example/x"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["name"], "web2");
    assert_eq!(answer.json["alarm_freq"], 120);
    assert_eq!(answer.json["nofollow"], true);
    assert_eq!(answer.json["slack_webhook"], "https://hooks.example/x");
    assert_eq!(w.app.count("jobs"), 0);
    assert_eq!(w.app.count("events"), 0);
}

#[tokio::test]
async fn reboot_records_last_reboot_an_event_and_a_restart_job_and_answers_at_once() {
    let w = world().await;
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.web.uid()),
            json!({"reboot": 1}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.json["last_reboot"].is_i64());
    assert_eq!(answer.json["pending_jobs"], 1);
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT string_agg(kind || ':' || state, ',') FROM jobs WHERE container_id = {}",
            w.web.id
        )),
        "restart:queued"
    );
    assert_eq!(
        w.app
            .scalar("SELECT kind || '|' || actor || '|' || action || '|' || detail FROM events"),
        "operation|alice|restart|reboot requested"
    );
    assert_eq!(
        w.app.scalar("SELECT ip FROM events"),
        "127.0.0.1",
        "the caller's address"
    );
    let jobs = w
        .app
        .api("alice")
        .get(&format!("/api/jobs?container={}", w.web.uid()))
        .await;
    assert_eq!(jobs.json[0]["kind"], "restart");
    assert_eq!(jobs.json[0]["container"], w.web.uid());
}

#[tokio::test]
async fn changing_ssh_keys_or_the_default_distro_restarts_sending_the_same_does_not() {
    let w = world().await;
    let api = w.app.api("alice");
    let path = format!("/api/containers/{}", w.web.uid());
    let other = w.app.distro("trixie");
    let restarts = || {
        w.app
            .scalar("SELECT count(*) FROM events WHERE action = 'restart'")
    };
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX alice@home";
    let answer = api.post(&path, json!({"ssh_keys": [key]})).await;
    assert_eq!(answer.json["ssh_keys"], json!([key]));
    assert_eq!(restarts(), "1");
    api.post(&path, json!({"ssh_keys": [key]})).await;
    assert_eq!(restarts(), "1", "the same keys: no restart");
    let answer = api.post(&path, json!({"distro": other.id})).await;
    assert_eq!(answer.json["distro"], other.id);
    assert_eq!(answer.json["distro_name"], "Distro trixie");
    assert_eq!(restarts(), "2");
    assert!(
        answer.json["pending_jobs"].as_i64().unwrap() >= 1,
        "a restart is queued"
    );
}

#[tokio::test]
async fn an_unknown_platform_distro_is_422_and_changes_nothing() {
    let w = world().await;
    let before = w.app.snapshot();
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.web.uid()),
            json!({"distro": 999}),
        )
        .await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(answer.json["fields"]["distro"].is_string());
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn turning_storage_on_restarts_and_creates_the_distros_directory() {
    let w = world().await;
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.bare.uid()),
            json!({"custom_distros_storage": true}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["custom_distros_storage"], true);
    assert_eq!(answer.json["pending_jobs"], 2);
    assert_eq!(
        w.app.scalar(&format!(
            "SELECT string_agg(kind, ',' ORDER BY id) FROM jobs WHERE container_id = {}",
            w.bare.id
        )),
        "ensure_storage_dir,restart"
    );
}

#[tokio::test]
async fn turning_storage_on_while_booting_a_custom_distro_is_refused_and_changes_nothing() {
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    w.map("alice", &w.web, distro).await;
    let before = w.app.snapshot();
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.web.uid()),
            json!({"custom_distros_storage": true}),
        )
        .await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert_eq!(answer.error(), "Conflict");
    assert!(answer.reason().contains("'Debian'"), "{}", answer.reason());
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn turning_storage_off_while_it_holds_distros_is_refused_naming_them() {
    let w = world().await;
    w.custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    w.custom_distro("alice", &w.images, "Alpine", "alpine")
        .await;
    let before = w.app.snapshot();
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.images.uid()),
            json!({"custom_distros_storage": false}),
        )
        .await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(
        answer.reason().contains("'Debian', 'Alpine'"),
        "{}",
        answer.reason()
    );
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn turning_storage_off_when_empty_works() {
    let w = world().await;
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.images.uid()),
            json!({"custom_distros_storage": false}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["custom_distros_storage"], false);
}

#[tokio::test]
async fn a_customer_maps_a_usable_distro_and_unmaps_it_with_null() {
    let w = world().await;
    let distro = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let api = w.app.api("alice");
    let path = format!("/api/containers/{}", w.web.uid());
    let answer = api.post(&path, json!({"custom_distro": distro})).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["custom_distro"], distro);
    assert_eq!(answer.json["custom_distro_name"], "Debian");
    let answer = api.post(&path, json!({"custom_distro": null})).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["custom_distro"], json!(null));
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM events WHERE action = 'restart'"),
        "2",
        "mapping and unmapping each restart"
    );
    assert!(
        answer.json["pending_jobs"].as_i64().unwrap() >= 1,
        "a restart is queued"
    );
    assert_eq!(
        w.app.scalar(
            "SELECT string_agg(detail, ' / ' ORDER BY id) FROM events WHERE action = 'restart'"
        ),
        format!(
            "custom_distro set to 'Debian' ({distro}) / custom_distro set to null (default distro)"
        )
    );
}

#[tokio::test]
async fn mapping_a_distro_the_rules_refuse_changes_nothing() {
    let w = world().await;
    let on_s2 = w.custom_distro("alice", &w.far, "Far", "far").await;
    let bobs = w.custom_distro("bob", &w.bob_images, "Bobs", "bobs").await;
    let own = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let api = w.app.api("alice");
    let cases = [
        (&w.web, on_s2, 409, "another server"),
        (&w.web, bobs, 403, "another customer: like a missing id"),
        (&w.web, 99_999, 403, "a missing id"),
        (
            &w.images,
            own,
            409,
            "the container itself, a storage container",
        ),
        (&w.bare, own, 409, "a container without a default distro"),
    ];
    let before = w.app.snapshot();
    for (container, distro, status, story) in cases {
        let answer = api
            .post(
                &format!("/api/containers/{}", container.uid()),
                json!({"custom_distro": distro}),
            )
            .await;
        assert_eq!(answer.status, status, "{story}: {answer:?}");
        assert!(!answer.reason().is_empty(), "{story}");
    }
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_container_without_a_default_distro_maps_once_the_same_request_sets_one() {
    let w = world().await;
    let own = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/containers/{}", w.bare.uid()),
            json!({"distro": w.bookworm.id, "custom_distro": own}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["custom_distro"], own);
}

#[tokio::test]
async fn every_customer_sees_the_platform_distros() {
    let w = world().await;
    let trixie = w.app.distro("trixie");
    for customer in ["alice", "bob"] {
        let answer = w.app.api(customer).get("/api/distros").await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.json,
            json!([
                {"id": w.bookworm.id, "name": "Distro bookworm"},
                {"id": trixie.id, "name": "Distro trixie"},
            ])
        );
    }
}
