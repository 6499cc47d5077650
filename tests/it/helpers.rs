//! The test harness: one fresh database per test, cloned from a migrated template (so tests
//! run in parallel and leave nothing behind), the real app on a random port, and builders for
//! the rows a story needs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use diesel::prelude::*;
use distropanel::Application;
use distropanel::cli::admin::{self, ContainerSpec, CustomerSpec};
use distropanel::config::{Config, SecretKey};
use distropanel::db::models::server::ServerMode;
use distropanel::domain::staff_role::StaffRole;
use secrecy::SecretString;
use serde_json::Value;
use tempfile::TempDir;

pub const BASE_UID: u32 = 30000;

/// libpq keyword/value settings of the server tests use, without a database name.
/// `DISTROPANEL_TEST_PG` overrides the default (the local server's socket, current user).
pub fn server_conninfo() -> String {
    std::env::var("DISTROPANEL_TEST_PG").unwrap_or_else(|_| "host=/var/run/postgresql".into())
}

pub fn conninfo(db: &str) -> String {
    format!("{} dbname={db}", server_conninfo())
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&conninfo("postgres")).expect("the test PostgreSQL server is reachable")
}

/// The name of the template for the current migrations: a change to any migration makes a
/// new template, so a stale one is never used.
fn template_name() -> String {
    use sha2::{Digest, Sha256};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = walk(&dir);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&file).unwrap());
    }
    format!("dp_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Creates the template once per template name, across processes (an advisory lock guards it).
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = template_name();
        let mut admin = admin_connection();
        diesel::sql_query("SELECT pg_advisory_lock(7270001)")
            .execute(&mut admin)
            .unwrap();
        let exists: Found = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result(&mut admin)
        .unwrap();
        if exists.n == 0 {
            let building = format!("{name}_building");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut admin)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut admin)
                .unwrap();
            {
                let mut conn = PgConnection::establish(&conninfo(&building)).unwrap();
                distropanel::db::migrate(&mut conn).expect("migrations apply to an empty database");
            }
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut admin)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(7270001)")
            .execute(&mut admin)
            .unwrap();
        name
    })
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new() -> Self {
        let template = template();
        let name = format!("dp_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection();
        // concurrent clones of one template can briefly collide; retry
        for attempt in 0.. {
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .execute(&mut admin)
            {
                Ok(_) => break,
                Err(e) if attempt < 50 => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("cloning the template database: {e}"),
            }
        }
        Self { name }
    }

    /// A database of its own with no schema at all, as a fresh install has.
    pub fn empty() -> Self {
        let name = format!("dp_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin_connection())
            .unwrap();
        Self { name }
    }

    pub fn conninfo(&self) -> String {
        conninfo(&self.name)
    }

    /// How many tables the database has (in any schema but PostgreSQL's own).
    pub fn tables(&self) -> i64 {
        let found: Found = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        )
        .get_result(&mut self.connect())
        .unwrap();
        found.n
    }

    /// Closes every connection to the database and refuses new ones, as a server that went
    /// away does, until [`TestDb::allow_connections`].
    pub fn refuse_connections(&self) {
        let mut admin = admin_connection();
        diesel::sql_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            self.name
        ))
        .execute(&mut admin)
        .unwrap();
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .execute(&mut admin)
        .unwrap();
    }

    /// The database is back.
    pub fn allow_connections(&self) {
        diesel::sql_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true",
            self.name
        ))
        .execute(&mut admin_connection())
        .unwrap();
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.conninfo()).unwrap()
    }

    /// Drops the database now, closing every connection to it: what a crashed server looks like
    /// to the app.
    pub fn drop_now(&self) {
        let mut admin = admin_connection();
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&conninfo("postgres")) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// The running app with its database and host root.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db: TestDb,
    pub host_root: TempDir,
    pub var_dir: TempDir,
    pub client: reqwest::Client,
    /// The bound on password verifications, to hold its slots as a burst of logins would.
    pub login_gate: std::sync::Arc<distropanel::auth::throttle::LoginGate>,
}

pub fn test_config(db: &TestDb, host_root: &Path, var_dir: &Path) -> Config {
    Config {
        database_url: SecretString::from(db.conninfo()),
        bind: "127.0.0.1:0".parse().unwrap(),
        var_dir: var_dir.to_path_buf(),
        host_root: host_root.to_path_buf(),
        vassals_dir: host_root.join("etc/uwsgi/vassals"),
        base_uid: BASE_UID,
        max_alarms: 100,
        session_key: SecretKey::generate(),
        secure_cookies: false,
        db_pool: 4,
        workers: Some(2),
        list_rows: 20_000,
        vassal_template: None,
        local_servers: distropanel::config::LocalServers::All,
        jobs: distropanel::config::JobSettings {
            retention: Some(std::time::Duration::from_secs(30 * 86_400)),
            slots: 4,
            lease: std::time::Duration::from_secs(5),
            poll: std::time::Duration::from_millis(50),
            backoff: std::time::Duration::from_millis(200),
            deadlines: Default::default(),
            report: std::time::Duration::from_secs(60),
        },
        images: distropanel::config::ImageSettings {
            max_archive_bytes: 8 * 1024 * 1024,
            max_entries: 100_000,
            // the tests serve images from 127.0.0.1
            fetch_allow_private: true,
            fetch_timeout: std::time::Duration::from_secs(5),
        },
        quotas: distropanel::config::Quotas::for_archives(8 * 1024 * 1024),
        trusted_proxies: Vec::new(),
        metrics_from: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        login: distropanel::config::LoginSettings::default(),
        audit_retention: Some(std::time::Duration::from_secs(400 * 86_400)),
    }
}

/// How long test clients keep an idle connection: well under the server's keep-alive (5 s), so
/// a client never sends on a connection the server is closing.
pub const CLIENT_IDLE: std::time::Duration = std::time::Duration::from_millis(1500);

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with a configuration changed by `adjust` first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let db = tokio::task::spawn_blocking(TestDb::new).await.unwrap();
    let host_root = tempfile::tempdir().unwrap();
    let var_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&db, host_root.path(), var_dir.path());
    adjust(&mut config);
    let app = Application::build(config).await.expect("the app builds");
    let port = app.port();
    let login_gate = app.login_gate();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .pool_idle_timeout(crate::helpers::CLIENT_IDLE)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        host_root,
        var_dir,
        client,
        login_gate,
    }
}

/// What a builder made: enough to refer to it in requests and SQL.
#[derive(Debug, Clone)]
pub struct Made {
    pub id: i64,
    pub json: Value,
}

impl Made {
    fn from(json: Value) -> Self {
        Self {
            id: json["id"].as_i64().expect("created rows have an id"),
            json,
        }
    }
    pub fn uid(&self) -> i64 {
        self.json["uid"].as_i64().expect("containers have a uid")
    }
    pub fn customer_id(&self) -> i64 {
        self.json["customer"]["id"]
            .as_i64()
            .or_else(|| self.json["customer"].as_i64())
            .unwrap()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn conn(&self) -> PgConnection {
        self.db.connect()
    }

    /// Runs one statement straight on the database, bypassing every rule written in Rust.
    pub fn sql(&self, statement: &str) -> Result<usize, String> {
        diesel::sql_query(statement)
            .execute(&mut self.conn())
            .map_err(|e| e.to_string())
    }

    pub fn count(&self, table: &str) -> i64 {
        let found: Found = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut self.conn())
            .unwrap();
        found.n
    }

    /// An admin member of staff, password `staff-password`.
    pub fn staff(&self, username: &str) -> Made {
        self.staff_member(username, StaffRole::Admin)
    }

    /// A support member of staff, password `staff-password`: reads and acts on behalf only.
    pub fn support(&self, username: &str) -> Made {
        self.staff_member(username, StaffRole::Support)
    }

    fn staff_member(&self, username: &str, role: StaffRole) -> Made {
        Made::from(
            admin::add_staff(
                &mut self.conn(),
                username,
                &format!("{username}@example.com"),
                "staff-password",
                role,
            )
            .unwrap(),
        )
    }

    /// A customer whose login is `username` with password `<username>-password`.
    pub fn customer(&self, username: &str) -> Made {
        let password = format!("{username}-password");
        let email = format!("{username}@example.com");
        Made::from(
            admin::add_customer(
                &mut self.conn(),
                &CustomerSpec {
                    username,
                    email: &email,
                    password: &password,
                    company: "ACME",
                    vat: "",
                },
            )
            .unwrap(),
        )
    }

    pub fn server(&self, name: &str) -> Made {
        Made::from(
            admin::add_server(
                &mut self.conn(),
                name,
                &format!("{name}.example.com"),
                None,
                None,
                ServerMode::Agent,
            )
            .unwrap(),
        )
    }

    pub fn distro(&self, path: &str) -> Made {
        Made::from(
            admin::add_distro(&mut self.conn(), &format!("Distro {path}"), path, "").unwrap(),
        )
    }

    /// A container of `customer` (a username) on `server` (a name) with a default distro.
    pub fn container(
        &self,
        customer: &str,
        server: &str,
        name: &str,
        distro: Option<&Made>,
    ) -> Made {
        self.make_container(customer, server, name, distro, false)
    }

    pub fn storage_container(&self, customer: &str, server: &str, name: &str) -> Made {
        self.make_container(customer, server, name, None, true)
    }

    fn make_container(
        &self,
        customer: &str,
        server: &str,
        name: &str,
        distro: Option<&Made>,
        storage: bool,
    ) -> Made {
        Made::from(
            admin::add_container(
                &mut self.conn(),
                BASE_UID,
                &ContainerSpec {
                    customer,
                    server,
                    name,
                    memory: 128,
                    storage: 1024,
                    distro: distro.map(|d| d.id as i32),
                    storage_container: storage,
                },
            )
            .unwrap(),
        )
    }
}
