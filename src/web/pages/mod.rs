//! Customer screens, one file per screen.

pub mod home;
