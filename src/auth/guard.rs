//! Extractors that say who is calling. A handler that takes one is unreachable without it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;

use crate::AppState;
use crate::auth::password;
use crate::db;
use crate::db::models::user::Role;
use crate::domain::ids::{CustomerId, UserId};
use crate::web::error::{ApiError, AppError};

/// An authenticated caller of the JSON API: HTTP Basic, or the uwsgi.it
/// `X-uwsgi-it-username` / `X-uwsgi-it-password` headers (hex-encoded).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    /// The customer whose data this caller sees; `None` for staff.
    pub customer_id: Option<CustomerId>,
}

impl ApiCaller {
    /// The caller's customer, or a refusal for staff (who use the staff pages).
    pub fn customer(&self) -> Result<CustomerId, ApiError> {
        self.customer_id.ok_or_else(|| {
            ApiError(AppError::Forbidden(
                "Staff accounts have no customer data of their own.".into(),
            ))
        })
    }
}

/// Credentials as sent: username and password.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Reads Basic or uwsgi.it header credentials. A Basic password may contain `:`: the
/// credentials split at the first colon only.
pub fn credentials(request: &HttpRequest) -> Option<Credentials> {
    let headers = request.headers();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        return Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        });
    }
    let hex_header = |name: &str| -> Option<String> {
        let raw = headers.get(name)?.to_str().ok()?;
        String::from_utf8(hex::decode(raw.trim()).ok()?).ok()
    };
    Some(Credentials {
        username: hex_header("X-uwsgi-it-username")?,
        password: hex_header("X-uwsgi-it-password")?,
    })
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let given = credentials(request);
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ApiError(AppError::internal(anyhow::anyhow!("no app state"))))?;
            let given = given.ok_or(ApiError(AppError::Unauthorized))?;
            let username = given.username.clone();
            let user = db::run(&state.pool, move |conn| {
                db::queries::users::by_username(conn, &username).map_err(AppError::from)
            })
            .await?;
            let ok = password::verify_off_worker(
                given.password,
                user.as_ref().map(|u| u.password_hash.clone()),
            )
            .await;
            match user {
                Some(user) if ok => Ok(ApiCaller {
                    user_id: user.id,
                    role: user.role(),
                    customer_id: user.customer_id,
                    username: user.username,
                }),
                _ => Err(ApiError(AppError::Unauthorized)),
            }
        })
    }
}
