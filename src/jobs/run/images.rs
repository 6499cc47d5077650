//! The image jobs: install an archive (uploaded, from the home, or fetched), roll back to the
//! image an install replaced, and check an image. Each records what it found on the distro.

use std::io::{self, Read};

use crate::db::PgPool;
use crate::db::queries::host_facts::ContainerFacts;
use crate::db::queries::{containers, custom_distros, image_uploads, images, jobs};
use crate::domain::ids::{ContainerId, UploadId};
use crate::domain::image_source::Sha256Hex;
use crate::domain::values::Uid;
use crate::host::check::CheckFacts;
use crate::host::deadline::Deadline;
use crate::host::image::{Gate, Installed};
use crate::host::progress::Progress;
use crate::host::report::{Level, ReportLine};
use crate::host::unpack::{Limits, Unpacked};
use crate::host::{HostError, ImageRef, home_label};
use crate::jobs::{ArchiveSource, DistroImage, JobTarget};

use super::progress::{EVERY, JobProgress};
use super::{JobError, Log, Outcome, Runner};

/// A container that boots the distro: its id and name.
type Booting = (ContainerId, String);

/// What the checklist of an image found, and who boots the image.
struct Inspected {
    report: Vec<ReportLine>,
    mapped: Vec<Booting>,
    /// The check ran past the job's deadline: the report says only that. The job fails with
    /// it once what was done to the image is recorded.
    past_deadline: Option<HostError>,
}

impl Outcome {
    fn of_level(level: Level) -> Self {
        match level {
            Level::Info => Outcome::Ok,
            Level::Warning => Outcome::Warning,
            Level::Error => Outcome::Error,
        }
    }
}

/// What an install needs: where it goes, which image, from what, expecting which digest.
pub(super) struct Install<'a> {
    pub uid: Uid,
    pub storage: &'a ContainerFacts,
    pub image: &'a DistroImage,
    pub source: &'a ArchiveSource,
    pub expect: Option<&'a Sha256Hex>,
    /// Swap the image in even when its check finds errors.
    pub force: bool,
    pub deadline: &'a Deadline,
}

/// An archive to unpack, and its length when known before it is read.
type Opened = (Box<dyn Read + Send>, Option<u64>);

/// Reads an upload back in parts of at most [`READ_BYTES`] of its chunk rows, one short query
/// per part, each on a connection taken for it from the worker's side pool (opened on demand,
/// closed when idle), so the unpack holds no connection between two parts and never a whole
/// chunk row.
struct UploadReader {
    pool: PgPool,
    upload: UploadId,
    /// The chunk row and the offset in it of the next part.
    next: (i32, i32),
    part: Vec<u8>,
    at: usize,
}

const READ_BYTES: i32 = 4 * 1024 * 1024;

impl UploadReader {
    fn new(pool: PgPool, upload: UploadId) -> Self {
        UploadReader {
            pool,
            upload,
            next: (0, 0),
            part: Vec::new(),
            at: 0,
        }
    }

    /// Reads the next part; `false` past the last chunk row.
    fn read_part(&mut self) -> io::Result<bool> {
        let mut conn = self.pool.get().map_err(io::Error::other)?;
        loop {
            let (seq, offset) = self.next;
            let part = image_uploads::chunk_part(&mut conn, self.upload, seq, offset, READ_BYTES)
                .map_err(io::Error::other)?;
            match part {
                None => return Ok(false),
                Some(part) if part.is_empty() => self.next = (seq + 1, 0),
                Some(part) => {
                    let read = i32::try_from(part.len()).map_err(io::Error::other)?;
                    self.next = if read < READ_BYTES {
                        (seq + 1, 0)
                    } else {
                        (seq, offset + read)
                    };
                    self.part = part;
                    self.at = 0;
                    return Ok(true);
                }
            }
        }
    }
}

impl Read for UploadReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.part.len() && !self.read_part()? {
            return Ok(0);
        }
        let n = buf.len().min(self.part.len() - self.at);
        buf[..n].copy_from_slice(&self.part[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Runner {
    fn image_ref(&self, uid: Uid, image: &DistroImage) -> ImageRef {
        ImageRef {
            storage_uid: uid,
            path: image.path.clone(),
        }
    }

    /// The custom distro the job is about, or `None` (logged) when it was deleted meanwhile.
    fn distro_still_there(
        &self,
        log: &Log,
        image: &DistroImage,
        target: &str,
    ) -> Result<bool, JobError> {
        let found = log.guarded(|conn| Ok(custom_distros::find(conn, image.distro)?))?;
        if found.is_none() {
            log.step(
                "skip",
                target,
                Outcome::Ok,
                "the custom distro was deleted meanwhile",
            );
        }
        Ok(found.is_some())
    }

    /// Runs the checklist of an installed image, logging each line.
    fn inspect(
        &self,
        log: &Log,
        image: &ImageRef,
        distro: &DistroImage,
        deadline: &Deadline,
    ) -> Result<Inspected, JobError> {
        let (facts, mapped) = self.check_facts(log, distro, deadline)?;
        let report = self.host.inspect_image(image, &facts);
        if let Err(late @ HostError::PastDeadline { .. }) = report {
            let line = ReportLine::error(format!(
                "{late}; the image was not checked to the end: check it again"
            ));
            log.step("check", &image.label(), Outcome::Error, &line.message);
            return Ok(Inspected {
                report: vec![line],
                mapped,
                past_deadline: Some(late),
            });
        }
        let report = self.outcome(log, "check", &image.label(), report, "")?;
        log_check(log, &image.label(), &report);
        Ok(Inspected {
            report,
            mapped,
            past_deadline: None,
        })
    }

    /// What the checklist of the distro's image needs to know: who boots it, and which of
    /// them have their own uwsgi.
    fn check_facts(
        &self,
        log: &Log,
        distro: &DistroImage,
        deadline: &Deadline,
    ) -> Result<(CheckFacts, Vec<Booting>), JobError> {
        let mapped = log.guarded(|conn| Ok(containers::booting(conn, distro.distro)?))?;
        let mapped_uids: Vec<u32> = mapped
            .iter()
            .filter_map(|(id, _)| u32::try_from(Uid::of(self.base_uid, *id).get()).ok())
            .collect();
        let homes_with_uwsgi = mapped
            .iter()
            .map(|(id, _)| Uid::of(self.base_uid, *id))
            .filter(|uid| self.host.home_has_uwsgi(*uid))
            .filter_map(|uid| u32::try_from(uid.get()).ok())
            .collect();
        let facts = CheckFacts {
            mapped_uids,
            homes_with_uwsgi,
            deadline: *deadline,
        };
        Ok((facts, mapped))
    }

    /// The containers booting a distro whose image was just replaced still run the old one,
    /// now kept as the previous image, which the next install deletes: they restart into the
    /// new one (in the caller's transaction, with the image's new record).
    fn restart_mapped(
        &self,
        conn: &mut diesel::PgConnection,
        storage: &ContainerFacts,
        mapped: &[Booting],
    ) -> Result<(), JobError> {
        for (id, _) in mapped {
            let target = JobTarget {
                container: *id,
                customer: storage.customer_id,
                server: storage.server_id,
            };
            jobs::enqueue(conn, &crate::jobs::restart(target))?;
        }
        Ok(())
    }

    fn log_restarts(&self, log: &Log, image: &ImageRef, mapped: &[Booting]) {
        if mapped.is_empty() {
            return;
        }
        let names: Vec<String> = mapped
            .iter()
            .map(|(id, name)| format!("{name} ({})", Uid::of(self.base_uid, *id)))
            .collect();
        log.step(
            "restart",
            &image.label(),
            Outcome::Ok,
            &format!("{} boot this image: restarts queued", names.join(", ")),
        );
    }

    /// Unpacks the archive as the distro's new image, checks it before it is swapped in
    /// (keeping the one it replaces), and records it; the containers that boot the distro
    /// restart into it. An image the check finds errors in is refused unless forced.
    pub(super) fn install_image(&self, log: &Log, install: &Install) -> Result<(), JobError> {
        let (uid, image) = (install.uid, install.image);
        let target = self.image_ref(uid, image).label();
        if !self.distro_still_there(log, image, &target)? {
            if let ArchiveSource::Upload(upload) = install.source {
                log.guarded(|conn| Ok(image_uploads::discard(conn, *upload)?))?;
            }
            return Ok(());
        }
        self.ensure_home(log, uid)?;
        let distros = self.host.ensure_storage_dir(uid);
        self.outcome(
            log,
            "distros",
            &format!("{}/distros", home_label(uid)),
            distros,
            "ready, owned by the container",
        )?;
        let (facts, mapped) = self.check_facts(log, image, install.deadline)?;
        let opened = self.open_archive(log, install, &target)?;
        let sink = JobProgress {
            pool: &self.streams,
            job: log.job.id,
            worker: &self.worker,
        };
        let installed = self.unpack_and_check(install, opened, &facts, sink);
        let installed = self.installed_or_refused(log, install, &target, installed)?;
        log_unpacked(log, &target, &installed.unpacked);
        log_check(log, &target, &installed.report);
        if installed.forced {
            log.step(
                "force",
                &target,
                Outcome::Warning,
                "installed with force although the check found errors: containers booting it fall back to their default distro",
            );
        }
        self.record_install(log, install, &installed, &mapped)
    }

    /// The host's unpack, check and swap, its progress written into the job by `sink`.
    fn unpack_and_check(
        &self,
        install: &Install,
        (mut archive, total): Opened,
        facts: &CheckFacts,
        mut sink: JobProgress<'_>,
    ) -> Result<Installed, HostError> {
        let progress = Progress::to(&mut sink, EVERY, total);
        let gate = Gate {
            facts,
            force: install.force,
            progress: &progress,
        };
        let limits = self.install_limits(install);
        let path = &install.image.path;
        self.host.install_image(
            install.uid,
            path,
            &mut *archive,
            install.expect,
            limits,
            &gate,
        )
    }

    /// The install's outcome as steps: a refusal by the check lists what it found.
    fn installed_or_refused(
        &self,
        log: &Log,
        install: &Install,
        target: &str,
        installed: Result<Installed, HostError>,
    ) -> Result<Installed, JobError> {
        match installed {
            Err(HostError::Unbootable { report, why, path }) => {
                log_check(log, target, &report);
                let detail = "the check found errors: the installed image stays, nothing restarts";
                log.step("refused", target, Outcome::Error, detail);
                Err(HostError::Unbootable { path, why, report }.into())
            }
            Err(cancelled @ HostError::Cancelled { .. }) => {
                let detail = match install.source {
                    ArchiveSource::Url(_) => "the fetch was cancelled: the installed image stays",
                    _ => "the unpack was cancelled: the installed image stays",
                };
                log.step("cancelled", target, Outcome::Warning, detail);
                Err(cancelled.into())
            }
            other => self.outcome(log, "unpack", target, other, ""),
        }
    }

    fn install_limits(&self, install: &Install) -> Limits {
        Limits {
            max_bytes: u64::try_from(install.storage.storage_mb).unwrap_or(0) << 20,
            max_entries: self.images.max_entries,
            max_archive_bytes: self.images.max_archive_bytes,
            deadline: *install.deadline,
        }
    }

    /// The archive to unpack, from wherever the job says, with a step saying where.
    fn open_archive(&self, log: &Log, install: &Install, target: &str) -> Result<Opened, JobError> {
        let uid = install.uid;
        match install.source {
            ArchiveSource::Upload(upload) => self.open_upload(log, *upload, target),
            ArchiveSource::HomeFile(file) => {
                let opened = self.host.open_home_file(uid, file);
                let label = format!("{}/{file}", home_label(uid));
                let (file, size) = self.outcome(log, "open", &label, opened, "")?;
                Ok((file, Some(size)))
            }
            // the length the server announced, if it did
            ArchiveSource::Url(url) => {
                self.outcome(log, "fetch", url.as_str(), self.fetcher.open(url), "")
            }
        }
    }

    fn open_upload(&self, log: &Log, upload: UploadId, target: &str) -> Result<Opened, JobError> {
        let found = log.guarded(|conn| Ok(image_uploads::find_complete(conn, upload)?))?;
        let Some((bytes, _)) = found else {
            let gone = HostError::refused(
                target,
                "the uploaded archive is no longer kept (uploads are dropped an hour after their install fails); upload it again",
            );
            return self.outcome(log, "upload", target, Err(gone), "");
        };
        log.step(
            "upload",
            target,
            Outcome::Ok,
            &format!("{bytes} bytes to unpack"),
        );
        let reader = UploadReader::new(self.streams.clone(), upload);
        Ok((Box::new(reader), u64::try_from(bytes).ok()))
    }

    /// Records the new image, with its check, on the distro; the containers booting the
    /// distro restart, and an uploaded archive is dropped.
    fn record_install(
        &self,
        log: &Log,
        install: &Install,
        installed: &Installed,
        mapped: &[Booting],
    ) -> Result<(), JobError> {
        let image = install.image;
        let image_ref = self.image_ref(install.uid, image);
        let report = &installed.report;
        let state = images::state_after_check(true, has_errors(report));
        let bytes = i64::try_from(installed.unpacked.bytes).unwrap_or(i64::MAX);
        self.log_restarts(log, &image_ref, mapped);
        log.guarded(|conn| {
            self.restart_mapped(conn, install.storage, mapped)?;
            images::record_installed(
                conn,
                image.distro,
                bytes,
                installed.unpacked.sha256.as_str(),
                report_json(report),
                state,
            )?;
            if let ArchiveSource::Upload(upload) = install.source {
                image_uploads::discard(conn, *upload)?;
            }
            Ok(())
        })
    }

    pub(super) fn rollback_image(
        &self,
        log: &Log,
        uid: Uid,
        storage: &ContainerFacts,
        image: &DistroImage,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        let image_ref = self.image_ref(uid, image);
        if !self.distro_still_there(log, image, &image_ref.label())? {
            return Ok(());
        }
        let result = super::in_time(deadline, &image_ref.label())
            .and_then(|()| self.host.rollback_image(uid, &image.path));
        self.outcome(
            log,
            "rollback",
            &image_ref.label(),
            result,
            "the previous image is back; the one it replaced is kept, so a second rollback undoes this one",
        )?;
        // the other image is in place: it is recorded even when its check ran out of time
        let inspected = self.inspect(log, &image_ref, image, deadline)?;
        let (report, mapped) = (&inspected.report, &inspected.mapped);
        let state = images::state_after_check(true, has_errors(report));
        self.log_restarts(log, &image_ref, mapped);
        log.guarded(|conn| {
            self.restart_mapped(conn, storage, mapped)?;
            Ok(images::record_rolled_back(
                conn,
                image.distro,
                report_json(report),
                state,
            )?)
        })?;
        inspected
            .past_deadline
            .map_or(Ok(()), |late| Err(late.into()))
    }

    pub(super) fn check_image(
        &self,
        log: &Log,
        uid: Uid,
        image: &DistroImage,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        let image_ref = self.image_ref(uid, image);
        if !self.distro_still_there(log, image, &image_ref.label())? {
            return Ok(());
        }
        // an image that is not there (or is a link) is a finding, not a failed job; a check
        // that ran out of time records nothing
        let (report, exists) = match self.inspect(log, &image_ref, image, deadline) {
            Ok(Inspected {
                past_deadline: Some(late),
                ..
            }) => return Err(late.into()),
            Ok(inspected) => (inspected.report, true),
            Err(JobError::Host(HostError::Refused { why, .. })) => (
                vec![ReportLine::error(format!("{}: {why}", image_ref.label()))],
                false,
            ),
            Err(e) => return Err(e),
        };
        let state = images::state_after_check(exists, has_errors(&report));
        log.guarded(|conn| {
            Ok(images::record_check(
                conn,
                image.distro,
                report_json(&report),
                state,
            )?)
        })
        .map(|_| ())
    }
}

/// The check's findings, one step each.
fn log_check(log: &Log, target: &str, report: &[ReportLine]) {
    for line in report {
        log.step(
            "check",
            target,
            Outcome::of_level(line.level),
            &line.message,
        );
    }
}

/// The unpack's findings, and what it unpacked, as steps.
fn log_unpacked(log: &Log, target: &str, unpacked: &Unpacked) {
    for line in &unpacked.report {
        log.step(
            "unpack",
            target,
            Outcome::of_level(line.level),
            &line.message,
        );
    }
    log.step(
        "unpack",
        target,
        Outcome::Ok,
        &format!(
            "{} members, {} bytes of files, archive of {} bytes with SHA-256 {}; the image it replaced is kept for a rollback",
            unpacked.entries, unpacked.bytes, unpacked.archive_bytes, unpacked.sha256
        ),
    );
}

fn has_errors(report: &[ReportLine]) -> bool {
    report.iter().any(|line| line.level == Level::Error)
}

fn report_json(report: &[ReportLine]) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
}
