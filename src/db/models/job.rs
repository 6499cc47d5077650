//! A row of `jobs`, what an enqueue inserts, and the kinds of job, stored as text.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomerId, JobId, ServerId};

/// What a job does on the host. Stored as its snake_case name (the `jobs.kind` CHECK lists
/// the same names), which is also how the API and the logs show it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = Text)]
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
    pub const ALL: [JobKind; 8] = [
        JobKind::Restart,
        JobKind::EnsureStorageDir,
        JobKind::UnpackImage,
        JobKind::FetchImage,
        JobKind::CheckImage,
        JobKind::RollbackImage,
        JobKind::RenameImage,
        JobKind::PurgeImage,
    ];

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

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `jobs.kind` that names no [`JobKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no job kind is called {0:?}")]
pub struct UnknownJobKind(pub String);

impl FromStr for JobKind {
    type Err = UnknownJobKind;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| UnknownJobKind(raw.to_owned()))
    }
}

impl ToSql<Text, Pg> for JobKind {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for JobKind {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let raw = <String as FromSql<Text, Pg>>::from_sql(value)?;
        Ok(raw.parse()?)
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
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
    /// When a restart's new vassal was renamed into place.
    pub vassal_written_at: Option<DateTime<Utc>>,
    /// How far a running install has got: `{"phase", "done", "total", ...}`.
    pub progress: Option<serde_json::Value>,
    /// Its owner asked it to stop; it does at its next progress write.
    pub cancel_requested: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub kind: JobKind,
    pub container_id: Option<ContainerId>,
    pub customer_id: Option<CustomerId>,
    pub server_id: ServerId,
    pub payload: serde_json::Value,
}
