//! `POST/GET /api/tokens`, `DELETE /api/tokens/<id>`: bearer tokens, managed by their owner.
//! The secret is in the answer to `POST` only; the database keeps its SHA-256.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::auth::token::{Secret, TokenName};
use crate::db;
use crate::db::models::api_token::{ApiToken, NewApiToken};
use crate::db::queries::api_tokens;
use crate::domain::ids::ApiTokenId;
use crate::web::error::{ApiError, AppError};

const MAX_BODY: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/api/tokens", "/api/tokens/"])
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(["/api/tokens/{id}", "/api/tokens/{id}/"])
            .route(web::delete().to(revoke))
            .default_service(web::to(method_not_allowed)),
    );
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError(AppError::MethodNotAllowed))
}

fn epoch(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn listed(token: &ApiToken) -> serde_json::Value {
    json!({
        "id": token.id,
        "name": token.name,
        "created": epoch(token.created_at),
        "last_used": token.last_used_at.map(epoch),
    })
}

async fn list(caller: ApiCaller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = caller.user_id;
    let tokens = db::run(&state.pool, move |conn| {
        api_tokens::active_for_user(conn, user).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(listed).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
struct CreateToken {
    name: Option<serde_json::Value>,
}

/// The body, refused as soon as it grows past [`MAX_BODY`] (whatever `Content-Length` says).
async fn read_body(payload: web::Payload) -> Result<web::Bytes, AppError> {
    match payload.to_bytes_limited(MAX_BODY).await {
        Err(_) => Err(AppError::PayloadTooLarge),
        Ok(Err(_)) => Err(AppError::BadRequest("The body could not be read.".into())),
        Ok(Ok(body)) => Ok(body),
    }
}

/// Bodies are JSON whatever `Content-Type` says (uwsgi.it clients send none).
fn parse_create(body: &[u8]) -> Result<TokenName, AppError> {
    let request: CreateToken = serde_json::from_slice(body).map_err(|_| {
        AppError::BadRequest("Send a JSON object such as {\"name\": \"deploy\"}.".into())
    })?;
    match request.name {
        Some(serde_json::Value::String(name)) => {
            TokenName::parse(&name).map_err(|why| AppError::invalid("name", why))
        }
        Some(_) => Err(AppError::invalid("name", "the name is a string")),
        None => Err(AppError::invalid("name", "give the token a name")),
    }
}

async fn create(
    caller: ApiCaller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = parse_create(&read_body(payload).await?)?;
    let secret = Secret::generate();
    let (user, digest) = (caller.user_id, secret.digest());
    let token = db::run(&state.pool, move |conn| {
        api_tokens::insert(
            conn,
            &NewApiToken {
                user_id: user,
                name: name.as_str(),
                token_hash: &digest,
            },
        )
        .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "id": token.id,
            "name": token.name,
            "token": secret.expose(),
            "created": epoch(token.created_at),
        })))
}

async fn revoke(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // an id that is not a number is just another id that is not the caller's
    let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
    let user = caller.user_id;
    let revoked = db::run(&state.pool, move |conn| {
        api_tokens::revoke_for_user(conn, user, ApiTokenId(id), Utc::now()).map_err(AppError::from)
    })
    .await?;
    if revoked == 0 {
        return Err(ApiError(AppError::NotFound));
    }
    Ok(HttpResponse::Ok().json(json!({ "message": "Ok" })))
}
