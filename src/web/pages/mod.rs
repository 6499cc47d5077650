//! Customer screens, one file per screen.

pub mod containers;
pub mod distros;
pub mod home;
pub mod login;
pub mod settings;
