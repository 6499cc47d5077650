//! Every integrity rule of the schema, checked by writing through SQL that bypasses the Rust
//! code: PostgreSQL itself must refuse, naming the constraint.

use crate::helpers::{Made, TestApp, spawn_app};

fn refused(result: Result<usize, String>, constraint: &str) {
    match result {
        Ok(n) => panic!("expected {constraint} to refuse the write, but it changed {n} rows"),
        Err(e) => assert!(e.contains(constraint), "expected {constraint}, got: {e}"),
    }
}

/// Customer `a` with a storage container on server `s1` holding distro `img`, a container
/// `web` on `s1` with a default distro, and what else the stories need.
struct World {
    app: TestApp,
    a: Made,
    b: Made,
    storage: Made,
    web: Made,
    distro: Made,
    custom: i64,
}

async fn world() -> World {
    let app = spawn_app().await;
    let (a, b) = (app.customer("alice"), app.customer("bob"));
    app.server("s1");
    app.server("s2");
    let distro = app.distro("bookworm");
    let storage = app.storage_container("alice", "s1", "images");
    let web = app.container("alice", "s1", "web", Some(&distro));
    let custom = insert_custom_distro(&app, &storage, "img", "img").unwrap();
    World {
        app,
        a,
        b,
        storage,
        web,
        distro,
        custom,
    }
}

fn insert_custom_distro(
    app: &TestApp,
    storage: &Made,
    name: &str,
    path: &str,
) -> Result<i64, String> {
    app.sql(&format!(
        "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path)
         SELECT id, server_id, customer_id, '{name}', '{path}' FROM containers WHERE id = {}",
        storage.id
    ))?;
    Ok(app.count("custom_distros"))
}

#[tokio::test]
async fn a_container_maps_a_custom_distro_of_its_customer_on_its_server() {
    let w = world().await;
    let changed = w.app.sql(&format!(
        "UPDATE containers SET custom_distro_id = {} WHERE id = {}",
        w.custom, w.web.id
    ));
    assert_eq!(changed, Ok(1));
}

#[tokio::test]
async fn a_storage_container_cannot_use_a_custom_distro() {
    let w = world().await;
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET custom_distro_id = {}, distro_id = {} WHERE id = {}",
            w.custom, w.distro.id, w.storage.id
        )),
        "containers_storage_no_custom_distro",
    );
}

#[tokio::test]
async fn a_container_using_a_custom_distro_cannot_become_a_storage_container() {
    let w = world().await;
    w.app
        .sql(&format!(
            "UPDATE containers SET custom_distro_id = {} WHERE id = {}",
            w.custom, w.web.id
        ))
        .unwrap();
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET custom_distros_storage = true WHERE id = {}",
            w.web.id
        )),
        "containers_storage_no_custom_distro",
    );
}

#[tokio::test]
async fn a_container_on_another_server_cannot_map_the_distro() {
    let w = world().await;
    let elsewhere = w.app.container("alice", "s2", "far", Some(&w.distro));
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET custom_distro_id = {} WHERE id = {}",
            w.custom, elsewhere.id
        )),
        "containers_custom_distro_fkey",
    );
}

#[tokio::test]
async fn another_customers_container_cannot_map_the_distro() {
    let w = world().await;
    let bobs = w.app.container("bob", "s1", "bobs", Some(&w.distro));
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET custom_distro_id = {} WHERE id = {}",
            w.custom, bobs.id
        )),
        "containers_custom_distro_fkey",
    );
    assert_ne!(w.a.customer_id(), w.b.customer_id());
}

#[tokio::test]
async fn mapping_needs_a_default_distro_to_fall_back_to() {
    let w = world().await;
    let bare = w.app.container("alice", "s1", "bare", None);
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET custom_distro_id = {} WHERE id = {}",
            w.custom, bare.id
        )),
        "containers_custom_distro_needs_fallback",
    );
}

#[tokio::test]
async fn a_custom_distro_lives_only_in_a_storage_container() {
    let w = world().await;
    refused(
        insert_custom_distro(&w.app, &w.web, "x", "x").map(|n| n as usize),
        "custom_distros_storage_fkey",
    );
}

#[tokio::test]
async fn a_custom_distro_cannot_claim_another_server_or_customer_than_its_container() {
    let w = world().await;
    for (server, customer) in [
        (
            "(SELECT id FROM servers WHERE name = 's2')",
            w.a.customer_id().to_string(),
        ),
        ("server_id", w.b.customer_id().to_string()),
    ] {
        refused(
            w.app.sql(&format!(
                "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path)
                 SELECT id, {server}, {customer}, 'lie', 'lie' FROM containers WHERE id = {}",
                w.storage.id
            )),
            "custom_distros_storage_fkey",
        );
    }
}

#[tokio::test]
async fn storage_cannot_be_turned_off_while_it_holds_custom_distros() {
    let w = world().await;
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET custom_distros_storage = false WHERE id = {}",
            w.storage.id
        )),
        "custom_distros_storage_fkey",
    );
}

#[tokio::test]
async fn a_mapped_custom_distro_cannot_be_deleted() {
    let w = world().await;
    w.app
        .sql(&format!(
            "UPDATE containers SET custom_distro_id = {} WHERE id = {}",
            w.custom, w.web.id
        ))
        .unwrap();
    refused(
        w.app.sql(&format!(
            "DELETE FROM custom_distros WHERE id = {}",
            w.custom
        )),
        "containers_custom_distro_fkey",
    );
}

#[tokio::test]
async fn deleting_a_container_or_a_customer_never_takes_other_rows_with_it() {
    let w = world().await;
    refused(
        w.app.sql(&format!(
            "DELETE FROM containers WHERE id = {}",
            w.storage.id
        )),
        "custom_distros_storage_fkey",
    );
    refused(
        w.app.sql(&format!(
            "DELETE FROM customers WHERE id = {}",
            w.a.customer_id()
        )),
        "_customer_id_fkey",
    );
    assert_eq!(w.app.count("containers"), 2);
    assert_eq!(w.app.count("custom_distros"), 1);
    assert_eq!(w.app.count("users"), 2);
}

#[tokio::test]
async fn custom_distro_paths_are_single_safe_directory_names() {
    let w = world().await;
    let long = "x".repeat(65);
    for bad in [
        "..",
        ".",
        "a/b",
        "../etc",
        "/abs",
        "sp ace",
        "",
        long.as_str(),
    ] {
        refused(
            insert_custom_distro(&w.app, &w.storage, &format!("n{}", bad.len()), bad)
                .map(|n| n as usize),
            "custom_distros_path_check",
        );
    }
    assert!(insert_custom_distro(&w.app, &w.storage, "ok", &"x".repeat(64)).is_ok());
    refused(
        w.app
            .sql("INSERT INTO distros (name, path) VALUES ('up', '..')"),
        "distros_path_check",
    );
}

#[tokio::test]
async fn names_and_paths_are_unique_within_a_storage_container() {
    let w = world().await;
    refused(
        insert_custom_distro(&w.app, &w.storage, "img", "other").map(|n| n as usize),
        "custom_distros_container_name_key",
    );
    refused(
        insert_custom_distro(&w.app, &w.storage, "other", "img").map(|n| n as usize),
        "custom_distros_container_path_key",
    );
    let second = w.app.storage_container("alice", "s1", "images2");
    assert!(
        insert_custom_distro(&w.app, &second, "img", "img").is_ok(),
        "another storage container may reuse them"
    );
}

#[tokio::test]
async fn alarms_have_a_level_from_0_to_4_and_a_hex_colour() {
    let w = world().await;
    let insert = |level: i32, color: &str| {
        w.app.sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, level, color, msg) VALUES ({}, {}, {level}, '{color}', 'm')",
            w.web.id,
            w.a.customer_id()
        ))
    };
    assert_eq!(insert(0, "#ff0000"), Ok(1));
    assert_eq!(insert(4, "#00FF00"), Ok(1));
    refused(insert(5, "#ff0000"), "alarms_level_check");
    refused(insert(-1, "#ff0000"), "alarms_level_check");
    refused(insert(1, "red"), "alarms_color_check");
    refused(insert(1, "ff0000"), "alarms_color_check");
}

#[tokio::test]
async fn an_alarm_belongs_to_the_customer_of_its_container() {
    let w = world().await;
    refused(
        w.app.sql(&format!(
            "INSERT INTO alarms (container_id, customer_id, level, msg) VALUES ({}, {}, 1, 'm')",
            w.web.id,
            w.b.customer_id()
        )),
        "alarms_container_fkey",
    );
}

#[tokio::test]
async fn customer_logins_belong_to_a_customer_and_staff_to_none() {
    let w = world().await;
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
    refused(
        w.app.sql(&format!(
            "INSERT INTO users (username, email, password_hash, role) VALUES ('c', 'c@x.y', '{hash}', 'customer')"
        )),
        "users_role_customer",
    );
    refused(
        w.app.sql(&format!(
            "INSERT INTO users (username, email, password_hash, role, customer_id) VALUES ('s', 's@x.y', '{hash}', 'staff', {})",
            w.a.customer_id()
        )),
        "users_role_customer",
    );
    refused(
        w.app.sql("INSERT INTO users (username, email, password_hash, role) VALUES ('p', 'p@x.y', 'plain', 'staff')"),
        "users_password_hash_check",
    );
}

#[tokio::test]
async fn container_lists_hold_no_null_entries() {
    let w = world().await;
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET ssh_keys = ARRAY['ssh-ed25519 AAA', NULL] WHERE id = {}",
            w.web.id
        )),
        "containers_ssh_keys_check",
    );
    refused(
        w.app.sql(&format!(
            "UPDATE containers SET alarm_freq = 10 WHERE id = {}",
            w.web.id
        )),
        "containers_alarm_freq_check",
    );
}

#[tokio::test]
async fn an_image_is_known_by_size_and_digest_together_and_unpacking_is_never_stored() {
    let w = world().await;
    let id = w.custom;
    refused(
        w.app.sql(&format!(
            "UPDATE custom_distros SET image_bytes = 10 WHERE id = {id}"
        )),
        "custom_distros_image_known",
    );
    refused(
        w.app.sql(&format!(
            "UPDATE custom_distros SET previous_sha256 = repeat('a', 64) WHERE id = {id}"
        )),
        "custom_distros_image_known",
    );
    refused(
        w.app.sql(&format!(
            "UPDATE custom_distros SET image_state = 'unpacking' WHERE id = {id}"
        )),
        "custom_distros_image_state_check",
    );
    w.app
        .sql(&format!(
            "UPDATE custom_distros SET image_bytes = 10, image_sha256 = repeat('a', 64),
             image_state = 'ready' WHERE id = {id}"
        ))
        .unwrap();
}

#[tokio::test]
async fn an_upload_completes_only_with_its_digest_and_its_chunks_are_bounded() {
    let w = world().await;
    w.app
        .sql(&format!(
            "INSERT INTO image_uploads (custom_distro_id) VALUES ({})",
            w.custom
        ))
        .unwrap();
    refused(
        w.app.sql("UPDATE image_uploads SET state = 'complete'"),
        "image_uploads_complete_has_digest",
    );
    refused(
        w.app.sql(
            "INSERT INTO image_upload_chunks (upload_id, seq, data)
             SELECT id, 0, '' FROM image_uploads",
        ),
        "image_upload_chunks_data_check",
    );
    refused(
        w.app.sql(
            "INSERT INTO image_upload_chunks (upload_id, seq, data)
             SELECT id, 0, decode(repeat('00', 16777217), 'hex') FROM image_uploads",
        ),
        "image_upload_chunks_data_check",
    );
    w.app
        .sql(
            "INSERT INTO image_upload_chunks (upload_id, seq, data)
             SELECT id, 0, 'abc'::bytea FROM image_uploads",
        )
        .unwrap();
    // the bytes go with their distro: an upload is not something a user saved
    w.app
        .sql(&format!(
            "DELETE FROM custom_distros WHERE id = {}",
            w.custom
        ))
        .unwrap();
    assert_eq!(w.app.count("image_upload_chunks"), 0);
}
