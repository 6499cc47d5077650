//! Customer screens, one file per screen.

pub mod alarms;
pub mod containers;
pub mod dashboard;
pub mod distros;
pub mod home;
pub mod login;
pub mod settings;
