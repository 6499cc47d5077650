//! The private API uwsgi.it servers poll for their vassals: `GET /private/containers/` lists
//! the server's containers with their change times, `GET /private/containers/<uid>.ini` is a
//! container's vassal. A server authenticates with its own token
//! (`distropanel server token --name N`), sent as `Authorization: Bearer <token>`; it sees its
//! own containers only.
//!
//! Only servers marked pull (`distropanel server mode --name N --pull`) are served: they run
//! no agent, so nothing on them prepares homes, writes `authorized_keys` or keeps an image
//! store. A server with an agent gets its vassals from the agent and is refused here.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::db::models::server::ServerMode;
use crate::db::queries::host_facts::ContainerFacts;
use crate::db::queries::{host_facts, server_tokens};
use crate::domain::ids::ServerId;
use crate::domain::values::Uid;
use crate::host::vassal::Boot;
use crate::web::error::{ApiError, AppError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(vassal);
}

/// The SHA-256 stored for a server token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The pull server the request's token belongs to.
async fn server(request: &HttpRequest, state: &AppState) -> Result<ServerId, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthorized)?;
    let hash = token_hash(token);
    let found = crate::db::run(&state.pool, move |conn| {
        server_tokens::server_for(conn, &hash).map_err(AppError::from)
    })
    .await?;
    match found.ok_or(AppError::Unauthorized)? {
        (id, ServerMode::Pull) => Ok(id),
        (_, ServerMode::Agent) => Err(AppError::Forbidden(
            "This server runs a distropanel agent, which writes its vassals on the host; \
             /private serves only servers marked pull (distropanel server mode --pull)."
                .into(),
        )
        .into()),
    }
}

#[get("/private/containers/")]
async fn list(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let server = server(&request, &state).await?;
    let rows = crate::db::run(&state.pool, move |conn| {
        host_facts::on_server(conn, server).map_err(AppError::from)
    })
    .await?;
    let base_uid = state.config.base_uid;
    let body: Vec<_> = rows
        .iter()
        .map(|c| {
            // what the vassal says changes with the container, a reboot, or a restart's fallback
            let changed = [c.last_reboot, c.restarted_at]
                .into_iter()
                .flatten()
                .fold(c.updated_at, |latest, t| latest.max(t));
            json!({
                "uid": Uid::of(base_uid, c.id),
                "mtime": changed.timestamp(),
                "ssh_keys_mtime": c.ssh_keys_changed_at.timestamp(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[get("/private/containers/{file}")]
async fn vassal(
    request: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let server = server(&request, &state).await?;
    let base_uid = state.config.base_uid;
    let id = file
        .strip_suffix(".ini")
        .and_then(|uid| uid.parse::<i64>().ok())
        .and_then(|uid| Uid::container_id(uid, base_uid))
        .ok_or(AppError::NotFound)?;
    let facts = crate::db::run(&state.pool, move |conn| {
        host_facts::on_server_by_id(conn, server, id).map_err(AppError::from)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    // nothing on a pull host writes keys safely, so its vassal holds none
    let facts = ContainerFacts {
        ssh_keys: Vec::new(),
        ..facts
    };
    let (distro, image) = crate::jobs::boot_inputs(&facts, base_uid)
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let boot = Boot::recorded(distro, image, facts.fallback_reason.as_deref());
    let spec = crate::jobs::vassal_spec(&facts, base_uid, boot);
    let rendered = state
        .vassal_template
        .render(state.host.layout(), &spec)
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(rendered.as_str().to_owned()))
}
