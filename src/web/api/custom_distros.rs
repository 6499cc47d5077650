//! `/api/custom_distros` and `/api/custom_distro`: a customer's own distros, kept in storage
//! containers and booted by their other containers on the same server.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::queries::images;
use crate::db::queries::{containers, custom_distros};
use crate::domain::ids::CustomDistroId;
use crate::domain::values::Uid;
use crate::ops::Actor;
use crate::ops::containers as container_ops;
use crate::ops::custom_distros as custom_distros_ops;
use crate::web::api::input::{JsonBody, QueryMap};
use crate::web::api::{container_of_uid, created, ok_message};
use crate::web::error::{ApiError, AppError};

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomDistroItem {
    pub id: i32,
    pub name: String,
    /// Uid of the storage container.
    pub container: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsableDistro {
    pub id: i32,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomDistroView {
    pub id: i32,
    /// Uid of the storage container.
    pub container: i64,
    pub name: String,
    pub path: String,
    pub note: String,
    pub uuid: uuid::Uuid,
    /// `none`, `unpacking` (an install or rollback is queued or running), `ready`, or
    /// `broken` (its last check found an error). A distropanel addition, as are the next two.
    pub image_state: String,
    /// Bytes of file content in the image.
    pub image_bytes: Option<i64>,
    /// SHA-256 of the archive the image was unpacked from.
    pub image_sha256: Option<String>,
}

fn view(d: CustomDistro, image_state: String, base_uid: u32) -> CustomDistroView {
    CustomDistroView {
        id: d.id.0,
        container: Uid::of(base_uid, d.container_id).get(),
        name: d.name,
        path: d.path,
        note: d.note,
        uuid: d.uuid,
        image_state,
        image_bytes: d.image_bytes,
        image_sha256: d.image_sha256,
    }
}

#[utoipa::path(get, path = "/api/custom_distros", operation_id = "custom_distros_list", tag = "custom distros",
    responses((status = 200, body = Vec<CustomDistroItem>)))]
pub async fn list(caller: ApiCaller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let base_uid = state.config.base_uid;
    let all = db::run(&state.pool, move |conn| {
        custom_distros::for_customer(conn, customer).map_err(AppError::from)
    })
    .await?;
    let items: Vec<CustomDistroItem> = all
        .into_iter()
        .map(|d| CustomDistroItem {
            id: d.id.0,
            container: Uid::of(base_uid, d.container_id).get(),
            name: d.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[utoipa::path(get, path = "/api/custom_distros/{uid}", operation_id = "custom_distros_usable", tag = "custom distros",
    params(("uid" = i64, Path, description = "the container that would boot them")),
    responses((status = 200, body = Vec<UsableDistro>), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn usable(
    caller: ApiCaller,
    state: web::Data<AppState>,
    uid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = container_of_uid(&uid, state.config.base_uid)?;
    let items = db::run(&state.pool, move |conn| {
        let container =
            containers::find_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)?;
        let usable = container_ops::usable_distros(conn, customer, &container)?
            .into_iter()
            .map(|d| UsableDistro {
                id: d.id.0,
                name: d.name,
            })
            .collect::<Vec<_>>();
        Ok::<_, AppError>(usable)
    })
    .await?;
    Ok(HttpResponse::Ok().json(items))
}

/// A new custom distro: its image goes to `distros/<path>` of the storage container.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomDistroCreate {
    /// 1 to 255 printable characters, unique in the storage container.
    pub name: Option<String>,
    /// Letters, digits, `.`, `_`, `-`; 1 to 64; not `.` or `..`; unique in the storage container.
    pub path: Option<String>,
    pub note: Option<String>,
}

/// Any of these; the others stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomDistroUpdate {
    pub name: Option<String>,
    pub path: Option<String>,
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/api/custom_distros/{uid}", operation_id = "custom_distros_create", tag = "custom distros",
    params(("uid" = i64, Path, description = "the storage container")), request_body = CustomDistroCreate,
    responses((status = 201, body = super::openapi::CreatedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)))]
pub async fn create(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    uid: web::Path<String>,
    JsonBody(body): JsonBody<CustomDistroCreate>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let base_uid = state.config.base_uid;
    let id = container_of_uid(&uid, base_uid)?;
    let fields = custom_distros_ops::parse_fields(body.name, body.path, body.note, true)?;
    let made = custom_distros_ops::create(
        &state.pool,
        (state.config.base_uid, state.config.quotas),
        actor,
        id,
        fields,
    )
    .await?;
    Ok(created(Some(i64::from(made.id.0))))
}

#[utoipa::path(get, path = "/api/custom_distro/{id}", operation_id = "custom_distro_show", tag = "custom distros",
    params(("id" = i32, Path)),
    responses((status = 200, body = CustomDistroView), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn show(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = *id;
    let (found, image_state) = db::run(&state.pool, move |conn| {
        images::find_with_state(conn, customer, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(found, image_state, state.config.base_uid)))
}

#[utoipa::path(post, path = "/api/custom_distro/{id}", operation_id = "custom_distro_update", tag = "custom distros",
    params(("id" = i32, Path)), request_body = CustomDistroUpdate,
    responses((status = 200, body = CustomDistroView), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)))]
pub async fn update(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    JsonBody(body): JsonBody<CustomDistroUpdate>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let base_uid = state.config.base_uid;
    let id = *id;
    let fields = custom_distros_ops::parse_fields(body.name, body.path, body.note, false)?;
    let (updated, image_state) =
        custom_distros_ops::update(&state.pool, state.config.base_uid, actor, id, fields).await?;
    Ok(HttpResponse::Ok().json(view(updated, image_state, base_uid)))
}

#[utoipa::path(delete, path = "/api/custom_distro/{id}", operation_id = "custom_distro_delete", tag = "custom distros",
    params(("id" = i32, Path), ("purge" = Option<String>, Query, description = "also delete the image files")),
    responses((status = 200, body = super::openapi::MessageBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody)))]
pub async fn delete(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let id = *id;
    let purge = query
        .get("purge")
        .is_some_and(|v| !matches!(v, "" | "0" | "false" | "no"));
    let quotas = (state.config.base_uid, state.config.quotas);
    match custom_distros_ops::delete(&state.pool, quotas, actor, id, purge).await {
        Ok(_) => Ok(ok_message()),
        Err(busy @ crate::error::Error::JobPending { .. }) => {
            crate::web::api::images::answered(Err(busy), state.config.base_uid)
        }
        Err(other) => Err(other.into()),
    }
}
