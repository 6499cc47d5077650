//! Running one job: the steps of each task, each written to the operation log (an `events`
//! row, a line in `<home>/logs/emperor.log`, and the job's report).

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::json;

use crate::db::models::event::NewEvent;
use crate::db::models::job::Job;
use crate::db::queries::{events, host_alarms, host_facts, jobs};
use crate::db::{PgPool, PgPooled};
use crate::domain::ids::{ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::host::vassal::{Boot, VassalTemplate};
use crate::host::{HostError, HostExecutor, home_label};
use crate::jobs::Task;

/// Why an attempt did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The job cannot run as written.
    #[error("{0}")]
    Invalid(String),
    #[error("the job panicked: {0}")]
    Panic(String),
    /// The lease expired and another worker holds the job now.
    #[error("the job was taken over by another worker")]
    Lost,
}

impl JobError {
    pub fn is_permanent(&self) -> bool {
        match self {
            JobError::Host(e) => e.is_permanent(),
            JobError::Invalid(_) => true,
            _ => false,
        }
    }
}

/// Everything a job needs; shared by the worker's threads.
pub struct Runner {
    pub pool: PgPool,
    pub host: Arc<dyn HostExecutor>,
    pub template: Arc<VassalTemplate>,
    pub base_uid: u32,
    pub max_alarms: u32,
    /// This worker's name, written as `locked_by` and as the actor of its log lines.
    pub worker: String,
}

/// The container a job acts on, as the log names it.
#[derive(Debug, Clone, Copy)]
struct Subject {
    container: ContainerId,
    customer: CustomerId,
    uid: Uid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Warning,
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warning => "warning",
            Outcome::Error => "error",
        }
    }
}

/// The operation log of one attempt.
struct Log<'a> {
    runner: &'a Runner,
    job: &'a Job,
    subject: Option<Subject>,
}

impl Log<'_> {
    /// Records one step in the job's transaction-guarded report and in `events`, then
    /// appends it to the container's emperor.log (best effort: a customer may have broken it).
    fn step(
        &self,
        conn: &mut PgPooled,
        action: &str,
        target: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), JobError> {
        self.guarded(conn, |conn| self.record(conn, action, target, outcome, detail))?;
        self.emperor_log(action, target, outcome, detail);
        Ok(())
    }

    /// Runs `work` in a transaction that holds the job row, or fails with `Lost`.
    fn guarded<T>(
        &self,
        conn: &mut PgPooled,
        work: impl FnOnce(&mut PgConnection) -> Result<T, JobError>,
    ) -> Result<T, JobError> {
        conn.transaction(|conn| {
            if !jobs::hold(conn, self.job.id, &self.runner.worker)? {
                return Err(JobError::Lost);
            }
            work(conn)
        })
    }

    fn record(
        &self,
        conn: &mut PgConnection,
        action: &str,
        target: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), JobError> {
        events::insert(
            conn,
            &NewEvent {
                kind: "operation",
                actor: &self.runner.worker,
                customer_id: self.subject.map(|s| s.customer),
                container_id: self.subject.map(|s| s.container),
                job_id: Some(self.job.id),
                action,
                target,
                outcome: outcome.as_str(),
                detail,
                ..Default::default()
            },
        )?;
        let step = json!({
            "at": chrono::Utc::now(),
            "attempt": self.job.attempts,
            "step": action,
            "target": target,
            "outcome": outcome.as_str(),
            "detail": detail,
        });
        jobs::append_step(conn, self.job.id, &step)?;
        Ok(())
    }

    fn emperor_log(&self, action: &str, target: &str, outcome: Outcome, detail: &str) {
        let Some(subject) = self.subject else { return };
        let line = log_line(self.job, action, target, outcome, detail);
        if let Err(e) = self.runner.host.append_log(subject.uid, &line) {
            tracing::warn!(job = self.job.id.0, error = %e, "could not write the emperor log");
        }
    }
}

/// `2026-11-25 18:00:00 UTC [distropanel] job 7 restart: vassal /.../30002.ini -> ok: written`
pub fn log_line(job: &Job, action: &str, target: &str, outcome: Outcome, detail: &str) -> String {
    let mut line = format!(
        "{} [distropanel] job {} {}: {action}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        job.id,
        job.kind,
    );
    if !target.is_empty() {
        line.push(' ');
        line.push_str(target);
    }
    line.push_str(" -> ");
    line.push_str(outcome.as_str());
    if !detail.is_empty() {
        line.push_str(": ");
        line.push_str(detail);
    }
    line
}

impl Runner {
    /// Runs one attempt of `job`. Blocking: call it off the async runtime.
    pub fn run(&self, job: &Job) -> Result<(), JobError> {
        let mut conn = self.pool.get()?;
        let task = Task::parse(job).map_err(JobError::Invalid)?;
        let container = match &task {
            Task::Restart(c) | Task::EnsureStorageDir(c) => *c,
            Task::RenameImage { storage, .. } | Task::PurgeImage { storage, .. } => *storage,
        };
        let facts = host_facts::container(&mut conn, container)?;
        let log = Log {
            runner: self,
            job,
            subject: facts.as_ref().map(|f| Subject {
                container: f.id,
                customer: f.customer_id,
                uid: Uid::of(self.base_uid, f.id),
            }),
        };
        let Some(facts) = facts else {
            log.step(&mut conn, "skip", "", Outcome::Ok, "the container no longer exists")?;
            return self.finish(&mut conn, job);
        };
        let uid = Uid::of(self.base_uid, facts.id);
        log.step(
            &mut conn,
            "start",
            &home_label(uid),
            Outcome::Ok,
            &format!("attempt {} of {}", job.attempts, job.max_attempts),
        )?;
        let done = match task {
            Task::Restart(_) => self.restart(&mut conn, &log, uid, &facts),
            Task::EnsureStorageDir(_) => self.ensure_storage_dir(&mut conn, &log, uid, &facts),
            Task::RenameImage { from, to, .. } => {
                let target = format!("{}/distros/{from}", home_label(uid));
                let result = self.host.rename_image(uid, &from, &to);
                self.outcome(&mut conn, &log, "rename image", &target, result, &format!("now distros/{to}"))
            }
            Task::PurgeImage { path, .. } => {
                let target = format!("{}/distros/{path}", home_label(uid));
                let result = self.host.purge_image(uid, &path);
                self.outcome(&mut conn, &log, "purge image", &target, result, "deleted")
            }
        };
        match done {
            Ok(()) => self.finish(&mut conn, job),
            Err(JobError::Lost) => Err(JobError::Lost),
            Err(e) => {
                // the failure is a step too; the worker decides about retrying
                let _ = log.step(&mut conn, "failed", "", Outcome::Error, &e.to_string());
                Err(e)
            }
        }
    }

    fn finish(&self, conn: &mut PgPooled, job: &Job) -> Result<(), JobError> {
        if jobs::finish(conn, job.id, &self.worker)? {
            Ok(())
        } else {
            Err(JobError::Lost)
        }
    }

    /// Logs a host operation's outcome as a step and passes its error on.
    fn outcome<T>(
        &self,
        conn: &mut PgPooled,
        log: &Log,
        action: &str,
        target: &str,
        result: Result<T, HostError>,
        ok_detail: &str,
    ) -> Result<T, JobError> {
        match result {
            Ok(value) => {
                log.step(conn, action, target, Outcome::Ok, ok_detail)?;
                Ok(value)
            }
            Err(e) => {
                log.step(conn, action, target, Outcome::Error, &e.to_string())?;
                Err(e.into())
            }
        }
    }

    fn ensure_home(&self, conn: &mut PgPooled, log: &Log, uid: Uid) -> Result<(), JobError> {
        let skipped = self.host.ensure_home(uid);
        let skipped = self.outcome(conn, log, "home", &home_label(uid), skipped, "ready")?;
        for s in skipped {
            log.step(conn, "home", &s.path, Outcome::Warning, &s.why)?;
        }
        Ok(())
    }

    fn ensure_storage_dir(
        &self,
        conn: &mut PgPooled,
        log: &Log,
        uid: Uid,
        facts: &host_facts::ContainerFacts,
    ) -> Result<(), JobError> {
        let target = format!("{}/distros", home_label(uid));
        if !facts.custom_distros_storage {
            log.step(conn, "distros", &target, Outcome::Ok, "not a storage container (any more): nothing to do")?;
            return Ok(());
        }
        self.ensure_home(conn, log, uid)?;
        let result = self.host.ensure_storage_dir(uid);
        self.outcome(conn, log, "distros", &target, result, "ready, owned by the container")
    }

    fn restart(
        &self,
        conn: &mut PgPooled,
        log: &Log,
        uid: Uid,
        facts: &host_facts::ContainerFacts,
    ) -> Result<(), JobError> {
        self.ensure_home(conn, log, uid)?;
        if facts.custom_distros_storage {
            let target = format!("{}/distros", home_label(uid));
            let result = self.host.ensure_storage_dir(uid);
            self.outcome(conn, log, "distros", &target, result, "ready, owned by the container")?;
        }
        let (distro, image) = super::boot_inputs(facts, self.base_uid).map_err(JobError::Invalid)?;
        let check = match &image {
            Some(image) => {
                let check = self.host.check_image(image);
                let check = self.outcome(conn, log, "check image", &image.label(), check, "")?;
                if !check.bootable() {
                    log.step(conn, "check image", &image.label(), Outcome::Warning, "the image cannot boot")?;
                }
                Some(check)
            }
            None => None,
        };
        let boot = Boot::decide(distro, image, check);
        let reason = boot.fallback_reason();
        if let Boot::Fallback { reasons, distro, .. } = &boot {
            self.raise_fallback_alarms(conn, log, reasons)?;
            log.step(
                conn,
                "fallback",
                &format!("/distros/{distro}"),
                Outcome::Warning,
                "the container boots its default distro",
            )?;
        }
        // the container row says what the vassal about to be written boots; under the lease,
        // so a worker that lost the job cannot write it late
        log.guarded(conn, |conn| {
            Ok(host_facts::record_boot(conn, facts.id, reason.as_deref())?)
        })?;
        let spec = super::vassal_spec(facts, self.base_uid, boot.clone());
        let vassal = self.template.render(self.host.layout(), &spec);
        let vassal = self.outcome(conn, log, "render vassal", "", vassal, boot.kind())?;
        let result = self.host.restart(uid, &vassal);
        self.outcome(
            conn,
            log,
            "vassal",
            &format!("{uid}.ini"),
            result,
            &format!("written; the Emperor restarts the container (root: {})", boot.kind()),
        )?;
        Ok(())
    }

    /// Stores the fallback alarms once per job: an attempt after a crash finds them recorded.
    fn raise_fallback_alarms(
        &self,
        conn: &mut PgPooled,
        log: &Log,
        reasons: &[String],
    ) -> Result<(), JobError> {
        let subject = log.subject.expect("a restart has a container");
        let stored = log.guarded(conn, |conn| {
            if jobs::has_step(conn, log.job.id, "alarm")? {
                return Ok(false);
            }
            for reason in reasons {
                host_alarms::raise_danger(
                    conn,
                    subject.container,
                    subject.customer,
                    reason,
                    self.max_alarms,
                )?;
                log.record(conn, "alarm", "", Outcome::Warning, reason)?;
            }
            Ok(true)
        })?;
        if stored {
            for reason in reasons {
                log.emperor_log("alarm", "", Outcome::Warning, reason);
            }
        } else {
            log.step(conn, "alarm", "", Outcome::Ok, "already stored by an earlier attempt")?;
        }
        Ok(())
    }

    /// After the last attempt: a level-0 alarm on the container and a line in its log.
    pub fn report_failure(&self, job: &Job, error: &str) -> Result<(), JobError> {
        let mut conn = self.pool.get()?;
        let Some(container) = job.container_id else {
            return Ok(());
        };
        let Some(facts) = host_facts::container(&mut conn, container)? else {
            return Ok(());
        };
        let message = format!("[distropanel] job {} ({}) failed: {error}", job.id, job.kind);
        conn.transaction(|conn| {
            host_alarms::raise_danger(conn, facts.id, facts.customer_id, &message, self.max_alarms)?;
            events::insert(
                conn,
                &NewEvent {
                    kind: "operation",
                    actor: &self.worker,
                    customer_id: Some(facts.customer_id),
                    container_id: Some(facts.id),
                    job_id: Some(job.id),
                    action: "gave up",
                    outcome: "error",
                    detail: &message,
                    ..Default::default()
                },
            )?;
            Ok::<_, diesel::result::Error>(())
        })?;
        let line = log_line(job, "gave up", "", Outcome::Error, error);
        let _ = self.host.append_log(Uid::of(self.base_uid, facts.id), &line);
        Ok(())
    }
}

