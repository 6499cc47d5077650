//! Who is asking: passwords, sessions, tokens and roles.

pub mod guard;
pub mod password;
