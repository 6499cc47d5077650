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
use crate::domain::ids::CustomDistroId;
use crate::domain::image_source::{FetchUrl, HomeFile, Sha256Hex};
use crate::ops::Actor;
use crate::ops::images as ops;
use crate::web::api::input::{FieldErrors, JsonBody, QueryMap};
use crate::web::api::jobs::{JobView, ReportLine, view as job_view};
use crate::web::api::{epoch, id_segment};
use crate::web::error::{ApiError, AppError};

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

fn parse_digest(raw: Option<&str>, errors: &mut FieldErrors) -> Option<Sha256Hex> {
    raw.and_then(|raw| errors.check("sha256", Sha256Hex::parse(raw)))
}

#[utoipa::path(put, path = "/api/custom_distro/{id}/image", operation_id = "custom_distro_image_upload", tag = "images",
    params(("id" = i32, Path),
        ("sha256" = Option<String>, Query, description = "the archive's SHA-256; a different one refuses the upload")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "a tar archive, plain or gzip-compressed"),
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 413, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)))]
pub async fn upload(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: QueryMap,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = CustomDistroId(id_segment(&id)?);
    let mut errors = FieldErrors::default();
    let expect = parse_digest(query.get("sha256"), &mut errors);
    errors.finish()?;
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
    let stored = ops::receive_upload(&state.pool, actor.customer, id, payload, limit).await?;
    let job = ops::finish_upload(&state.pool, actor, id, stored, expect).await?;
    Ok(accepted(job, base_uid))
}

/// `{"file": "images/alpine.tar.gz"}`: an archive in the storage container's home.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UnpackRequest {
    /// Relative to the storage container's home; plain names only (no `..`).
    pub file: Option<String>,
    /// The archive's SHA-256, if known; a different one fails the job.
    pub sha256: Option<String>,
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/unpack", operation_id = "custom_distro_image_unpack", tag = "images",
    params(("id" = i32, Path)), request_body = UnpackRequest,
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn unpack(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(body): JsonBody<UnpackRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = CustomDistroId(id_segment(&id)?);
    let mut errors = FieldErrors::default();
    if body.file.is_none() {
        errors.add("file", "is required");
    }
    let file = body
        .file
        .as_deref()
        .and_then(|raw| errors.check("file", HomeFile::parse(raw)));
    let expect = parse_digest(body.sha256.as_deref(), &mut errors);
    errors.finish()?;
    let Some(file) = file else {
        return Err(AppError::invalid("file", "is required").into());
    };
    let job = ops::unpack(&state.pool, actor, id, file, expect).await?;
    Ok(accepted(job, state.config.base_uid))
}

/// `{"url", "sha256"}`: an archive the host downloads.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FetchRequest {
    /// An `http` or `https` address, without credentials in it.
    pub url: Option<String>,
    /// The archive's SHA-256: required, the host checks it before the image is swapped in.
    pub sha256: Option<String>,
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/fetch", operation_id = "custom_distro_image_fetch", tag = "images",
    params(("id" = i32, Path)), request_body = FetchRequest,
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn fetch(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(body): JsonBody<FetchRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = CustomDistroId(id_segment(&id)?);
    let mut errors = FieldErrors::default();
    for (field, given) in [("url", &body.url), ("sha256", &body.sha256)] {
        if given.is_none() {
            errors.add(field, "is required");
        }
    }
    let url = body
        .url
        .as_deref()
        .and_then(|raw| errors.check("url", FetchUrl::parse(raw)));
    let expect = parse_digest(body.sha256.as_deref(), &mut errors);
    errors.finish()?;
    let (Some(url), Some(expect)) = (url, expect) else {
        return Err(AppError::invalid("url", "is required").into());
    };
    let job = ops::fetch(&state.pool, actor, id, url, expect).await?;
    Ok(accepted(job, state.config.base_uid))
}

#[utoipa::path(post, path = "/api/custom_distro/{id}/rollback", operation_id = "custom_distro_image_rollback", tag = "images",
    params(("id" = i32, Path)),
    responses((status = 202, body = AcceptedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody)))]
pub async fn rollback(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = CustomDistroId(id_segment(&id)?);
    let job = ops::rollback(&state.pool, actor, id).await?;
    Ok(accepted(job, state.config.base_uid))
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
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = CustomDistroId(id_segment(&id)?);
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
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = CustomDistroId(id_segment(&id)?);
    let job = ops::check_now(&state.pool, actor, id).await?;
    Ok(accepted(job, state.config.base_uid))
}
