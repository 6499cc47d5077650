//! The host executor on a temporary host root, driven through the job queue as the API
//! drives it.

use std::os::unix::fs::MetadataExt;

use distropanel::jobs;

use crate::helpers::spawn_app;
use crate::host_fixtures::*;

#[tokio::test]
async fn turning_storage_on_creates_a_distros_directory_owned_by_the_container() {
    let app = spawn_app().await;
    app.customer("kratos");
    app.server("s1");
    let storage = app.storage_container("kratos", "s1", "images");
    let job = enqueue(&mut app.conn(), &storage, |c| jobs::ensure_storage_dir(c)).unwrap();

    assert_eq!(drain(&app).await, 1);

    let distros = home(&app, storage.uid()).join("distros");
    let meta = std::fs::symlink_metadata(&distros).expect("distros/ exists");
    assert!(meta.is_dir());
    assert_eq!(
        i64::from(meta.uid()),
        storage.uid(),
        "owned by the container"
    );
    assert_eq!(job_state(&app, &job), "done");
    for dir in ["logs", "etc", "run", "tmp", "vassals", ".old_root"] {
        assert!(
            home(&app, storage.uid()).join(dir).is_dir(),
            "{dir}/ in the home"
        );
    }
    assert!(
        home(&app, storage.uid())
            .join(format!(".old_root/{}", storage.uid()))
            .is_dir()
    );
    let log = emperor_log(&app, storage.uid());
    assert!(
        log.lines()
            .any(|l| l.contains("distros /containers/") && l.contains("-> ok")),
        "the step is in emperor.log:\n{log}"
    );
    assert!(
        operations(&app, &storage)
            .iter()
            .any(|(action, outcome, _)| action == "distros" && outcome == "ok")
    );
}

fn job_state(app: &crate::helpers::TestApp, job: &distropanel::db::models::job::Job) -> String {
    let job = crate::host_fixtures::job(app, job.id);
    match job.error {
        Some(error) if job.state != "done" => format!("{} ({error})", job.state),
        _ => job.state,
    }
}

#[tokio::test]
async fn mapping_a_custom_distro_and_restarting_writes_a_vassal_booting_it() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let job = map_and_restart(&app, &estate.web, estate.distro);

    drain(&app).await;

    assert_eq!(job_state(&app, &job), "done");
    let report = crate::host_fixtures::job(&app, job.id).report;
    let messages: Vec<(&str, &str)> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    assert!(
        messages.iter().any(|(level, message)| *level == "info"
            && message.starts_with(&format!("vassal {}.ini -> ok", estate.web.uid()))),
        "{messages:?}"
    );
    let root = app.host_root.path().display().to_string();
    let text = vassal(&app, estate.web.uid());
    let image = installed_image(&app, estate.storage.uid(), "ubuntu0001");
    assert!(
        text.contains(&format!(
            "hook-pre-jail = mount:none {} {root}/ns bind",
            image.display()
        )),
        "the vassal boots the custom distro:\n{text}"
    );
    assert!(text.contains(&format!("pivot_root = {root}/ns {root}/ns/.old_root")));
    assert!(alarms(&app, &estate.web).is_empty());
    assert_eq!(
        app.count("containers WHERE fallback_reason IS NULL AND restarted_at IS NOT NULL"),
        1
    );
}

#[tokio::test]
async fn an_image_without_old_root_falls_back_to_the_default_distro_with_an_alarm() {
    let app = spawn_app().await;
    let estate = estate(&app);
    map_and_restart(&app, &estate.web, estate.distro);
    drain(&app).await;

    let image = installed_image(&app, estate.storage.uid(), "ubuntu0001");
    std::fs::remove_dir(image.join(".old_root")).unwrap();
    let job = restart(&app, &estate.web);
    drain(&app).await;

    let expected = format!(
        "[DANGER] /containers/{}/distros/ubuntu0001/.old_root does not exist as a custom distro",
        estate.storage.uid()
    );
    assert_eq!(job_state(&app, &job), "done");
    assert_eq!(alarms(&app, &estate.web), vec![(0, expected.clone())]);
    let text = vassal(&app, estate.web.uid());
    let root = app.host_root.path().display().to_string();
    assert!(text.contains(&format!(
        "hook-pre-jail = mount:none {root}/distros/jammy {root}/ns bind"
    )));
    assert!(
        !text.contains(&format!("ubuntu0001 {root}/ns bind")),
        "{text}"
    );
    assert!(
        operations(&app, &estate.web)
            .iter()
            .any(|(action, _, detail)| action == "alarm" && detail == &expected)
    );
    assert!(emperor_log(&app, estate.web.uid()).contains(&expected));
    assert_eq!(
        app.count(&format!(
            "containers WHERE id = {} AND fallback_reason = '{expected}'",
            estate.web.id
        )),
        1,
        "the container records that it runs its fallback"
    );

    // fixing the image and restarting boots it again
    std::fs::create_dir(image.join(".old_root")).unwrap();
    restart(&app, &estate.web);
    drain(&app).await;
    assert!(vassal(&app, estate.web.uid()).contains(&format!("ubuntu0001 {root}/ns bind")));
    assert_eq!(app.count("containers WHERE fallback_reason IS NOT NULL"), 0);
}

#[tokio::test]
async fn an_image_without_containers_raises_the_same_kind_of_alarm() {
    let app = spawn_app().await;
    let estate = estate(&app);
    std::fs::remove_dir(
        installed_image(&app, estate.storage.uid(), "ubuntu0001").join("containers"),
    )
    .unwrap();
    map_and_restart(&app, &estate.web, estate.distro);
    drain(&app).await;
    assert_eq!(
        alarms(&app, &estate.web),
        vec![(
            0,
            format!(
                "[DANGER] /containers/{}/distros/ubuntu0001/containers does not exist as a custom distro",
                estate.storage.uid()
            )
        )]
    );
}

#[tokio::test]
async fn a_distros_link_planted_in_a_home_is_not_followed() {
    let app = spawn_app().await;
    app.customer("kratos");
    app.server("s1");
    let storage = app.storage_container("kratos", "s1", "images");
    let outside = tempfile::tempdir().unwrap();
    let before = std::fs::metadata(outside.path()).unwrap();
    let home = home(&app, storage.uid());
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::symlink(outside.path(), home.join("distros")).unwrap();
    let job = enqueue(&mut app.conn(), &storage, |c| jobs::ensure_storage_dir(c)).unwrap();

    drain(&app).await;

    let job = crate::host_fixtures::job(&app, job.id);
    assert_eq!(job.state, "failed", "refused at once: retrying cannot help");
    assert!(
        job.error.as_deref().unwrap_or("").contains("symbolic link"),
        "{:?}",
        job.error
    );
    let after = std::fs::metadata(outside.path()).unwrap();
    assert_eq!((after.uid(), after.mode()), (before.uid(), before.mode()));
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(
        std::fs::symlink_metadata(home.join("distros"))
            .unwrap()
            .is_symlink()
    );
    let alarms = alarms(&app, &storage);
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].1.contains("failed"), "{alarms:?}");

    // the container still restarts: the link is reported and left alone
    let restart = restart(&app, &storage);
    drain(&app).await;
    assert_eq!(job_state(&app, &restart), "done");
    assert!(vassal_path(&app, storage.uid()).exists());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(
        operations(&app, &storage)
            .iter()
            .any(|(action, outcome, detail)| action == "distros"
                && outcome == "warning"
                && detail.contains("not followed"))
    );
}

#[tokio::test]
async fn links_planted_for_the_log_and_the_skeleton_are_left_alone_by_a_restart() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let home = home(&app, estate.web.uid());
    std::fs::create_dir_all(home.join("logs")).unwrap();
    std::os::unix::fs::symlink(&victim, home.join("logs/emperor.log")).unwrap();
    std::os::unix::fs::symlink(outside.path(), home.join("tmp")).unwrap();

    let job = restart(&app, &estate.web);
    drain(&app).await;

    assert_eq!(job_state(&app, &job), "done", "the restart still happens");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    let warnings: Vec<_> = operations(&app, &estate.web)
        .into_iter()
        .filter(|(_, outcome, _)| outcome == "warning")
        .map(|(_, _, detail)| detail)
        .collect();
    assert!(
        warnings.iter().any(|d| d.contains("not followed")),
        "{warnings:?}"
    );
    assert!(vassal_path(&app, estate.web.uid()).exists());

    // a hard link to a file elsewhere on the same filesystem is not written through either
    let linked = outside.path().join("linked");
    std::fs::write(&linked, "untouched\n").unwrap();
    let storage_logs = crate::host_fixtures::home(&app, estate.storage.uid()).join("logs");
    std::fs::create_dir_all(&storage_logs).unwrap();
    std::fs::hard_link(&linked, storage_logs.join("emperor.log")).unwrap();
    let job = restart(&app, &estate.storage);
    drain(&app).await;
    assert_eq!(job_state(&app, &job), "done");
    assert_eq!(std::fs::read_to_string(&linked).unwrap(), "untouched\n");
    assert_eq!(std::fs::metadata(&linked).unwrap().uid(), 0);
}

#[tokio::test]
async fn renaming_and_purging_an_image_stay_inside_its_images() {
    let app = spawn_app().await;
    let estate = estate(&app);
    let storage_row = load(&mut app.conn(), &estate.storage);
    let from = distropanel::domain::values::DistroPath::parse("ubuntu0001").unwrap();
    let to = distropanel::domain::values::DistroPath::parse("ubuntu0002").unwrap();
    distropanel::db::queries::jobs::enqueue(
        &mut app.conn(),
        &jobs::rename_image(&storage_row, &from, &to),
    )
    .unwrap();
    drain(&app).await;
    let distros = installed_image(&app, estate.storage.uid(), "");
    assert!(distros.join("ubuntu0002/.old_root").is_dir());
    assert!(!exists(&distros.join("ubuntu0001")));

    // a link inside the image pointing out is removed as a link, its target kept
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keep"), "x").unwrap();
    std::os::unix::fs::symlink(outside.path(), distros.join("ubuntu0002/etc/out")).unwrap();
    distropanel::db::queries::jobs::enqueue(&mut app.conn(), &jobs::purge_image(&storage_row, &to))
        .unwrap();
    drain(&app).await;
    assert!(!exists(&distros.join("ubuntu0002")));
    assert!(outside.path().join("keep").exists());
    assert_eq!(app.count("jobs WHERE state = 'done'"), 2);
}

#[tokio::test]
async fn the_log_tail_starts_at_a_line_and_a_planted_fifo_is_refused_without_blocking() {
    use distropanel::domain::ids::ContainerId;
    use distropanel::domain::values::Uid;
    use distropanel::host::HostExecutor;

    let app = spawn_app().await;
    let (estate, host) = after_a_restart_of_web(&app).await;
    let uid = |made: &crate::helpers::Made| {
        Uid::of(crate::helpers::BASE_UID, ContainerId(made.id as i32))
    };

    let tail = host.log_tail(uid(&estate.web), 300).unwrap();
    assert!(!tail.is_empty() && tail.len() <= 300);
    assert!(
        tail.lines()
            .all(|l| l.starts_with("20") && l.contains("[distropanel job")),
        "{tail}"
    );
    assert!(tail.contains("vassal"), "{tail}");

    let fifo = home(&app, estate.storage.uid()).join("logs/emperor.log");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&fifo);
    mkfifo(&fifo);
    let started = std::time::Instant::now();
    assert!(host.log_tail(uid(&estate.storage), 300).is_err());
    assert!(
        host.append_log(uid(&estate.storage), &["x".to_owned()])
            .is_err()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn a_staged_key_file_swapped_for_a_fifo_fails_its_publish_without_blocking() {
    use distropanel::domain::ids::ContainerId;
    use distropanel::domain::values::Uid;
    use distropanel::host::HostExecutor;

    let app = spawn_app().await;
    let (estate, host) = after_a_restart_of_web(&app).await;
    let uid = Uid::of(crate::helpers::BASE_UID, ContainerId(estate.web.id as i32));
    let ssh = home(&app, estate.web.uid()).join(".ssh");
    let keys_before = std::fs::read(ssh.join("uwsgi_authorized_keys")).ok();

    let staged = host
        .stage_authorized_keys(uid, &[a_key_web_lacks()])
        .unwrap()
        .expect("web has no key yet: the file changes");
    // the customer replaces the staged file in their own .ssh with a fifo before it is synced
    let temp = std::fs::read_dir(&ssh)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap() != "uwsgi_authorized_keys")
        .expect("the staged file");
    std::fs::remove_file(&temp).unwrap();
    mkfifo(&temp);
    let started = std::time::Instant::now();
    let results = host.publish(vec![staged]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        matches!(&results[..], [Err(e)] if e.to_string().contains("not a regular file")),
        "{results:?}"
    );
    assert_eq!(
        std::fs::read(ssh.join("uwsgi_authorized_keys")).ok(),
        keys_before,
        "the key file in place is untouched"
    );
}

#[tokio::test]
async fn in_a_batch_synced_as_a_whole_a_staged_file_swapped_for_a_fifo_fails_alone_without_blocking()
 {
    use distropanel::domain::ids::ContainerId;
    use distropanel::domain::values::Uid;
    use distropanel::host::HostExecutor;

    let app = spawn_app().await;
    let (estate, host) = after_a_restart_of_web(&app).await;
    let uid = Uid::of(crate::helpers::BASE_UID, ContainerId(estate.web.id as i32));
    let ssh = home(&app, estate.web.uid()).join(".ssh");

    // enough files that the batch syncs the filesystem rather than each file
    let staged: Vec<_> = (0..20)
        .map(|_| {
            host.stage_authorized_keys(uid, &[a_key_web_lacks()])
                .unwrap()
                .expect("web has no key yet: the file changes")
        })
        .collect();
    let mut temps: Vec<_> = std::fs::read_dir(&ssh)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "uwsgi_authorized_keys")
        .collect();
    assert_eq!(temps.len(), 20);
    temps.sort();
    let swapped = temps.pop().unwrap();
    std::fs::remove_file(&swapped).unwrap();
    mkfifo(&swapped);
    let started = std::time::Instant::now();
    let results = host.publish(staged);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failed.len(), 1, "{results:?}");
    assert!(
        failed[0].to_string().contains("not a regular file"),
        "{results:?}"
    );
    assert!(
        std::fs::symlink_metadata(ssh.join("uwsgi_authorized_keys"))
            .unwrap()
            .is_file()
    );
}

/// The estate once `web` has restarted, and a host executor over the app's host root.
async fn after_a_restart_of_web(
    app: &crate::helpers::TestApp,
) -> (Estate, distropanel::host::local::LocalHost) {
    let estate = estate(app);
    restart(app, &estate.web);
    drain(app).await;
    let host =
        distropanel::host::local::LocalHost::open(app.host_root.path(), &config(app).vassals_dir)
            .unwrap();
    (estate, host)
}

/// A key the estate's web container does not have: staging it changes its key file.
fn a_key_web_lacks() -> distropanel::domain::authorized_key::AuthorizedKey {
    distropanel::domain::authorized_key::AuthorizedKey::parse(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX alice@home",
    )
    .unwrap()
}
