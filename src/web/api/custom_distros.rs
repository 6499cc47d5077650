//! `/api/custom_distros` and `/api/custom_distro`: a customer's own distros, kept in storage
//! containers and booted by their other containers on the same server.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::{Connection, PgConnection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::models::custom_distro::{CustomDistro, NewCustomDistro};
use crate::db::queries::custom_distros::CustomDistroChangeset;
use crate::db::queries::{containers, custom_distros, jobs};
use crate::domain::ids::CustomDistroId;
use crate::domain::policy::{self, ContainerFacts, DistroFacts};
use crate::domain::refusal::ContainerRef;
use crate::domain::values::{DisplayName, DistroPath, Uid};
use crate::ops::Actor;
use crate::web::api::containers::constraint_refusal;
use crate::web::api::images::image_state;
use crate::web::api::input::{FieldErrors, JsonBody, QueryMap, plain_text};
use crate::web::api::{container_of_uid, created, id_segment, ok_message};
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

fn facts_of_distro(d: &CustomDistro) -> DistroFacts {
    DistroFacts {
        id: d.id,
        name: d.name.clone(),
        customer: d.customer_id,
        server: d.server_id,
        storage_container: d.container_id,
    }
}

fn facts_of_container(c: &crate::db::models::container::Container) -> ContainerFacts {
    ContainerFacts {
        id: c.id,
        customer: c.customer_id,
        server: c.server_id,
        storage: c.custom_distros_storage,
        default_distro: c.distro_id,
        custom_distro: c.custom_distro_id.map(|d| (d, String::new())),
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
        let candidates: Vec<DistroFacts> =
            custom_distros::on_server_for_customer(conn, customer, container.server_id)?
                .iter()
                .map(facts_of_distro)
                .collect();
        let usable = policy::usable_distros(&facts_of_container(&container), &candidates)
            .into_iter()
            .map(|d| UsableDistro {
                id: d.id.0,
                name: d.name.clone(),
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

struct DistroFields {
    name: Option<DisplayName>,
    path: Option<DistroPath>,
    note: Option<String>,
}

fn parse_fields(
    name: Option<String>,
    path: Option<String>,
    note: Option<String>,
    required: bool,
) -> Result<DistroFields, ApiError> {
    let mut errors = FieldErrors::default();
    if required && name.is_none() {
        errors.add("name", "is required");
    }
    if required && path.is_none() {
        errors.add("path", "is required");
    }
    let fields = DistroFields {
        name: name.and_then(|raw| errors.check("name", DisplayName::parse(&raw))),
        path: path.and_then(|raw| errors.check("path", DistroPath::parse(&raw))),
        note: note.and_then(|raw| errors.check("note", plain_text(&raw, 4096))),
    };
    errors.finish()?;
    Ok(fields)
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
    let fields = parse_fields(body.name, body.path, body.note, true)?;
    let made = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            let storage = containers::find_for_customer(conn, actor.customer, id)?
                .ok_or(AppError::NotFound)?;
            policy::may_store_distros(
                &facts_of_container(&storage),
                ContainerRef {
                    uid: Uid::of(base_uid, storage.id),
                    name: storage.name.clone(),
                },
            )?;
            let (name, path) = (
                fields.name.expect("required"),
                fields.path.expect("required"),
            );
            let made = custom_distros::insert(
                conn,
                &NewCustomDistro {
                    container_id: storage.id,
                    server_id: storage.server_id,
                    customer_id: storage.customer_id,
                    name: name.as_str(),
                    path: path.as_str(),
                    note: fields.note.as_deref().unwrap_or(""),
                },
            )
            .map_err(constraint_refusal)?;
            actor.log(
                conn,
                storage.id,
                "custom distro created",
                name.as_str(),
                &format!("path distros/{path}"),
            )?;
            Ok::<_, AppError>(made)
        })
    })
    .await?;
    Ok(created(Some(i64::from(made.id.0))))
}

#[utoipa::path(get, path = "/api/custom_distro/{id}", operation_id = "custom_distro_show", tag = "custom distros",
    params(("id" = i32, Path)),
    responses((status = 200, body = CustomDistroView), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn show(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = CustomDistroId(id_segment(&id)?);
    let (found, image_state) = db::run(&state.pool, move |conn| {
        let found =
            custom_distros::find_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)?;
        let image_state = image_state(conn, &found)?;
        Ok::<_, AppError>((found, image_state))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(found, image_state, state.config.base_uid)))
}

/// The containers booting a distro, as refusals name them.
fn booting(
    conn: &mut PgConnection,
    id: CustomDistroId,
    base_uid: u32,
) -> Result<Vec<ContainerRef>, AppError> {
    Ok(containers::booting(conn, id)?
        .into_iter()
        .map(|(id, name)| ContainerRef {
            uid: Uid::of(base_uid, id),
            name,
        })
        .collect())
}

#[utoipa::path(post, path = "/api/custom_distro/{id}", operation_id = "custom_distro_update", tag = "custom distros",
    params(("id" = i32, Path)), request_body = CustomDistroUpdate,
    responses((status = 200, body = CustomDistroView), (status = 403, body = super::openapi::ErrorBody),
        (status = 409, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)))]
pub async fn update(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(body): JsonBody<CustomDistroUpdate>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let base_uid = state.config.base_uid;
    let id = CustomDistroId(id_segment(&id)?);
    let fields = parse_fields(body.name, body.path, body.note, false)?;
    let updated = db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            let current = custom_distros::lock_for_customer(conn, actor.customer, id)?
                .ok_or(AppError::NotFound)?;
            let new_path = fields.path.as_ref().filter(|p| p.as_str() != current.path);
            if new_path.is_some() {
                policy::may_change_path(&current.name, &booting(conn, id, base_uid)?)?;
            }
            let changes = CustomDistroChangeset {
                name: fields.name.map(DisplayName::into_inner),
                path: new_path.map(|p| p.as_str().to_owned()),
                note: fields.note,
            };
            let updated = custom_distros::update(conn, id, &changes).map_err(constraint_refusal)?;
            if let Some(path) = new_path {
                let from = stored_path(&current.path)?;
                jobs::enqueue(conn, &crate::jobs::rename_image(&current, &from, path))?;
                actor.log(
                    conn,
                    current.container_id,
                    "custom distro path changed",
                    &updated.name,
                    &format!("distros/{} to distros/{path}", current.path),
                )?;
            }
            let image_state = image_state(conn, &updated)?;
            Ok::<_, AppError>((updated, image_state))
        })
    })
    .await?;
    let (updated, image_state) = updated;
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
    id: web::Path<String>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of_api(&caller, &request)?;
    let base_uid = state.config.base_uid;
    let id = CustomDistroId(id_segment(&id)?);
    let purge = query
        .get("purge")
        .is_some_and(|v| !matches!(v, "" | "0" | "false" | "no"));
    db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            let current = custom_distros::lock_for_customer(conn, actor.customer, id)?
                .ok_or(AppError::NotFound)?;
            policy::may_delete(&current.name, &booting(conn, id, base_uid)?)?;
            custom_distros::delete(conn, id).map_err(constraint_refusal)?;
            if purge {
                let path = stored_path(&current.path)?;
                jobs::enqueue(conn, &crate::jobs::purge_image(&current, &path))?;
            }
            let detail = if purge {
                format!("distros/{} purged", current.path)
            } else {
                format!("distros/{} kept", current.path)
            };
            actor.log(
                conn,
                current.container_id,
                "custom distro deleted",
                &current.name,
                &detail,
            )
        })
    })
    .await?;
    Ok(ok_message())
}

/// A path as stored: the schema holds it to the same rule as [`DistroPath`], so a refusal here
/// means the database and the code disagree.
fn stored_path(raw: &str) -> Result<DistroPath, AppError> {
    DistroPath::parse(raw)
        .map_err(|why| AppError::internal(anyhow::anyhow!("stored path {raw:?}: {why}")))
}
