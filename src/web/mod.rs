//! The HTTP layer: customer pages, staff pages, the JSON API, errors and static assets.
//! Handlers call domain, db and jobs; they never touch host files.

mod actor;
pub mod api;
pub mod assets;
pub mod confirm;
pub mod container_lists;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod head;
pub mod health;
pub mod htmx;
pub mod image_install;
pub mod metrics;
pub mod multipart;
pub mod pages;
pub mod path;
pub mod private;
pub mod render;
pub mod request_spans;
pub mod staff;
pub mod user_agent;
pub mod words;
