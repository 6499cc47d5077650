//! Staff actions on logins.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use diesel::Connection;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::{events, sessions, users};
use crate::domain::ids::UserId;
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
    db::run(&state.pool, move |conn| {
        conn.transaction(|conn| {
            let user = users::find(conn, id)?.ok_or(AppError::NotFound)?;
            let ended = sessions::end_all_for_user_except(conn, user.id, None)?;
            let detail = format!("{ended} session(s) ended");
            events::insert(
                conn,
                &staff.audit(
                    user.customer_id,
                    None,
                    "end sessions",
                    &user.username,
                    &detail,
                ),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/staff?done=sessions-ended"))
        .finish())
}
