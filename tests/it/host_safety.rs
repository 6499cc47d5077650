//! A hostile customer against the real executor on a temporary host root: uWSGI's magic in
//! every string they can send, and links planted everywhere in their homes. Their containers
//! still restart, no vassal holds a byte they sent, and nothing outside their homes changes.

use std::path::Path;

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use reqwest::Method;
use serde_json::json;

use crate::api_client::world;
use crate::host_fixtures::{changes, drain, home, installed_image, restart, tree, vassal};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX";

/// What uWSGI would expand or read as structure in a vassal.
const MAGIC: [&str; 7] = [
    "@(exec://touch /tmp/distropanel-pwned)",
    "@(/etc/shadow)",
    "$(HOME)",
    "%(uid)",
    "%d",
    "\nhook-asap = exec:id",
    "[uwsgi]",
];

fn plant(link: &Path, target: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(link) {
        if meta.is_dir() {
            std::fs::remove_dir_all(link).unwrap();
        } else {
            std::fs::remove_file(link).unwrap();
        }
    }
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn magic_in_every_string_and_links_in_every_home_reach_neither_a_vassal_nor_the_host() {
    let w = world().await;
    let api = w.app.api("alice");

    // every string a customer can send that a restart reads
    for magic in MAGIC {
        let answer = api
            .post(
                &format!("/api/containers/{}", w.web.uid()),
                json!({"ssh_keys": [format!("{KEY} {magic}")]}),
            )
            .await;
        let refused_as_a_line = magic.contains('\n');
        assert_eq!(
            answer.status,
            if refused_as_a_line { 422 } else { 200 },
            "{magic:?}: {answer:?}"
        );
    }
    let named = api
        .post(
            &format!("/api/containers/{}", w.web.uid()),
            json!({"name": "web @(exec://id) $(HOME)", "note": MAGIC.join(" ")}),
        )
        .await;
    assert_eq!(named.status, 200, "{named:?}");
    let storage = api
        .post(
            &format!("/api/containers/{}", w.images.uid()),
            json!({"note": "%(uid) %d"}),
        )
        .await;
    assert_eq!(storage.status, 200, "{storage:?}");
    let id = w
        .custom_distro("alice", &w.images, "@(/etc/shadow) $(HOME) %d", "bb")
        .await;
    let noted = api
        .post(
            &format!("/api/custom_distro/{id}"),
            json!({"note": MAGIC.join(" ")}),
        )
        .await;
    assert_eq!(noted.status, 200, "{noted:?}");
    let image = busybox_rootfs(Path::new(BUSYBOX), &[("web", w.web.uid() as u32)]).unwrap();
    let uploaded = api
        .send(
            api.request(Method::PUT, &format!("/api/custom_distro/{id}/image"))
                .body(image),
        )
        .await;
    assert_eq!(uploaded.status, 202, "{uploaded:?}");
    drain(&w.app).await;
    w.map("alice", &w.web, id).await;
    drain(&w.app).await;

    // another customer's image, and a place outside every home
    let theirs = installed_image(&w.app, w.bob_images.uid(), "secret");
    std::fs::create_dir_all(theirs.join(".old_root")).unwrap();
    std::fs::create_dir_all(theirs.join("containers")).unwrap();
    let canary = tempfile::tempdir().unwrap();
    std::fs::create_dir(canary.path().join("dir")).unwrap();
    std::fs::write(canary.path().join("victim"), "untouched\n").unwrap();

    // links at every skeleton entry of web's home; at the key file, the log and the images of
    // the storage home
    let web_home = home(&w.app, w.web.uid());
    for entry in [
        "run",
        "tmp",
        "logs",
        "etc",
        "vassals",
        ".old_root",
        ".ssh",
        "bin",
    ] {
        plant(&web_home.join(entry), &canary.path().join("dir"));
    }
    let storage_home = home(&w.app, w.images.uid());
    plant(
        &storage_home.join(".ssh/uwsgi_authorized_keys"),
        &canary.path().join("victim"),
    );
    plant(
        &storage_home.join("logs/emperor.log"),
        &canary.path().join("victim"),
    );
    plant(&storage_home.join("distros/bb"), &theirs);
    plant(&storage_home.join("distros/theirs"), &theirs);

    let root = w.app.host_root.path();
    // the vassals are what a restart writes; everything else must stay as it is
    let vassals = root.join("etc/uwsgi/vassals");
    let homes = [
        web_home.as_path(),
        storage_home.as_path(),
        vassals.as_path(),
    ];
    let host_before = tree(root, &homes);
    let canary_before = tree(canary.path(), &[]);
    for container in [&w.web, &w.images] {
        restart(&w.app, container);
    }
    drain(&w.app).await;
    // and once more, now that the storage home holds a link where its distros were
    plant(&storage_home.join("distros"), canary.path());
    for container in [&w.web, &w.images] {
        restart(&w.app, container);
    }
    drain(&w.app).await;

    assert_eq!(
        changes(&host_before, &tree(root, &homes)),
        Vec::<String>::new(),
        "the host root is as it was"
    );
    assert_eq!(
        changes(&canary_before, &tree(canary.path(), &[])),
        Vec::<String>::new(),
        "so is the place outside"
    );
    for container in [&w.web, &w.images] {
        let text = vassal(&w.app, container.uid());
        for magic in MAGIC.iter().filter(|m| **m != "[uwsgi]") {
            assert!(!text.contains(magic.trim()), "{magic:?} in {text}");
        }
        assert_eq!(text.matches("[uwsgi]").count(), 1, "one section: {text}");
        assert!(!text.contains(KEY.split(' ').nth(1).unwrap()), "{text}");
        assert!(!text.contains("@(") && !text.contains("$(") && !text.contains("%("));
    }
    let web_vassal = vassal(&w.app, w.web.uid());
    assert!(
        web_vassal.contains(&format!(
            "{} ",
            installed_image(&w.app, w.images.uid(), "bb").display()
        )),
        "web boots the image in the store, not the link planted in the storage home:\n{web_vassal}"
    );
    assert!(!web_vassal.contains("secret"));
    assert!(!Path::new("/tmp/distropanel-pwned").exists());
}
