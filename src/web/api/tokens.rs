//! `POST/GET /api/tokens`, `DELETE /api/tokens/<id>`: bearer tokens, managed by their owner.
//! The secret is in the answer to `POST` only; the database keeps its SHA-256.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::auth::token::TokenName;
use crate::db;
use crate::db::models::api_token::ApiToken;
use crate::db::queries::api_tokens;
use crate::domain::ids::ApiTokenId;
use crate::ops::account;
use crate::web::api::epoch;
use crate::web::api::input::JsonBody;
use crate::web::error::{ApiError, AppError};

fn listed(token: &ApiToken) -> serde_json::Value {
    json!({
        "id": token.id,
        "name": token.name,
        "created": epoch(token.created_at),
        "last_used": token.last_used_at.map(epoch),
        "read_only": token.read_only,
    })
}

#[utoipa::path(get, path = "/api/tokens", operation_id = "tokens_list", tag = "tokens",
    responses((status = 200, description = "The caller's live tokens, without secrets")))]
pub async fn list(caller: ApiCaller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = caller.user_id;
    let tokens = db::run(&state.pool, move |conn| {
        api_tokens::active_for_user(conn, user).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(listed).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateToken {
    /// What the token is for, e.g. "deploy".
    #[schema(value_type = String)]
    name: Option<serde_json::Value>,
    /// A read-only token may read but change nothing (default false).
    #[schema(value_type = Option<bool>)]
    read_only: Option<serde_json::Value>,
}

fn token_name(name: Option<serde_json::Value>) -> Result<TokenName, AppError> {
    match name {
        Some(serde_json::Value::String(name)) => {
            TokenName::parse(&name).map_err(|why| AppError::invalid("name", why))
        }
        Some(_) => Err(AppError::invalid("name", "the name is a string")),
        None => Err(AppError::invalid("name", "give the token a name")),
    }
}

fn read_only(flag: Option<serde_json::Value>) -> Result<bool, AppError> {
    match flag {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(flag)) => Ok(flag),
        Some(_) => Err(AppError::invalid("read_only", "is true or false")),
    }
}

#[utoipa::path(post, path = "/api/tokens", operation_id = "tokens_create", tag = "tokens",
    request_body = CreateToken,
    responses((status = 201, description = "The token, with its secret shown this once"),
        (status = 409, body = super::openapi::ErrorBody,
            description = "one of the caller's live tokens already has this name")))]
pub async fn create(
    caller: ApiCaller,
    state: web::Data<AppState>,
    JsonBody(request): JsonBody<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let name = token_name(request.name)?;
    let read_only = read_only(request.read_only)?;
    let (token, secret) =
        account::create_token(&state.pool, caller.user_id, name, read_only).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "id": token.id,
            "name": token.name,
            "token": secret.expose(),
            "created": epoch(token.created_at),
            "read_only": token.read_only,
        })))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", operation_id = "tokens_revoke", tag = "tokens",
    params(("id" = i32, Path)), responses((status = 200, description = "Revoked")))]
pub async fn revoke(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // an id that is not a number is just another id that is not the caller's
    let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
    account::revoke_token(&state.pool, caller.user_id, ApiTokenId(id)).await?;
    Ok(super::ok_message())
}
