//! `/settings`: the signed-in user's profile, password, API tokens and sessions. Every form
//! works without JavaScript; each change answers with a redirect back (or the page, with the
//! problem), so that reloading never sends it twice.

mod access;
mod profile;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::basic::CredentialCache;
use crate::auth::guard::SignedIn;
use crate::auth::session;
use crate::db;
use crate::db::models::api_token::ApiToken;
use crate::db::models::session::ActiveSession;
use crate::db::queries::{api_tokens, customers, sessions, users};
use crate::domain::ids::ApiTokenId;
use crate::domain::values::Password;
use crate::error::Error;
use crate::ops::account::{self, CurrentPassword, OwnPasswordChange};
use crate::web::error::AppError;
use crate::web::render::Layout;
use crate::web::user_agent;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show)
        .service(change_password)
        .service(profile::update)
        .service(access::create_token)
        .service(access::revoke_token)
        .service(access::end_session)
        .service(access::end_other_sessions);
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

/// A token just made, shown once: carried from the form's answer to the next page in the
/// session, and taken out of it by that page.
#[derive(Serialize, Deserialize)]
struct NewToken {
    name: String,
    secret: String,
}

const NEW_TOKEN: &str = "new_token";

/// The customer's own details; staff have none.
struct Profile {
    company: String,
    vat: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    username: String,
    email: String,
    role: &'static str,
    profile: Option<Profile>,
    notice: Option<&'static str>,
    new_token: Option<NewToken>,
    profile_problem: Option<String>,
    password_problem: Option<String>,
    token_problem: Option<String>,
    tokens: Vec<TokenRow>,
    sessions: Vec<SessionRow>,
    other_sessions: usize,
}

/// What a page shows besides the stored facts.
#[derive(Default)]
struct Outcome {
    notice: Option<&'static str>,
    new_token: Option<NewToken>,
    profile_problem: Option<String>,
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
    let customer = me.customer_id;
    let now = Utc::now();
    let (user, profile, tokens, live) = db::run(&state.pool, move |conn| {
        let user = users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
        let profile = match customer {
            Some(customer) => {
                customers::with_login_email(conn, customer, user_id)?.map(|(row, _)| Profile {
                    company: row.company,
                    vat: row.vat,
                })
            }
            None => None,
        };
        let tokens = api_tokens::active_for_user(conn, user_id)?;
        let live = sessions::live_for_user(conn, user_id, now, now - session::ABSOLUTE_TIMEOUT)?;
        Ok::<_, AppError>((user, profile, tokens, live))
    })
    .await?;
    let sessions = session_rows(live, &me.public_id);
    let page = SettingsPage {
        layout: me.layout(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role().as_str(),
        profile,
        notice: outcome.notice,
        new_token: outcome.new_token,
        profile_problem: outcome.profile_problem,
        password_problem: outcome.password_problem,
        token_problem: outcome.token_problem,
        tokens: tokens.into_iter().map(token_row).collect(),
        other_sessions: sessions.iter().filter(|s| !s.current).count(),
        sessions,
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

fn token_row(t: ApiToken) -> TokenRow {
    TokenRow {
        id: t.id,
        name: t.name,
        read_only: t.read_only,
        created: when(t.created_at),
        last_used: t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
    }
}

/// The live sessions, this one first, each browser named in words.
fn session_rows(live: Vec<ActiveSession>, current: &str) -> Vec<SessionRow> {
    let mut rows: Vec<SessionRow> = live
        .into_iter()
        .filter_map(|s| {
            let id = s.public_id?;
            Some(SessionRow {
                current: id == current,
                id,
                started: when(s.created_at),
                last_seen: when(s.last_seen),
                address: s.ip.unwrap_or_default(),
                browser: user_agent::describe(s.user_agent.as_deref().unwrap_or_default()),
            })
        })
        .collect();
    rows.sort_by_key(|row| !row.current);
    rows
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
    session: actix_session::Session,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    // shown by this answer only: a reload, or the back button, finds it gone
    // (a session without one is left untouched, so a plain visit writes nothing)
    let new_token = session.get::<NewToken>(NEW_TOKEN).ok().flatten();
    if new_token.is_some() {
        session.remove(NEW_TOKEN);
    }
    let notice = match query.done.as_str() {
        "password" => Some(
            "Your password was changed, your other sessions were ended and your API tokens were \
             revoked.",
        ),
        "token-revoked" => Some("The token was revoked; it no longer works."),
        "session-ended" => Some("The session was ended."),
        "sessions-ended" => Some("Your other sessions were ended; they must log in again."),
        "profile" => Some("Your details were saved."),
        _ => None,
    };
    render(
        &state,
        &me,
        StatusCode::OK,
        Outcome {
            notice,
            new_token,
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
