//! The customer's e-mail, company and VAT number on the settings page, changed as
//! `POST /api/me` changes them: a new e-mail needs the current password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::{Outcome, back_to_settings, render};
use crate::AppState;
use crate::auth::basic::CredentialCache;
use crate::auth::extract::client_address;
use crate::auth::guard::SignedIn;
use crate::ops::account::{self, CurrentPassword, ProfileUpdate, Proof};
use crate::web::api::me::MeUpdate;
use crate::web::error::AppError;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProfileForm {
    email: String,
    company: String,
    vat: String,
    current_password: String,
}

/// What the refusal of an update tells the customer, and with which status; an error that is
/// no refusal of theirs goes on as it is.
fn problem(error: AppError) -> Result<(StatusCode, String), AppError> {
    let status = error.status();
    match error {
        AppError::Invalid(fields) if fields.iter().any(|(f, _)| f == "current_password") => {
            Ok((status, "The current password is wrong.".into()))
        }
        AppError::Forbidden(_) => Ok((
            status,
            "Type your current password to change the e-mail address.".into(),
        )),
        refused @ (AppError::Invalid(_) | AppError::TooManyRequests { .. }) => {
            Ok((status, refused.reason()))
        }
        other => Err(other),
    }
}

#[post("/settings/profile")]
pub(super) async fn update(
    me: SignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
    verified_credentials: web::Data<CredentialCache>,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let customer = me.customer_id.ok_or(AppError::NotFound)?;
    let form = form.into_inner();
    let proof = if form.current_password.is_empty() {
        Proof::Nothing
    } else {
        Proof::Typed(CurrentPassword {
            username: me.username.clone(),
            password: form.current_password,
            address: client_address(&request),
        })
    };
    let fields = MeUpdate {
        company: Some(form.company),
        vat: Some(form.vat),
        // the same address again is no change, and needs no password
        email: (form.email.trim() != current_email(&state, &me).await?).then_some(form.email),
        password: None,
        current_password: None,
    };
    let outcome = match ProfileUpdate::try_from(fields) {
        Ok(update) => account::update_profile(
            &state.pool,
            &state.login_gate,
            &verified_credentials,
            customer,
            me.user_id,
            proof,
            update,
        )
        .await
        .map_err(AppError::from),
        Err(refused) => Err(refused.0),
    };
    let (status, why) = match outcome {
        Ok(_) => {
            tracing::info!(user = %me.username, "profile changed");
            return Ok(back_to_settings("profile"));
        }
        Err(error) => problem(error)?,
    };
    let outcome = Outcome {
        profile_problem: Some(why),
        ..Outcome::default()
    };
    render(&state, &me, status, outcome).await
}

async fn current_email(state: &AppState, me: &SignedIn) -> Result<String, AppError> {
    let user = me.user_id;
    crate::db::run(&state.pool, move |conn| {
        crate::db::queries::users::find(conn, user)?
            .map(|u| u.email)
            .ok_or(AppError::NotFound)
    })
    .await
}
