//! Custom distros, images on the host root, jobs and workers for host executor stories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use distropanel::config::Config;
use distropanel::db::models::container::Container;
use distropanel::db::models::job::Job;
use distropanel::db::queries::jobs::{self as queue, ServerScope};
use distropanel::domain::ids::ContainerId;
use distropanel::jobs;
use distropanel::jobs::worker::{Worker, local_worker};

use crate::helpers::{BASE_UID, Made, TestApp, test_config};

/// The configuration the app under test runs with.
pub fn config(app: &TestApp) -> Config {
    test_config(&app.db, app.host_root.path(), app.var_dir.path())
}

/// A worker on the app's host root, for every server.
pub async fn worker(app: &TestApp) -> Worker {
    local_worker(&config(app), ServerScope::All)
        .await
        .expect("a worker starts")
}

/// Runs every job that can run now.
pub async fn drain(app: &TestApp) -> usize {
    worker(app).await.drain().await.expect("the queue drains")
}

pub fn home(app: &TestApp, uid: i64) -> PathBuf {
    app.host_root.path().join(format!("containers/{uid}"))
}

pub fn vassal_path(app: &TestApp, uid: i64) -> PathBuf {
    app.host_root
        .path()
        .join(format!("etc/uwsgi/vassals/{uid}.ini"))
}

pub fn vassal(app: &TestApp, uid: i64) -> String {
    std::fs::read_to_string(vassal_path(app, uid)).expect("the vassal was written")
}

pub fn emperor_log(app: &TestApp, uid: i64) -> String {
    std::fs::read_to_string(home(app, uid).join("logs/emperor.log")).unwrap_or_default()
}

/// A custom distro row in `storage` named after its path.
pub fn custom_distro(app: &TestApp, storage: &Made, path: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let row: Id = diesel::sql_query(format!(
        "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path) \
         SELECT id, server_id, customer_id, 'Distro {path}', '{path}' FROM containers \
         WHERE id = {} RETURNING id",
        storage.id
    ))
    .get_result(&mut app.conn())
    .unwrap();
    i64::from(row.id)
}

/// Where the host keeps the installed image `path` of a storage container (its
/// `~/distros/<path>` inside the container).
pub fn installed_image(app: &TestApp, storage_uid: i64, path: &str) -> PathBuf {
    app.host_root
        .path()
        .join(format!("var/lib/distropanel/images/{storage_uid}/{path}"))
}

/// A bootable image installed as `path`: `.old_root`, `containers`, `etc`.
pub fn image(app: &TestApp, storage: &Made, path: &str) -> PathBuf {
    let root = installed_image(app, storage.uid(), path);
    for dir in [".old_root", "containers", "etc", "bin"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    root
}

/// Maps `container` to the custom distro `distro` and enqueues its restart, in one
/// transaction, as the API does.
pub fn map_and_restart(app: &TestApp, container: &Made, distro: i64) -> Job {
    let mut conn = app.conn();
    conn.transaction(|conn| {
        diesel::sql_query(format!(
            "UPDATE containers SET custom_distro_id = {distro}, last_reboot = now() WHERE id = {}",
            container.id
        ))
        .execute(conn)?;
        enqueue(conn, container, |c| jobs::restart(c))
    })
    .unwrap()
}

pub fn load(conn: &mut PgConnection, container: &Made) -> Container {
    use distropanel::db::schema::containers;
    containers::table
        .find(ContainerId(container.id as i32))
        .select(Container::as_select())
        .first(conn)
        .unwrap()
}

/// Enqueues the job `make` builds for `container`.
pub fn enqueue(
    conn: &mut PgConnection,
    container: &Made,
    make: impl FnOnce(&Container) -> distropanel::db::models::job::NewJob,
) -> QueryResult<Job> {
    let row = load(conn, container);
    queue::enqueue(conn, &make(&row))
}

pub fn restart(app: &TestApp, container: &Made) -> Job {
    enqueue(&mut app.conn(), container, |c| jobs::restart(c)).unwrap()
}

pub fn job(app: &TestApp, id: distropanel::domain::ids::JobId) -> Job {
    queue::find(&mut app.conn(), id).unwrap().unwrap()
}

/// Messages of the container's alarms, oldest first.
pub fn alarms(app: &TestApp, container: &Made) -> Vec<(i16, String)> {
    use distropanel::db::schema::alarms;
    alarms::table
        .filter(alarms::container_id.eq(ContainerId(container.id as i32)))
        .order(alarms::id)
        .select((alarms::level, alarms::msg))
        .load(&mut app.conn())
        .unwrap()
}

/// (action, outcome, detail) of the container's operation log, oldest first.
pub fn operations(app: &TestApp, container: &Made) -> Vec<(String, String, String)> {
    use distropanel::db::schema::events;
    events::table
        .filter(events::container_id.eq(ContainerId(container.id as i32)))
        .filter(events::kind.eq("operation"))
        .order(events::id)
        .select((events::action, events::outcome, events::detail))
        .load(&mut app.conn())
        .unwrap()
}

/// A customer `kratos` on server `s1` with platform distro `jammy`, a storage container
/// holding a bootable image `ubuntu0001`, and a container `web` that can map it.
pub struct Estate {
    pub jammy: Made,
    pub storage: Made,
    pub web: Made,
    pub distro: i64,
}

pub fn estate(app: &TestApp) -> Estate {
    app.customer("kratos");
    app.server("s1");
    let jammy = app.distro("jammy");
    std::fs::create_dir_all(app.host_root.path().join("distros/jammy/.old_root")).unwrap();
    let storage = app.storage_container("kratos", "s1", "images");
    let web = app.container("kratos", "s1", "web", Some(&jammy));
    let distro = custom_distro(app, &storage, "ubuntu0001");
    image(app, &storage, "ubuntu0001");
    Estate {
        jammy,
        storage,
        web,
        distro,
    }
}

pub fn uid_of(id: i64) -> i64 {
    i64::from(BASE_UID) + id
}

pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Everything below `top` (itself included) as sorted text lines: path, owner, mode, and a
/// file's SHA-256 or a link's target. Links are not followed; paths below `skip` are left out.
pub fn tree(top: &Path, skip: &[&Path]) -> Vec<String> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut seen = Vec::new();
    let mut pending = vec![top.to_path_buf()];
    while let Some(path) = pending.pop() {
        if skip.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let what = if meta.is_symlink() {
            format!("-> {}", std::fs::read_link(&path).unwrap().display())
        } else if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap().flatten() {
                pending.push(entry.path());
            }
            "dir".to_owned()
        } else {
            hex::encode(Sha256::digest(std::fs::read(&path).unwrap_or_default()))
        };
        seen.push(format!(
            "{} {}:{} {:o} {what}",
            path.display(),
            meta.uid(),
            meta.gid(),
            meta.mode()
        ));
    }
    seen.sort();
    seen
}

/// The lines of one [`tree`] missing from the other, both ways: empty when nothing changed.
pub fn changes(before: &[String], after: &[String]) -> Vec<String> {
    let gone = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("- {l}"));
    let new = after
        .iter()
        .filter(|l| !before.contains(l))
        .map(|l| format!("+ {l}"));
    gone.chain(new).collect()
}

/// Plants a fifo at `path`, as a customer can in their home.
pub fn mkfifo(path: &std::path::Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}
