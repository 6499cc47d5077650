//! Row structs, one file per table: what a query returns and what an insert takes.

pub mod alarm;
pub mod api_token;
pub mod container;
pub mod custom_distro;
pub mod customer;
pub mod distro;
pub mod event;
pub mod job;
pub mod server;
pub mod session;
pub mod user;
