//! `/distros`: the signed-in customer's custom distros, by storage container ([`list`]), one
//! distro with its forms ([`detail`]) and putting an image into it ([`image`]). Every form
//! works without JavaScript (POST, then 303 back with a short notice); a refusal shows the
//! page again with the reason and changes nothing.

mod detail;
mod image;
mod install;
mod list;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::models::custom_distro::CustomDistro;
use crate::web::error::AppError;
use crate::web::pages::settings::when;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list::list)
        .service(list::create)
        .service(detail::show)
        .service(detail::update)
        .service(detail::delete)
        .service(image::upload)
        .service(image::unpack)
        .service(image::fetch)
        .service(image::rollback)
        .service(image::check)
        .service(install::cancel);
}

/// `?done=…` after a redirect: what just succeeded, so the page can say so.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    done: String,
}

fn checked_at(distro: &CustomDistro) -> String {
    distro
        .checked_at
        .map(when)
        .unwrap_or_else(|| "never".into())
}

fn page(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A refusal the page shows with its reason; anything else is an error page.
fn shown_refusal(error: AppError) -> Result<(StatusCode, String), AppError> {
    match error {
        AppError::Invalid(_)
        | AppError::Conflict(_)
        | AppError::Raced(_)
        | AppError::PayloadTooLarge(_)
        | AppError::UnsupportedMediaType(_)
        | AppError::BadRequest(_)
        | AppError::Forbidden(_) => Ok((error.status(), crate::web::words::plain(&error.reason()))),
        other => Err(other),
    }
}
