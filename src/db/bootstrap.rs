//! Finding a database when none is configured, as the embedded default promises:
//! `DATABASE_URL` if set; else the local server on its default socket (creating the
//! `distropanel` database); else a private cluster under `<var>/pg` started from the system's
//! PostgreSQL binaries; else a message saying what to install or set.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use diesel::prelude::*;

const DATABASE: &str = "distropanel";
const SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

pub fn resolve(configured: Option<String>, var_dir: &Path) -> anyhow::Result<String> {
    if let Some(url) = configured.filter(|u| !u.trim().is_empty()) {
        return Ok(url);
    }
    if let Some(url) = local_server()? {
        tracing::info!("using the local PostgreSQL server");
        return Ok(url);
    }
    let url = private_cluster(&var_dir.join("pg")).context(
        "no DATABASE_URL, no PostgreSQL server on the default socket, and no private cluster \
         could be started: install PostgreSQL (apt-get install postgresql) or set DATABASE_URL",
    )?;
    tracing::info!(
        "using the private PostgreSQL cluster under {}",
        var_dir.join("pg").display()
    );
    Ok(url)
}

fn current_user() -> Option<String> {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let out = Command::new("id").arg("-un").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|u| !u.is_empty())
        })
}

fn conninfo(host: &str, user: &str, dbname: &str) -> String {
    format!("host={host} user={user} dbname={dbname} connect_timeout=3")
}

/// Connects to the server on a default socket, creating the database if missing.
fn local_server() -> anyhow::Result<Option<String>> {
    let mut users: Vec<String> = current_user().into_iter().collect();
    users.push("postgres".into());
    for dir in SOCKET_DIRS {
        if !Path::new(dir).join(".s.PGSQL.5432").exists() {
            continue;
        }
        for user in &users {
            let Ok(mut conn) = PgConnection::establish(&conninfo(dir, user, "postgres")) else {
                continue;
            };
            ensure_database(&mut conn)?;
            return Ok(Some(conninfo(dir, user, DATABASE)));
        }
    }
    Ok(None)
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

fn ensure_database(conn: &mut PgConnection) -> anyhow::Result<()> {
    let found: Exists = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'distropanel') AS exists",
    )
    .get_result(conn)?;
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE {DATABASE}"))
            .execute(conn)
            .context("creating the distropanel database")?;
    }
    Ok(())
}

fn postgres_bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

fn running_as_root() -> bool {
    current_user().as_deref() == Some("root")
}

/// The unprivileged account that owns the cluster when we run as root (`initdb` refuses root).
fn cluster_owner() -> &'static str {
    let has = |name: &str| {
        Command::new("id")
            .arg("-u")
            .arg(name)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("postgres") {
        "postgres"
    } else {
        "nobody"
    }
}

fn run_tool(bindir: &Path, tool: &str, args: &[&str], owner: Option<&str>) -> anyhow::Result<()> {
    let program = bindir.join(tool);
    let mut command = match owner {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(&program);
            c
        }
        None => Command::new(&program),
    };
    let out = command
        .args(args)
        .output()
        .with_context(|| format!("running {tool}"))?;
    if !out.status.success() {
        bail!(
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts (creating it on first use) a cluster under `dir` that listens only on a socket in
/// `dir/run`, and returns the conninfo of its `distropanel` database.
pub fn private_cluster(dir: &Path) -> anyhow::Result<String> {
    let bindir = postgres_bindir().context("PostgreSQL's initdb was not found")?;
    let data = dir.join("data");
    let socket = dir.join("run");
    std::fs::create_dir_all(&socket)?;
    let owner = running_as_root().then(cluster_owner);
    if let Some(user) = owner {
        let status = Command::new("chown")
            .arg("-R")
            .arg(user)
            .arg(dir)
            .status()?;
        anyhow::ensure!(
            status.success(),
            "could not hand {} to {user}",
            dir.display()
        );
    }
    let data_s = data.to_string_lossy().into_owned();
    if !data.join("PG_VERSION").exists() {
        run_tool(
            &bindir,
            "initdb",
            &[
                "-D",
                &data_s,
                "-U",
                DATABASE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            owner,
        )?;
    }
    let running = run_tool(&bindir, "pg_ctl", &["-D", &data_s, "status"], owner).is_ok();
    if !running {
        let options = format!("-k {} -c listen_addresses=''", socket.display());
        let log = dir.join("postgres.log").to_string_lossy().into_owned();
        run_tool(
            &bindir,
            "pg_ctl",
            &["-D", &data_s, "-o", &options, "-l", &log, "-w", "start"],
            owner,
        )?;
    }
    let host = socket.to_string_lossy();
    let mut conn = PgConnection::establish(&conninfo(&host, DATABASE, "postgres"))
        .context("connecting to the private cluster")?;
    ensure_database(&mut conn)?;
    Ok(conninfo(&host, DATABASE, DATABASE))
}

/// Stops the private cluster under `dir`, if it runs.
pub fn stop_private_cluster(dir: &Path) -> anyhow::Result<()> {
    let bindir = postgres_bindir().context("PostgreSQL's pg_ctl was not found")?;
    let data = dir.join("data").to_string_lossy().into_owned();
    let owner = running_as_root().then(cluster_owner);
    run_tool(
        &bindir,
        "pg_ctl",
        &["-D", &data, "-m", "fast", "-w", "stop"],
        owner,
    )
}
