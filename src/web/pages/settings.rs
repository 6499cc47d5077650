//! `/settings`: the signed-in user's password, API tokens and sessions. Every form works
//! without JavaScript; each change answers with a redirect back (or the page, with the problem).

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::AppState;
use crate::auth::basic::CredentialCache;
use crate::auth::guard::SignedIn;
use crate::auth::{session, token};
use crate::db;
use crate::db::queries::{api_tokens, sessions, users};
use crate::domain::ids::ApiTokenId;
use crate::domain::values::Password;
use crate::error::Error;
use crate::ops::account::{self, CurrentPassword, OwnPasswordChange};
use crate::web::error::AppError;
use crate::web::render::Layout;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show)
        .service(change_password)
        .service(create_token)
        .service(revoke_token)
        .service(end_session);
}

pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

struct TokenRow {
    id: ApiTokenId,
    name: String,
    read_only: bool,
    created: String,
    last_used: String,
}

struct SessionRow {
    id: String,
    started: String,
    last_seen: String,
    address: String,
    browser: String,
    current: bool,
}

struct NewToken {
    name: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    username: String,
    email: String,
    role: &'static str,
    notice: Option<&'static str>,
    new_token: Option<NewToken>,
    password_problem: Option<String>,
    token_problem: Option<String>,
    tokens: Vec<TokenRow>,
    sessions: Vec<SessionRow>,
}

/// What a page shows besides the stored facts.
#[derive(Default)]
struct Outcome {
    notice: Option<&'static str>,
    new_token: Option<NewToken>,
    password_problem: Option<String>,
    token_problem: Option<String>,
}

async fn render(
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    outcome: Outcome,
) -> Result<HttpResponse, AppError> {
    let user_id = me.user_id;
    let now = Utc::now();
    let (user, tokens, live) = db::run(&state.pool, move |conn| {
        let user = users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
        let tokens = api_tokens::active_for_user(conn, user_id)?;
        let live = sessions::live_for_user(conn, user_id, now, now - session::ABSOLUTE_TIMEOUT)?;
        Ok::<_, AppError>((user, tokens, live))
    })
    .await?;
    let page = SettingsPage {
        layout: me.layout(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role().as_str(),
        notice: outcome.notice,
        new_token: outcome.new_token,
        password_problem: outcome.password_problem,
        token_problem: outcome.token_problem,
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                read_only: t.read_only,
                created: when(t.created_at),
                last_used: t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        sessions: live
            .into_iter()
            .filter_map(|s| {
                let id = s.public_id?;
                Some(SessionRow {
                    current: id == me.public_id,
                    id,
                    started: when(s.created_at),
                    last_seen: when(s.last_seen),
                    address: s.ip.unwrap_or_default(),
                    browser: s.user_agent.unwrap_or_default(),
                })
            })
            .collect(),
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

fn back_to_settings(done: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/settings?done={done}")))
        .finish()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Done {
    done: String,
}

#[get("/settings")]
async fn show(
    me: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let notice = match query.done.as_str() {
        "password" => Some(
            "Your password was changed, your other sessions were ended and your API tokens were \
             revoked.",
        ),
        "token-revoked" => Some("The token was revoked; it no longer works."),
        "session-ended" => Some("The session was ended."),
        _ => None,
    };
    render(
        &state,
        &me,
        StatusCode::OK,
        Outcome {
            notice,
            ..Outcome::default()
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

impl PasswordForm {
    /// The new password, typed twice alike; otherwise what to tell the user.
    fn new_password(&self) -> Result<Password, String> {
        let new =
            Password::parse(&self.new_password).map_err(|why| format!("New password: {why}."))?;
        if self.new_password != self.confirm_password {
            return Err("The two new passwords differ; type the same one twice.".into());
        }
        Ok(new)
    }
}

/// A refusal of the change the form shows above it, or the error that is not one.
fn password_problem(error: Error) -> Result<(StatusCode, String), AppError> {
    match error {
        Error::Invalid(_) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "The current password is wrong.".into(),
        )),
        locked @ Error::TooManyRequests { .. } => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            AppError::from(locked).reason(),
        )),
        other => Err(other.into()),
    }
}

#[post("/settings/password")]
async fn change_password(
    me: SignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
    verified_credentials: web::Data<CredentialCache>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let refused = match form.new_password() {
        Err(problem) => Some((StatusCode::UNPROCESSABLE_ENTITY, problem)),
        Ok(new) => {
            let change = OwnPasswordChange {
                user: me.user_id,
                current: CurrentPassword {
                    username: me.username.clone(),
                    password: form.current_password,
                    address: crate::auth::extract::client_address(&request),
                },
                new,
                keep: me.public_id.clone(),
            };
            match account::change_own_password(
                &state.pool,
                &state.login_gate,
                &verified_credentials,
                change,
            )
            .await
            {
                Ok(_) => None,
                Err(error) => Some(password_problem(error)?),
            }
        }
    };
    let Some((status, problem)) = refused else {
        tracing::info!(user = %me.username, "password changed");
        return Ok(back_to_settings("password"));
    };
    let outcome = Outcome {
        password_problem: Some(problem),
        ..Outcome::default()
    };
    render(&state, &me, status, outcome).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenForm {
    name: String,
    /// A checkbox: present ("on") when ticked, absent otherwise.
    read_only: Option<String>,
}

#[post("/settings/tokens")]
async fn create_token(
    me: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let name = match token::TokenName::parse(&form.name) {
        Ok(name) => name,
        Err(why) => {
            return render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                Outcome {
                    token_problem: Some(format!("Token name: {why}.")),
                    ..Outcome::default()
                },
            )
            .await;
        }
    };
    let read_only = form.read_only.is_some();
    let (token, secret) = account::create_token(&state.pool, me.user_id, name, read_only).await?;
    render(
        &state,
        &me,
        StatusCode::OK,
        Outcome {
            new_token: Some(NewToken {
                name: token.name,
                secret: secret.expose().to_owned(),
            }),
            ..Outcome::default()
        },
    )
    .await
}

#[post("/settings/tokens/{id}/revoke")]
async fn revoke_token(
    me: SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
    account::revoke_token(&state.pool, me.user_id, ApiTokenId(id)).await?;
    Ok(back_to_settings("token-revoked"))
}

#[post("/settings/sessions/{id}/end")]
async fn end_session(
    me: SignedIn,
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let public_id = id.into_inner();
    // a session is named by 32 hex digits; anything else names none (and never reaches SQL)
    if public_id.len() != 32 || !public_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    if public_id == me.public_id {
        session.purge();
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish());
    }
    account::end_session(&state.pool, me.user_id, public_id).await?;
    Ok(back_to_settings("session-ended"))
}
