//! Integration tests: the real app, real HTTP, a fresh PostgreSQL database per test.

mod helpers;

mod cli;
mod health;
mod schema_rules;
mod host_executor;
mod host_fixtures;
mod jobs_queue;
mod jobs_crash;
mod host_emperor;
mod host_private;
