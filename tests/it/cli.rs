//! The staff command line, run as a real process against a test database.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use distropanel::db::models::server::ServerMode;
use distropanel::db::queries::servers;
use serde_json::Value;

use crate::helpers::{TestApp, TestDb, spawn_app};

fn distropanel(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    distropanel_on(&app.db, app.var_dir.path(), args, stdin)
}

fn distropanel_on(db: &TestDb, var_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    start(db, var_dir, args, stdin).wait_with_output().unwrap()
}

/// The command, started: its output is the caller's to wait for.
fn start(db: &TestDb, var_dir: &Path, args: &[&str], stdin: Option<&str>) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_distropanel"))
        .args(args)
        .env("DATABASE_URL", db.conninfo())
        .env("DISTROPANEL_VAR_DIR", var_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child
}

fn json_line(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}

fn one_error_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_provision_a_customer_and_a_container_and_get_its_uid() {
    let app = spawn_app().await;
    let customer = json_line(&distropanel(
        &app,
        &[
            "customer",
            "add",
            "--username",
            "kratos",
            "--email",
            "k@example.com",
            "--password",
            "deimos",
            "--company",
            "Olympus",
        ],
        None,
    ));
    assert_eq!(customer["username"], "kratos");
    assert_eq!(customer["customer"]["company"], "Olympus");
    json_line(&distropanel(
        &app,
        &[
            "server",
            "add",
            "--name",
            "s1",
            "--address",
            "10.0.0.1",
            "--memory",
            "1024",
        ],
        None,
    ));
    let distro = json_line(&distropanel(
        &app,
        &["distro", "add", "--name", "Debian", "--path", "bookworm"],
        None,
    ));
    let distro_id = distro["id"].as_i64().unwrap().to_string();
    let container = json_line(&distropanel(
        &app,
        &[
            "container",
            "add",
            "--customer",
            "kratos",
            "--server",
            "s1",
            "--name",
            "web",
            "--memory",
            "256",
            "--storage",
            "2048",
            "--distro",
            &distro_id,
        ],
        None,
    ));
    let id = container["id"].as_i64().unwrap();
    assert_eq!(container["uid"].as_i64().unwrap(), 30000 + id);
    assert_eq!(container["distro"].as_i64().unwrap().to_string(), distro_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_can_come_from_standard_input() {
    let app = spawn_app().await;
    json_line(&distropanel(
        &app,
        &[
            "staff",
            "add",
            "--username",
            "root-ops",
            "--email",
            "o@example.com",
        ],
        Some("from stdin\n"),
    ));
    let hash: String = {
        use diesel::prelude::*;
        use distropanel::db::schema::users;
        users::table
            .select(users::password_hash)
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(distropanel::auth::password::verify("from stdin", &hash));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_one_clear_line_exit_1_and_writes_nothing() {
    let app = spawn_app().await;
    app.customer("kratos");
    app.server("s1");
    let before = ["users", "customers", "servers", "containers", "distros"].map(|t| app.count(t));

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "customer",
                "add",
                "--username",
                "kratos",
                "--email",
                "x@example.com",
                "--password",
                "p",
            ],
            "already taken",
        ),
        (
            vec![
                "customer",
                "add",
                "--username",
                "bad name",
                "--email",
                "x@example.com",
                "--password",
                "p",
            ],
            "--username",
        ),
        (
            vec![
                "customer",
                "add",
                "--username",
                "new",
                "--email",
                "not-an-email",
                "--password",
                "p",
            ],
            "--email",
        ),
        (
            vec![
                "container",
                "add",
                "--customer",
                "nobody",
                "--server",
                "s1",
                "--name",
                "w",
                "--memory",
                "1",
                "--storage",
                "1",
            ],
            "no customer",
        ),
        (
            vec![
                "container",
                "add",
                "--customer",
                "kratos",
                "--server",
                "nowhere",
                "--name",
                "w",
                "--memory",
                "1",
                "--storage",
                "1",
            ],
            "no server",
        ),
        (
            vec![
                "container",
                "add",
                "--customer",
                "kratos",
                "--server",
                "s1",
                "--name",
                "w",
                "--memory",
                "0",
                "--storage",
                "1",
            ],
            "--memory",
        ),
        (
            vec![
                "container",
                "add",
                "--customer",
                "kratos",
                "--server",
                "s1",
                "--name",
                "w",
                "--memory",
                "1",
                "--storage",
                "1",
                "--distro",
                "999",
            ],
            "no platform distro",
        ),
        (
            vec!["distro", "add", "--name", "up", "--path", ".."],
            "--path",
        ),
        (
            vec!["server", "add", "--name", "s1", "--address", "other"],
            "already exists",
        ),
    ];
    for (args, expected) in cases {
        let line = one_error_line(&distropanel(&app, &args, None));
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    assert_eq!(
        before,
        ["users", "customers", "servers", "containers", "distros"].map(|t| app.count(t))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_mark_a_host_without_an_agent_pull_and_change_it_back() {
    let app = spawn_app().await;
    let pulled = json_line(&distropanel(
        &app,
        &[
            "server",
            "add",
            "--name",
            "bare",
            "--address",
            "10.0.0.7",
            "--pull",
        ],
        None,
    ));
    assert_eq!(pulled["mode"], "pull");
    let agent = json_line(&distropanel(
        &app,
        &["server", "add", "--name", "s1", "--address", "10.0.0.1"],
        None,
    ));
    assert_eq!(agent["mode"], "agent");
    let mode_of = |name: &str| {
        servers::by_name(&mut app.conn(), name)
            .unwrap()
            .unwrap()
            .mode()
    };

    let changed = json_line(&distropanel(
        &app,
        &["server", "mode", "--name", "bare", "--agent"],
        None,
    ));
    assert_eq!(changed["name"], "bare");
    assert_eq!(changed["mode"], "agent");
    assert_eq!(mode_of("bare"), ServerMode::Agent);
    let changed = json_line(&distropanel(
        &app,
        &["server", "mode", "--name", "s1", "--pull"],
        None,
    ));
    assert_eq!(changed["mode"], "pull");
    assert_eq!(mode_of("s1"), ServerMode::Pull);

    let line = one_error_line(&distropanel(
        &app,
        &["server", "mode", "--name", "nowhere", "--pull"],
        None,
    ));
    assert!(line.contains("no server named 'nowhere'"), "{line}");
    for unclear in [
        vec!["server", "mode", "--name", "s1"],
        vec!["server", "mode", "--name", "s1", "--pull", "--agent"],
    ] {
        let output = distropanel(&app, &unclear, None);
        assert!(!output.status.success(), "{unclear:?}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(
        (mode_of("bare"), mode_of("s1"), app.count("servers")),
        (ServerMode::Agent, ServerMode::Pull, 2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_refuses_another_container() {
    let app = spawn_app().await;
    app.customer("kratos");
    json_line(&distropanel(
        &app,
        &[
            "server",
            "add",
            "--name",
            "small",
            "--address",
            "10.0.0.9",
            "--memory",
            "300",
        ],
        None,
    ));
    let add = |name: &str| {
        distropanel(
            &app,
            &[
                "container",
                "add",
                "--customer",
                "kratos",
                "--server",
                "small",
                "--name",
                name,
                "--memory",
                "200",
                "--storage",
                "10",
            ],
            None,
        )
    };
    json_line(&add("first"));
    let line = one_error_line(&add("second"));
    assert!(line.contains("is full"), "{line}");
    assert_eq!(app.count("containers"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_seed_is_idempotent_and_keeps_changed_passwords() {
    let app = spawn_app().await;
    let conn = &mut app.conn();
    distropanel::cli::demo::seed(conn, 30000).unwrap();
    let tables = [
        "users",
        "customers",
        "servers",
        "containers",
        "distros",
        "jobs",
    ];
    let counts = tables.map(|t| app.count(t));
    // every container is queued to start, the storage container to get its distros/ first
    assert_eq!(counts, [3, 2, 1, 11, 2, 12]);
    distropanel::cli::demo::seed(conn, 30000).unwrap();
    assert_eq!(counts, tables.map(|t| app.count(t)));
    assert_eq!(
        app.sql(
            "SELECT 1 FROM containers WHERE custom_distros_storage AND name = 'kratos-distros'"
        ),
        Ok(1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_installs_the_busybox_image_and_boots_kratos_web_into_it_once() {
    let app = spawn_app().await;
    let conn = &mut app.conn();
    distropanel::cli::demo::seed(conn, 30000).unwrap();
    let host = distropanel::host::local::LocalHost::open(
        app.host_root.path(),
        &app.host_root.path().join("etc/uwsgi/vassals"),
    )
    .unwrap();
    distropanel::cli::demo::seed_image(conn, &host, 30000).unwrap();
    distropanel::cli::demo::seed_image(conn, &host, 30000).unwrap();
    assert_eq!(
        app.sql(
            "SELECT 1 FROM custom_distros d JOIN containers c ON c.custom_distro_id = d.id
             WHERE c.name = 'kratos-web' AND d.path = 'busybox' AND d.image_state = 'ready'
               AND d.image_bytes > 500000 AND d.image_sha256 IS NOT NULL"
        ),
        Ok(1)
    );
    assert_eq!(app.count("custom_distros"), 1);
    assert_eq!(
        app.count("jobs"),
        12,
        "the restart of kratos-web joins its queued first start"
    );
    let storage_is_container_6 =
        app.sql("SELECT 1 FROM containers WHERE name = 'kratos-distros' AND id = 6");
    assert_eq!(
        storage_is_container_6,
        Ok(1),
        "so its home is containers/30006"
    );
    let image = app
        .host_root
        .path()
        .join("var/lib/distropanel/images/30006/busybox");
    assert!(image.join(".old_root").is_dir() && image.join("bin/busybox").is_file());
}

/// How many migrations this build carries.
fn migrations() -> usize {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_database_not_yet_migrated_serve_the_agent_and_admin_commands_refuse_and_write_nothing()
 {
    let db = tokio::task::spawn_blocking(TestDb::empty).await.unwrap();
    let var_dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 5] = [
        &["serve", "--bind", "127.0.0.1:0"],
        &["agent", "--server", "s1"],
        &[
            "customer",
            "add",
            "--username",
            "kratos",
            "--email",
            "k@example.com",
            "--password",
            "x",
        ],
        &["server", "add", "--name", "s1", "--address", "10.0.0.1"],
        &["job", "list"],
    ];
    for args in commands {
        let output =
            tokio::task::block_in_place(|| distropanel_on(&db, var_dir.path(), args, None));
        let line = one_error_line(&output);
        assert_eq!(
            line.trim_end(),
            format!(
                "error: the database has {} pending migrations; run `distropanel migrate`",
                migrations()
            ),
            "{args:?}"
        );
    }
    assert_eq!(
        db.tables(),
        0,
        "nothing was created, not even the migrations table"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_migrate_runs_at_once_both_succeed_and_apply_each_migration_once() {
    let db = tokio::task::spawn_blocking(TestDb::empty).await.unwrap();
    let var_dir = tempfile::tempdir().unwrap();
    let outputs = tokio::task::block_in_place(|| {
        let first = start(&db, var_dir.path(), &["migrate"], None);
        let second = start(&db, var_dir.path(), &["migrate"], None);
        [first, second].map(|child| child.wait_with_output().unwrap())
    });
    for output in &outputs {
        assert!(
            output.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let applied: Vec<String> = {
        use diesel::prelude::*;
        diesel::sql_query("SELECT version::text AS version FROM __diesel_schema_migrations")
            .load::<Version>(&mut db.connect())
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect()
    };
    assert_eq!(applied.len(), migrations(), "{applied:?}");
    assert_eq!(
        distropanel::db::pending_migrations(&mut db.connect()).unwrap(),
        0
    );

    let customer = json_line(&tokio::task::block_in_place(|| {
        distropanel_on(
            &db,
            var_dir.path(),
            &[
                "customer",
                "add",
                "--username",
                "kratos",
                "--email",
                "k@example.com",
                "--password",
                "x",
            ],
            None,
        )
    }));
    assert_eq!(
        customer["username"], "kratos",
        "the migrated database takes commands"
    );
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}
