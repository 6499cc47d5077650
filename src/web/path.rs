//! Ids in request paths: one answer for every segment that names nothing (the API's 403
//! `{"error":"Forbidden"}`, the pages' 404 page), and container uids read with the
//! configured base uid.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::AppState;
use crate::domain::ids::ContainerId;
use crate::domain::values::Uid;
use crate::web::error::{ApiError, AppError};

/// What a path segment that names nothing answers: the caller cannot tell a malformed id from
/// a missing one, or from someone else's.
pub fn names_nothing(request: &HttpRequest) -> actix_web::Error {
    let path = request.path();
    if path == "/api" || path.starts_with("/api/") {
        ApiError(AppError::NotFound).into()
    } else {
        AppError::NotFound.into()
    }
}

/// Makes every `web::Path` that does not parse answer through [`names_nothing`].
pub fn config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, request| names_nothing(request))
}

/// The container the path's `{uid}` names: a number past the configured base uid.
#[derive(Debug, Clone, Copy)]
pub struct ContainerUid(pub ContainerId);

impl FromRequest for ContainerUid {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = request.app_data::<web::Data<AppState>>() else {
            return ready(Err(
                AppError::internal(anyhow::anyhow!("no app state")).into()
            ));
        };
        let base_uid = state.config.base_uid;
        let named = request
            .match_info()
            .get("uid")
            .and_then(|raw| raw.parse::<i64>().ok())
            .and_then(|uid| Uid::container_id(uid, base_uid));
        ready(named.map(Self).ok_or_else(|| names_nothing(request)))
    }
}
