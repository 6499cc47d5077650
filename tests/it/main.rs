//! Integration tests: the real app, real HTTP, a fresh PostgreSQL database per test.

mod helpers;

mod bootstrap;
mod browser;
mod cli;
mod health;
mod images;
mod schema_rules;
