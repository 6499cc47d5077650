//! The JSON API under `/api`, wire-compatible with uwsgi.it. One module per resource; each
//! registers its routes in [`configure`].

pub mod tokens;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(tokens::configure);
}
