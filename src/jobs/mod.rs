//! Durable jobs: what must happen on a container host after a state change.
//!
//! A change that needs the host writes a job row in its own transaction
//! ([`crate::db::queries::jobs::enqueue`], with a [`NewJob`] from the builders here). Workers
//! ([`worker::Worker`]) claim jobs, run them through the [`crate::host::HostExecutor`]
//! ([`run::Runner`]), and record every step in the operation log. Jobs are idempotent: a
//! worker that dies half-way leaves a job another worker takes again when the lease expires.

pub mod queue;
pub mod run;
pub mod worker;

use serde::{Deserialize, Serialize};

use crate::db::models::container::Container;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::{Job, JobKind, NewJob};
use crate::db::queries::host_facts::ContainerFacts;
use crate::domain::ids::{ContainerId, CustomerId, ServerId};
use crate::domain::values::{DistroPath, Uid};
use crate::host::ImageRef;
use crate::host::vassal::{Boot, VassalSpec};

/// A job, parsed: what to do, with validated arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Re-render the container's vassal from its current state; the Emperor restarts it.
    Restart(ContainerId),
    /// Create `distros/` in a storage container's home.
    EnsureStorageDir(ContainerId),
    /// Rename `distros/<from>` to `distros/<to>` in a storage container.
    RenameImage {
        storage: ContainerId,
        from: DistroPath,
        to: DistroPath,
    },
    /// Delete `distros/<path>` of a storage container.
    PurgeImage {
        storage: ContainerId,
        path: DistroPath,
    },
}

/// The kinds this crate's worker runs; other kinds wait for a worker that knows them.
pub const HANDLED_KINDS: [JobKind; 4] = [
    JobKind::Restart,
    JobKind::EnsureStorageDir,
    JobKind::RenameImage,
    JobKind::PurgeImage,
];

#[derive(Debug, Serialize, Deserialize)]
struct RenamePayload {
    from: String,
    to: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PurgePayload {
    path: String,
}

impl Task {
    /// Reads a job row; a row no worker could run (unknown kind, bad payload) is an error
    /// that retrying cannot fix.
    pub fn parse(job: &Job) -> Result<Self, String> {
        let container = job
            .container_id
            .ok_or_else(|| format!("a {} job needs a container", job.kind))?;
        let path = |raw: &str| DistroPath::parse(raw).map_err(|e| format!("{raw:?}: {e}"));
        let payload = |what: &str| format!("the payload of a {what} job is not valid");
        match job.kind.as_str() {
            "restart" => Ok(Task::Restart(container)),
            "ensure_storage_dir" => Ok(Task::EnsureStorageDir(container)),
            "rename_image" => {
                let p: RenamePayload =
                    serde_json::from_value(job.payload.clone()).map_err(|_| payload("rename"))?;
                Ok(Task::RenameImage {
                    storage: container,
                    from: path(&p.from)?,
                    to: path(&p.to)?,
                })
            }
            "purge_image" => {
                let p: PurgePayload =
                    serde_json::from_value(job.payload.clone()).map_err(|_| payload("purge"))?;
                Ok(Task::PurgeImage {
                    storage: container,
                    path: path(&p.path)?,
                })
            }
            other => Err(format!("this worker does not run {other} jobs")),
        }
    }
}

/// The container a job acts on, with the customer and server it belongs to. A custom distro
/// names its storage container the same way.
#[derive(Debug, Clone, Copy)]
pub struct JobTarget {
    pub container: ContainerId,
    pub customer: CustomerId,
    pub server: ServerId,
}

impl From<&Container> for JobTarget {
    fn from(c: &Container) -> Self {
        Self {
            container: c.id,
            customer: c.customer_id,
            server: c.server_id,
        }
    }
}

impl From<&CustomDistro> for JobTarget {
    fn from(d: &CustomDistro) -> Self {
        Self {
            container: d.container_id,
            customer: d.customer_id,
            server: d.server_id,
        }
    }
}

fn job_for(
    target: impl Into<JobTarget>,
    kind: JobKind,
    payload: serde_json::Value,
) -> NewJob<'static> {
    let target = target.into();
    NewJob {
        kind: kind.as_str(),
        container_id: Some(target.container),
        customer_id: Some(target.customer),
        server_id: target.server,
        payload,
    }
}

/// Restart `container` (collapses with a restart already waiting).
pub fn restart(container: impl Into<JobTarget>) -> NewJob<'static> {
    job_for(container, JobKind::Restart, serde_json::json!({}))
}

/// Create `distros/` in the home of a storage container.
pub fn ensure_storage_dir(container: impl Into<JobTarget>) -> NewJob<'static> {
    job_for(container, JobKind::EnsureStorageDir, serde_json::json!({}))
}

/// Rename an image directory of a storage container.
pub fn rename_image(
    storage: impl Into<JobTarget>,
    from: &DistroPath,
    to: &DistroPath,
) -> NewJob<'static> {
    let payload = RenamePayload {
        from: from.to_string(),
        to: to.to_string(),
    };
    job_for(
        storage,
        JobKind::RenameImage,
        serde_json::to_value(payload).expect("plain strings serialise"),
    )
}

/// Delete an image directory of a storage container.
pub fn purge_image(storage: impl Into<JobTarget>, path: &DistroPath) -> NewJob<'static> {
    let payload = PurgePayload {
        path: path.to_string(),
    };
    job_for(
        storage,
        JobKind::PurgeImage,
        serde_json::to_value(payload).expect("plain strings serialise"),
    )
}

/// The default distro and the mapped custom distro image of a container, parsed.
pub fn boot_inputs(
    facts: &ContainerFacts,
    base_uid: u32,
) -> Result<(Option<DistroPath>, Option<ImageRef>), String> {
    let parse = |raw: &str| DistroPath::parse(raw).map_err(|e| format!("distro path {raw:?}: {e}"));
    let distro = facts.distro_path.as_deref().map(parse).transpose()?;
    let image = match &facts.custom {
        Some((storage, path)) => Some(ImageRef {
            storage_uid: Uid::of(base_uid, *storage),
            path: parse(path)?,
        }),
        None => None,
    };
    Ok((distro, image))
}

/// What the vassal of a container says, once the root filesystem is decided.
pub fn vassal_spec(facts: &ContainerFacts, base_uid: u32, boot: Boot) -> VassalSpec {
    let mut spec = VassalSpec::new(Uid::of(base_uid, facts.id), boot)
        .with_ssh_keys(facts.ssh_keys.iter().flatten().cloned());
    spec.memory_mb = facts.memory_mb;
    spec.storage_mb = facts.storage_mb;
    spec.alarm_freq = facts.alarm_freq;
    spec.storage = facts.custom_distros_storage;
    spec.nofollow = facts.nofollow;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{JobId, ServerId};

    fn job(kind: &str, payload: serde_json::Value) -> Job {
        let now = chrono::Utc::now();
        Job {
            id: JobId(1),
            kind: kind.into(),
            container_id: Some(ContainerId(2)),
            customer_id: None,
            server_id: ServerId(1),
            payload,
            state: "queued".into(),
            attempts: 0,
            max_attempts: 5,
            run_after: now,
            locked_by: None,
            locked_until: None,
            error: None,
            report: serde_json::json!([]),
            created_at: now,
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_job_row_parses_into_a_task_with_safe_paths_or_is_refused() {
        let rename = job("rename_image", serde_json::json!({"from": "a", "to": "b"}));
        assert!(matches!(Task::parse(&rename), Ok(Task::RenameImage { .. })));
        for payload in [
            serde_json::json!({"from": "../../etc", "to": "b"}),
            serde_json::json!({"from": "a", "to": "/"}),
            serde_json::json!({"from": "a"}),
            serde_json::json!("a"),
        ] {
            assert!(
                Task::parse(&job("rename_image", payload.clone())).is_err(),
                "{payload}"
            );
        }
        assert!(Task::parse(&job("purge_image", serde_json::json!({"path": ".."}))).is_err());
        assert!(Task::parse(&job("unpack_image", serde_json::json!({}))).is_err());
        let mut orphan = job("restart", serde_json::json!({}));
        orphan.container_id = None;
        assert!(Task::parse(&orphan).is_err());
    }
}
