//! `/api/custom_distro/<id>/image`, `unpack`, `fetch`, `rollback` and `check`: putting a root
//! filesystem into a custom distro (distropanel additions, in uwsgi.it's conventions).
//!
//! Each accepted request queues a job on the storage container's host and answers 202 with
//! it; the job's report says what the unpack skipped or dropped and what the check found. An
//! uploaded archive is streamed into PostgreSQL in chunks (never held whole in memory), so
//! any web node can take it and the agent of the storage container's host can unpack it.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::queries::images;
use crate::domain::commands::{ImageFields, InstallImage, force_flag};
use crate::domain::ids::CustomDistroId;
use crate::error::Error;
use crate::ops::Actor;
use crate::ops::images as ops;
use crate::web::api::epoch;
use crate::web::api::input::{JsonBody, QueryMap};
use crate::web::api::jobs::{JobView, ReportLine, view as job_view};
use crate::web::error::{ApiError, AppError};
use crate::web::image_install;

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedBody {
    /// `Accepted`.
    pub message: String,
    pub job: JobView,
}

fn accepted(job: crate::db::models::job::Job, base_uid: u32) -> HttpResponse {
    HttpResponse::Accepted().json(AcceptedBody {
        message: "Accepted".into(),
        job: job_view(job, base_uid),
    })
}

/// 202 with the queued job; a distro busy with another image job is a 409 that shows it in
/// `"job"`, so the client can follow it instead of asking again.
pub(crate) fn answered(
    outcome: Result<crate::db::models::job::Job, Error>,
    base_uid: u32,
) -> Result<HttpResponse, ApiError> {
    match outcome {
        Ok(job) => Ok(accepted(job, base_uid)),
        Err(Error::JobPending { reason, job }) => {
            Ok(HttpResponse::Conflict().json(serde_json::json!({
                "error": "Conflict",
                "reason": reason,
                "job": job_view(*job, base_uid),
            })))
        }
        Err(other) => Err(other.into()),
    }
}

/// What every install does with the archive, whatever its source.
macro_rules! checked_before_swap {
    () => {
        "The host unpacks the archive into a staging directory and runs the image checklist on \
         it before it replaces the installed image. Errors (anything that makes a booting \
         container fall back: no `/.old_root`, no `/containers`) keep the installed image: the \
         job fails without retrying and its `error` and `report` list them. Warnings install. \
         With force the image is installed anyway, and the report and the operation log say so. \
         While it runs the job carries `progress`; `POST /api/jobs/{id}/cancel` stops it."
    };
}

#[utoipa::path(put, path = "/api/custom_distro/{id}/image", operation_id = "custom_distro_image_upload", tag = "images",
    description = checked_before_swap!(),
    params(("id" = i32, Path),
        ("sha256" = Option<String>, Query, description = "the archive's SHA-256; a different one refuses the upload"),
        ("force" = Option<String>, Query, description = "`1` or `true`: swap the image in even when its check finds errors (the report and the operation log say so); otherwise such an image is refused, the installed one stays and the job fails without retrying")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "a tar archive, plain or compressed with gzip, xz, zstd or bzip2, told by its first bytes"),
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 413, body = super::openapi::ErrorBody),
        (status = 415, body = super::openapi::ErrorBody,
            description = "the body's first bytes show no tar, gzip, xz, zstd or bzip2 archive; nothing was stored"),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn upload(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    query: QueryMap,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = *id;
    let command = InstallImage::upload(ImageFields {
        sha256: query.get("sha256"),
        ..ImageFields::default()
    })?;
    let force = force_flag(query.get("force"))?;
    let limit = state.config.images.max_archive_bytes;
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ops::too_large(limit).into());
    }
    let base_uid = state.config.base_uid;
    let outcome = async {
        let stored = ops::receive_upload(
            &state.pool,
            actor.customer,
            state.config.quotas,
            id,
            payload,
            limit,
        )
        .await?;
        image_install::queue_job(&state, actor, id, command, Some(stored), force).await
    }
    .await;
    answered(outcome, base_uid)
}

/// `{"file": "images/alpine.tar.gz"}`: an archive in the storage container's home.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UnpackRequest {
    /// Relative to the storage container's home; plain names only (no `..`).
    pub file: Option<String>,
    /// The archive's SHA-256, if known; a different one fails the job.
    pub sha256: Option<String>,
    /// Swap the image in even when its check finds errors (the report and the operation log
    /// say so). Without it such an image is refused: the installed one stays and the job fails
    /// without retrying.
    #[serde(default)]
    pub force: bool,
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/unpack", operation_id = "custom_distro_image_unpack", tag = "images",
    description = checked_before_swap!(),
    params(("id" = i32, Path)), request_body = UnpackRequest,
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn unpack(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    JsonBody(body): JsonBody<UnpackRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = *id;
    let command = InstallImage::from_home(ImageFields {
        file: body.file.as_deref(),
        sha256: body.sha256.as_deref(),
        ..ImageFields::default()
    })?;
    let outcome = image_install::queue_job(&state, actor, id, command, None, body.force).await;
    answered(outcome, state.config.base_uid)
}

/// `{"url", "sha256"}`: an archive the host downloads.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FetchRequest {
    /// An `http` or `https` address, without credentials in it.
    pub url: Option<String>,
    /// The archive's SHA-256: required, the host checks it before the image is swapped in.
    pub sha256: Option<String>,
    /// As for `unpack`: swap the image in even when its check finds errors.
    #[serde(default)]
    pub force: bool,
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/fetch", operation_id = "custom_distro_image_fetch", tag = "images",
    description = checked_before_swap!(),
    params(("id" = i32, Path)), request_body = FetchRequest,
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn fetch(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    JsonBody(body): JsonBody<FetchRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = *id;
    let command = InstallImage::from_url(ImageFields {
        url: body.url.as_deref(),
        sha256: body.sha256.as_deref(),
        ..ImageFields::default()
    })?;
    let outcome = image_install::queue_job(&state, actor, id, command, None, body.force).await;
    answered(outcome, state.config.base_uid)
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/rollback", operation_id = "custom_distro_image_rollback", tag = "images",
    params(("id" = i32, Path)),
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody)))]
pub async fn rollback(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = *id;
    let outcome = ops::rollback(&state.pool, actor, state.config.quotas, id).await;
    answered(outcome, state.config.base_uid)
}

/// The last check of an image.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// The custom distro.
    pub id: i32,
    /// `none` (no image yet), `unpacking` (an install or rollback is queued or running),
    /// `ready` or `broken` (the last check found an error).
    pub image_state: String,
    /// Epoch seconds of the last check, or null if there was none.
    pub checked: Option<i64>,
    /// Bytes of file content in the image.
    pub bytes: Option<i64>,
    /// SHA-256 of the archive it was unpacked from.
    pub sha256: Option<String>,
    pub report: Vec<ReportLine>,
}

#[utoipa::path(get, path = "/api/custom_distro/{id}/check", operation_id = "custom_distro_image_check", tag = "images",
    params(("id" = i32, Path)),
    responses((status = 200, body = CheckView), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn last_check(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = *id;
    let (distro, image_state) = db::run(&state.pool, move |conn| {
        images::find_with_state(conn, customer, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let report = distro
        .check_report
        .as_ref()
        .map(crate::web::api::jobs::report_lines)
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(CheckView {
        id: distro.id.0,
        image_state,
        checked: distro.checked_at.map(epoch),
        bytes: distro.image_bytes,
        sha256: distro.image_sha256,
        report,
    }))
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/check", operation_id = "custom_distro_image_check_now", tag = "images",
    params(("id" = i32, Path)),
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn check_now(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = *id;
    let job = ops::check_now(&state.pool, actor, state.config.quotas, id).await?;
    Ok(accepted(job, state.config.base_uid))
}
