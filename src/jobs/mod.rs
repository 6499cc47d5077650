//! Durable jobs: what must happen on a container host after a state change.
//!
//! A change that needs the host writes a job row in its own transaction
//! ([`crate::db::queries::jobs::enqueue`], with a [`NewJob`] from the builders here). Workers
//! ([`worker::Worker`]) claim jobs, run them through the [`crate::host::HostExecutor`]
//! ([`run::Runner`]), and record every step in the operation log. Jobs are idempotent: a
//! worker that dies half-way leaves a job another worker takes again when the lease expires.

pub mod maintenance;
pub mod queue;
pub mod report;
pub mod run;
pub mod worker;

use serde::{Deserialize, Serialize};

use crate::config::JobDeadlines;
use crate::db::models::container::Container;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::{Job, JobKind, NewJob};
use crate::db::queries::host_facts::ContainerFacts;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, ServerId, UploadId};
use crate::domain::image_source::{FetchUrl, HomeFile, Sha256Hex};
use crate::domain::values::{DistroPath, Invalid, Uid};
use crate::host::ImageRef;
use crate::host::deadline::Deadline;
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
    /// Unpack an archive as the new image of a custom distro, keeping the one it replaces.
    InstallImage {
        storage: ContainerId,
        image: DistroImage,
        source: ArchiveSource,
        expect: Option<Sha256Hex>,
        /// Swap the image in even when its check finds errors.
        force: bool,
    },
    /// Put the image an install replaced back.
    RollbackImage {
        storage: ContainerId,
        image: DistroImage,
    },
    /// Run the image checklist and record its report.
    CheckImage {
        storage: ContainerId,
        image: DistroImage,
    },
}

impl Task {
    /// The container the task acts on: a storage container for the image tasks.
    pub fn container(&self) -> ContainerId {
        match self {
            Task::Restart(c) | Task::EnsureStorageDir(c) => *c,
            Task::RenameImage { storage, .. }
            | Task::PurgeImage { storage, .. }
            | Task::InstallImage { storage, .. }
            | Task::RollbackImage { storage, .. }
            | Task::CheckImage { storage, .. } => *storage,
        }
    }

    /// The deadline of an attempt starting now, named after the work it does.
    pub fn deadline(&self, deadlines: &JobDeadlines) -> Deadline {
        let (limit, work) = match self {
            Task::Restart(_) => (deadlines.restart, "restart"),
            Task::EnsureStorageDir(_) => (deadlines.restart, "storage directory setup"),
            Task::RenameImage { .. } => (deadlines.restart, "rename"),
            Task::PurgeImage { .. } => (deadlines.unpack, "purge"),
            Task::InstallImage {
                source: ArchiveSource::Url(_),
                ..
            } => (deadlines.fetch, "fetch"),
            Task::InstallImage { .. } => (deadlines.unpack, "unpack"),
            Task::RollbackImage { .. } => (deadlines.unpack, "rollback"),
            Task::CheckImage { .. } => (deadlines.check, "check"),
        };
        Deadline::after(limit, work)
    }
}

/// The custom distro an image job is about, and its path when the job was queued (jobs of a
/// storage container run in order, so a later rename has not happened yet when it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroImage {
    pub distro: CustomDistroId,
    pub path: DistroPath,
}

/// Where an install reads its archive from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveSource {
    /// Uploaded through the API and kept in the database.
    Upload(UploadId),
    /// A file the customer put in the storage container's home.
    HomeFile(HomeFile),
    /// Downloaded by the host.
    Url(FetchUrl),
}

/// The kinds this crate's worker runs; other kinds wait for a worker that knows them.
pub const HANDLED_KINDS: [JobKind; 8] = JobKind::ALL;

#[derive(Debug, Serialize, Deserialize)]
struct RenamePayload {
    from: String,
    to: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PurgePayload {
    path: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ImagePayload {
    distro: CustomDistroId,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<SourcePayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    force: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SourcePayload {
    Upload(UploadId),
    File(String),
    Url(String),
}

/// Why a job row cannot run as written; retrying cannot fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("a {0} job needs a container")]
    NoContainer(JobKind),
    /// The payload does not have the shape the kind needs (`rename`, `purge` or `image`).
    #[error("the payload of a {0} job is not valid")]
    Payload(&'static str),
    /// A value in the payload does not parse.
    #[error("{raw:?}: {why}")]
    Value {
        raw: String,
        #[source]
        why: Invalid,
    },
}

impl Task {
    /// Reads a job row into what to do, with every value in its payload parsed.
    pub fn parse(job: &Job) -> Result<Self, TaskError> {
        let storage = job.container_id.ok_or(TaskError::NoContainer(job.kind))?;
        match job.kind {
            JobKind::Restart => Ok(Task::Restart(storage)),
            JobKind::EnsureStorageDir => Ok(Task::EnsureStorageDir(storage)),
            JobKind::RenameImage => {
                let p: RenamePayload = payload(job, "rename")?;
                Ok(Task::RenameImage {
                    storage,
                    from: value(&p.from, DistroPath::parse)?,
                    to: value(&p.to, DistroPath::parse)?,
                })
            }
            JobKind::PurgeImage => {
                let p: PurgePayload = payload(job, "purge")?;
                let path = value(&p.path, DistroPath::parse)?;
                Ok(Task::PurgeImage { storage, path })
            }
            JobKind::UnpackImage
            | JobKind::FetchImage
            | JobKind::RollbackImage
            | JobKind::CheckImage => image_task(job, storage),
        }
    }
}

/// An image job: the image it is about, and for an install where the archive comes from
/// (an unpack reads an upload or a home file, a fetch a URL; the others read nothing).
fn image_task(job: &Job, storage: ContainerId) -> Result<Task, TaskError> {
    let p: ImagePayload = payload(job, "image")?;
    let image = DistroImage {
        distro: p.distro,
        path: value(&p.path, DistroPath::parse)?,
    };
    let expect = p
        .sha256
        .map(|raw| value(&raw, Sha256Hex::parse))
        .transpose()?;
    let source = match (job.kind, p.source) {
        (JobKind::RollbackImage, None) => return Ok(Task::RollbackImage { storage, image }),
        (JobKind::CheckImage, None) => return Ok(Task::CheckImage { storage, image }),
        (JobKind::UnpackImage, Some(SourcePayload::Upload(id))) => ArchiveSource::Upload(id),
        (JobKind::UnpackImage, Some(SourcePayload::File(raw))) => {
            ArchiveSource::HomeFile(value(&raw, HomeFile::parse)?)
        }
        (JobKind::FetchImage, Some(SourcePayload::Url(raw))) => {
            ArchiveSource::Url(value(&raw, FetchUrl::parse)?)
        }
        _ => return Err(TaskError::Payload("image")),
    };
    Ok(Task::InstallImage {
        storage,
        image,
        source,
        expect,
        force: p.force,
    })
}

fn payload<T: serde::de::DeserializeOwned>(job: &Job, shape: &'static str) -> Result<T, TaskError> {
    T::deserialize(&job.payload).map_err(|_| TaskError::Payload(shape))
}

fn value<T>(raw: &str, parse: fn(&str) -> Result<T, Invalid>) -> Result<T, TaskError> {
    parse(raw).map_err(|why| TaskError::Value {
        raw: raw.to_owned(),
        why,
    })
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

fn job_for(target: impl Into<JobTarget>, kind: JobKind, payload: serde_json::Value) -> NewJob {
    let target = target.into();
    NewJob {
        kind,
        container_id: Some(target.container),
        customer_id: Some(target.customer),
        server_id: target.server,
        payload,
    }
}

/// Restart `container` (collapses with a restart already waiting).
pub fn restart(container: impl Into<JobTarget>) -> NewJob {
    job_for(container, JobKind::Restart, serde_json::json!({}))
}

/// Create `distros/` in the home of a storage container.
pub fn ensure_storage_dir(container: impl Into<JobTarget>) -> NewJob {
    job_for(container, JobKind::EnsureStorageDir, serde_json::json!({}))
}

/// Rename an image directory of a storage container.
pub fn rename_image(storage: impl Into<JobTarget>, from: &DistroPath, to: &DistroPath) -> NewJob {
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
pub fn purge_image(storage: impl Into<JobTarget>, path: &DistroPath) -> NewJob {
    let payload = PurgePayload {
        path: path.to_string(),
    };
    job_for(
        storage,
        JobKind::PurgeImage,
        serde_json::to_value(payload).expect("plain strings serialise"),
    )
}

fn image_job(
    storage: impl Into<JobTarget>,
    kind: JobKind,
    image: &DistroImage,
    source: Option<SourcePayload>,
    expect: Option<&Sha256Hex>,
    force: bool,
) -> NewJob {
    let payload = ImagePayload {
        distro: image.distro,
        path: image.path.to_string(),
        source,
        sha256: expect.map(|d| d.as_str().to_owned()),
        force,
    };
    job_for(
        storage,
        kind,
        serde_json::to_value(payload).expect("plain values serialise"),
    )
}

/// Unpack an archive (uploaded, in the home, or to be fetched) as a distro's new image; with
/// `force`, even when its check finds errors.
pub fn install_image(
    storage: impl Into<JobTarget>,
    image: &DistroImage,
    source: &ArchiveSource,
    expect: Option<&Sha256Hex>,
    force: bool,
) -> NewJob {
    let (kind, source) = match source {
        ArchiveSource::Upload(id) => (JobKind::UnpackImage, SourcePayload::Upload(*id)),
        ArchiveSource::HomeFile(file) => {
            (JobKind::UnpackImage, SourcePayload::File(file.to_string()))
        }
        ArchiveSource::Url(url) => (JobKind::FetchImage, SourcePayload::Url(url.to_string())),
    };
    image_job(storage, kind, image, Some(source), expect, force)
}

/// Put back the image the last install replaced.
pub fn rollback_image(storage: impl Into<JobTarget>, image: &DistroImage) -> NewJob {
    image_job(storage, JobKind::RollbackImage, image, None, None, false)
}

/// Check an image and record the report.
pub fn check_image(storage: impl Into<JobTarget>, image: &DistroImage) -> NewJob {
    image_job(storage, JobKind::CheckImage, image, None, None, false)
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
    let mut spec = VassalSpec::new(Uid::of(base_uid, facts.id), boot);
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
    use crate::domain::ids::JobId;

    fn job(kind: JobKind, payload: serde_json::Value) -> Job {
        let now = chrono::Utc::now();
        Job {
            id: JobId(1),
            kind,
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
            vassal_written_at: None,
            progress: None,
            cancel_requested: false,
        }
    }

    #[test]
    fn every_image_job_the_builders_write_parses_back_into_its_task() {
        let target = JobTarget {
            container: ContainerId(2),
            customer: CustomerId(1),
            server: ServerId(1),
        };
        let image = DistroImage {
            distro: CustomDistroId(3),
            path: DistroPath::parse("alpine").unwrap(),
        };
        let digest = Sha256Hex::parse(&"ab".repeat(32)).unwrap();
        let sources = [
            ArchiveSource::Upload(UploadId(9)),
            ArchiveSource::HomeFile(HomeFile::parse("images/a.tar.gz").unwrap()),
            ArchiveSource::Url(FetchUrl::parse("https://example.com/a.tar").unwrap()),
        ];
        for (source, force) in sources.into_iter().zip([false, true, false]) {
            let new = install_image(target, &image, &source, Some(&digest), force);
            assert_eq!(new.payload.get("force").is_some(), force, "{}", new.payload);
            let parsed = Task::parse(&job(new.kind, new.payload)).unwrap();
            assert_eq!(
                parsed,
                Task::InstallImage {
                    storage: ContainerId(2),
                    image: image.clone(),
                    source,
                    expect: Some(digest.clone()),
                    force,
                }
            );
        }
        let new = rollback_image(target, &image);
        assert!(matches!(
            Task::parse(&job(new.kind, new.payload)),
            Ok(Task::RollbackImage { .. })
        ));
        let new = check_image(target, &image);
        assert!(matches!(
            Task::parse(&job(new.kind, new.payload)),
            Ok(Task::CheckImage { .. })
        ));
    }

    #[test]
    fn a_job_row_parses_into_a_task_with_safe_paths_or_is_refused() {
        let rename = job(
            JobKind::RenameImage,
            serde_json::json!({"from": "a", "to": "b"}),
        );
        assert!(matches!(Task::parse(&rename), Ok(Task::RenameImage { .. })));
        for payload in [
            serde_json::json!({"from": "../../etc", "to": "b"}),
            serde_json::json!({"from": "a", "to": "/"}),
            serde_json::json!({"from": "a"}),
            serde_json::json!("a"),
        ] {
            assert!(
                Task::parse(&job(JobKind::RenameImage, payload.clone())).is_err(),
                "{payload}"
            );
        }
        assert!(Task::parse(&job(JobKind::PurgeImage, serde_json::json!({"path": ".."}))).is_err());
        assert!(Task::parse(&job(JobKind::UnpackImage, serde_json::json!({}))).is_err());
        for payload in [
            serde_json::json!({"distro": 3, "path": "a", "source": {"file": "../x.tar"}}),
            serde_json::json!({"distro": 3, "path": "a", "source": {"url": "file:///etc/passwd"}}),
            serde_json::json!({"distro": 3, "path": "a", "source": {"upload": 1}, "sha256": "x"}),
            serde_json::json!({"distro": 3, "path": "a"}),
        ] {
            assert!(
                Task::parse(&job(JobKind::UnpackImage, payload.clone())).is_err(),
                "{payload}"
            );
        }
        let mut orphan = job(JobKind::Restart, serde_json::json!({}));
        orphan.container_id = None;
        assert!(Task::parse(&orphan).is_err());
    }

    #[test]
    fn a_refused_job_row_says_why_in_the_words_the_job_error_keeps() {
        let mut orphan = job(JobKind::EnsureStorageDir, serde_json::json!({}));
        orphan.container_id = None;
        let why = |job: &Job| Task::parse(job).unwrap_err().to_string();
        assert_eq!(why(&orphan), "a ensure_storage_dir job needs a container");
        let shapeless = job(JobKind::RenameImage, serde_json::json!("a"));
        assert_eq!(why(&shapeless), "the payload of a rename job is not valid");
        let sourceless = job(
            JobKind::FetchImage,
            serde_json::json!({"distro": 3, "path": "a"}),
        );
        assert_eq!(why(&sourceless), "the payload of a image job is not valid");
        let escaping = job(JobKind::PurgeImage, serde_json::json!({"path": "../x"}));
        assert!(
            why(&escaping).starts_with("\"../x\": "),
            "{}",
            why(&escaping)
        );
    }

    #[test]
    fn job_kinds_read_back_from_their_stored_names_and_serialise_as_them() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert!("reboot".parse::<JobKind>().is_err());
    }
}
