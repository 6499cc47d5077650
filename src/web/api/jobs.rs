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
