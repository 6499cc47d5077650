//! `serve` runs the jobs of the servers configured as local; an agent runs those of its own
//! server; the server token command gives a host access to `/private`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, spawn_app};
use crate::host_fixtures::*;

fn distropanel(app: &TestApp, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distropanel"));
    command
        .args(args)
        .env("DATABASE_URL", app.db.conninfo())
        .env("DISTROPANEL_VAR_DIR", app.var_dir.path())
        .env("DISTROPANEL_HOST_ROOT", app.host_root.path())
        .env("DISTROPANEL_BIND", "127.0.0.1:0")
        .env("DISTROPANEL_JOB_POLL_MS", "100")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_runs_its_local_servers_jobs_and_an_agent_runs_its_own_servers() {
    let app = spawn_app().await;
    let estate = estate(&app);
    app.server("s2");
    let remote = app.container("kratos", "s2", "remote", Some(&estate.jammy));
    let local_job = restart(&app, &estate.web);
    let remote_job = restart(&app, &remote);

    let mut serve = distropanel(&app, &["serve"]);
    serve.env("DISTROPANEL_LOCAL_SERVERS", "s1");
    let _serve = Running(serve.spawn().unwrap());
    wait_for("serve to run the local restart", || {
        job(&app, local_job.id).state == "done"
    })
    .await;
    // jobs are claimed in the order they were queued: once a later local job is done, serve
    // has looked at the remote one and left it
    let later_job = restart(&app, &estate.web);
    assert!(later_job.id > remote_job.id);
    wait_for("serve to run a later local restart", || {
        job(&app, later_job.id).state == "done"
    })
    .await;
    assert_eq!(
        job(&app, remote_job.id).state,
        "queued",
        "s2 is not local to serve"
    );

    let _agent = Running(
        distropanel(&app, &["agent", "--server", "s2"])
            .spawn()
            .unwrap(),
    );
    wait_for("the s2 agent to run its restart", || {
        job(&app, remote_job.id).state == "done"
    })
    .await;
    assert!(vassal_path(&app, remote.uid()).exists());
}

#[tokio::test]
async fn a_server_token_is_printed_once_and_opens_the_private_api_of_a_pull_server() {
    let app = spawn_app().await;
    app.server("s1");
    let marked = distropanel(&app, &["server", "mode", "--name", "s1", "--pull"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(marked.status.success(), "{marked:?}");
    let out = distropanel(&app, &["server", "token", "--name", "s1"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = printed["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(
        app.count(&format!(
            "servers WHERE token_hash IS NOT NULL AND token_hash <> '{token}'"
        )),
        1,
        "only its hash is stored"
    );
    let response = app
        .client
        .get(app.url("/private/containers/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let missing = distropanel(&app, &["server", "token", "--name", "nope"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no server named 'nope'"));
}
