//! Who is asking: passwords, and (with the identity work) sessions, tokens and roles.

pub mod password;
