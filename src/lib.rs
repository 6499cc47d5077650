//! distropanel: the control panel for custom distros on uwsgi.it-style container hosting.
//!
//! [`Application::build`] is the one way to get a running server; `main` and every test use it.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod host;
pub mod jobs;
pub mod ops;
pub mod phases;
pub mod telemetry;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web as aweb};
use anyhow::Context;
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::db::PgPool;
use crate::host::HostExecutor;
use crate::host::vassal::VassalTemplate;
use crate::web::error::AppError;

/// What every request handler may use.
pub struct AppState {
    pub pool: PgPool,
    pub config: Config,
    /// The host this process runs jobs on (handlers never call it: they enqueue jobs).
    pub host: Arc<dyn HostExecutor>,
    /// The vassal template, for serving vassals on `/private`.
    pub vassal_template: Arc<VassalTemplate>,
    /// Login limits and the bound on password verifications.
    pub login_gate: Arc<auth::throttle::LoginGate>,
    /// Customers' container lists, kept between requests.
    pub container_lists: Arc<web::container_lists::ContainerLists>,
}

/// A bound, not yet running, web server.
pub struct Application {
    login_gate: Arc<auth::throttle::LoginGate>,
    port: u16,
    server: Server,
    pool: PgPool,
    job_retention: Option<std::time::Duration>,
    audit_retention: Option<std::time::Duration>,
}

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     object-src 'none'; frame-ancestors 'none'";

impl Application {
    /// Connects the pool, refuses a database with pending migrations (`distropanel migrate`
    /// applies them) and binds `config.bind` (port 0 picks a free port, as tests do).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = connect_and_check(&config).await?;
        let listener =
            TcpListener::bind(config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let (host, vassal_template) = host::open_local(&config).await?;
        let workers = config.workers;
        let job_retention = config.jobs.retention;
        let audit_retention = config.audit_retention;
        let login_gate = Arc::new(auth::throttle::LoginGate::new(&config.login));
        let container_lists = web::container_lists::ContainerLists::new(config.list_rows);
        let state = aweb::Data::new(AppState {
            pool: pool.clone(),
            config,
            host,
            vassal_template,
            login_gate: login_gate.clone(),
            container_lists,
        });
        // one per process, shared by every worker: the key of its fingerprints dies with it
        let verified_credentials = aweb::Data::new(auth::basic::CredentialCache::new());
        let metrics = aweb::Data::new(web::metrics::Metrics::default());
        let trusted_proxies = aweb::Data::new(auth::extract::TrustedProxies(
            state.config.trusted_proxies.clone(),
        ));

        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(verified_credentials.clone())
                .app_data(trusted_proxies.clone())
                .app_data(metrics.clone())
                .app_data(form_config())
                .wrap(from_fn(web::head::as_get))
                .wrap(from_fn(web::error::signed_in_error_pages))
                .wrap(from_fn(web::csrf::protect))
                .wrap(auth::session_store::middleware(
                    state.pool.clone(),
                    &state.config,
                ))
                .wrap(security_headers())
                .wrap(from_fn(web::metrics::record))
                .wrap(TracingLogger::<web::request_spans::RequestSpans>::new())
                .configure(configure)
        })
        .listen(listener)?;
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        Ok(Self {
            login_gate,
            port,
            server: server.run(),
            pool,
            job_retention,
            audit_retention,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound on password verifications this server answers within.
    pub fn login_gate(&self) -> Arc<auth::throttle::LoginGate> {
        self.login_gate.clone()
    }

    /// Serves until stopped, sweeping dead sessions, stale failed logins, abandoned image
    /// uploads and old finished jobs meanwhile.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = tokio::spawn(auth::sweep_forever(self.pool.clone()));
        let maintenance = tokio::spawn(jobs::maintenance::sweep_forever(
            self.pool,
            self.job_retention,
            self.audit_retention,
        ));
        let served = self.server.await;
        sweeper.abort();
        maintenance.abort();
        served
    }
}

/// A pool on `config.database_url`, whose database has every migration.
async fn connect_and_check(config: &Config) -> anyhow::Result<PgPool> {
    let url = config.database_url.expose_secret().to_owned();
    let size = config.db_pool;
    tokio::task::spawn_blocking(move || -> anyhow::Result<PgPool> {
        let pool = db::pool(&url, size).context("connecting to PostgreSQL")?;
        db::require_migrated(&mut *pool.get()?)?;
        Ok(pool)
    })
    .await?
}

/// Forms are small; one that cannot be read is a plain 400.
fn form_config() -> aweb::FormConfig {
    aweb::FormConfig::default()
        .limit(64 * 1024)
        .error_handler(|_, _| AppError::BadRequest("The form could not be read.".into()).into())
}

/// The headers every response carries.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

/// Every route of the panel. Shared by [`Application::build`] and in-process tests.
pub fn configure(cfg: &mut aweb::ServiceConfig) {
    cfg.app_data(web::path::config())
        .configure(web::api::configure)
        .configure(web::private::configure)
        .configure(web::pages::login::configure)
        .configure(web::pages::settings::configure)
        .configure(web::pages::containers::configure)
        .configure(web::pages::dashboard::configure)
        .configure(web::pages::alarms::configure)
        .configure(web::pages::distros::configure)
        .configure(web::staff::configure)
        .service(web::health::healthz)
        .service(web::health::readyz)
        .service(web::metrics::scrape)
        .service(web::assets::serve)
        .service(web::assets::favicon)
        .service(web::pages::home::show)
        .default_service(aweb::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
