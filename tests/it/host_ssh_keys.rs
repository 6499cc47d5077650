//! A customer's ssh keys: refused by the API unless each parses as an OpenSSH public key,
//! written by the executor (never by the vassal) to `.ssh/uwsgi_authorized_keys`, and never
//! through a link the customer planted.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX alice@laptop";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLOs/TEQiw+v5zusRRzjLztQdW1XUAeVgaLwwXLJBYGzrkzlRU/0FmKuMfeBYLjeCAuJDZBRChQOu2UZY5fNbdc= alice@desk";
const HOSTILE: &str = "ssh-ed25519 AAAA @(exec://id -u)";
const INJECTED: &str = "$(HOME)\n[uwsgi]\nhook-asap = exec:id";

fn key_file(app: &TestApp, uid: i64) -> std::path::PathBuf {
    home(app, uid).join(".ssh/uwsgi_authorized_keys")
}

/// (level, message) of the job's report lines.
fn report(app: &TestApp, job: &distropanel::db::models::job::Job) -> Vec<(String, String)> {
    crate::host_fixtures::job(app, job.id)
        .report
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let text = |f: &str| l[f].as_str().unwrap().to_owned();
            (text("level"), text("message"))
        })
        .collect()
}

/// Fails unless one of the report's lines ends with `ending`.
fn assert_a_line_ends_with(lines: &[(String, String)], ending: &str) {
    assert!(
        lines.iter().any(|(_, message)| message.ends_with(ending)),
        "no line ends with {ending:?}: {lines:?}"
    );
}

/// Every vassal file on the host, as one text.
fn all_vassals(app: &TestApp) -> String {
    let dir = app.host_root.path().join("etc/uwsgi/vassals");
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    text
}

/// A directory outside every home holding a file the customer would love to overwrite.
fn outside(app: &TestApp) -> std::path::PathBuf {
    let dir = app.host_root.path().join("outside");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("uwsgi_authorized_keys");
    std::fs::write(&file, "root:secret\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    dir
}

#[tokio::test]
async fn a_line_that_is_not_a_public_key_is_422_naming_its_index_and_changes_nothing() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let path = format!("/api/containers/{}", estate.web.uid());
    let before = app.snapshot();

    let answer = app
        .api("kratos")
        .post(
            &path,
            json!({"ssh_keys": [ED25519, HOSTILE, ECDSA, INJECTED], "note": "keys"}),
        )
        .await;

    assert_eq!(answer.status, 422, "{answer:?}");
    let why = answer.json["fields"]["ssh_keys"].as_str().unwrap();
    assert!(
        why.starts_with(
            "the key at index 1 does not hold a valid ssh-ed25519 public key: its base64 body \
             does not decode to one; the key at index 3 holds a control character"
        ),
        "{why}"
    );
    assert!(
        !why.contains("index 0") && !why.contains("index 2"),
        "{why}"
    );
    assert_eq!(app.snapshot(), before, "not even the note changed");
    assert_eq!(app.count("jobs"), 0, "no restart");
}

#[tokio::test]
async fn keys_sent_through_the_api_are_written_0600_owned_by_the_container_and_never_in_the_vassal()
{
    let app = spawn_app().await;
    let estate = estate(&app);
    let uid = estate.web.uid();
    let options = format!(r#"from="10.0.0.0/8",command="echo \"hi\"",no-pty {ECDSA}"#);
    let answer = app
        .api("kratos")
        .post(
            &format!("/api/containers/{uid}"),
            json!({"ssh_keys": [ED25519, format!("  {options} ")]}),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["ssh_keys"], json!([ED25519, options]));

    drain(&app).await;

    let file = key_file(&app, uid);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{ED25519}\n{options}\n")
    );
    let meta = std::fs::symlink_metadata(&file).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!((i64::from(meta.uid()), i64::from(meta.gid())), (uid, uid));
    let ssh = std::fs::symlink_metadata(home(&app, uid).join(".ssh")).unwrap();
    assert_eq!(i64::from(ssh.uid()), uid, ".ssh is the container's");
    let vassals = all_vassals(&app);
    assert!(vassals.contains(&format!("uid = {uid}")), "{vassals}");
    for text in ["AAAAC3NzaC1lZDI1NTE5", "AAAAE2VjZHNh", "alice@", "from="] {
        assert!(!vassals.contains(text), "{text} in a vassal:\n{vassals}");
    }

    // no keys any more: the file is emptied, not left with the old ones
    app.api("kratos")
        .post(&format!("/api/containers/{uid}"), json!({"ssh_keys": []}))
        .await;
    drain(&app).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
}

#[tokio::test]
async fn a_hostile_key_stored_behind_the_apis_back_is_skipped_with_a_report_line_and_an_alarm() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let uid = estate.web.uid();
    let stored = [ED25519, HOSTILE, INJECTED, ECDSA];
    let array = stored
        .iter()
        .map(|k| format!("'{}'", k.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    app.sql(&format!(
        "UPDATE containers SET ssh_keys = ARRAY[{array}] WHERE id = {}",
        estate.web.id
    ))
    .unwrap();
    let job = restart(&app, &estate.web);

    drain(&app).await;

    assert_eq!(
        std::fs::read_to_string(key_file(&app, uid)).unwrap(),
        format!("{ED25519}\n{ECDSA}\n"),
        "only the keys that parse"
    );
    let lines = report(&app, &job);
    let skipped = [
        "ssh_keys[1] does not hold a valid ssh-ed25519 public key: its base64 body does not \
         decode to one; it was left out of .ssh/uwsgi_authorized_keys",
        "ssh_keys[2] holds a control character (a newline, a tab…); a key is one line of text; \
         it was left out of .ssh/uwsgi_authorized_keys",
    ];
    for detail in skipped {
        assert!(
            lines.iter().any(|(level, message)| level == "warning"
                && message == &format!("ssh key -> warning: {detail}")),
            "{detail}\n{lines:#?}"
        );
    }
    assert_eq!(
        alarms(&app, &estate.web),
        skipped
            .iter()
            .map(|detail| (1, format!("[distropanel] {detail}")))
            .collect::<Vec<_>>()
    );
    let vassals = all_vassals(&app);
    for text in [
        "@(",
        "$(",
        "[uwsgi]\nhook-asap = exec",
        "AAAAC3NzaC1lZDI1NTE5",
    ] {
        assert!(!vassals.contains(text), "{text} in a vassal:\n{vassals}");
    }
    assert_eq!(crate::host_fixtures::job(&app, job.id).state, "done");

    let shown = app
        .api("kratos")
        .get(&format!("/api/containers/{uid}"))
        .await;
    assert_eq!(
        shown.json["ssh_keys"],
        json!(stored),
        "stored keys are shown as they are"
    );
}

#[tokio::test]
async fn a_link_planted_at_ssh_is_not_followed_and_the_container_still_restarts() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let uid = estate.web.uid();
    app.sql(&format!(
        "UPDATE containers SET ssh_keys = ARRAY['{ED25519}'] WHERE id = {}",
        estate.web.id
    ))
    .unwrap();
    let outside = outside(&app);
    let before = tree(&outside, &[]);
    std::fs::create_dir_all(home(&app, uid)).unwrap();
    symlink(&outside, home(&app, uid).join(".ssh")).unwrap();
    let job = restart(&app, &estate.web);

    drain(&app).await;

    assert_eq!(
        tree(&outside, &[]),
        before,
        "nothing outside the home changed"
    );
    assert!(
        std::fs::symlink_metadata(home(&app, uid).join(".ssh"))
            .unwrap()
            .is_symlink(),
        "the link is left alone"
    );
    let lines = report(&app, &job);
    assert!(
        lines.contains(&(
            "warning".into(),
            format!(
                "ssh keys /containers/{uid}/.ssh/uwsgi_authorized_keys -> warning: is a symbolic \
                 link; it was not followed and no key was written"
            )
        )),
        "{lines:#?}"
    );
    assert_eq!(crate::host_fixtures::job(&app, job.id).state, "done");
    assert!(vassal(&app, uid).contains(&format!("uid = {uid}")));
}

#[tokio::test]
async fn a_link_planted_as_the_key_file_is_replaced_and_what_it_pointed_at_is_untouched() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let uid = estate.web.uid();
    app.sql(&format!(
        "UPDATE containers SET ssh_keys = ARRAY['{ED25519}'] WHERE id = {}",
        estate.web.id
    ))
    .unwrap();
    let outside = outside(&app);
    let before = tree(&outside, &[]);
    std::fs::create_dir_all(home(&app, uid).join(".ssh")).unwrap();
    symlink(outside.join("uwsgi_authorized_keys"), key_file(&app, uid)).unwrap();
    let job = restart(&app, &estate.web);

    drain(&app).await;

    assert_eq!(
        tree(&outside, &[]),
        before,
        "nothing outside the home changed"
    );
    let meta = std::fs::symlink_metadata(key_file(&app, uid)).unwrap();
    assert!(meta.is_file(), "the link itself was replaced");
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(i64::from(meta.uid()), uid);
    assert_eq!(
        std::fs::read_to_string(key_file(&app, uid)).unwrap(),
        format!("{ED25519}\n")
    );
    assert!(
        report(&app, &job)
            .iter()
            .any(|(level, message)| level == "info"
                && message.starts_with(&format!(
                    "ssh keys /containers/{uid}/.ssh/uwsgi_authorized_keys -> ok: 1 written"
                )))
    );
}

#[tokio::test]
async fn a_restart_with_the_same_keys_leaves_the_key_file_as_it_is_and_says_so() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let uid = estate.web.uid();
    let path = format!("/api/containers/{uid}");
    app.api("kratos")
        .post(&path, json!({"ssh_keys": [ED25519]}))
        .await;
    drain(&app).await;
    let file = key_file(&app, uid);
    let written = std::fs::metadata(&file).unwrap().ino();

    let again = restart(&app, &estate.web);
    drain(&app).await;
    assert_eq!(
        std::fs::metadata(&file).unwrap().ino(),
        written,
        "not replaced"
    );
    assert_a_line_ends_with(
        &report(&app, &again),
        "ok: 1 already in place; the file was left as it is",
    );

    // the customer changes the file's mode in their home: the next restart writes it again
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let rewritten = restart(&app, &estate.web);
    drain(&app).await;
    assert_a_line_ends_with(
        &report(&app, &rewritten),
        "ok: 1 written, mode 0600, owned by the container",
    );
    let meta = std::fs::metadata(&file).unwrap();
    assert_ne!(meta.ino(), written, "replaced");
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{ED25519}\n")
    );
}
