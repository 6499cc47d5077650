//! Admin pages that provision: customers and their logins, servers, containers and platform
//! distros. Each form posts to itself; a refusal shows the form again with what was typed and
//! the reason, and every change goes through `ops::provision` with its audit entry.

pub mod containers;
pub mod customers;
pub mod distros;
pub mod servers;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use askama::Template;

use crate::error::Error;
use crate::web::error::AppError;
use crate::web::render::Layout;

/// A refusal shown above a form that keeps what was typed: the status and each reason.
pub struct Problem {
    pub status: StatusCode,
    pub reasons: Vec<String>,
}

/// The refusals a form shows again; anything else is the error page.
pub fn problem(error: Error) -> Result<Problem, AppError> {
    match AppError::from(error) {
        AppError::Invalid(fields) => Ok(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            reasons: fields
                .into_iter()
                .map(|(field, why)| format!("{}: {why}", label(&field)))
                .collect(),
        }),
        refused @ (AppError::Conflict(_) | AppError::Raced(_) | AppError::Forbidden(_)) => {
            Ok(Problem {
                status: refused.status(),
                reasons: vec![refused.reason()],
            })
        }
        other => Err(other),
    }
}

/// A form field's name as its label says it.
fn label(field: &str) -> String {
    match field {
        "company" => "Company".into(),
        "vat" => "VAT number".into(),
        "username" => "Username".into(),
        "email" => "E-mail".into(),
        "name" => "Name".into(),
        "address" => "Address".into(),
        "memory" => "Memory (MB)".into(),
        "storage" => "Storage (MB)".into(),
        "distro" => "Default distro".into(),
        "customer" => "Customer".into(),
        "server" => "Server".into(),
        "path" => "Path".into(),
        "note" => "Note".into(),
        "role" => "Role".into(),
        "password" => "Password".into(),
        other if other.starts_with("email.") => "E-mail".into(),
        other => other.into(),
    }
}

/// Renders `page` with `status`.
pub fn page_with<T: Template>(
    status: StatusCode,
    page: &T,
) -> Result<actix_web::HttpResponse, AppError> {
    Ok(actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

/// A number typed in a form: empty is `None` when `optional`, else a refusal of the field.
pub fn whole_number(
    errors: &mut crate::domain::fields::FieldErrors,
    field: &str,
    raw: &str,
    optional: bool,
) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        if !optional {
            errors.add(field, "is required");
        }
        return None;
    }
    match raw.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(field, "must be a whole number of megabytes");
            None
        }
    }
}

/// The panel's own address, for a link staff hand over.
pub fn absolute(request: &HttpRequest, path: &str) -> String {
    let info = request.connection_info();
    format!("{}://{}{path}", info.scheme(), info.host())
}

/// A secret shown once: a set-password link or a server token.
#[derive(Template)]
#[template(path = "staff/secret.html")]
pub struct SecretPage {
    pub layout: Layout,
    pub title: String,
    pub lead: String,
    pub secret: String,
    pub back: String,
    pub back_label: String,
}

/// The page showing a new set-password link once.
pub fn link_page(
    layout: Layout,
    request: &HttpRequest,
    username: &str,
    link: &crate::ops::provision::LinkSecret,
    expires_at: chrono::DateTime<chrono::Utc>,
    back: String,
    back_label: &str,
) -> Result<actix_web::HttpResponse, AppError> {
    page_with(
        StatusCode::OK,
        &SecretPage {
            layout,
            title: format!("Set-password link for {username}"),
            lead: format!(
                "Give this link to {username}: it is shown only this once, works once, and \
                 expires on {}. Through it they choose their password (at least 8 \
                 characters) and can then log in. An earlier link of theirs no longer works.",
                expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
            secret: absolute(request, &link.path()),
            back,
            back_label: back_label.into(),
        },
    )
}

/// One option of a menu.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}
