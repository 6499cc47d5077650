//! `/containers`: the signed-in customer's containers, and one container's page with what it
//! boots, its storage flag, restarts, jobs, alarms and operation log. Every form works without
//! JavaScript (POST, then a redirect back); htmx swaps the container's section in place.

use std::fmt::Write as _;

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
use crate::db::queries::container_pages::LastBoot;
use crate::db::queries::containers::{self, ContainerView, ListedContainer};
use crate::db::queries::dashboard::{self, JobCounts};
use crate::db::queries::{api_jobs, container_pages};
use crate::domain::commands::{ContainerFields, UpdateContainer};
use crate::domain::ids::{AlarmId, ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::error::Error;
use crate::ops::Actor;
use crate::ops::containers as container_ops;
use crate::web::api::jobs::{ReportLine, report_lines};
use crate::web::confirm;
use crate::web::error::AppError;
use crate::web::htmx;
use crate::web::pages::alarms::AlarmRow;
use crate::web::pages::settings::when;
use crate::web::path::ContainerUid;
use crate::web::render::{Layout, html};
use crate::web::words;

const JOBS_SHOWN: i64 = 20;
const ALARMS_SHOWN: i64 = 20;
const LOG_SHOWN: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(set_storage)
        .service(set_boot)
        .service(restart)
        .service(delete_alarm)
        .service(live);
}

/// What a container is set to boot: whether a custom distro is mapped, its name, and the
/// default distro's.
struct BootSetting<'a> {
    mapped: bool,
    custom: Option<&'a str>,
    default: Option<&'a str>,
}

impl<'a> BootSetting<'a> {
    fn of_view(view: &'a ContainerView) -> Self {
        BootSetting {
            mapped: view.container.custom_distro_id.is_some(),
            custom: view.custom_distro_name.as_deref(),
            default: view.distro_name.as_deref(),
        }
    }

    fn of_listed(listed: &'a ListedContainer) -> Self {
        BootSetting {
            mapped: listed.custom_distro_id.is_some(),
            custom: listed.custom_distro_name.as_deref(),
            default: listed.distro_name.as_deref(),
        }
    }

    /// What it boots, in words.
    fn boots(&self) -> String {
        match (self.custom, self.default) {
            (Some(custom), _) => format!("custom distro “{custom}”"),
            (None, Some(default)) => format!("default distro “{default}”"),
            (None, None) => "no distro".into(),
        }
    }

    /// What the last restart booted, and what the next one will boot when that differs.
    fn runs(&self, last: Option<&LastBoot>) -> (String, Option<String>) {
        let booted = words::booted(last, self.default);
        let same = last.is_some_and(|l| match l.kind.as_deref() {
            Some("custom") | Some("fallback") => {
                self.mapped && l.custom_name.as_deref() == self.custom
            }
            Some("platform") | Some("none") => !self.mapped,
            _ => false,
        });
        (booted, (!same).then(|| self.boots()))
    }
}

/// What the listed container's last recorded restart booted, if one was recorded or it fell back.
fn last_boot(listed: &ListedContainer) -> Option<LastBoot> {
    (listed.booted_kind.is_some() || listed.fallback_reason.is_some()).then(|| LastBoot {
        container: listed.id,
        name: listed.name.clone(),
        kind: listed.booted_kind.clone(),
        custom_name: listed.booted_custom_name.clone(),
        fallback_reason: listed.fallback_reason.clone(),
    })
}

/// A row of the containers page up to its pending jobs (`_container_row.html`).
#[derive(Template)]
#[template(path = "_container_row.html")]
struct ContainerRow<'a> {
    uid: i64,
    name: &'a str,
    server: &'a str,
    /// What its last restart booted, in words.
    booted: String,
    /// What its next restart boots, when that is not what it runs.
    next: Option<String>,
    fallback: Option<&'a str>,
    storage: bool,
}

#[derive(Template)]
#[template(path = "containers.html")]
struct ContainersPage {
    layout: Layout,
    /// The table's rows, written from kept parts and each container's pending jobs.
    rows: String,
}

/// A row of the page up to its pending jobs.
fn row_up_to_pending(listed: &ListedContainer, base_uid: u32) -> Result<Box<str>, AppError> {
    let last = last_boot(listed);
    let (booted, next) = BootSetting::of_listed(listed).runs(last.as_ref());
    let row = ContainerRow {
        booted,
        next,
        uid: Uid::of(base_uid, listed.id).get(),
        name: &listed.name,
        server: &listed.server_name,
        fallback: listed.fallback_reason.as_deref(),
        storage: listed.custom_distros_storage,
    };
    Ok(row.render()?.into_boxed_str())
}

#[get("/containers")]
async fn list(customer: Customer, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let customer_id = customer.customer_id;
    let base_uid = state.config.base_uid;
    let list = state
        .container_lists
        .of_customer(&state.pool, customer_id)
        .await?;
    let parts = list
        .rows
        .page_html(|listed| row_up_to_pending(listed, base_uid))?;
    let mut rows = String::with_capacity(parts.iter().map(|part| part.len() + 48).sum());
    for (listed, part) in list.rows.iter().zip(parts) {
        rows.push_str(part);
        // writing to a String cannot fail
        let _ = match list.pending_jobs(listed.id) {
            0 => writeln!(rows, r#"<span class="muted">none</span></td></tr>"#),
            n => writeln!(rows, r#"<span class="pending">{n}</span></td></tr>"#),
        };
    }
    html(&ContainersPage {
        layout: customer.layout().with_jobs(list.counts),
        rows,
    })
}

struct Choice {
    id: i32,
    name: String,
    selected: bool,
    /// The container that stores it: its name and uid.
    storage: String,
    image_state: String,
    checked: String,
    cannot_boot: bool,
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

struct LogRow {
    at: String,
    actor: String,
    action: String,
    outcome: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "container.html", blocks = ["detail", "status", "activity", "poller"])]
struct ContainerPage {
    layout: Layout,
    uid: i64,
    name: String,
    server: String,
    boots: String,
    /// What its last restart booted, in words.
    booted: String,
    /// What its next restart boots, when that is not what it runs.
    next: Option<String>,
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
    /// Some job is pending: the page polls for its live parts until none is.
    live: bool,
    /// Rendered as out-of-band swaps of a poll's answer.
    oob: bool,
}

/// Everything the container page shows, read in one go on the blocking pool.
struct Loaded {
    view: ContainerView,
    last: Option<LastBoot>,
    choices: Vec<container_ops::BootChoice>,
    jobs: Vec<Job>,
    alarms: Vec<Alarm>,
    log: Vec<Event>,
    disk_use: Option<crate::db::queries::host_reports::DiskUseRow>,
    counts: JobCounts,
}

fn load(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> Result<Loaded, AppError> {
    let view = containers::view_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)?;
    let last = container_pages::last_boots(conn, customer)?
        .into_iter()
        .find(|last| last.container == id);
    let choices = container_ops::boot_choices(conn, customer, &view.container)?;
    let jobs = api_jobs::for_customer(conn, customer, Some(id), JOBS_SHOWN)?;
    let alarm_filter = AlarmFilter {
        container: Some(id),
        ..AlarmFilter::default()
    };
    let alarms = alarms::list(conn, customer, &alarm_filter, 0, Some(ALARMS_SHOWN))?;
    let log = container_pages::operation_log(conn, customer, id, LOG_SHOWN)?;
    let disk_use = crate::db::queries::host_reports::of_container(conn, id)?;
    let counts = dashboard::job_counts(conn, customer)?;
    Ok(Loaded {
        disk_use,
        view,
        last,
        choices,
        jobs,
        alarms,
        log,
        counts,
    })
}

fn job_row(job: Job) -> JobRow {
    JobRow {
        id: job.id.0,
        pending: api_jobs::PENDING.contains(&job.state.as_str()),
        report: report_lines(&job.report),
        kind: crate::web::words::job_kind(job.kind.as_str()),
        state: job.state,
        attempts: job.attempts,
        created: when(job.created_at),
        error: words::plain(&job.error.unwrap_or_default()),
    }
}

fn choice(
    d: container_ops::BootChoice,
    current: Option<crate::domain::ids::CustomDistroId>,
    base_uid: u32,
) -> Choice {
    let storage_uid = Uid::of(base_uid, d.distro.container_id);
    Choice {
        selected: Some(d.distro.id) == current,
        cannot_boot: d.cannot_boot(),
        storage: format!("{} ({storage_uid})", d.storage_name),
        image_state: image_state_words(&d.distro.image_state).into(),
        checked: d
            .distro
            .checked_at
            .map(when)
            .unwrap_or_else(|| "never".into()),
        id: d.distro.id.0,
        name: d.distro.name,
    }
}

/// An image state as the page says it.
pub(crate) fn image_state_words(state: &str) -> &'static str {
    match state {
        "ready" => "image ready",
        "unpacking" => "image unpacking",
        "broken" => "image broken",
        _ => "no image",
    }
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

fn page(layout: Layout, base_uid: u32, loaded: Loaded) -> ContainerPage {
    let c = &loaded.view.container;
    let current = c.custom_distro_id;
    let (booted, next) = BootSetting::of_view(&loaded.view).runs(loaded.last.as_ref());
    let jobs: Vec<JobRow> = loaded.jobs.into_iter().map(job_row).collect();
    ContainerPage {
        layout: layout.with_jobs(loaded.counts),
        uid: Uid::of(base_uid, c.id).get(),
        name: c.name.clone(),
        server: loaded.view.server_name.clone(),
        boots: BootSetting::of_view(&loaded.view).boots(),
        booted,
        next,
        default_distro: loaded.view.distro_name.clone(),
        storage: c.custom_distros_storage,
        fallback: loaded.last.and_then(|l| l.fallback_reason),
        booting_custom: current.is_some(),
        disk_use: loaded
            .disk_use
            .as_ref()
            .map(|used| crate::web::render::disk_use(used, c.storage_mb)),
        choices: loaded
            .choices
            .into_iter()
            .map(|d| choice(d, current, base_uid))
            .collect(),
        notice: None,
        problem: None,
        live: jobs.iter().any(|j| j.pending),
        jobs,
        alarms: loaded
            .alarms
            .into_iter()
            .map(|a| AlarmRow::of(a, base_uid))
            .collect(),
        log: loaded.log.into_iter().map(log_row).collect(),
        oob: false,
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
    shown.problem = problem.map(|p| words::plain(&p));
    htmx::page_or_block(request, status, &shown, &shown.as_detail())
}

/// What a poll gets while a job is pending: the poller (without its trigger once nothing is
/// pending, which stops the polling) and the live parts as out-of-band swaps.
#[get("/containers/{uid}/live")]
async fn live(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
) -> Result<HttpResponse, AppError> {
    if !htmx::is_htmx(&request) {
        let uid = Uid::of(state.config.base_uid, id);
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/containers/{uid}")))
            .finish());
    }
    let customer_id = customer.customer_id;
    let loaded = db::run(&state.pool, move |conn| load(conn, customer_id, id)).await?;
    let mut shown = page(customer.layout(), state.config.base_uid, loaded);
    shown.oob = true;
    let mut body = shown.as_poller().render()?;
    body.push_str(&shown.as_status().render()?);
    body.push_str(&shown.as_activity().render()?);
    if let Some(jobs) = shown.layout.jobs {
        body.push_str(&crate::web::pages::dashboard::indicator(jobs)?);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
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
    confirmed: Option<String>,
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
        "off" if !confirm::is_given(form.confirmed.as_deref()) => {
            let uid = request.match_info().get("uid").unwrap_or_default();
            return confirm::page(customer.layout(), confirm::storage_off(uid));
        }
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
    /// Ticked to boot a custom distro that cannot boot now (and so falls back).
    confirm: String,
}

/// Why the custom distro `raw` needs the customer's confirmation: the container may boot it,
/// but it cannot boot now. Anything the rules refuse is left to them.
fn unconfirmed(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: ContainerId,
    raw: i64,
) -> Result<Option<String>, AppError> {
    let Some(view) = containers::view_for_customer(conn, customer, container)? else {
        return Ok(None);
    };
    let choices = container_ops::boot_choices(conn, customer, &view.container)?;
    let chosen = choices
        .into_iter()
        .find(|c| i64::from(c.distro.id.0) == raw && c.cannot_boot());
    Ok(chosen.map(|c| {
        format!(
            "The custom distro “{}” cannot boot now ({}): the container would fall back to its \
             default distro. Tick “Boot it even so” to confirm.",
            c.distro.name,
            image_state_words(&c.distro.image_state)
        )
    }))
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
    if let (Some(raw), false) = (target, form.confirm == "yes") {
        let customer_id = customer.customer_id;
        let why = db::run(&state.pool, move |conn| {
            unconfirmed(conn, customer_id, id, raw)
        })
        .await?;
        if let Some(why) = why {
            let status = if htmx::is_htmx(&request) {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return render(&request, &state, &customer, id, status, None, Some(why)).await;
        }
    }
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
