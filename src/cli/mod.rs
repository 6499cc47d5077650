//! The command line: every subcommand and its flags. `main` parses and calls [`run`].

pub mod admin;
pub mod demo;

use std::io::BufRead;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::config::{Config, LocalServers, Settings};
use crate::db::models::server::ServerMode;
use crate::db::queries::jobs::{JobFilter, ServerScope};
use crate::domain::ids::{JobId, ServerId};
use crate::domain::staff_role::StaffRole;
use crate::domain::values::Uid;
use crate::{Application, db, jobs, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "distropanel",
    version,
    about = "Control panel for custom distros on uwsgi.it-style container hosting"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web panel and the JSON API.
    Serve(Settings),
    /// Apply pending database migrations and exit.
    Migrate(Settings),
    /// Set up everything on this machine (database, demo data) and serve on 127.0.0.1.
    Demo(Settings),
    /// Run the jobs of one container host (run one agent on each host).
    Agent {
        /// The server (as named by `server add --name`) whose jobs this agent runs.
        #[arg(long)]
        server: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Support staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Customers and their logins.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Container hosts.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Platform distros, shared by all customers.
    #[command(subcommand)]
    Distro(DistroCommand),
    /// Customers' containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// The job queue: list, retry and cancel host jobs.
    #[command(subcommand)]
    Job(JobCommand),
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Jobs, newest first, one JSON line each.
    List {
        /// queued, running, retrying, done, failed or cancelled.
        #[arg(long)]
        state: Option<String>,
        /// Only the jobs of the container with this uid.
        #[arg(long)]
        container: Option<i64>,
        /// Only the jobs of this server (by name).
        #[arg(long)]
        server: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        settings: Settings,
    },
    /// Put a failed or cancelled job back in the queue with fresh attempts.
    Retry {
        id: i64,
        #[command(flatten)]
        settings: Settings,
    },
    /// Cancel a job that has not started (or waits to retry).
    Cancel {
        id: i64,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff user; prints it as one JSON line.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// The password; omit it (or give `-`) to read one line from standard input.
        #[arg(long)]
        password: Option<String>,
        /// support (reads, and acts on a customer's behalf) or admin (also provisions and
        /// manages staff).
        #[arg(long, default_value = "support")]
        role: StaffRole,
        #[command(flatten)]
        settings: Settings,
    },
    /// Change a member's role (the last admin stays admin); their sessions end.
    Role {
        #[arg(long)]
        username: String,
        /// support or admin.
        #[arg(long)]
        role: StaffRole,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer and its login; prints it as one JSON line.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// The password; omit it (or give `-`) to read one line from standard input.
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "")]
        company: String,
        #[arg(long, default_value = "")]
        vat: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// A new one-time set-password link for a login (a password reset: it works once, for
    /// 24 hours; the old password works until it is used); prints its path once.
    Link {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Register a container host; prints it as one JSON line.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: String,
        /// Memory (MB) the host can give to containers; unset: no limit.
        #[arg(long)]
        memory: Option<i64>,
        /// Storage (MB) the host can give to containers; unset: no limit.
        #[arg(long)]
        storage: Option<i64>,
        /// The host runs no agent and fetches its vassals from `/private` (see the README).
        #[arg(long)]
        pull: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Say whether a server runs an agent or pulls its vassals; prints it as one JSON line.
    #[command(group(clap::ArgGroup::new("mode").required(true).args(["pull", "agent"])))]
    Mode {
        #[arg(long)]
        name: String,
        /// The host runs no agent and fetches its vassals from `/private` (see the README).
        #[arg(long)]
        pull: bool,
        /// A distropanel agent runs on the host (the supported way); `/private` refuses it.
        #[arg(long)]
        agent: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Give a server a new token for `/private` (the old one stops working); prints it once.
    #[command(alias = "rotate-token")]
    Token {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, Subcommand)]
pub enum DistroCommand {
    /// Register a platform distro (rooted at /distros/<path> on every host).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        path: String,
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Stop offering a platform distro for new containers and new default choices
    /// (containers that have it keep it); `--undo` offers it again.
    Retire {
        #[arg(long)]
        id: i32,
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Delete a platform distro that no container has as its default.
    Delete {
        #[arg(long)]
        id: i32,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container for a customer on a server; prints it (with its uid) as one JSON line.
    Add {
        /// The customer's username.
        #[arg(long)]
        customer: String,
        /// The server's name.
        #[arg(long)]
        server: String,
        #[arg(long)]
        name: String,
        /// Memory in MB.
        #[arg(long)]
        memory: i64,
        /// Storage quota in MB.
        #[arg(long)]
        storage: i64,
        /// The default (and fallback) platform distro's id.
        #[arg(long)]
        distro: Option<i32>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Delete a container that stores no custom distros, boots none and has no pending jobs.
    Delete {
        #[arg(long)]
        uid: i64,
        #[command(flatten)]
        settings: Settings,
    },
}

fn password_or_stdin(given: Option<String>) -> anyhow::Result<String> {
    match given {
        Some(p) if p != "-" => Ok(p),
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            Ok(line.trim_end_matches(['\n', '\r']).to_owned())
        }
    }
}

/// Resolves the database (finding or starting one if none is configured) and validates settings.
pub fn load_config(settings: Settings) -> anyhow::Result<Config> {
    let url = db::bootstrap::resolve(
        settings.database_url.clone(),
        &std::path::absolute(&settings.var_dir)?,
    )?;
    settings.into_config(SecretString::from(url))
}

/// The configuration and a connection to its database, which must have every migration
/// (commands other than `migrate` and `demo` never change the schema).
fn connect(settings: Settings) -> anyhow::Result<(Config, diesel::PgConnection)> {
    let (config, mut conn) = connect_unchecked(settings)?;
    db::require_migrated(&mut conn)?;
    Ok((config, conn))
}

fn connect_unchecked(settings: Settings) -> anyhow::Result<(Config, diesel::PgConnection)> {
    use diesel::Connection;
    let config = load_config(settings)?;
    let url = secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned();
    let conn = diesel::PgConnection::establish(&url).context("connecting to PostgreSQL")?;
    Ok((config, conn))
}

fn print_json(value: serde_json::Value) {
    println!("{value}");
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(settings) => {
            telemetry::init(settings.log_format);
            let config = tokio::task::spawn_blocking(move || load_config(settings)).await??;
            let bind = config.bind;
            serve(config, |port| {
                tracing::info!("serving on http://{}:{port}", bind.ip())
            })
            .await?;
        }
        Command::Migrate(settings) => {
            telemetry::init(settings.log_format);
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let (_, mut conn) = connect_unchecked(settings)?;
                let applied = db::migrate(&mut conn)?;
                if !applied.is_empty() {
                    tracing::info!(?applied, "applied migrations");
                }
                println!("migrations applied");
                Ok(())
            })
            .await??;
        }
        Command::Demo(settings) => {
            telemetry::init(settings.log_format);
            demo::run(settings).await?;
        }
        Command::Agent { server, settings } => {
            telemetry::init(settings.log_format);
            let stop = termination()?;
            let (config, mut conn) =
                tokio::task::spawn_blocking(move || connect(settings)).await??;
            let name = server.clone();
            let id = tokio::task::spawn_blocking(move || server_id(&mut conn, &name)).await??;
            let worker = jobs::worker::local_worker(&config, ServerScope::Only(vec![id])).await?;
            tracing::info!(%server, worker = %worker.name(), "agent started");
            worker.run(stop).await;
        }
        Command::Job(command) => {
            tokio::task::spawn_blocking(move || run_jobs(command)).await??;
        }
        admin_command => {
            let value = tokio::task::spawn_blocking(move || run_admin(admin_command)).await??;
            print_json(value);
        }
    }
    Ok(())
}

/// Serves the panel, with the job worker of the servers this node runs (see
/// `DISTROPANEL_LOCAL_SERVERS`), until the process is told to stop. `ready` gets the port.
pub async fn serve(config: Config, ready: impl FnOnce(u16)) -> anyhow::Result<()> {
    let app = Application::build(config.clone()).await?;
    ready(app.port());
    let worker = match local_scope(&config).await? {
        Some(scope) => {
            let worker = jobs::worker::local_worker(&config, scope).await?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let handle = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            Some((stop, handle))
        }
        None => None,
    };
    app.run_until_stopped().await?;
    if let Some((stop, handle)) = worker {
        let _ = stop.send(());
        handle.await?;
    }
    Ok(())
}

/// Resolves after SIGINT or SIGTERM. The handlers are installed at once, so a signal that
/// arrives before the future is first polled is not lost.
fn termination() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

fn server_id(conn: &mut diesel::PgConnection, name: &str) -> anyhow::Result<ServerId> {
    db::queries::servers::by_name(conn, name)?
        .map(|s| s.id)
        .ok_or_else(|| anyhow::anyhow!("there is no server named '{name}'"))
}

/// The servers whose jobs `serve` runs: `None` when it runs none.
async fn local_scope(config: &Config) -> anyhow::Result<Option<ServerScope>> {
    let names = match &config.local_servers {
        LocalServers::All => return Ok(Some(ServerScope::All)),
        LocalServers::Named(names) if names.is_empty() => return Ok(None),
        LocalServers::Named(names) => names.clone(),
    };
    let url = secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = diesel::PgConnection::establish(&url)?;
        let ids = names
            .iter()
            .map(|n| server_id(&mut conn, n))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(ServerScope::Only(ids)))
    })
    .await?
}

fn run_jobs(command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::List {
            state,
            container,
            server,
            limit,
            settings,
        } => {
            let (config, mut conn) = connect(settings)?;
            let container = match container {
                Some(uid) => Some(
                    Uid::container_id(uid, config.base_uid)
                        .ok_or_else(|| anyhow::anyhow!("{uid} is not a container uid"))?,
                ),
                None => None,
            };
            let server = server.map(|n| server_id(&mut conn, &n)).transpose()?;
            let filter = JobFilter {
                state,
                container,
                server,
                limit,
            };
            for job in db::queries::jobs::list(&mut conn, &filter)? {
                print_json(jobs::queue::to_json(&job));
            }
            Ok(())
        }
        JobCommand::Retry { id, settings } => {
            let (_, mut conn) = connect(settings)?;
            let job = db::queries::jobs::retry(&mut conn, JobId(id))??;
            print_json(jobs::queue::to_json(&job));
            Ok(())
        }
        JobCommand::Cancel { id, settings } => {
            let (_, mut conn) = connect(settings)?;
            let job = db::queries::jobs::cancel(&mut conn, JobId(id))??;
            print_json(jobs::queue::to_json(&job));
            Ok(())
        }
    }
}

fn run_admin(command: Command) -> anyhow::Result<serde_json::Value> {
    match command {
        Command::Staff(command) => run_staff(command),
        Command::Customer(command) => run_customer(command),
        Command::Server(command) => run_server(command),
        Command::Distro(command) => run_distro(command),
        Command::Container(command) => run_container(command),
        Command::Serve(_)
        | Command::Migrate(_)
        | Command::Demo(_)
        | Command::Agent { .. }
        | Command::Job(_) => {
            unreachable!("handled by run")
        }
    }
}

fn run_staff(command: StaffCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        StaffCommand::Add {
            username,
            email,
            password,
            role,
            settings,
        } => {
            let password = password_or_stdin(password)?;
            let (_, mut conn) = connect(settings)?;
            admin::add_staff(&mut conn, &username, &email, &password, role)
        }
        StaffCommand::Role {
            username,
            role,
            settings,
        } => {
            let (_, mut conn) = connect(settings)?;
            admin::set_staff_role(&mut conn, &username, role)
        }
    }
}

fn run_customer(command: CustomerCommand) -> anyhow::Result<serde_json::Value> {
    let (username, email, password, company, vat, settings) = match command {
        CustomerCommand::Add {
            username,
            email,
            password,
            company,
            vat,
            settings,
        } => (username, email, password, company, vat, settings),
        CustomerCommand::Link { username, settings } => {
            let (_, mut conn) = connect(settings)?;
            return admin::new_link(&mut conn, &username);
        }
    };
    let password = password_or_stdin(password)?;
    let (_, mut conn) = connect(settings)?;
    admin::add_customer(
        &mut conn,
        &admin::CustomerSpec {
            username: &username,
            email: &email,
            password: &password,
            company: &company,
            vat: &vat,
        },
    )
}

fn run_server(command: ServerCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        ServerCommand::Add {
            name,
            address,
            memory,
            storage,
            pull,
            settings,
        } => {
            let (_, mut conn) = connect(settings)?;
            let mode = ServerMode::from_pull(pull);
            admin::add_server(&mut conn, &name, &address, memory, storage, mode)
        }
        ServerCommand::Mode {
            name,
            pull,
            agent: _,
            settings,
        } => {
            let (_, mut conn) = connect(settings)?;
            admin::set_server_mode(&mut conn, &name, ServerMode::from_pull(pull))
        }
        ServerCommand::Token { name, settings } => {
            let (_, mut conn) = connect(settings)?;
            admin::rotate_token(&mut conn, &name)
        }
    }
}

fn run_distro(command: DistroCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        DistroCommand::Add {
            name,
            path,
            note,
            settings,
        } => {
            let (_, mut conn) = connect(settings)?;
            admin::add_distro(&mut conn, &name, &path, &note)
        }
        DistroCommand::Retire { id, undo, settings } => {
            let (_, mut conn) = connect(settings)?;
            admin::retire_distro(&mut conn, id, !undo)
        }
        DistroCommand::Delete { id, settings } => {
            let (config, mut conn) = connect(settings)?;
            admin::delete_distro(&mut conn, config.base_uid, id)
        }
    }
}

fn run_container(command: ContainerCommand) -> anyhow::Result<serde_json::Value> {
    let (customer, server, name, memory, storage, distro, settings) = match command {
        ContainerCommand::Add {
            customer,
            server,
            name,
            memory,
            storage,
            distro,
            settings,
        } => (customer, server, name, memory, storage, distro, settings),
        ContainerCommand::Delete { uid, settings } => {
            let (config, mut conn) = connect(settings)?;
            return admin::delete_container(&mut conn, config.base_uid, uid);
        }
    };
    let (config, mut conn) = connect(settings)?;
    admin::add_container(
        &mut conn,
        config.base_uid,
        &admin::ContainerSpec {
            customer: &customer,
            server: &server,
            name: &name,
            memory,
            storage,
            distro,
            storage_container: false,
        },
    )
}
