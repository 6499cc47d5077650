use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomerId, JobId, ServerId};

/// What a job does on the host; the `jobs.kind` CHECK lists the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Restart,
    EnsureStorageDir,
    UnpackImage,
    FetchImage,
    CheckImage,
    RollbackImage,
    RenameImage,
    PurgeImage,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Restart => "restart",
            JobKind::EnsureStorageDir => "ensure_storage_dir",
            JobKind::UnpackImage => "unpack_image",
            JobKind::FetchImage => "fetch_image",
            JobKind::CheckImage => "check_image",
            JobKind::RollbackImage => "rollback_image",
            JobKind::RenameImage => "rename_image",
            JobKind::PurgeImage => "purge_image",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub container_id: Option<ContainerId>,
    pub customer_id: Option<CustomerId>,
    pub server_id: ServerId,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub report: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub container_id: Option<ContainerId>,
    pub customer_id: Option<CustomerId>,
    pub server_id: ServerId,
    pub payload: serde_json::Value,
}
