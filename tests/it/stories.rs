//! The seed's quick start from end to end: the API changes the data, the worker does the host
//! work, and the host root shows the result.

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use serde_json::json;

use crate::helpers::spawn_app;
use crate::host_fixtures::{drain, emperor_log, home, installed_image, vassal};

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_sets_up_storage_boots_a_container_into_a_real_image_then_renames_and_purges_it()
{
    let app = spawn_app().await;
    app.customer("alice");
    app.server("s1");
    let bookworm = app.distro("bookworm");
    let images = app.container("alice", "s1", "images", None);
    let web = app.container("alice", "s1", "web", Some(&bookworm));
    let api = app.api("alice");

    // storage on: the worker creates <home>/distros
    let on = api
        .post(
            &format!("/api/containers/{}", images.uid()),
            json!({"custom_distros_storage": true}),
        )
        .await;
    assert_eq!(on.status, 200, "{on:?}");
    drain(&app).await;
    assert!(home(&app, images.uid()).join("distros").is_dir());

    // a distro, and its image uploaded through the API; the worker unpacks and checks it
    let made = api
        .post(
            &format!("/api/custom_distros/{}", images.uid()),
            json!({"name": "tiny", "path": "bb", "note": ""}),
        )
        .await;
    assert_eq!(made.status, 201, "{made:?}");
    let id = made.json["id"].as_i64().unwrap();
    let tarball =
        busybox_rootfs(std::path::Path::new(BUSYBOX), &[("web", web.uid() as u32)]).unwrap();
    let uploaded = api
        .send(
            api.request(
                reqwest::Method::PUT,
                &format!("/api/custom_distro/{id}/image"),
            )
            .body(tarball),
        )
        .await;
    assert_eq!(uploaded.status, 202, "{uploaded:?}");
    drain(&app).await;
    let check = api.get(&format!("/api/custom_distro/{id}/check")).await;
    assert_eq!(check.json["image_state"], "ready", "{check:?}");

    // mapping boots web into it
    let usable = api.get(&format!("/api/custom_distros/{}", web.uid())).await;
    assert_eq!(usable.json, json!([{"id": id, "name": "tiny"}]));
    let mapped = api
        .post(
            &format!("/api/containers/{}", web.uid()),
            json!({"custom_distro": id}),
        )
        .await;
    assert_eq!(mapped.status, 200, "{mapped:?}");
    drain(&app).await;
    let image_dir = format!("distropanel/images/{}/bb ", images.uid());
    assert!(
        vassal(&app, web.uid()).contains(&image_dir),
        "the vassal boots the image"
    );
    assert!(emperor_log(&app, web.uid()).contains("(root: custom)"));

    // the path cannot change while web boots it; after unmapping it can, and the directory follows
    let refused = api
        .post(&format!("/api/custom_distro/{id}"), json!({"path": "bb2"}))
        .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.json["reason"].as_str().unwrap().contains("web"),
        "{refused:?}"
    );
    let unmapped = api
        .post(
            &format!("/api/containers/{}", web.uid()),
            json!({"custom_distro": null}),
        )
        .await;
    assert_eq!(unmapped.status, 200, "{unmapped:?}");
    let renamed = api
        .post(&format!("/api/custom_distro/{id}"), json!({"path": "bb2"}))
        .await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
    drain(&app).await;
    assert!(
        !vassal(&app, web.uid()).contains(&image_dir),
        "web is back on its default distro"
    );
    let distros = installed_image(&app, images.uid(), "");
    assert!(!distros.join("bb").exists() && distros.join("bb2/bin/busybox").is_file());

    // deleting with purge removes the files too
    let deleted = api
        .delete(&format!("/api/custom_distro/{id}?purge=1"))
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    drain(&app).await;
    assert!(!distros.join("bb2").exists());
    assert_eq!(app.count("custom_distros"), 0);
}
