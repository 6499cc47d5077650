//! `/api/custom_distros` and `/api/custom_distro`: creating, reading, renaming and deleting a
//! customer's own distros, under the rules.

use serde_json::json;

use crate::api_client::world;

#[tokio::test]
async fn a_customer_creates_a_distro_in_a_storage_container_and_lists_it() {
    let w = world().await;
    let api = w.app.api("alice");
    let answer = api
        .post(
            &format!("/api/custom_distros/{}", w.images.uid()),
            json!({"name": "new_distro", "path": "ubuntu0001", "note": "Hello World"}),
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.json["message"], "Created");
    let id = answer.json["id"].as_i64().unwrap();

    let all = api.get("/api/custom_distros").await;
    assert_eq!(
        all.json,
        json!([{"id": id, "name": "new_distro", "container": w.images.uid()}])
    );
    let one = api.get(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["path"], "ubuntu0001");
    assert_eq!(one.json["note"], "Hello World");
    assert_eq!(one.json["container"], w.images.uid());
    assert!(one.json["uuid"].is_string());
    assert_eq!(
        w.app
            .scalar("SELECT actor || '|' || action || '|' || target || '|' || ip FROM events"),
        "alice|custom distro created|new_distro|127.0.0.1"
    );
}

#[tokio::test]
async fn a_container_lists_only_the_distros_it_may_boot() {
    let w = world().await;
    let here = w.custom_distro("alice", &w.images, "Here", "here").await;
    w.custom_distro("alice", &w.far, "Far", "far").await;
    w.custom_distro("bob", &w.bob_images, "Bobs", "bobs").await;
    let api = w.app.api("alice");
    let usable = api
        .get(&format!("/api/custom_distros/{}", w.web.uid()))
        .await;
    assert_eq!(usable.status, 200);
    assert_eq!(usable.json, json!([{"id": here, "name": "Here"}]));
    let for_storage = api
        .get(&format!("/api/custom_distros/{}", w.images.uid()))
        .await;
    assert_eq!(for_storage.status, 200);
    assert_eq!(for_storage.json, json!([]), "a storage container has none");
}

#[tokio::test]
async fn creating_in_a_container_that_is_not_storage_is_refused_and_changes_nothing() {
    let w = world().await;
    let before = w.app.snapshot();
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/custom_distros/{}", w.web.uid()),
            json!({"name": "x", "path": "x"}),
        )
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.error(), "Forbidden");
    assert!(answer.reason().contains("'web'"), "{}", answer.reason());
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_bad_path_or_name_is_422_and_changes_nothing() {
    let w = world().await;
    let path = format!("/api/custom_distros/{}", w.images.uid());
    let before = w.app.snapshot();
    let long = "a".repeat(65);
    for (body, field) in [
        (json!({"name": "x", "path": ".."}), "path"),
        (json!({"name": "x", "path": "."}), "path"),
        (json!({"name": "x", "path": "a/b"}), "path"),
        (json!({"name": "x", "path": "../../etc"}), "path"),
        (json!({"name": "x", "path": "sp ace"}), "path"),
        (json!({"name": "x", "path": long}), "path"),
        (json!({"name": "x", "path": ""}), "path"),
        (json!({"name": "x"}), "path"),
        (json!({"path": "ok"}), "name"),
        (json!({"name": "", "path": "ok"}), "name"),
        (json!({"name": "a\nb", "path": "ok"}), "name"),
    ] {
        let answer = w.app.api("alice").post(&path, body.clone()).await;
        assert_eq!(answer.status, 422, "{body}: {answer:?}");
        assert!(
            answer.json["fields"][field].is_string(),
            "{body}: {answer:?}"
        );
    }
    assert_eq!(w.app.snapshot(), before);
}

#[tokio::test]
async fn a_duplicate_name_or_path_in_the_same_storage_container_is_a_conflict() {
    let w = world().await;
    w.custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let path = format!("/api/custom_distros/{}", w.images.uid());
    let before = w.app.snapshot();
    for body in [
        json!({"name": "Debian", "path": "other"}),
        json!({"name": "Other", "path": "debian"}),
    ] {
        let answer = w.app.api("alice").post(&path, body.clone()).await;
        assert_eq!(answer.status, 409, "{body}: {answer:?}");
    }
    assert_eq!(w.app.snapshot(), before);
    // the same name in another storage container is fine
    w.custom_distro("alice", &w.far, "Debian", "debian").await;
}

#[tokio::test]
async fn a_distro_is_renamed_and_its_path_changed_which_queues_renaming_the_image() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/custom_distro/{id}"),
            json!({"name": "Debian 13", "path": "trixie", "note": "n"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["name"], "Debian 13");
    assert_eq!(answer.json["path"], "trixie");
    assert_eq!(answer.json["note"], "n");
    assert_eq!(
        w.app.scalar(
            "SELECT kind || ' ' || (payload->>'from') || ' ' || (payload->>'to') FROM jobs"
        ),
        "rename_image debian trixie"
    );
    // no image was ever put there: the rename has nothing to move, and says so without alarm
    crate::host_fixtures::drain(&w.app).await;
    assert_eq!(w.app.scalar("SELECT state FROM jobs"), "done");
    assert_eq!(w.app.count("alarms"), 0);
}

#[tokio::test]
async fn the_path_of_a_mapped_distro_stays_and_the_refusal_names_who_maps_it() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    w.map("alice", &w.web, id).await;
    let before = w.app.snapshot();
    let answer = w
        .app
        .api("alice")
        .post(
            &format!("/api/custom_distro/{id}"),
            json!({"path": "other"}),
        )
        .await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(
        answer
            .reason()
            .contains(&format!("'web' ({})", w.web.uid())),
        "{}",
        answer.reason()
    );
    assert_eq!(w.app.snapshot(), before);
    let rename_only = w
        .app
        .api("alice")
        .post(
            &format!("/api/custom_distro/{id}"),
            json!({"name": "Still debian", "path": "debian"}),
        )
        .await;
    assert_eq!(
        rename_only.status, 200,
        "the name may change, the same path is no change"
    );
}

#[tokio::test]
async fn a_mapped_distro_cannot_be_deleted_an_unmapped_one_can() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    w.map("alice", &w.web, id).await;
    let api = w.app.api("alice");
    let before = w.app.snapshot();
    let answer = api.delete(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(answer.reason().contains("'web'"), "{}", answer.reason());
    assert_eq!(w.app.snapshot(), before);

    api.post(
        &format!("/api/containers/{}", w.web.uid()),
        json!({"custom_distro": null}),
    )
    .await;
    let answer = api.delete(&format!("/api/custom_distro/{id}")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json, json!({"message": "Ok"}));
    assert_eq!(w.app.count("custom_distros"), 0);
    assert_eq!(
        w.app
            .scalar("SELECT count(*) FROM jobs WHERE kind = 'purge_image'"),
        "0",
        "the image files are kept unless asked"
    );
}

#[tokio::test]
async fn deleting_with_purge_queues_removing_the_image() {
    let w = world().await;
    let id = w
        .custom_distro("alice", &w.images, "Debian", "debian")
        .await;
    let answer = w
        .app
        .api("alice")
        .delete(&format!("/api/custom_distro/{id}?purge=1"))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        w.app
            .scalar("SELECT kind || ' ' || (payload->>'path') FROM jobs"),
        "purge_image debian"
    );
}
