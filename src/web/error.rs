//! Error policy.
//!
//! The layers below answer a [`crate::error::Error`], which says what happened and nothing of
//! how to say it; here it becomes an [`AppError`] and is worded for its audience.
//! Handlers return `AppError` (pages) or `ApiError` (the JSON API); both carry the same closed
//! set of cases, so a refusal means the same thing in the browser and over the API.
//! - A missing id and someone else's id are one case, `NotFound`: the caller cannot tell them
//!   apart (404 page; 403 `{"error":"Forbidden"}` in the API, as uwsgi.it answers).
//! - 4xx bodies say what was wrong and what to do. 5xx bodies are opaque: the cause is logged
//!   with the request id and never sent to the client.
//! - `db/` returns `QueryResult`; a database error that reaches a handler unmapped is a 500,
//!   and an unreachable database is a 503.

use std::fmt;

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde_json::json;

use crate::auth::guard::SignedIn;
use crate::db::Unavailable;
use crate::domain::fields::FieldErrors;
use crate::domain::refusal::{Race, Refusal, RefusalKind};
use crate::error::Error;

#[derive(Debug)]
pub enum AppError {
    /// Not there, or not the caller's.
    NotFound,
    /// Authenticated, but the rules refuse it (e.g. a customer on a staff page is NotFound instead).
    Forbidden(String),
    Unauthorized,
    /// The body or query could not be read at all.
    BadRequest(String),
    /// Readable, but fields are invalid: field name → what is wrong.
    Invalid(Vec<(String, String)>),
    /// Clashes with what is stored (duplicates, rules that name blocking containers).
    Conflict(String),
    /// A rule the database enforced against a change made meanwhile; worded per audience.
    Raced(Race),
    /// Over a size limit; the reason says which and what to do.
    PayloadTooLarge(String),
    /// A body of a kind that is not taken; the reason says what is.
    UnsupportedMediaType(String),
    MethodNotAllowed,
    /// Over a quota on the shared parts; the reason names it and says what to do.
    OverQuota(String),
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// Too many password checks under way; try again shortly.
    Busy {
        retry_after_secs: u64,
    },
    /// The database cannot be reached.
    Unavailable,
    Internal(anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, message: impl fmt::Display) -> Self {
        AppError::Invalid(vec![(field.to_owned(), message.to_string())])
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) | AppError::Raced(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::TooManyRequests { .. } | AppError::OverQuota(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Busy { .. } | AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the user is told. Never the internal cause.
    pub fn reason(&self) -> String {
        match self {
            AppError::NotFound => "There is nothing here, or it is not yours.".into(),
            AppError::Forbidden(why)
            | AppError::BadRequest(why)
            | AppError::Conflict(why)
            | AppError::OverQuota(why)
            | AppError::PayloadTooLarge(why)
            | AppError::UnsupportedMediaType(why) => why.clone(),
            AppError::Raced(race) => race_on_page(*race).into(),
            AppError::Unauthorized => "Log in first.".into(),
            AppError::Invalid(fields) => fields
                .iter()
                .map(|(field, why)| format!("{field}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
            AppError::MethodNotAllowed => "This address does not take that method.".into(),
            AppError::TooManyRequests { retry_after_secs } => {
                format!("Too many attempts; try again in {retry_after_secs} seconds.")
            }
            AppError::Busy { retry_after_secs } => format!(
                "Too many passwords are being checked right now; try again in \
                 {retry_after_secs} seconds."
            ),
            AppError::Unavailable => "The database is unavailable; try again shortly.".into(),
            AppError::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            AppError::Unavailable => tracing::warn!("database unavailable"),
            _ => {}
        }
    }

    fn decorate(&self, response: &mut HttpResponse) {
        if let AppError::TooManyRequests { retry_after_secs } | AppError::Busy { retry_after_secs } =
            self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Internal(cause) => write!(f, "internal error: {cause:#}"),
            other => write!(f, "{}: {}", other.status(), other.reason()),
        }
    }
}

impl From<Unavailable> for AppError {
    fn from(unavailable: Unavailable) -> Self {
        Error::from(unavailable).into()
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        match error {
            Error::Refused(refusal) => refusal.into(),
            Error::Raced(race) => AppError::Raced(race),
            Error::Invalid(fields) => fields.into(),
            Error::NotFound => AppError::NotFound,
            Error::Conflict(why) => AppError::Conflict(why),
            Error::JobPending { reason, .. } => AppError::Conflict(reason),
            Error::OverQuota(why) => AppError::OverQuota(why),
            Error::TooLarge(why) => AppError::PayloadTooLarge(why),
            Error::Unreadable(why) => AppError::BadRequest(why),
            Error::Unsupported(why) => AppError::UnsupportedMediaType(why),
            Error::Unauthorized => AppError::Unauthorized,
            Error::Forbidden(why) => AppError::Forbidden(why),
            Error::TooManyRequests { retry_after_secs } => {
                AppError::TooManyRequests { retry_after_secs }
            }
            Error::Busy { retry_after_secs } => AppError::Busy { retry_after_secs },
            Error::Unavailable => AppError::Unavailable,
            Error::Internal(cause) => AppError::Internal(cause),
        }
    }
}

/// A refusal of the rules as the API and the pages see it.
impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal.kind() {
            RefusalKind::NotFound => AppError::NotFound,
            RefusalKind::Forbidden => AppError::Forbidden(refusal.reason()),
            RefusalKind::Conflict => AppError::Conflict(refusal.reason()),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(fields: FieldErrors) -> Self {
        AppError::Invalid(fields.into_pairs())
    }
}

/// A race, as the pages say it: in terms of what the user sees on screen.
fn race_on_page(race: Race) -> &'static str {
    match race {
        Race::CustomDistroGone => {
            "That custom distro is not stored on this container's server, or is gone; reload \
             and choose another."
        }
        Race::StorageWithCustomDistro => {
            "A storage container cannot use a custom distro; boot the default distro first."
        }
        other => race_in_api(other),
    }
}

/// A race, as the API says it: in terms of its fields and addresses.
fn race_in_api(race: Race) -> &'static str {
    match race {
        Race::StorageChanged => {
            "The container stores custom distros, or stopped being a storage container \
             meanwhile; reload and try again."
        }
        Race::CustomDistroGone => {
            "That custom distro is not stored on this container's server, or is gone; choose \
             one from GET /api/custom_distros/<uid>."
        }
        Race::StorageWithCustomDistro => {
            "A storage container cannot use a custom distro; set custom_distro to null first."
        }
        Race::NoFallback => {
            "The container has no default distro to fall back to; set distro first."
        }
        Race::DuplicateName => {
            "That storage container already holds a custom distro with this name; choose \
             another."
        }
        Race::DuplicatePath => {
            "That storage container already holds a custom distro with this path; choose \
             another."
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        AppError::Internal(error.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: crate::web::render::Layout,
    status: u16,
    title: &'a str,
    reason: String,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        self.page(crate::web::render::Layout::anonymous())
    }
}

impl AppError {
    /// The error page, around `layout`.
    fn page(&self, layout: crate::web::render::Layout) -> HttpResponse {
        let status = self.status();
        let page = ErrorPage {
            layout,
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            reason: self.reason(),
        };
        let body = page.render().unwrap_or_else(|_| self.reason());
        let mut response = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body);
        self.decorate(&mut response);
        response
    }
}

/// Error pages are rendered where no request is at hand, so they start signed out; for a
/// signed-in user this renders the page again inside their own layout (their name, their
/// links, their CSRF token for logging out).
pub async fn signed_in_error_pages(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(request).await?.map_into_boxed_body();
    let error = response.response().error().and_then(|e| {
        e.as_error::<AppError>()
            .or_else(|| match e.as_error::<crate::web::extract::Denied>() {
                Some(crate::web::extract::Denied::Page(page)) => Some(page),
                _ => None,
            })
    });
    let Some(error) = error else {
        return Ok(response);
    };
    let Some(signed_in) = SignedIn::read(&response.request().get_session()) else {
        return Ok(response);
    };
    let page = error.page(signed_in.layout());
    Ok(response.into_response(page))
}

/// The same cases, rendered as uwsgi.it JSON: `{"error": ..., "reason": ...}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ApiError {
    fn wire_status(&self) -> StatusCode {
        match self.0 {
            // uwsgi.it answers 403 for ids that are missing or not the caller's
            AppError::NotFound => StatusCode::FORBIDDEN,
            ref other => other.status(),
        }
    }

    fn wire_error(&self) -> &'static str {
        match self.0 {
            AppError::NotFound | AppError::Forbidden(_) => "Forbidden",
            AppError::Unauthorized => "Unauthorized",
            AppError::BadRequest(_) => "Bad request",
            AppError::Invalid(_) => "Unprocessable entity",
            AppError::Conflict(_) | AppError::Raced(_) => "Conflict",
            AppError::PayloadTooLarge(_) => "Request entity too large",
            AppError::UnsupportedMediaType(_) => "Unsupported media type",
            AppError::MethodNotAllowed => "Method not allowed",
            AppError::TooManyRequests { .. } | AppError::OverQuota(_) => "Too many requests",
            AppError::Busy { .. } | AppError::Unavailable => "Service unavailable",
            AppError::Internal(_) => "Internal server error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.wire_status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let reason = match &self.0 {
            AppError::Raced(race) => race_in_api(*race).to_owned(),
            other => other.reason(),
        };
        let mut body = json!({ "error": self.wire_error(), "reason": reason });
        if let AppError::Invalid(fields) = &self.0 {
            body["fields"] = fields
                .iter()
                .map(|(field, why)| (field.clone(), json!(why)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        let mut response = HttpResponse::build(self.wire_status()).json(body);
        if let AppError::Unauthorized = self.0 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"distropanel\""),
            );
        }
        self.0.decorate(&mut response);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_body(error: Error) -> serde_json::Value {
        let response = ApiError::from(error).error_response();
        let body = actix_web::body::to_bytes(response.into_body());
        let bytes = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_race_is_worded_for_the_api_in_its_terms_and_for_the_pages_in_theirs() {
        let body = api_body(Error::Raced(Race::CustomDistroGone));
        assert_eq!(body["error"], "Conflict");
        assert_eq!(
            body["reason"],
            "That custom distro is not stored on this container's server, or is gone; choose one \
             from GET /api/custom_distros/<uid>."
        );
        let page = AppError::from(Error::Raced(Race::CustomDistroGone));
        assert_eq!(page.status(), StatusCode::CONFLICT);
        assert!(!page.reason().contains("/api/"), "{}", page.reason());
    }

    #[test]
    fn a_panic_in_a_database_task_is_a_500_and_an_outage_a_503() {
        let panicked = AppError::from(Unavailable::Panicked("boom".into()));
        assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let outage = AppError::from(Unavailable::Cancelled("shutdown".into()));
        assert_eq!(outage.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
