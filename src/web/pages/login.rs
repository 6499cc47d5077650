//! `GET/POST /login` and `POST /logout`.

use actix_session::{Session, SessionExt};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::auth::authenticate::{self, Refused};
use crate::auth::basic::Credentials;
use crate::auth::csrf;
use crate::auth::guard::SignedIn;
use crate::db::models::user::Role;
use crate::web::error::AppError;
use crate::web::render::Layout;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(submit).service(logout);
}

/// Said for an unknown user and a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "Wrong username or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout,
    form_token: &'a str,
    username: &'a str,
    problem: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn landing(role: Role) -> &'static str {
    match role {
        Role::Staff => "/staff",
        Role::Customer => "/dashboard",
    }
}

/// The login form's token: the session's own when signed in already (logging in again as
/// someone else), else the browser's pre-session cookie, made when missing.
pub(crate) fn form_token(
    request: &HttpRequest,
    state: &AppState,
) -> (String, Option<Cookie<'static>>) {
    if let Some(token) = SignedIn::csrf_token(&request.get_session()) {
        return (token, None);
    }
    if let Some(cookie) = request.cookie(csrf::PRESESSION_COOKIE)
        && !cookie.value().is_empty()
    {
        return (cookie.value().to_owned(), None);
    }
    let token = csrf::new_token();
    let cookie = Cookie::build(csrf::PRESESSION_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .finish();
    (token, Some(cookie))
}

fn login_page(
    status: StatusCode,
    request: &HttpRequest,
    state: &AppState,
    username: &str,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (token, cookie) = form_token(request, state);
    let layout = SignedIn::read(&request.get_session())
        .map(|s| s.layout())
        .unwrap_or_else(Layout::anonymous);
    let body = LoginPage {
        layout,
        form_token: &token,
        username,
        problem,
    }
    .render()?;
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    Ok(response.body(body))
}

#[get("/login")]
async fn show(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    login_page(StatusCode::OK, &request, &state, "", None)
}

#[post("/login")]
async fn submit(
    request: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let LoginForm { username, password } = form.into_inner();
    let address = crate::auth::extract::client_address(&request);
    let given = Credentials {
        username: username.clone(),
        password,
    };
    match authenticate::check_password(&state.pool, &state.login_gate, None, given, address.clone())
        .await?
    {
        Ok(user) => {
            let user_agent = request
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let signed_in = SignedIn::begin(&session, &user, &address, user_agent)
                .map_err(AppError::internal)?;
            tracing::info!(user = %signed_in.username, "logged in");
            let mut response = see_other(landing(signed_in.role));
            let mut spent = Cookie::build(csrf::PRESESSION_COOKIE, "")
                .path("/")
                .finish();
            spent.make_removal();
            response.add_cookie(&spent).map_err(AppError::internal)?;
            Ok(response)
        }
        Err(Refused::WrongCredentials) => login_page(
            StatusCode::UNAUTHORIZED,
            &request,
            &state,
            &username,
            Some(WRONG_CREDENTIALS.into()),
        ),
        Err(Refused::Locked(locked)) => {
            let refusal = AppError::TooManyRequests {
                retry_after_secs: locked.retry_after_secs,
            };
            let mut response = login_page(
                StatusCode::TOO_MANY_REQUESTS,
                &request,
                &state,
                &username,
                Some(refusal.reason()),
            )?;
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(locked.retry_after_secs),
            );
            Ok(response)
        }
    }
}

#[post("/logout")]
async fn logout(session: Session) -> HttpResponse {
    session.purge();
    see_other("/")
}
