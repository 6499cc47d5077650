//! `GET /staff/customers/{id}`: one customer with their logins, containers, storage use
//! against quota, custom distros, alarms, jobs, API tokens (names and use, never secrets),
//! live sessions and the audit entries about them.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::customer::Customer;
use crate::db::models::event::Event;
use crate::db::models::job::Job;
use crate::db::models::user::User;
use crate::db::queries::dashboard::{self, StorageUse};
use crate::db::queries::staff_views::{
    self, AlarmFilter, AlarmListing, ContainerFilter, ContainerListing, ContainerSort,
    CustomDistroListing, CustomDistroWindow, SessionListing, TokenListing,
};
use crate::domain::ids::{ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::web::error::AppError;
use crate::web::pages::alarms::level_name;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, ago, byte_size, html};
use crate::web::staff::containers::{Row, row};

/// Rows of each list the page shows; the lists' own pages have the rest.
const SHOWN: i64 = 50;

struct StorageRow {
    uid: i64,
    name: String,
    used: String,
    quota: String,
    percent: i64,
    measured: String,
}

fn storage_row(s: StorageUse, base_uid: u32) -> StorageRow {
    let quota = i64::from(s.quota_mb).saturating_mul(1024 * 1024);
    StorageRow {
        uid: Uid::of(base_uid, ContainerId(s.container)).get(),
        name: s.name,
        used: byte_size(Some(s.used_bytes)),
        quota: byte_size(Some(quota)),
        percent: if quota > 0 {
            s.used_bytes.saturating_mul(100) / quota
        } else {
            0
        },
        measured: s.measured_at.map_or_else(
            || "sum of its images' sizes (not measured yet)".into(),
            |at| format!("measured {}", ago(at)),
        ),
    }
}

struct DistroRow {
    id: i32,
    name: String,
    storage_uid: i64,
    storage_name: String,
    state: String,
    booting: usize,
}

struct AlarmRow {
    uid: i64,
    container: String,
    at: String,
    level: &'static str,
    msg: String,
}

struct JobRow {
    id: i64,
    kind: String,
    state: String,
    container_uid: Option<i64>,
    created: String,
    error: String,
}

struct TokenRow {
    username: String,
    name: String,
    read_only: bool,
    created: String,
    last_used: String,
    revoked: String,
}

struct SessionRow {
    username: String,
    ip: String,
    user_agent: String,
    since: String,
    seen: String,
}

#[derive(Template)]
#[template(path = "staff/customer.html")]
struct CustomerPage {
    layout: Layout,
    customer: Customer,
    since: String,
    logins: Vec<User>,
    /// Their containers, by name.
    rows: Vec<Row>,
    more_containers: bool,
    storage: Vec<StorageRow>,
    distros: Vec<DistroRow>,
    alarms: Vec<AlarmRow>,
    jobs: Vec<JobRow>,
    tokens: Vec<TokenRow>,
    sessions: Vec<SessionRow>,
    audit: Vec<(String, Event)>,
}

struct Loaded {
    customer: Customer,
    logins: Vec<User>,
    containers: Vec<ContainerListing>,
    storage: Vec<StorageUse>,
    distros: Vec<CustomDistroListing>,
    alarms: Vec<AlarmListing>,
    jobs: Vec<Job>,
    tokens: Vec<TokenListing>,
    sessions: Vec<SessionListing>,
    audit: Vec<Event>,
}

fn load(conn: &mut diesel::PgConnection, id: CustomerId) -> Result<Loaded, AppError> {
    let customer = staff_views::customer(conn, id)?.ok_or(AppError::NotFound)?;
    let containers = staff_views::containers(
        conn,
        &ContainerFilter {
            customer: Some(id.0),
            sort: ContainerSort::Name,
            descending: false,
            limit: SHOWN + 1,
            ..ContainerFilter::default()
        },
    )?;
    Ok(Loaded {
        logins: staff_views::logins_of(conn, id)?,
        storage: dashboard::storage_use(conn, id)?,
        distros: staff_views::custom_distros(conn, Some(id.0), CustomDistroWindow::all())?,
        alarms: staff_views::alarms(
            conn,
            &AlarmFilter {
                customer: Some(id.0),
                limit: SHOWN,
                ..AlarmFilter::default()
            },
        )?,
        jobs: staff_views::jobs_of_customer(conn, id, SHOWN)?,
        tokens: staff_views::tokens_of(conn, id)?,
        sessions: staff_views::sessions_of(conn, id)?,
        audit: staff_views::audit_about(conn, id, SHOWN)?,
        customer,
        containers,
    })
}

#[get("/staff/customers/{id:\\d+}")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = CustomerId(id.parse::<i32>().map_err(|_| AppError::NotFound)?);
    let loaded = db::run(&state.pool, move |conn| load(conn, id)).await?;
    let base_uid = state.config.base_uid;
    let uid = |id: i32| Uid::of(base_uid, ContainerId(id)).get();
    let more_containers = loaded.containers.len() as i64 > SHOWN;
    html(&CustomerPage {
        layout: staff.layout(),
        since: when(loaded.customer.created_at),
        customer: loaded.customer,
        logins: loaded.logins,
        rows: loaded
            .containers
            .into_iter()
            .take(SHOWN as usize)
            .map(|c| row(c, base_uid))
            .collect(),
        more_containers,
        storage: loaded
            .storage
            .into_iter()
            .map(|s| storage_row(s, base_uid))
            .collect(),
        distros: loaded
            .distros
            .into_iter()
            .map(|d| DistroRow {
                id: d.id,
                name: d.name,
                storage_uid: uid(d.storage_id),
                storage_name: d.storage_name,
                state: if d.busy {
                    "unpacking".into()
                } else {
                    d.image_state
                },
                booting: d.booting_ids.len(),
            })
            .collect(),
        alarms: loaded
            .alarms
            .into_iter()
            .map(|a| AlarmRow {
                uid: uid(a.container_id),
                container: a.container,
                at: when(a.unix),
                level: level_name(a.level),
                msg: a.msg,
            })
            .collect(),
        jobs: loaded
            .jobs
            .into_iter()
            .map(|j| JobRow {
                id: j.id.0,
                kind: j.kind.to_string(),
                state: j.state,
                container_uid: j.container_id.map(|c| Uid::of(base_uid, c).get()),
                created: when(j.created_at),
                error: j.error.unwrap_or_default(),
            })
            .collect(),
        tokens: loaded
            .tokens
            .into_iter()
            .map(|t| TokenRow {
                username: t.username,
                name: t.name,
                read_only: t.read_only,
                created: when(t.created_at),
                last_used: t.last_used_at.map_or_else(|| "never".into(), ago),
                revoked: t.revoked_at.map(when).unwrap_or_default(),
            })
            .collect(),
        sessions: loaded
            .sessions
            .into_iter()
            .map(|s| SessionRow {
                username: s.username,
                ip: s.ip.unwrap_or_default(),
                user_agent: s.user_agent.unwrap_or_default(),
                since: when(s.created_at),
                seen: ago(s.last_seen),
            })
            .collect(),
        audit: loaded.audit.into_iter().map(|e| (when(e.at), e)).collect(),
    })
}
