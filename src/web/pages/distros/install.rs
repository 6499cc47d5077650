//! The install card of a distro's page: the latest install's result and progress next to the
//! image state, and cancelling it.

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::detail::{ensure_own, refused};
use super::see_other;
use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::models::job::Job;
use crate::db::queries::api_jobs;
use crate::domain::ids::{CustomDistroId, JobId};
use crate::ops::{self, Actor};
use crate::web::api::jobs::{ProgressView, ReportLine, progress_view, report_lines};
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::byte_size;

/// An image job as the page lists it.
pub(super) struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub created: String,
    pub finished: String,
    pub error: String,
    pub report: Vec<ReportLine>,
    /// An install that may still be cancelled.
    pub cancellable: bool,
    /// An install still to finish, and how far it has got.
    pub progress: Option<ProgressRow>,
}

/// How far a pending install has got, in words and as a `<progress>` bar.
pub(super) struct ProgressRow {
    /// `Waiting for the host`, `Unpacking` or `Checking`.
    pub phase: String,
    /// Archive bytes read of `max`; no `max`: the bar has no end to show.
    pub value: u64,
    pub max: Option<u64>,
    pub detail: String,
}

fn is_install(job: &Job) -> bool {
    matches!(job.kind.as_str(), "unpack_image" | "fetch_image")
}

fn pending(job: &Job) -> bool {
    matches!(job.state.as_str(), "queued" | "retrying" | "running")
}

fn bytes(n: u64) -> String {
    byte_size(i64::try_from(n).ok())
}

fn progress_row(progress: Option<ProgressView>) -> ProgressRow {
    let Some(p) = progress else {
        return ProgressRow {
            phase: "Unpacking: waiting for the host".into(),
            value: 0,
            max: None,
            detail: String::new(),
        };
    };
    let read = match p.total {
        Some(total) => format!("{} of {} read", bytes(p.done), bytes(total)),
        None => format!("{} read", bytes(p.done)),
    };
    let phase = match p.phase.as_str() {
        "checking" => "Checking the image",
        _ => "Unpacking",
    };
    ProgressRow {
        phase: phase.into(),
        value: p.done,
        max: p.total.filter(|total| *total > 0),
        detail: format!("{} members, {} written; {read}", p.members, bytes(p.bytes)),
    }
}

pub(super) fn job_row(job: Job) -> JobRow {
    let install = is_install(&job);
    let live = pending(&job);
    JobRow {
        id: job.id.0,
        kind: crate::web::words::job_kind(job.kind.as_str()),
        cancellable: install && live && !job.cancel_requested,
        progress: (install && live).then(|| progress_row(progress_view(job.progress.as_ref()))),
        state: job.state,
        created: when(job.created_at),
        finished: job.finished_at.map(when).unwrap_or_default(),
        error: job.error.unwrap_or_default(),
        report: report_lines(&job.report),
    }
}

/// The latest install of the distro among its `jobs` (newest first), if any.
pub(super) fn latest_install(jobs: &[Job]) -> Option<JobRow> {
    jobs.iter()
        .find(|job| is_install(job))
        .cloned()
        .map(job_row)
}

/// The customer's job `job`, if it belongs to the distro `id` of theirs.
async fn own_job(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    job: JobId,
) -> Result<Job, AppError> {
    ensure_own(state, customer, id).await?;
    let customer_id = customer.customer_id;
    let job = db::run(&state.pool, move |conn| {
        api_jobs::find_for_customer(conn, customer_id, job)?.ok_or(AppError::NotFound)
    })
    .await?;
    let distro = job
        .payload
        .get("distro")
        .and_then(serde_json::Value::as_i64);
    if distro != Some(i64::from(id.0)) {
        return Err(AppError::NotFound);
    }
    Ok(job)
}

/// `POST /distros/{id}/jobs/{job}/cancel`: a queued install never runs, a running one stops
/// and leaves the installed image as it was.
#[post("/distros/{id}/jobs/{job}/cancel")]
pub(super) async fn cancel(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(CustomDistroId, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, job) = path.into_inner();
    let job = own_job(&state, &customer, id, JobId(job)).await?;
    let actor = Actor::of_page(&customer, &request);
    match ops::images::cancel_install(&state.pool, actor, job.id).await {
        Ok(_) => Ok(see_other(format!("/distros/{id}?done=cancelled#image"))),
        Err(error) => refused(&state, &customer, id, error, None).await,
    }
}
