//! `/api/jobs`: what the host still has to do, or did, for the caller's containers
//! (a distropanel addition).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::models::job::Job;
use crate::db::queries::{api_jobs, containers};
use crate::domain::ids::JobId;
use crate::domain::values::Uid;
use crate::web::api::input::QueryMap;
use crate::web::api::{container_of_uid, epoch, id_segment};
use crate::web::error::{ApiError, AppError};

/// How many jobs a list shows.
const LIST_LIMIT: i64 = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportLine {
    /// `info`, `warning` or `error`.
    pub level: String,
    pub message: String,
}

/// How far a running image install has got: written a few times a second while it runs,
/// kept once it ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    /// `unpacking` (reading the archive and writing its members) or `checking` (the
    /// checklist, on the unpacked tree before it is swapped in).
    pub phase: String,
    /// Bytes of the archive read so far, as it comes (compressed).
    pub done: u64,
    /// Bytes of the archive, when known before it is read (an upload, a file from the home,
    /// a download whose server sent its length); null otherwise.
    pub total: Option<u64>,
    /// Archive members unpacked.
    pub members: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    /// `restart`, `ensure_storage_dir`, `unpack_image`, ...
    pub kind: String,
    pub container: Option<i64>,
    /// `queued`, `running`, `retrying`, `done`, `failed` or `cancelled`.
    pub state: String,
    pub attempts: i32,
    /// Epoch seconds.
    pub created: i64,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub error: Option<String>,
    pub report: Vec<ReportLine>,
    /// Null until an install starts unpacking.
    pub progress: Option<ProgressView>,
}

/// The progress the worker stores; anything else in the column reads as none.
pub(crate) fn progress_view(progress: Option<&serde_json::Value>) -> Option<ProgressView> {
    let progress = progress?;
    let count = |key: &str| progress.get(key).and_then(serde_json::Value::as_u64);
    Some(ProgressView {
        phase: progress.get("phase")?.as_str()?.to_owned(),
        done: count("done")?,
        total: count("total"),
        members: count("members").unwrap_or(0),
        bytes: count("bytes").unwrap_or(0),
    })
}

/// Report lines as the worker stores them; anything else in the column is skipped, not fatal.
pub(crate) fn report_lines(report: &serde_json::Value) -> Vec<ReportLine> {
    report
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|line| {
                    Some(ReportLine {
                        level: line.get("level")?.as_str()?.to_owned(),
                        message: line.get("message")?.as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn view(job: Job, base_uid: u32) -> JobView {
    JobView {
        id: job.id.0,
        container: job.container_id.map(|c| Uid::of(base_uid, c).get()),
        report: report_lines(&job.report),
        progress: progress_view(job.progress.as_ref()),
        kind: job.kind.to_string(),
        state: job.state,
        attempts: job.attempts,
        created: epoch(job.created_at),
        started: job.started_at.map(epoch),
        finished: job.finished_at.map(epoch),
        error: job.error,
    }
}

#[utoipa::path(get, path = "/api/jobs", operation_id = "jobs_list", tag = "jobs",
    params(("container" = Option<i64>, Query, description = "a container uid")),
    responses((status = 200, body = Vec<JobView>), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn list(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let base_uid = state.config.base_uid;
    let container = query
        .get("container")
        .map(|raw| container_of_uid(raw, base_uid))
        .transpose()?;
    let found = db::run(&state.pool, move |conn| {
        if let Some(id) = container
            && !containers::exists_for_customer(conn, customer, id)?
        {
            return Err(AppError::NotFound);
        }
        Ok(api_jobs::for_customer(
            conn, customer, container, LIST_LIMIT,
        )?)
    })
    .await?;
    let views: Vec<JobView> = found.into_iter().map(|j| view(j, base_uid)).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(get, path = "/api/jobs/{id}", operation_id = "jobs_show", tag = "jobs",
    params(("id" = i64, Path)),
    responses((status = 200, body = JobView), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn show(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = JobId(id_segment(&id)?);
    let job = db::run(&state.pool, move |conn| {
        api_jobs::find_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(job, state.config.base_uid)))
}

#[utoipa::path(post, path = "/api/jobs/{id}/cancel", operation_id = "jobs_cancel", tag = "jobs",
    params(("id" = i64, Path)),
    description = "Cancels an image install (`unpack_image` or `fetch_image`). A queued one is \
        `cancelled` at once; a running one is asked to stop, which it does at its next progress \
        report (a few times a second), leaving the installed image as it was, and ends \
        `cancelled`. The answer is the job as it is now.",
    responses((status = 200, body = JobView), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody)))]
pub async fn cancel(
    request: actix_web::HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = crate::ops::Actor::of_api(&caller, &request)?;
    let id = JobId(id_segment(&id)?);
    let job = crate::ops::images::cancel_install(&state.pool, actor, id).await?;
    Ok(HttpResponse::Ok().json(view(job, state.config.base_uid)))
}
