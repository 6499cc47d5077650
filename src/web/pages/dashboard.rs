//! `/dashboard`, where a customer lands after logging in: the containers that fell back, the
//! alarms new since the alarms page was last opened (by level), failed and running jobs, and
//! each storage container's use against its quota. Each item links to where it is fixed.
//! While a job is pending the page polls its live part, and stops once none is.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::queries::dashboard::{self, JobCounts};
use crate::domain::values::Uid;
use crate::web::error::AppError;
use crate::web::htmx;
use crate::web::pages::alarms::level_name;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, byte_size, html};
use crate::web::words;

const JOBS_SHOWN: i64 = 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(live);
}

/// The top bar's job indicator alone, as an out-of-band swap of a poll's answer.
#[derive(Template)]
#[template(path = "_jobs_indicator.html")]
struct Indicator {
    jobs: JobCounts,
    oob: bool,
}

pub fn indicator(jobs: JobCounts) -> Result<String, AppError> {
    Ok(Indicator { jobs, oob: true }.render()?)
}

struct Fallback {
    uid: i64,
    name: String,
    why: String,
}

struct AlarmCount {
    level: i16,
    name: &'static str,
    count: String,
}

struct JobItem {
    id: i64,
    kind: String,
    state: String,
    failed: bool,
    container_uid: Option<i64>,
    created: String,
    error: String,
}

struct StorageBar {
    uid: i64,
    name: String,
    used: i64,
    quota: i64,
    percent: i64,
    text: String,
}

#[derive(Template)]
#[template(path = "dashboard.html", blocks = ["live"])]
struct DashboardPage {
    layout: Layout,
    fallbacks: Vec<Fallback>,
    alarms: Vec<AlarmCount>,
    seen: String,
    jobs: Vec<JobItem>,
    storage: Vec<StorageBar>,
    pending: bool,
}

fn storage_bar(s: dashboard::StorageUse, base_uid: u32) -> StorageBar {
    let quota = i64::from(s.quota_mb).saturating_mul(1024 * 1024);
    let percent = (s.used_bytes.saturating_mul(100))
        .checked_div(quota)
        .unwrap_or(0);
    let source = match s.measured_at {
        Some(at) => format!("measured {}", crate::web::render::ago(at)),
        None => "from the sizes of its images".into(),
    };
    StorageBar {
        uid: Uid::of(base_uid, crate::domain::ids::ContainerId(s.container)).get(),
        name: s.name,
        text: format!(
            "{} of {} ({percent} %), {source}",
            byte_size(Some(s.used_bytes)),
            byte_size(Some(quota))
        ),
        used: s.used_bytes.min(quota),
        quota,
        percent,
    }
}

fn job_item(job: dashboard::ActiveJob, base_uid: u32) -> JobItem {
    JobItem {
        id: job.id,
        kind: crate::web::words::job_kind(&job.kind),
        failed: job.state == "failed",
        state: job.state,
        container_uid: job.container.map(|c| Uid::of(base_uid, c).get()),
        created: when(job.created_at),
        error: words::plain(&job.error.unwrap_or_default()),
    }
}

fn page(layout: Layout, base_uid: u32, summary: dashboard::Summary) -> DashboardPage {
    let jobs: Vec<JobItem> = summary
        .jobs
        .into_iter()
        .map(|j| job_item(j, base_uid))
        .collect();
    DashboardPage {
        layout: layout.with_jobs(summary.counts),
        fallbacks: summary
            .fallbacks
            .into_iter()
            .map(|f| Fallback {
                uid: Uid::of(base_uid, crate::domain::ids::ContainerId(f.container)).get(),
                name: f.name,
                why: f.reason.lines().collect::<Vec<_>>().join("; "),
            })
            .collect(),
        alarms: summary
            .alarms
            .into_iter()
            .map(|a| AlarmCount {
                level: a.level,
                name: level_name(a.level),
                count: words::count(a.count, "new alarm", "new alarms"),
            })
            .collect(),
        seen: summary
            .seen
            .map(|at| format!("Raised since you last opened the alarms, on {}.", when(at)))
            .unwrap_or_else(|| "All of them: you have not opened the alarms yet.".into()),
        pending: summary.counts.pending > 0,
        jobs,
        storage: summary
            .storage
            .into_iter()
            .map(|s| storage_bar(s, base_uid))
            .collect(),
    }
}

async fn loaded_page(state: &AppState, customer: &Customer) -> Result<DashboardPage, AppError> {
    let customer_id = customer.customer_id;
    let user = customer.session.user_id;
    let summary = db::run(&state.pool, move |conn| {
        dashboard::summary(conn, customer_id, user, JOBS_SHOWN).map_err(AppError::from)
    })
    .await?;
    Ok(page(customer.layout(), state.config.base_uid, summary))
}

#[get("/dashboard")]
async fn show(customer: Customer, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    html(&loaded_page(&state, &customer).await?)
}

/// The live part alone for a poll (with the top bar's indicator out of band); without htmx,
/// the page.
#[get("/dashboard/live")]
async fn live(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if !htmx::is_htmx(&request) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/dashboard"))
            .finish());
    }
    let shown = loaded_page(&state, &customer).await?;
    let mut body = shown.as_live().render()?;
    if let Some(jobs) = shown.layout.jobs {
        body.push_str(&indicator(jobs)?);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
