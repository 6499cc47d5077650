//! `/staff/jobs`: the host work queue, filtered by state, kind, server, customer and age,
//! sorted and paged by the database; each job's report at `/staff/jobs/{id}`; retry (only of
//! transient failures and cancelled jobs) and cancel, one job or a filtered set, each job
//! audited.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::job::JobKind;
use crate::db::queries::staff_jobs::{self, JobListing, JobSort, StaffJobFilter};
use crate::domain::ids::{CustomerId, JobId, ServerId};
use crate::domain::values::Uid;
use crate::ops;
use crate::ops::staff::JobAction;
use crate::web::api::jobs::{ReportLine, progress_view, report_lines};
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, byte_size};
use crate::web::staff::filters::{Choice, menu, number, query_string};
use crate::web::staff::table::{Pager, SortColumn, TableQuery, Window};
use crate::web::words;

const STATES: [&str; 6] = [
    "queued",
    "running",
    "retrying",
    "done",
    "failed",
    "cancelled",
];

const COLUMNS: &[SortColumn<JobSort>] = &[
    SortColumn {
        name: "created",
        label: "Created",
        key: JobSort::Created,
    },
    SortColumn {
        name: "state",
        label: "State",
        key: JobSort::State,
    },
    SortColumn {
        name: "kind",
        label: "Kind",
        key: JobSort::Kind,
    },
    SortColumn {
        name: "attempts",
        label: "Attempts",
        key: JobSort::Attempts,
    },
    SortColumn {
        name: "server",
        label: "Server",
        key: JobSort::Server,
    },
];

/// The filters as the query string and the bulk forms carry them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Filters {
    state: String,
    kind: String,
    server: String,
    customer: String,
    /// Created more than this many minutes ago.
    older: String,
    /// Created within the last this many minutes.
    within: String,
}

impl Filters {
    fn parsed(&self) -> Result<StaffJobFilter, AppError> {
        let state = self.state.trim();
        if !state.is_empty() && !STATES.contains(&state) {
            return Err(AppError::BadRequest(format!(
                "There is no job state “{state}”; the states are {}.",
                STATES.join(", ")
            )));
        }
        let kind = self.kind.trim();
        if !kind.is_empty() && kind.parse::<JobKind>().is_err() {
            return Err(AppError::BadRequest(format!(
                "There is no job kind “{kind}”."
            )));
        }
        let minutes = |field: &str, raw: &str| -> Result<_, AppError> {
            match number::<i64>(field, raw)? {
                Some(n) if !(0..=5_256_000).contains(&n) => Err(AppError::BadRequest(format!(
                    "The {field} filter is a number of minutes, 0 to 5256000."
                ))),
                Some(n) => Ok(Some(chrono::Utc::now() - chrono::Duration::minutes(n))),
                None => Ok(None),
            }
        };
        Ok(StaffJobFilter {
            state: (!state.is_empty()).then(|| state.to_owned()),
            kind: (!kind.is_empty()).then(|| kind.to_owned()),
            server: number::<i32>("server", &self.server)?.map(ServerId),
            customer: number::<i32>("customer", &self.customer)?.map(CustomerId),
            created_before: minutes("older than", &self.older)?,
            created_after: minutes("created within", &self.within)?,
        })
    }

    fn query(&self) -> String {
        query_string(&[
            ("state", &self.state),
            ("kind", &self.kind),
            ("server", &self.server),
            ("customer", &self.customer),
            ("older", &self.older),
            ("within", &self.within),
        ])
    }

    fn any(&self) -> bool {
        !self.query().is_empty()
    }
}

struct JobRow {
    id: i64,
    kind: String,
    uid: Option<i64>,
    customer_id: Option<i32>,
    company: String,
    server: String,
    state: String,
    /// For a failed job: `permanent` or `transient`.
    failure: &'static str,
    attempts: i32,
    created: String,
    error: String,
    retryable: bool,
    cancellable: bool,
}

fn failure_words(listing: &JobListing) -> &'static str {
    match (listing.job.state.as_str(), listing.failure_permanent) {
        ("failed", true) => "permanent",
        ("failed", false) => "transient",
        _ => "",
    }
}

fn row(listing: JobListing, base_uid: u32) -> JobRow {
    let retryable = listing.retryable();
    let cancellable = listing.cancellable();
    let failure = failure_words(&listing);
    let job = listing.job;
    JobRow {
        id: job.id.0,
        uid: job.container_id.map(|c| Uid::of(base_uid, c).get()),
        customer_id: job.customer_id.map(|c| c.0),
        company: listing.company.unwrap_or_default(),
        server: listing.server,
        retryable,
        cancellable,
        failure,
        kind: job.kind.to_string(),
        state: job.state,
        attempts: job.attempts,
        created: when(job.created_at),
        error: job.error.unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "staff/jobs.html")]
struct JobsPage {
    layout: Layout,
    notice: Option<String>,
    filters: Filters,
    /// The filters as a query string, for the bulk forms' note.
    filtered: bool,
    states: Vec<Choice>,
    kinds: Vec<Choice>,
    servers: Vec<Choice>,
    customers: Vec<Choice>,
    jobs: Vec<JobRow>,
    pager: Pager,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    #[serde(flatten)]
    filters: Filters,
    #[serde(flatten)]
    table: TableQuery,
    done: String,
    n: String,
    skipped: String,
}

fn notice(query: &ListQuery) -> Option<String> {
    let n: usize = query.n.parse().unwrap_or(0);
    let skipped: usize = query.skipped.parse().unwrap_or(0);
    let left = if skipped > 0 {
        format!(
            " {} left as they were (see their pages for why).",
            words::count(skipped as i64, "job was", "jobs were")
        )
    } else {
        String::new()
    };
    match query.done.as_str() {
        "retried" => Some("The job is queued again.".into()),
        "cancelled" => Some("The job is cancelled.".into()),
        "bulk-retried" => Some(format!(
            "{} queued again.{left}",
            words::count(n as i64, "job", "jobs")
        )),
        "bulk-cancelled" => Some(format!(
            "{} cancelled.{left}",
            words::count(n as i64, "job", "jobs")
        )),
        _ => None,
    }
}

#[get("/staff/jobs")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filters.parsed()?;
    let window = Window::parse(&query.table, COLUMNS, true);
    let (sort, offset, limit) = (
        (window.sort.key, window.descending),
        window.offset(),
        window.limit_probe(),
    );
    let (found, servers, customers) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_jobs::list(conn, &filter, sort, offset, limit)?,
            staff_jobs::server_choices(conn)?,
            staff_jobs::customer_choices(conn)?,
        ))
    })
    .await?;
    let filters = query.filters.clone();
    let pager = window.pager("/staff/jobs", &filters.query(), found.len(), COLUMNS);
    let base_uid = state.config.base_uid;
    html_page(&JobsPage {
        layout: staff.layout(),
        notice: notice(&query),
        filtered: filters.any(),
        states: menu(STATES.iter().map(|s| (s, s.to_string())), &filters.state),
        kinds: menu(
            JobKind::ALL
                .iter()
                .map(|k| (k.as_str(), k.as_str().replace('_', " "))),
            &filters.kind,
        ),
        servers: menu(
            servers.into_iter().map(|(id, name)| (id.0, name)),
            &filters.server,
        ),
        customers: menu(
            customers
                .into_iter()
                .map(|(id, company)| (id.0, format!("#{id} {company}"))),
            &filters.customer,
        ),
        jobs: found
            .into_iter()
            .take(crate::web::staff::table::PER_PAGE as usize)
            .map(|j| row(j, base_uid))
            .collect(),
        filters,
        pager,
    })
}

fn html_page<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

struct ProgressRow {
    phase: String,
    read: String,
    members: u64,
    written: String,
}

#[derive(Template)]
#[template(path = "staff/job.html")]
struct JobPage {
    layout: Layout,
    notice: Option<&'static str>,
    problem: Option<String>,
    id: i64,
    kind: String,
    state: String,
    failure: &'static str,
    server: String,
    customer_id: Option<i32>,
    company: String,
    uid: Option<i64>,
    attempts: i32,
    max_attempts: i32,
    created: String,
    started: String,
    finished: String,
    run_after: String,
    locked_by: String,
    cancel_requested: bool,
    error: String,
    report: Vec<ReportLine>,
    progress: Option<ProgressRow>,
    payload: String,
    retryable: bool,
    cancellable: bool,
}

async fn job_page(
    staff: &Staff,
    state: &AppState,
    id: JobId,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let listing = db::run(&state.pool, move |conn| {
        staff_jobs::find(conn, id).map_err(AppError::from)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let retryable = listing.retryable();
    let cancellable = listing.cancellable();
    let failure = failure_words(&listing);
    let job = listing.job;
    let shown = JobPage {
        layout: staff.layout(),
        notice,
        problem,
        id: job.id.0,
        kind: job.kind.to_string(),
        failure,
        server: listing.server,
        customer_id: job.customer_id.map(|c| c.0),
        company: listing.company.unwrap_or_default(),
        uid: job
            .container_id
            .map(|c| Uid::of(state.config.base_uid, c).get()),
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        created: when(job.created_at),
        started: job.started_at.map(when).unwrap_or_default(),
        finished: job.finished_at.map(when).unwrap_or_default(),
        run_after: when(job.run_after),
        locked_by: job.locked_by.clone().unwrap_or_default(),
        cancel_requested: job.cancel_requested,
        error: job.error.clone().unwrap_or_default(),
        report: report_lines(&job.report),
        progress: progress_view(job.progress.as_ref()).map(|p| ProgressRow {
            phase: p.phase,
            read: match p.total {
                Some(total) => format!(
                    "{} of {}",
                    byte_size(i64::try_from(p.done).ok()),
                    byte_size(i64::try_from(total).ok())
                ),
                None => byte_size(i64::try_from(p.done).ok()),
            },
            members: p.members,
            written: byte_size(i64::try_from(p.bytes).ok()),
        }),
        payload: serde_json::to_string_pretty(&job.payload).unwrap_or_default(),
        state: job.state,
        retryable,
        cancellable,
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(shown.render()?))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct JobQuery {
    done: String,
}

/// `GET /staff/jobs/{id}`: one job's full report, attempts, error, progress and payload.
#[get("/staff/jobs/{id}")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<JobQuery>,
) -> Result<HttpResponse, AppError> {
    let id = JobId(id.parse::<i64>().map_err(|_| AppError::NotFound)?);
    let notice = match query.done.as_str() {
        "retried" => Some("The job is queued again."),
        "cancelled" => Some("The job is cancelled."),
        _ => None,
    };
    job_page(&staff, &state, id, StatusCode::OK, notice, None).await
}

async fn act(
    staff: Staff,
    state: web::Data<AppState>,
    id: &str,
    action: JobAction,
) -> Result<HttpResponse, AppError> {
    let id = JobId(id.parse::<i64>().map_err(|_| AppError::NotFound)?);
    let shown = staff.clone();
    match ops::staff::act_on_job(&state.pool, staff, id, action).await {
        Ok(()) => {
            let done = match action {
                JobAction::Retry => "retried",
                JobAction::Cancel => "cancelled",
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/staff/jobs/{id}?done={done}")))
                .finish())
        }
        Err(crate::error::Error::Conflict(why)) => {
            job_page(&shown, &state, id, StatusCode::CONFLICT, None, Some(why)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /staff/jobs/{id}/retry`: a transiently failed or cancelled job runs again from its
/// first attempt; a permanent failure is refused with the reason.
#[post("/staff/jobs/{id}/retry")]
pub async fn retry(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    act(staff, state, &id, JobAction::Retry).await
}

/// `POST /staff/jobs/{id}/cancel`: a job that has not started never will.
#[post("/staff/jobs/{id}/cancel")]
pub async fn cancel(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    act(staff, state, &id, JobAction::Cancel).await
}

async fn bulk(
    staff: Staff,
    state: web::Data<AppState>,
    filters: Filters,
    action: JobAction,
) -> Result<HttpResponse, AppError> {
    let filter = filters.parsed()?;
    let outcome = ops::staff::act_on_jobs(&state.pool, staff, filter, action).await?;
    let done = match action {
        JobAction::Retry => "bulk-retried",
        JobAction::Cancel => "bulk-cancelled",
    };
    let back = filters.query();
    let result = query_string(&[
        ("done", done),
        ("n", &outcome.done.to_string()),
        ("skipped", &outcome.skipped.len().to_string()),
    ]);
    let location = if back.is_empty() {
        format!("/staff/jobs?{result}")
    } else {
        format!("/staff/jobs?{back}&{result}")
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}

/// `POST /staff/jobs/retry`: retries every transiently failed or cancelled job the filters
/// select, each audited.
#[post("/staff/jobs/retry")]
pub async fn bulk_retry(
    staff: Staff,
    state: web::Data<AppState>,
    filters: web::Form<Filters>,
) -> Result<HttpResponse, AppError> {
    bulk(staff, state, filters.into_inner(), JobAction::Retry).await
}

/// `POST /staff/jobs/cancel`: cancels every job not started yet the filters select, each
/// audited.
#[post("/staff/jobs/cancel")]
pub async fn bulk_cancel(
    staff: Staff,
    state: web::Data<AppState>,
    filters: web::Form<Filters>,
) -> Result<HttpResponse, AppError> {
    bulk(staff, state, filters.into_inner(), JobAction::Cancel).await
}
