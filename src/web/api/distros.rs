//! `/api/distros`: the platform distros every customer may use as default distro.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::queries::distros;
use crate::web::error::{ApiError, AppError};

#[derive(Debug, Serialize, ToSchema)]
pub struct DistroItem {
    pub id: i32,
    pub name: String,
}

#[utoipa::path(get, path = "/api/distros", operation_id = "distros_list", tag = "distros",
    responses((status = 200, body = Vec<DistroItem>)))]
pub async fn list(
    _caller: ApiCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = db::run(&state.pool, |conn| {
        distros::all(conn).map_err(AppError::from)
    })
    .await?;
    let items: Vec<DistroItem> = all
        .into_iter()
        .map(|d| DistroItem {
            id: d.id.0,
            name: d.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}
