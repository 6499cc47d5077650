//! Liveness and readiness for load balancers and orchestrators.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};

use crate::AppState;

/// The process is up and serving.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database answers: this node can take traffic.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if crate::db::is_ready(&state.pool, Duration::from_secs(2)).await {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "database unavailable" }))
    }
}
