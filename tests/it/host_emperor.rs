//! A real uWSGI Emperor (Debian's uwsgi-core) watching the vassals directory: a restart job
//! makes it restart the container's vassal.

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
