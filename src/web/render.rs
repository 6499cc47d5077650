//! Rendering askama templates into responses, and what every page's layout needs.

use actix_web::HttpResponse;
use askama::Template;

use crate::web::error::AppError;

/// What the base layout shows around every page.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The logged-in user's name, if any.
    pub username: Option<String>,
    pub is_staff: bool,
    /// The session's CSRF token, sent by forms and by htmx.
    pub csrf_token: String,
}

impl Layout {
    pub fn anonymous() -> Self {
        Self::default()
    }
}

pub fn html<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}
