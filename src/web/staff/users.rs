//! Staff actions on logins.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};

use crate::AppState;
use crate::auth::guard::Staff;
use crate::domain::ids::UserId;
use crate::ops;
use crate::web::error::AppError;

/// `POST /staff/users/{id}/sessions/end`: signs a user out everywhere (a lost laptop, a
/// colleague who left), audited.
#[post("/staff/users/{id}/sessions/end")]
pub async fn end_sessions(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = UserId(id.parse::<i32>().map_err(|_| AppError::NotFound)?);
    ops::staff::end_sessions(&state.pool, staff, id).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/staff?done=sessions-ended"))
        .finish())
}
