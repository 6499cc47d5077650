//! `/api/me`: the calling customer.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::basic::CredentialCache;
use crate::auth::extract::client_address;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::queries::{containers, customers};
use crate::domain::values::{Email, Password, Uid};
use crate::ops::account::{self, CurrentPassword, ProfileUpdate, Proof};
use crate::web::api::input::{FieldErrors, JsonBody, plain_text};
use crate::web::error::{ApiError, AppError};

/// The customer as `GET /api/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub email: String,
    pub company: String,
    pub vat: String,
    pub uuid: uuid::Uuid,
    /// Uids of the customer's containers.
    pub containers: Vec<i64>,
    /// Addresses of the servers the customer owns.
    pub servers: Vec<String>,
}

/// Any of these; the others stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MeUpdate {
    pub company: Option<String>,
    pub vat: Option<String>,
    pub email: Option<String>,
    /// At least 8 characters.
    pub password: Option<String>,
    /// The account's password as it is now: a new e-mail or password needs it, unless the
    /// request is authenticated with it (HTTP Basic or the uwsgi.it headers).
    pub current_password: Option<String>,
}

/// The customer after `POST /api/me`, and how many tokens a new password revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeUpdated {
    #[serde(flatten)]
    pub me: MeView,
    /// Every token of the account stops working when the password changes; 0 otherwise.
    pub revoked_tokens: usize,
}

impl TryFrom<MeUpdate> for ProfileUpdate {
    type Error = ApiError;

    fn try_from(body: MeUpdate) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::default();
        let text = |raw: Option<String>, max: usize, field: &str, errors: &mut FieldErrors| {
            raw.and_then(|raw| {
                let checked = plain_text(&raw, max).and_then(|t| {
                    if t.chars().any(char::is_control) {
                        Err("has no control characters".into())
                    } else {
                        Ok(t)
                    }
                });
                errors.check(field, checked)
            })
        };
        let company = text(body.company, 255, "company", &mut errors);
        let vat = text(body.vat, 64, "vat", &mut errors);
        let email = body.email.and_then(|raw| {
            // PostgreSQL cannot store NUL, and no address holds a control character
            let parsed = if raw.chars().any(char::is_control) {
                Err("an e-mail address has no control characters".to_owned())
            } else {
                Email::parse(&raw).map_err(|why| why.to_string())
            };
            errors.check("email", parsed)
        });
        let password = body
            .password
            .and_then(|raw| errors.check("password", Password::parse(&raw)));
        errors.finish()?;
        Ok(Self {
            company,
            vat,
            email,
            password,
        })
    }
}

async fn load(state: &AppState, caller: &ApiCaller) -> Result<MeView, ApiError> {
    let customer = caller.customer()?;
    let user = caller.user_id;
    let base_uid = state.config.base_uid;
    db::run(&state.pool, move |conn| {
        let (row, email) =
            customers::with_login_email(conn, customer, user)?.ok_or(AppError::Unauthorized)?;
        let ids = containers::ids_for_customer(conn, customer)?;
        let servers = customers::server_addresses(conn, customer)?;
        Ok::<_, AppError>(MeView {
            email,
            company: row.company,
            vat: row.vat,
            uuid: row.uuid,
            containers: ids
                .into_iter()
                .map(|id| Uid::of(base_uid, id).get())
                .collect(),
            servers,
        })
    })
    .await
    .map_err(ApiError)
}

#[utoipa::path(get, path = "/api/me", operation_id = "me_show", tag = "customer",
    responses((status = 200, body = MeView), (status = 401, body = super::openapi::ErrorBody)))]
pub async fn show(caller: ApiCaller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load(&state, &caller).await?))
}

#[utoipa::path(post, path = "/api/me", operation_id = "me_update", tag = "customer",
    request_body = MeUpdate,
    responses((status = 200, body = MeUpdated), (status = 400, body = super::openapi::ErrorBody),
        (status = 403, body = super::openapi::ErrorBody, description = "a new e-mail or password without proof of the current password, or a read-only token"),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn update(
    caller: ApiCaller,
    request: HttpRequest,
    state: web::Data<AppState>,
    verified_credentials: web::Data<CredentialCache>,
    JsonBody(mut body): JsonBody<MeUpdate>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let proof = match body.current_password.take() {
        Some(password) => Proof::Typed(CurrentPassword {
            username: caller.username.clone(),
            password,
            address: client_address(&request),
        }),
        None if caller.proved_password() => Proof::Authenticated,
        None => Proof::Nothing,
    };
    let update = ProfileUpdate::try_from(body)?;
    let changed = account::update_profile(
        &state.pool,
        &state.login_gate,
        &verified_credentials,
        customer,
        caller.user_id,
        proof,
        update,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MeUpdated {
        me: load(&state, &caller).await?,
        revoked_tokens: changed.revoked_tokens,
    }))
}
