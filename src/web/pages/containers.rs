//! `/containers`: the signed-in customer's containers, and one container's page with what it
//! boots, its storage flag, restarts, jobs, alarms and operation log. Every form works without
//! JavaScript (POST, then a redirect back); htmx swaps the container's section in place.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel::PgConnection;
use serde::Deserialize;

use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::models::alarm::Alarm;
use crate::db::models::event::Event;
use crate::db::models::job::Job;
use crate::db::queries::alarms::{self, AlarmFilter};
use crate::db::queries::containers::{self, ContainerView};
use crate::db::queries::{api_jobs, container_pages};
use crate::domain::commands::{ContainerFields, UpdateContainer};
use crate::domain::ids::{AlarmId, ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::error::Error;
use crate::ops::Actor;
use crate::ops::containers as container_ops;
use crate::web::api::jobs::{ReportLine, report_lines};
use crate::web::error::AppError;
use crate::web::htmx;
use crate::web::pages::settings::when;
use crate::web::path::ContainerUid;
use crate::web::render::{Layout, html};

const JOBS_SHOWN: i64 = 20;
const ALARMS_SHOWN: i64 = 20;
const LOG_SHOWN: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(set_storage)
        .service(set_boot)
        .service(restart)
        .service(delete_alarm);
}

/// What a container boots, in words.
fn boots(view: &ContainerView) -> String {
    match (&view.custom_distro_name, &view.distro_name) {
        (Some(custom), _) => format!("custom distro “{custom}”"),
        (None, Some(default)) => format!("default distro “{default}”"),
        (None, None) => "no distro".into(),
    }
}

struct ContainerRow {
    uid: i64,
    name: String,
    server: String,
    boots: String,
    fallback: Option<String>,
    storage: bool,
    pending: i64,
}

#[derive(Template)]
#[template(path = "containers.html")]
struct ContainersPage {
    layout: Layout,
    containers: Vec<ContainerRow>,
}

#[get("/containers")]
async fn list(customer: Customer, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let customer_id = customer.customer_id;
    let base_uid = state.config.base_uid;
    let listed = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>(containers::listed_for_customer(conn, customer_id, None)?)
    })
    .await?;
    let rows = listed
        .into_iter()
        .map(|listed| {
            let v = &listed.view;
            ContainerRow {
                uid: Uid::of(base_uid, v.container.id).get(),
                name: v.container.name.clone(),
                server: v.server_name.clone(),
                boots: boots(v),
                fallback: listed.fallback_reason,
                storage: v.container.custom_distros_storage,
                pending: listed.pending_jobs,
            }
        })
        .collect();
    html(&ContainersPage {
        layout: customer.layout(),
        containers: rows,
    })
}

struct Choice {
    id: i32,
    name: String,
    selected: bool,
}

struct JobRow {
    id: i64,
    kind: String,
    state: String,
    pending: bool,
    attempts: i32,
    created: String,
    error: String,
    report: Vec<ReportLine>,
}

struct AlarmRow {
    id: i64,
    level: i16,
    color: String,
    at: String,
    msg: String,
}

struct LogRow {
    at: String,
    actor: String,
    action: String,
    outcome: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "container.html", blocks = ["detail"])]
struct ContainerPage {
    layout: Layout,
    uid: i64,
    name: String,
    server: String,
    boots: String,
    default_distro: Option<String>,
    storage: bool,
    fallback: Option<String>,
    choices: Vec<Choice>,
    booting_custom: bool,
    /// Its measured disk use against its quota, once its server reported.
    disk_use: Option<String>,
    notice: Option<&'static str>,
    problem: Option<String>,
    jobs: Vec<JobRow>,
    alarms: Vec<AlarmRow>,
    log: Vec<LogRow>,
}

/// Everything the container page shows, read in one go on the blocking pool.
struct Loaded {
    view: ContainerView,
    fallback: Option<String>,
    usable: Vec<crate::domain::policy::DistroFacts>,
    jobs: Vec<Job>,
    alarms: Vec<Alarm>,
    log: Vec<Event>,
    disk_use: Option<crate::db::queries::host_reports::DiskUseRow>,
}

fn load(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> Result<Loaded, AppError> {
    let view = containers::view_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)?;
    let fallback = container_pages::fallback_reasons(conn, customer)?
        .into_iter()
        .find_map(|(c, why)| (c == id).then_some(why));
    let usable = container_ops::usable_distros(conn, customer, &view.container)?;
    let jobs = api_jobs::for_customer(conn, customer, Some(id), JOBS_SHOWN)?;
    let alarm_filter = AlarmFilter {
        container: Some(id),
        ..AlarmFilter::default()
    };
    let alarms = alarms::list(conn, customer, &alarm_filter, 0, Some(ALARMS_SHOWN))?;
    let log = container_pages::operation_log(conn, customer, id, LOG_SHOWN)?;
    let disk_use = crate::db::queries::host_reports::of_container(conn, id)?;
    Ok(Loaded {
        disk_use,
        view,
        fallback,
        usable,
        jobs,
        alarms,
        log,
    })
}

fn job_row(job: Job) -> JobRow {
    JobRow {
        id: job.id.0,
        pending: api_jobs::PENDING.contains(&job.state.as_str()),
        report: report_lines(&job.report),
        kind: job.kind.to_string(),
        state: job.state,
        attempts: job.attempts,
        created: when(job.created_at),
        error: job.error.unwrap_or_default(),
    }
}

fn page(layout: Layout, base_uid: u32, loaded: Loaded) -> ContainerPage {
    let c = &loaded.view.container;
    let current = c.custom_distro_id;
    ContainerPage {
        layout,
        uid: Uid::of(base_uid, c.id).get(),
        name: c.name.clone(),
        server: loaded.view.server_name.clone(),
        boots: boots(&loaded.view),
        default_distro: loaded.view.distro_name.clone(),
        storage: c.custom_distros_storage,
        fallback: loaded.fallback,
        booting_custom: current.is_some(),
        disk_use: loaded
            .disk_use
            .as_ref()
            .map(|used| crate::web::render::disk_use(used, c.storage_mb)),
        choices: loaded
            .usable
            .into_iter()
            .map(|d| Choice {
                selected: Some(d.id) == current,
                id: d.id.0,
                name: d.name,
            })
            .collect(),
        notice: None,
        problem: None,
        jobs: loaded.jobs.into_iter().map(job_row).collect(),
        alarms: loaded
            .alarms
            .into_iter()
            .map(|a| AlarmRow {
                id: a.id.0,
                level: a.level,
                color: a.color,
                at: when(a.unix),
                msg: a.msg,
            })
            .collect(),
        log: loaded
            .log
            .into_iter()
            .map(|e| LogRow {
                at: when(e.at),
                actor: e.actor,
                action: e.action,
                outcome: e.outcome,
                detail: e.detail,
            })
            .collect(),
    }
}

/// The page, or its detail block for htmx.
async fn render(
    request: &HttpRequest,
    state: &AppState,
    customer: &Customer,
    id: ContainerId,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let customer_id = customer.customer_id;
    let loaded = db::run(&state.pool, move |conn| load(conn, customer_id, id)).await?;
    let mut shown = page(customer.layout(), state.config.base_uid, loaded);
    shown.notice = notice;
    shown.problem = problem;
    htmx::page_or_block(request, status, &shown, &shown.as_detail())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    done: String,
}

fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "storage-on" => Some("It now stores custom distros; a restart is queued."),
        "storage-off" => Some("It no longer stores custom distros; a restart is queued."),
        "boot" => Some("Saved; a restart is queued to boot it."),
        "restart" => Some("A restart is queued."),
        "alarm-deleted" => Some("The alarm was deleted."),
        _ => None,
    }
}

#[get("/containers/{uid}")]
async fn show(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = notice_for(&query.done);
    render(
        &request,
        &state,
        &customer,
        id,
        StatusCode::OK,
        notice,
        None,
    )
    .await
}

fn back_to(id: ContainerId, base_uid: u32, done: &str) -> HttpResponse {
    let uid = Uid::of(base_uid, id);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/containers/{uid}?done={done}")))
        .finish()
}

/// The status a refusal of the rules gets on the page, or `None` when it is no refusal.
fn refusal_status(error: &AppError) -> Option<StatusCode> {
    match error {
        AppError::Invalid(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        AppError::Conflict(_) | AppError::Raced(_) | AppError::Forbidden(_) => {
            Some(StatusCode::CONFLICT)
        }
        _ => None,
    }
}

/// Applies a change and redirects back, or shows the page again with the rules' reason.
async fn change(
    customer: Customer,
    request: HttpRequest,
    state: &AppState,
    id: ContainerId,
    fields: ContainerFields,
    done: &str,
) -> Result<HttpResponse, AppError> {
    let actor = Actor::of_page(&customer, &request);
    let applied = match UpdateContainer::parse(&fields) {
        Ok(command) => db::run(&state.pool, move |conn| {
            container_ops::update(conn, &actor, id, command)
        })
        .await
        .map_err(AppError::from),
        Err(refused) => Err(AppError::from(Error::from(refused))),
    };
    match applied {
        Ok(()) => Ok(back_to(id, state.config.base_uid, done)),
        Err(refused) => match refusal_status(&refused) {
            Some(status) => {
                // htmx swaps only successful answers; it still shows the reason in place
                let status = if htmx::is_htmx(&request) {
                    StatusCode::OK
                } else {
                    status
                };
                let problem = Some(refused.reason());
                render(&request, state, &customer, id, status, None, problem).await
            }
            None => Err(refused),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StorageForm {
    storage: String,
}

#[post("/containers/{uid}/storage")]
async fn set_storage(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    form: web::Form<StorageForm>,
) -> Result<HttpResponse, AppError> {
    let (on, done) = match form.storage.as_str() {
        "on" => (true, "storage-on"),
        "off" => (false, "storage-off"),
        _ => {
            let problem = "Choose whether it stores custom distros: on or off.".to_owned();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&request, &state, &customer, id, status, None, Some(problem)).await;
        }
    };
    let fields = ContainerFields {
        custom_distros_storage: Some(on),
        ..ContainerFields::default()
    };
    change(customer, request, &state, id, fields, done).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BootForm {
    /// `default`, or the id of a custom distro.
    custom_distro: String,
}

#[post("/containers/{uid}/boot")]
async fn set_boot(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    form: web::Form<BootForm>,
) -> Result<HttpResponse, AppError> {
    let target = match form.custom_distro.as_str() {
        "default" => None,
        // an id that is not a number names no distro of the customer's
        raw => Some(raw.parse::<i64>().map_err(|_| AppError::NotFound)?),
    };
    let fields = ContainerFields {
        custom_distro: Some(target),
        ..ContainerFields::default()
    };
    change(customer, request, &state, id, fields, "boot").await
}

#[post("/containers/{uid}/restart")]
async fn restart(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
) -> Result<HttpResponse, AppError> {
    let fields = ContainerFields {
        reboot: true,
        ..ContainerFields::default()
    };
    change(customer, request, &state, id, fields, "restart").await
}

/// The alarm in `/containers/{uid}/alarms/{alarm}/...`; the uid is read by [`ContainerUid`].
#[derive(Debug, Deserialize)]
struct AlarmPath {
    alarm: AlarmId,
}

#[post("/containers/{uid}/alarms/{alarm}/delete")]
async fn delete_alarm(
    customer: Customer,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    path: web::Path<AlarmPath>,
) -> Result<HttpResponse, AppError> {
    let base_uid = state.config.base_uid;
    let alarm = path.alarm;
    let customer_id = customer.customer_id;
    db::run(&state.pool, move |conn| {
        let found = alarms::find_for_customer(conn, customer_id, alarm)?;
        if found.is_none_or(|a| a.container_id != id) {
            return Err(AppError::NotFound);
        }
        alarms::delete_for_customer(conn, customer_id, alarm)?;
        Ok(())
    })
    .await?;
    Ok(back_to(id, base_uid, "alarm-deleted"))
}
