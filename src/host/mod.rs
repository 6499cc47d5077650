//! Everything that touches a container host's files. Nothing outside this module does.

pub mod check;
pub mod image;
pub mod report;
pub mod sample_image;
pub mod unpack;
