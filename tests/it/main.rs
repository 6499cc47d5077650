//! Integration tests: the real app, real HTTP, a fresh PostgreSQL database per test.

mod helpers;

mod api_alarms;
mod api_client;
mod api_containers;
mod api_conventions;
mod api_custom_distros;
mod api_fuzz;
mod api_images;
mod api_jobs;
mod api_me;
mod api_snapshots;
mod api_statements;
mod api_tenancy;
mod bootstrap;
mod browser;
mod cli;
mod fair_use;
mod health;
mod host_emperor;
mod host_executor;
mod host_fixtures;
mod host_hostile_archives;
mod host_private;
mod host_safety;
mod host_ssh_keys;
mod host_vassal_proofs;
mod images;
mod jobs_crash;
mod jobs_queue;
mod pages_containers;
mod pages_distros;
mod personas;
mod schema_rules;
mod staff_jobs;
mod staff_views;
mod stories;

mod auth_api;
mod auth_browser;
mod auth_csrf;
mod auth_login;
mod auth_staff;
mod auth_tenancy;
mod jobs_bench;
mod jobs_serve;
