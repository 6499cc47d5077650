//! Pure rules and validated types. Nothing here touches the database, the network or files.

pub mod archive_format;
pub mod authorized_key;
pub mod commands;
pub mod fields;
pub mod ids;
pub mod image_source;
pub mod policy;
pub mod provision;
pub mod refusal;
pub mod search;
pub mod staff_role;
pub mod values;
