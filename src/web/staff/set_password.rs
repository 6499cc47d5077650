//! `GET/POST /set-password/{token}`: the public page of a one-time link, where a new login
//! (or one staff reset) chooses its password. A used, expired or unknown link shows why and
//! changes nothing. The password is hashed off the actix workers, in one of the login gate's
//! slots, and only after the link proved valid.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::auth::basic::CredentialCache;
use crate::auth::password;
use crate::db;
use crate::domain::provision::LinkRefusal;
use crate::domain::values::Password;
use crate::error::Error;
use crate::ops::provision;
use crate::web::error::AppError;
use crate::web::pages::login::form_token;
use crate::web::render::Layout;

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    form_token: String,
    /// The form's action.
    action: String,
    username: String,
    /// Why the link does not work; no form then.
    refused: Option<&'static str>,
    problem: Option<String>,
    /// The password was set.
    done: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetPasswordForm {
    password: String,
    password_again: String,
}

fn status_of(refusal: LinkRefusal) -> StatusCode {
    match refusal {
        LinkRefusal::Unknown => StatusCode::NOT_FOUND,
        LinkRefusal::Used | LinkRefusal::Expired => StatusCode::GONE,
    }
}

fn render(
    request: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    mut page: SetPasswordPage,
) -> Result<HttpResponse, AppError> {
    let (token, cookie) = form_token(request, state);
    page.form_token = token;
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "same-origin"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    Ok(response.body(page.render()?))
}

fn blank(token: &str) -> SetPasswordPage {
    SetPasswordPage {
        layout: Layout::anonymous(),
        form_token: String::new(),
        action: format!("/set-password/{token}"),
        username: String::new(),
        refused: None,
        problem: None,
        done: false,
    }
}

#[get("/set-password/{token}")]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let secret = token.clone();
    let holder = db::run(&state.pool, move |conn| {
        provision::link_holder(conn, &secret)
    })
    .await?;
    let mut page = blank(&token);
    let status = match holder {
        Ok(user) => {
            page.username = user.username;
            StatusCode::OK
        }
        Err(refusal) => {
            page.refused = Some(refusal.sentence());
            status_of(refusal)
        }
    };
    render(&request, &state, status, page)
}

#[post("/set-password/{token}")]
pub async fn submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<SetPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let form = form.into_inner();
    let secret = token.clone();
    let holder = db::run(&state.pool, move |conn| {
        provision::link_holder(conn, &secret)
    })
    .await?;
    let mut page = blank(&token);
    let user = match holder {
        Ok(user) => user,
        Err(refusal) => {
            page.refused = Some(refusal.sentence());
            return render(&request, &state, status_of(refusal), page);
        }
    };
    page.username = user.username.clone();
    let checked = match Password::parse(&form.password) {
        Ok(_) if form.password != form.password_again => {
            Err("The two passwords differ; type the same one twice.".to_owned())
        }
        Ok(password) => Ok(password),
        Err(why) => Err(format!("Password: {why}.")),
    };
    let password = match checked {
        Ok(password) => password,
        Err(problem) => {
            page.problem = Some(problem);
            return render(&request, &state, StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let Ok(slot) = state.login_gate.slot().await else {
        return Err(Error::Busy {
            retry_after_secs: crate::auth::throttle::BUSY_RETRY_AFTER_SECS,
        }
        .into());
    };
    let hash = password::hash_off_worker(password).await;
    drop(slot);
    let address = crate::auth::extract::client_address(&request);
    let secret = token.clone();
    let used = db::run(&state.pool, move |conn| {
        provision::use_link(conn, &secret, &hash, &address)
    })
    .await?;
    match used {
        Ok(user) => {
            if let Some(cache) = request.app_data::<web::Data<CredentialCache>>() {
                cache.forget_user(user.id);
            }
            tracing::info!(user = %user.username, "password set through a one-time link");
            page.done = true;
            render(&request, &state, StatusCode::OK, page)
        }
        Err(refusal) => {
            page.refused = Some(refusal.sentence());
            render(&request, &state, status_of(refusal), page)
        }
    }
}
