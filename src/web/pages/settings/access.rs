//! Tokens and sessions on the settings page: making a token answers with a redirect (the new
//! secret rides in the session to the next page, once); revoking a token and ending sessions
//! ask first.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;

use super::{NEW_TOKEN, NewToken, Outcome, back_to_settings, render};
use crate::AppState;
use crate::auth::guard::SignedIn;
use crate::auth::token;
use crate::domain::ids::ApiTokenId;
use crate::error::Error;
use crate::ops::account;
use crate::web::confirm::{self, Ask, Confirmation};
use crate::web::error::AppError;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenForm {
    name: String,
    /// A checkbox: present ("on") when ticked, absent otherwise.
    read_only: Option<String>,
}

/// The settings page again, with a refusal of the token form above it.
async fn token_refused(
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    problem: String,
) -> Result<HttpResponse, AppError> {
    let outcome = Outcome {
        token_problem: Some(problem),
        ..Outcome::default()
    };
    render(state, me, status, outcome).await
}

#[post("/settings/tokens")]
pub(super) async fn create_token(
    me: SignedIn,
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let name = match token::TokenName::parse(&form.name) {
        Ok(name) => name,
        Err(why) => {
            let problem = format!("Token name: {why}.");
            return token_refused(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, problem).await;
        }
    };
    let read_only = form.read_only.is_some();
    let (token, secret) =
        match account::create_token(&state.pool, me.user_id, name, read_only).await {
            Ok(made) => made,
            Err(Error::Conflict(why)) => {
                return token_refused(&state, &me, StatusCode::CONFLICT, why).await;
            }
            Err(other) => return Err(other.into()),
        };
    let shown_once = NewToken {
        name: token.name,
        secret: secret.expose().to_owned(),
    };
    session
        .insert(NEW_TOKEN, shown_once)
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/settings#new-token"))
        .finish())
}

#[post("/settings/tokens/{id}/revoke")]
pub(super) async fn revoke_token(
    me: SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Confirmation>,
) -> Result<HttpResponse, AppError> {
    let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
    if !form.given() {
        return confirm::page(
            me.layout(),
            Ask {
                question: "Revoke this API token?".into(),
                consequence: "Programs that use it stop working at once. A revoked token \
                              cannot be brought back; you can make a new one."
                    .into(),
                action: format!("/settings/tokens/{id}/revoke"),
                fields: Vec::new(),
                button: "Revoke the token",
                back: "/settings#tokens".into(),
            },
        );
    }
    account::revoke_token(&state.pool, me.user_id, ApiTokenId(id)).await?;
    Ok(back_to_settings("token-revoked"))
}

/// A session is named by 32 hex digits; anything else names none (and never reaches SQL).
fn session_name(public_id: &str) -> Result<(), AppError> {
    if public_id.len() != 32 || !public_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[post("/settings/sessions/{id}/end")]
pub(super) async fn end_session(
    me: SignedIn,
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Confirmation>,
) -> Result<HttpResponse, AppError> {
    let public_id = id.into_inner();
    session_name(&public_id)?;
    let own = public_id == me.public_id;
    if !form.given() {
        let (question, consequence, button) = if own {
            (
                "Log out here?",
                "You will need your password to log in again.",
                "Log out",
            )
        } else {
            (
                "End this session?",
                "The browser using it is logged out and needs the password to log in again.",
                "End the session",
            )
        };
        return confirm::page(
            me.layout(),
            Ask {
                question: question.into(),
                consequence: consequence.into(),
                action: format!("/settings/sessions/{public_id}/end"),
                fields: Vec::new(),
                button,
                back: "/settings#sessions".into(),
            },
        );
    }
    if own {
        session.purge();
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish());
    }
    account::end_session(&state.pool, me.user_id, public_id).await?;
    Ok(back_to_settings("session-ended"))
}

#[post("/settings/sessions/end-others")]
pub(super) async fn end_other_sessions(
    me: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<Confirmation>,
) -> Result<HttpResponse, AppError> {
    if !form.given() {
        return confirm::page(
            me.layout(),
            Ask {
                question: "End all your other sessions?".into(),
                consequence: "Every other browser logged in as you is logged out; this one \
                              stays. API tokens keep working."
                    .into(),
                action: "/settings/sessions/end-others".into(),
                fields: Vec::new(),
                button: "End the other sessions",
                back: "/settings#sessions".into(),
            },
        );
    }
    let ended = account::end_other_sessions(&state.pool, me.user_id, me.public_id.clone()).await?;
    tracing::info!(user = %me.username, ended, "other sessions ended");
    Ok(back_to_settings("sessions-ended"))
}
