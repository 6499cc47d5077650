//! Queries grouped by aggregate. Each function takes a `&mut PgConnection` and returns
//! `QueryResult`, so callers choose the transaction.

pub mod alarms;
pub mod api_jobs;
pub mod api_tokens;
pub mod audit;
pub mod container_pages;
pub mod containers;
pub mod custom_distros;
pub mod customers;
pub mod dashboard;
pub mod distro_jobs;
pub mod distros;
pub mod events;
pub mod fair_use;
pub mod host_alarms;
pub mod host_facts;
pub mod host_reports;
pub mod image_uploads;
pub mod images;
pub mod jobs;
pub mod login_attempts;
pub mod metrics;
pub mod overview;
pub mod server_tokens;
pub mod servers;
pub mod sessions;
pub mod staff_search;
pub mod staff_views;
pub mod users;
