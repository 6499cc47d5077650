//! The JSON API under `/api`, wire-compatible with uwsgi.it. One module per resource; each
//! registers its routes in [`configure`].

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
