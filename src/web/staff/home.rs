//! `GET /staff`: every customer with their logins, staff, servers, containers, and the newest
//! audit entries.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::container::Container;
use crate::db::models::customer::Customer;
use crate::db::models::event::Event;
use crate::db::models::server::Server;
use crate::db::models::user::User;
use crate::db::queries::host_reports::{self, Heartbeat};
use crate::db::queries::overview;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, ago, html};

struct ContainerRow {
    uid: i64,
    name: String,
    company: String,
    server: String,
    storage: bool,
}

/// A server's last heartbeat; `silent` when its worker missed more than three reports.
struct HeartbeatRow {
    server: String,
    worker: String,
    last: String,
    silent: bool,
}

fn heartbeat_rows(beats: Vec<Heartbeat>, every: std::time::Duration) -> Vec<HeartbeatRow> {
    let silence =
        chrono::Duration::from_std(every.saturating_mul(3)).unwrap_or(chrono::Duration::MAX);
    let now = chrono::Utc::now();
    beats
        .into_iter()
        .map(|beat| HeartbeatRow {
            server: beat.server,
            worker: beat.worker.unwrap_or_default(),
            last: beat.reported_at.map_or_else(|| "never".into(), ago),
            silent: beat.reported_at.is_some_and(|at| now - at > silence),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct StaffHome {
    layout: Layout,
    notice: Option<&'static str>,
    customers: Vec<(Customer, Vec<User>)>,
    staff: Vec<User>,
    servers: Vec<Server>,
    heartbeats: Vec<HeartbeatRow>,
    containers: Vec<ContainerRow>,
    audit: Vec<(String, Event)>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Done {
    done: String,
}

#[get("/staff")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let (customers, staff_logins, servers, containers, audit, beats) =
        db::run(&state.pool, |conn| {
            Ok::<_, AppError>((
                overview::customers_with_logins(conn)?,
                overview::staff_logins(conn)?,
                overview::servers(conn)?,
                overview::containers(conn)?,
                overview::recent_audit(conn, 50)?,
                host_reports::heartbeats(conn)?,
            ))
        })
        .await?;
    let base_uid = i64::from(state.config.base_uid);
    html(&StaffHome {
        layout: staff.layout(),
        notice: (query.done == "sessions-ended").then_some("The user's sessions were ended."),
        customers,
        staff: staff_logins,
        servers,
        heartbeats: heartbeat_rows(beats, state.config.jobs.report),
        containers: containers
            .into_iter()
            .map(
                |(c, server, company): (Container, String, String)| ContainerRow {
                    uid: base_uid + i64::from(c.id.0),
                    name: c.name,
                    company,
                    server,
                    storage: c.custom_distros_storage,
                },
            )
            .collect(),
        audit: audit.into_iter().map(|e| (when(e.at), e)).collect(),
    })
}
