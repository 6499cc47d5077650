//! `GET /staff/containers`: every container on the platform, filterable by customer, server
//! and name, sorted and paged by the database; `GET /staff/containers/{uid}`: one container as
//! its customer sees it, with every job's full report and its rendered vassal, read-only.

use actix_web::{HttpResponse, get, web};
use askama::Template;
use diesel::PgConnection;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::alarm::Alarm;
use crate::db::models::event::Event;
use crate::db::models::job::Job;
use crate::db::models::server::Server;
use crate::db::queries::alarms::{self as customer_alarms, AlarmFilter};
use crate::db::queries::container_pages::{self, LastBoot};
use crate::db::queries::containers::{self as customer_containers, ContainerView};
use crate::db::queries::host_reports::{self, DiskUseRow};
use crate::db::queries::overview;
use crate::db::queries::staff_views::{
    self, ContainerFilter, ContainerListing, ContainerSort, CustomDistroListing, CustomDistroWindow,
};
use crate::db::queries::{api_jobs, host_facts};
use crate::domain::ids::{ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::host::vassal::Boot;
use crate::web::api::jobs::{ReportLine, report_lines};
use crate::web::error::AppError;
use crate::web::pages::alarms::AlarmRow;
use crate::web::pages::settings::when;
use crate::web::path::ContainerUid;
use crate::web::render::{Layout, html};
use crate::web::staff::table::{Pager, SortColumn, TableQuery, Window};
use crate::web::words;

/// A filter field: empty means "any"; anything else must be a number.
pub(super) fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("The {field} filter must be a number.")))
}

/// `key=value&…` of the non-empty pairs, for links that keep the filters.
pub(super) fn query_string(pairs: &[(&str, String)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
    }
    query.finish()
}

/// One option of a filter menu.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The customers menu: `#id company`, the filtered one selected.
pub(super) fn customer_menu(
    customers: Vec<(CustomerId, String)>,
    chosen: Option<i32>,
) -> Vec<Choice> {
    customers
        .into_iter()
        .map(|(id, company)| Choice {
            value: id.0.to_string(),
            label: format!("#{id} {company}"),
            selected: chosen == Some(id.0),
        })
        .collect()
}

/// A container in a staff table, with the ids its links need.
pub(super) struct Row {
    pub uid: i64,
    pub name: String,
    pub customer_id: i32,
    pub company: String,
    pub server_id: i32,
    pub server: String,
    pub distro_id: Option<i32>,
    pub distro: String,
    /// The custom distro it boots: id, name and the uid of the container storing it.
    pub custom_distro: Option<(i32, String, i64)>,
    pub storage: bool,
    pub fallback_reason: String,
    pub pending_jobs: i64,
}

pub(super) fn row(c: ContainerListing, base_uid: u32) -> Row {
    let uid = |id: i32| Uid::of(base_uid, ContainerId(id)).get();
    Row {
        uid: uid(c.id),
        name: c.name,
        customer_id: c.customer_id,
        company: c.company,
        server_id: c.server_id,
        server: c.server,
        distro_id: c.distro_id,
        distro: c.distro.unwrap_or_default(),
        custom_distro: match (c.custom_distro_id, c.custom_distro, c.custom_storage_id) {
            (Some(id), Some(name), Some(storage)) => Some((id, name, uid(storage))),
            _ => None,
        },
        storage: c.storage,
        fallback_reason: c.fallback_reason.unwrap_or_default(),
        pending_jobs: c.pending_jobs,
    }
}

/// The columns a containers table sorts by.
pub(super) const COLUMNS: &[SortColumn<ContainerSort>] = &[
    SortColumn {
        name: "uid",
        label: "uid",
        key: ContainerSort::Uid,
    },
    SortColumn {
        name: "name",
        label: "Name",
        key: ContainerSort::Name,
    },
    SortColumn {
        name: "customer",
        label: "Customer",
        key: ContainerSort::Customer,
    },
    SortColumn {
        name: "server",
        label: "Server",
        key: ContainerSort::Server,
    },
];

#[derive(Template)]
#[template(path = "staff/containers.html")]
struct ContainersPage {
    layout: Layout,
    customers: Vec<Choice>,
    servers: Vec<Choice>,
    q: String,
    rows: Vec<Row>,
    pager: Pager,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    customer: String,
    server: String,
    q: String,
    #[serde(flatten)]
    table: TableQuery,
}

#[get("/staff/containers")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.q.trim().to_owned();
    let window = Window::parse(&query.table, COLUMNS, true);
    let filter = ContainerFilter {
        customer: number("customer", &query.customer)?,
        server: number("server", &query.server)?,
        distro: None,
        name: (!q.is_empty()).then(|| q.clone()),
        sort: window.sort.key,
        descending: window.descending,
        offset: window.offset(),
        limit: window.limit_probe(),
    };
    let lookup = filter.clone();
    let (customers, servers, found) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_views::customer_choices(conn)?,
            overview::servers(conn)?,
            staff_views::containers(conn, &lookup)?,
        ))
    })
    .await?;
    let filters = query_string(&[
        ("customer", query.customer.trim().to_owned()),
        ("server", query.server.trim().to_owned()),
        ("q", q.clone()),
    ]);
    let pager = window.pager("/staff/containers", &filters, found.len(), COLUMNS);
    let base_uid = state.config.base_uid;
    html(&ContainersPage {
        layout: staff.layout(),
        customers: customer_menu(customers, filter.customer),
        servers: servers
            .into_iter()
            .map(|s: Server| Choice {
                value: s.id.0.to_string(),
                selected: filter.server == Some(s.id.0),
                label: s.name,
            })
            .collect(),
        q,
        rows: found
            .into_iter()
            .take(crate::web::staff::table::PER_PAGE as usize)
            .map(|c| row(c, base_uid))
            .collect(),
        pager,
    })
}

/// Jobs and log lines the container page shows.
const JOBS_SHOWN: i64 = 50;
const ALARMS_SHOWN: i64 = 20;
const LOG_SHOWN: i64 = 50;

struct JobRow {
    id: i64,
    kind: String,
    state: String,
    attempts: i32,
    created: String,
    finished: String,
    error: String,
    report: Vec<ReportLine>,
}

fn job_row(job: Job) -> JobRow {
    JobRow {
        id: job.id.0,
        report: report_lines(&job.report),
        kind: job.kind.to_string(),
        state: job.state,
        attempts: job.attempts,
        created: when(job.created_at),
        finished: job.finished_at.map(when).unwrap_or_default(),
        error: job.error.unwrap_or_default(),
    }
}

struct LogRow {
    at: String,
    actor: String,
    action: String,
    outcome: String,
    detail: String,
}

fn log_row(e: Event) -> LogRow {
    LogRow {
        at: when(e.at),
        actor: words::actor(&e.actor, e.actor_user_id.is_some()),
        action: words::plain(&e.action),
        outcome: e.outcome,
        detail: words::plain(&e.detail),
    }
}

/// A custom distro the page links to: its id, name and state.
struct DistroLink {
    id: i32,
    name: String,
    state: String,
}

#[derive(Template)]
#[template(path = "staff/container.html")]
struct ContainerPage {
    layout: Layout,
    uid: i64,
    name: String,
    customer_id: i32,
    company: String,
    server_id: i32,
    server: String,
    default_distro: Option<(i32, String)>,
    /// What it is set to boot, in words.
    boots: String,
    /// The custom distro it is set to boot.
    custom_distro: Option<DistroLink>,
    /// What its last restart booted, in words.
    booted: String,
    fallback: Option<String>,
    storage: bool,
    memory_mb: i32,
    storage_mb: i32,
    disk_use: Option<String>,
    /// The custom distros it stores, when it is a storage container.
    stored: Vec<DistroLink>,
    /// Custom distros it could boot on its server.
    choices: Vec<DistroLink>,
    jobs: Vec<JobRow>,
    alarms: Vec<AlarmRow>,
    log: Vec<LogRow>,
    /// The vassal as the host would write it now, or why it cannot be rendered.
    vassal: Result<String, String>,
}

struct Loaded {
    view: ContainerView,
    company: String,
    last: Option<LastBoot>,
    choices: Vec<crate::ops::containers::BootChoice>,
    stored: Vec<CustomDistroListing>,
    jobs: Vec<Job>,
    alarms: Vec<Alarm>,
    log: Vec<Event>,
    disk_use: Option<DiskUseRow>,
    facts: Option<host_facts::ContainerFacts>,
}

fn load(conn: &mut PgConnection, id: ContainerId) -> Result<Loaded, AppError> {
    let (customer, server) = staff_views::container_owner(conn, id)?.ok_or(AppError::NotFound)?;
    let view =
        customer_containers::view_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)?;
    let company = staff_views::customer(conn, customer)?
        .map(|c| c.company)
        .unwrap_or_default();
    let last = container_pages::last_boots(conn, customer)?
        .into_iter()
        .find(|last| last.container == id);
    let choices = crate::ops::containers::boot_choices(conn, customer, &view.container)?;
    let stored = if view.container.custom_distros_storage {
        staff_views::custom_distros(conn, Some(customer.0), CustomDistroWindow::all())?
            .into_iter()
            .filter(|d| d.storage_id == id.0)
            .collect()
    } else {
        Vec::new()
    };
    let jobs = api_jobs::for_customer(conn, customer, Some(id), JOBS_SHOWN)?;
    let alarm_filter = AlarmFilter {
        container: Some(id),
        ..AlarmFilter::default()
    };
    let alarms = customer_alarms::list(conn, customer, &alarm_filter, 0, Some(ALARMS_SHOWN))?;
    let log = container_pages::operation_log(conn, customer, id, LOG_SHOWN)?;
    let disk_use = host_reports::of_container(conn, id)?;
    let facts = host_facts::on_server_by_id(conn, server, id)?;
    Ok(Loaded {
        view,
        company,
        last,
        choices,
        stored,
        jobs,
        alarms,
        log,
        disk_use,
        facts,
    })
}

/// The vassal the host would write for these facts now.
fn vassal(state: &AppState, facts: Option<host_facts::ContainerFacts>) -> Result<String, String> {
    let facts = facts.ok_or_else(|| "The container is gone.".to_string())?;
    let base_uid = state.config.base_uid;
    let (distro, image) = crate::jobs::boot_inputs(&facts, base_uid)?;
    let boot = Boot::recorded(distro, image, facts.fallback_reason.as_deref());
    let spec = crate::jobs::vassal_spec(&facts, base_uid, boot);
    state
        .vassal_template
        .render(state.host.layout(), &spec)
        .map(|rendered| rendered.as_str().to_owned())
        .map_err(|e| e.to_string())
}

#[get("/staff/containers/{uid:\\d+}")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    uid: ContainerUid,
) -> Result<HttpResponse, AppError> {
    let id = uid.0;
    let loaded = db::run(&state.pool, move |conn| load(conn, id)).await?;
    let base_uid = state.config.base_uid;
    let vassal = vassal(&state, loaded.facts);
    let view = &loaded.view;
    let c = &view.container;
    let current = c.custom_distro_id;
    html(&ContainerPage {
        layout: staff.layout(),
        uid: Uid::of(base_uid, c.id).get(),
        name: c.name.clone(),
        customer_id: c.customer_id.0,
        company: loaded.company,
        server_id: c.server_id.0,
        server: view.server_name.clone(),
        default_distro: c.distro_id.map(|d| d.0).zip(view.distro_name.clone()),
        boots: match (&view.custom_distro_name, &view.distro_name) {
            (Some(custom), _) => format!("custom distro “{custom}”"),
            (None, Some(default)) => format!("default distro “{default}”"),
            (None, None) => "no distro".into(),
        },
        custom_distro: current
            .zip(view.custom_distro_name.clone())
            .map(|(id, name)| DistroLink {
                id: id.0,
                name,
                state: String::new(),
            }),
        booted: words::booted(loaded.last.as_ref(), view.distro_name.as_deref()),
        fallback: loaded.last.and_then(|l| l.fallback_reason),
        storage: c.custom_distros_storage,
        memory_mb: c.memory_mb,
        storage_mb: c.storage_mb,
        disk_use: loaded
            .disk_use
            .as_ref()
            .map(|used| crate::web::render::disk_use(used, c.storage_mb)),
        stored: loaded
            .stored
            .into_iter()
            .map(|d| DistroLink {
                id: d.id,
                name: d.name,
                state: d.image_state,
            })
            .collect(),
        choices: loaded
            .choices
            .into_iter()
            .map(|d| DistroLink {
                state: crate::web::pages::containers::image_state_words(&d.distro.image_state)
                    .into(),
                id: d.distro.id.0,
                name: d.distro.name,
            })
            .collect(),
        jobs: loaded.jobs.into_iter().map(job_row).collect(),
        alarms: loaded
            .alarms
            .into_iter()
            .map(|a| AlarmRow::of(a, base_uid))
            .collect(),
        log: loaded.log.into_iter().map(log_row).collect(),
        vassal,
    })
}
