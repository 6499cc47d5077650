//! A real uWSGI Emperor (Debian's uwsgi-core) watching the vassals directory: a restart job
//! makes it restart the container's vassal, and the real vassal, run as root with
//! `--emperor-use-clone fs`, boots a custom distro while the links a customer plants in their
//! home reach nothing outside it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use distropanel::db::queries::jobs::ServerScope;
use distropanel::jobs::worker::local_worker;

use crate::helpers::spawn_app;
use crate::host_fixtures::*;

/// A vassal small enough for a test machine: no namespaces, no cgroups, a master with one
/// worker that writes its pid into the container's home.
const TEST_TEMPLATE: &str = "[uwsgi]
; test vassal of container {{uid}}, booting {{root}} ({{boot}})
master = true
socket = {{home}}/run/vassal.sock
pidfile = {{home}}/run/vassal.pid
logto = {{home}}/logs/vassal.log
exit-on-reload = true
";

struct Emperor(Child);

impl Drop for Emperor {
    fn drop(&mut self) {
        // SIGINT: the Emperor stops its vassals and reaps them before it exits
        if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_restart_job_makes_a_real_emperor_restart_the_vassal() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let template_dir = tempfile::tempdir().unwrap();
    let template = template_dir.path().join("vassal.ini");
    std::fs::write(&template, TEST_TEMPLATE).unwrap();
    let mut config = config(&app);
    config.vassal_template = Some(template);
    let worker = local_worker(&config, ServerScope::All).await.unwrap();

    let emperor_log = template_dir.path().join("emperor.log");
    let _emperor = Emperor(
        Command::new("uwsgi")
            .arg("--emperor")
            .arg(&config.vassals_dir)
            .args(["--emperor-freq", "1"])
            .arg("--logto")
            .arg(&emperor_log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("uwsgi is installed (scripts/setup installs uwsgi-core)"),
    );

    restart(&app, &estate.web);
    worker.drain().await.unwrap();
    let written = vassal(&app, estate.web.uid());
    let root = app.host_root.path().display();
    assert!(
        written.contains(&format!("booting {root}/distros/jammy (platform)")),
        "{written}"
    );
    let pidfile = home(&app, estate.web.uid()).join("run/vassal.pid");
    let first = wait_for("the Emperor to start the vassal", || {
        read_pid(&pidfile).filter(|pid| alive(*pid))
    })
    .await;

    restart(&app, &estate.web);
    worker.drain().await.unwrap();
    let second = wait_for("the Emperor to restart the vassal", || {
        read_pid(&pidfile).filter(|pid| *pid != first && alive(*pid))
    })
    .await;

    assert!(!alive(first), "the old instance is gone");
    let log = std::fs::read_to_string(&emperor_log).unwrap();
    assert!(
        log.contains(&format!(
            "reload the uwsgi instance {}.ini",
            estate.web.uid()
        )),
        "{log}"
    );
    let _ = second;
}

/// The real vassal, less what needs unbit's plugins or a cgroup hierarchy: every hook, mount
/// and path line stays.
fn runnable(vassal: &str) -> String {
    vassal
        .lines()
        .filter(|line| {
            !(line.starts_with("plugins")
                || line.starts_with("cgroup")
                || line.starts_with("alarm")
                || line.starts_with("hook-asap = write:/sys/fs/cgroup/"))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

static EMPEROR_LOG: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The children of `parent` whose command line starts with `prefix`.
fn children(parent: u32, prefix: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid: u32 = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            (ppid == parent && cmdline.starts_with(prefix.as_bytes())).then_some(pid)
        })
        .collect()
}

/// The container's master, once it runs as the container's uid.
async fn master(emperor: u32, uid: i64, not: i32) -> i32 {
    let prefix = format!("[{uid}]");
    let start = Instant::now();
    wait_for(&format!("the master of {uid} to run"), || {
        if start.elapsed() > Duration::from_secs(30) {
            let log = std::fs::read_to_string(EMPEROR_LOG.get().unwrap()).unwrap_or_default();
            panic!("{}", &log[log.len().saturating_sub(6000)..]);
        }
        children(emperor, &prefix).into_iter().find(|pid| {
            *pid != not
                && std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .is_ok_and(|s| s.lines().any(|l| l.starts_with(&format!("Uid:\t{uid}\t"))))
        })
    })
    .await
}

/// How many times the Emperor logged the end of the vassal of `uid` after the first `since`
/// bytes of its log: the one killed, then each respawn that died.
fn vassal_ends(log: &Path, since: usize, uid: i64) -> usize {
    let log = std::fs::read(log).unwrap_or_default();
    String::from_utf8_lossy(&log[since.min(log.len())..])
        .matches(&format!("[emperor] removed uwsgi instance {uid}.ini"))
        .count()
}

fn log_len(log: &Path) -> usize {
    std::fs::metadata(log).map_or(0, |m| m.len() as usize)
}

/// Waits until the vassal of each of `uids`, killed after the first `since` bytes of the
/// Emperor's log, was respawned and ended again at least twice more.
async fn respawned_twice(log: &Path, since: usize, uids: &[i64]) {
    for uid in uids {
        wait_for(
            &format!("the vassal of {uid} to be respawned twice"),
            || (vassal_ends(log, since, *uid) >= 3).then_some(()),
        )
        .await;
    }
}

fn kill(pid: i32) {
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    );
}

fn chown_tree(top: &Path, uid: u32) {
    let mut pending = vec![top.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        std::os::unix::fs::lchown(&path, Some(uid), Some(uid)).unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap().flatten() {
                pending.push(entry.path());
            }
        }
    }
}

#[tokio::test]
async fn the_real_vassal_boots_a_custom_distro_under_a_real_emperor_and_planted_links_reach_nothing()
 {
    use diesel::RunQueryDsl;
    use distropanel::domain::values::{DistroPath, Uid};
    use distropanel::host::HostExecutor;
    use distropanel::host::local::LocalHost;
    use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
    use distropanel::host::unpack::Limits;

    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: mounting and pivot_root need root");
        return;
    }
    let app = spawn_app().await;
    let estate = estate(&app);
    let web_uid = estate.web.uid();
    let storage_uid = Uid::container_id(estate.storage.uid(), 30000)
        .map(|id| Uid::of(30000, id))
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut config = config(&app);
    config.vassals_dir = work.path().join("written");

    // a real image, installed by the executor in place of the fixture's empty directories
    let host = LocalHost::open(app.host_root.path(), &config.vassals_dir).unwrap();
    let path = DistroPath::parse("ubuntu0001").unwrap();
    host.purge_image(storage_uid, &path).unwrap();
    let rootfs = busybox_rootfs(Path::new(BUSYBOX), &[("web", web_uid as u32)]).unwrap();
    host.install_image(
        storage_uid,
        &path,
        &mut &rootfs[..],
        None,
        Limits {
            max_bytes: 64 << 20,
            max_entries: 10_000,
            max_archive_bytes: 64 << 20,
            deadline: distropanel::host::deadline::Deadline::NONE,
        },
        &distropanel::host::image::Gate {
            facts: &distropanel::host::check::CheckFacts::default(),
            force: false,
            progress: &distropanel::host::progress::Progress::none(),
        },
    )
    .unwrap();
    // the platform distro is a real root too, and the storage container boots it
    let jammy = app.host_root.path().join("distros/jammy");
    std::fs::remove_dir_all(&jammy).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(&rootfs[..]))
        .unpack(&jammy)
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE containers SET distro_id = {} WHERE id = {}",
        estate.jammy.id, estate.storage.id
    ))
    .execute(&mut app.conn())
    .unwrap();
    let worker = local_worker(&config, ServerScope::All).await.unwrap();
    map_and_restart(&app, &estate.web, estate.distro);
    restart(&app, &estate.storage);
    worker.drain().await.unwrap();

    let watched = work.path().join("emperor");
    std::fs::create_dir_all(&watched).unwrap();
    for uid in [web_uid, estate.storage.uid()] {
        let written =
            std::fs::read_to_string(config.vassals_dir.join(format!("{uid}.ini"))).unwrap();
        std::fs::write(watched.join(format!("{uid}.ini")), runnable(&written)).unwrap();
    }
    for uid in [web_uid, estate.storage.uid()] {
        chown_tree(&home(&app, uid), uid as u32);
    }
    let root = app.host_root.path().to_path_buf();
    let homes = [home(&app, web_uid), home(&app, estate.storage.uid())];

    let emperor_log = work.path().join("emperor.log");
    EMPEROR_LOG.set(emperor_log.clone()).unwrap();
    let _emperor = Emperor(
        Command::new("uwsgi")
            .arg("--emperor")
            .arg(&watched)
            .args(["--emperor-use-clone", "fs", "--emperor-freq", "1"])
            .arg("--logto")
            .arg(&emperor_log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("uwsgi is installed (scripts/setup installs uwsgi-core)"),
    );
    let emperor = _emperor.0.id();
    let storage = estate.storage.uid();

    // the containers run, each in its own root, as their own uid
    let web = master(emperor, web_uid, 0).await;
    let images = master(emperor, storage, 0).await;
    let seen = |pid: i32, path: &str| Path::new(&format!("/proc/{pid}/root{path}")).exists();
    assert!(seen(web, "/bin/busybox") && seen(web, &format!("/containers/{web_uid}/logs")));
    assert!(
        !seen(web, &format!("/containers/{storage}")),
        "no other home is seen"
    );
    assert!(seen(
        images,
        &format!("/containers/{storage}/distros/ubuntu0001/bin/busybox")
    ));
    assert!(!seen(images, "/.old_root/etc"), "the host is gone");
    wait_for("the container to log as itself", || {
        crate::host_fixtures::emperor_log(&app, web_uid)
            .contains("spawned uWSGI master process")
            .then_some(())
    })
    .await;

    // killed, the master is respawned by the Emperor and runs every hook again
    kill(web);
    let web = master(emperor, web_uid, web).await;

    // the customer plants links at every entry of the skeleton and at the storage's distros
    let canary = work.path().join("canary");
    std::fs::create_dir_all(canary.join("dir")).unwrap();
    std::fs::write(canary.join("victim"), "untouched\n").unwrap();
    for entry in ["run", "tmp", "logs", "etc", "vassals", ".old_root", ".ssh"] {
        let planted = homes[0].join(entry);
        std::fs::rename(&planted, work.path().join(format!("moved{entry}"))).unwrap();
        std::os::unix::fs::symlink(canary.join("dir"), &planted).unwrap();
    }
    let other = installed_image(&app, 30009, "secret");
    std::fs::create_dir_all(other.join(".old_root")).unwrap();
    std::fs::create_dir_all(other.join("containers")).unwrap();
    std::fs::remove_dir(homes[1].join("distros")).unwrap();
    std::os::unix::fs::symlink(canary.join("dir"), homes[1].join("distros")).unwrap();
    let outside_before = (tree(&root, &[&homes[0], &homes[1]]), tree(&canary, &[]));
    let since = log_len(&emperor_log);
    kill(web);
    kill(images);
    // each respawn runs into the links: a few of them have, then nothing outside has changed
    respawned_twice(&emperor_log, since, &[web_uid, storage]).await;
    assert_eq!(
        (tree(&root, &[&homes[0], &homes[1]]), tree(&canary, &[])),
        outside_before,
        "nothing outside the homes changed"
    );

    // then links below the skeleton: the key file, an image of another customer, the log
    for entry in ["run", "tmp", "logs", "etc", "vassals", ".old_root", ".ssh"] {
        let planted = homes[0].join(entry);
        std::fs::remove_file(&planted).unwrap();
        std::fs::rename(work.path().join(format!("moved{entry}")), &planted).unwrap();
    }
    std::fs::remove_file(homes[0].join(".ssh/uwsgi_authorized_keys")).unwrap();
    std::os::unix::fs::symlink(
        canary.join("victim"),
        homes[0].join(".ssh/uwsgi_authorized_keys"),
    )
    .unwrap();
    std::fs::remove_file(homes[1].join("distros")).unwrap();
    std::fs::create_dir(homes[1].join("distros")).unwrap();
    std::os::unix::fs::symlink(&other, homes[1].join("distros/ubuntu0001")).unwrap();
    chown_tree(&homes[0], web_uid as u32);
    chown_tree(&homes[1], storage as u32);
    let outside_before = (tree(&root, &[&homes[0], &homes[1]]), tree(&canary, &[]));
    let web_before = master(emperor, web_uid, 0).await;
    kill(web_before);
    let web = master(emperor, web_uid, web_before).await;
    assert!(
        seen(web, "/bin/busybox"),
        "the image in the store boots, not the one the link names"
    );

    // a log file linked away: the container opens it as itself after the drop, so the link
    // leads nowhere and the container does not start until its owner mends it
    std::fs::remove_file(homes[0].join("logs/emperor.log")).unwrap();
    std::os::unix::fs::symlink(canary.join("victim"), homes[0].join("logs/emperor.log")).unwrap();
    std::os::unix::fs::lchown(
        homes[0].join("logs/emperor.log"),
        Some(web_uid as u32),
        None,
    )
    .unwrap();
    let since = log_len(&emperor_log);
    kill(web);
    respawned_twice(&emperor_log, since, &[web_uid]).await;
    assert!(
        children(emperor, &format!("[{web_uid}]"))
            .iter()
            .all(|pid| *pid != web)
    );
    assert_eq!(
        (tree(&root, &[&homes[0], &homes[1]]), tree(&canary, &[])),
        outside_before,
        "nothing outside the homes changed"
    );
    assert_eq!(
        std::fs::read_to_string(canary.join("victim")).unwrap(),
        "untouched\n"
    );
}
