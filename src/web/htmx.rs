//! htmx requests: how to tell them from a browser's own, and the part of a page they get.
//! A page's template names its swappable parts as blocks; htmx gets the block, everyone else
//! the page, so every form works without JavaScript.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::web::error::AppError;

/// Sent by htmx on its own requests, and by nothing else.
pub fn is_htmx(request: &HttpRequest) -> bool {
    let headers = request.headers();
    // restoring history after a cache miss needs the whole page
    headers.contains_key("HX-Request") && !headers.contains_key("HX-History-Restore-Request")
}

/// The whole `page`, or only `block` (one of its blocks) when htmx asks for it. Never
/// stored, and caches are told that the answer depends on `HX-Request`.
pub fn page_or_block(
    request: &HttpRequest,
    status: StatusCode,
    page: &impl Template,
    block: &impl Template,
) -> Result<HttpResponse, AppError> {
    let body = if is_htmx(request) {
        block.render()?
    } else {
        page.render()?
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "HX-Request"))
        .body(body))
}
