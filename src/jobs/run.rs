//! Running one job: the steps of each task, each written to the operation log (an `events`
//! row, a line in `<home>/logs/emperor.log`, and the job's report).

mod batch;
pub use batch::BatchOutcome;
mod images;
mod progress;

use images::Install;

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::json;

use crate::config::{ImageSettings, JobDeadlines};
use crate::db::PgPool;
use crate::db::models::event::NewEvent;
use crate::db::models::job::Job;
use crate::db::queries::host_alarms::Severity;
use crate::db::queries::{events, host_alarms, host_facts, jobs};
use crate::domain::authorized_key::AuthorizedKey;
use crate::domain::ids::{ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::host::authorized_keys::{FILE, KeysFile};
use crate::host::deadline::Deadline;
use crate::host::fetch::Fetcher;
use crate::host::vassal::{Boot, VassalTemplate};
use crate::host::{HostError, HostExecutor, home_label};
use crate::jobs::{Task, TaskError};
use crate::phases::{self, Phase};

/// Why an attempt did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The job row cannot run as written.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The job cannot run as written.
    #[error("{0}")]
    Invalid(String),
    #[error("the job panicked: {0}")]
    Panic(String),
    /// A statement for a whole batch of jobs failed (each of them fails with its words).
    #[error("database: {0}")]
    Batch(String),
    /// The lease expired and another worker holds the job now.
    #[error("the job was taken over by another worker")]
    Lost,
}

impl JobError {
    /// The job's owner cancelled it, and it stopped.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JobError::Host(HostError::Cancelled { .. }))
    }

    pub fn is_permanent(&self) -> bool {
        match self {
            JobError::Host(e) => e.is_permanent(),
            JobError::Task(_) | JobError::Invalid(_) => true,
            _ => false,
        }
    }
}

/// Everything a job needs; shared by the worker's threads.
pub struct Runner {
    /// The worker's one shared connection: claims, steps, results, leases.
    pub pool: PgPool,
    /// Opened on demand and closed when idle: an install's upload chunks and progress writes,
    /// each taking a connection for its one statement.
    pub streams: PgPool,
    pub host: Arc<dyn HostExecutor>,
    pub template: Arc<VassalTemplate>,
    /// Downloads the archives of `fetch_image` jobs.
    pub fetcher: Arc<Fetcher>,
    /// Bounds on archives and images.
    pub images: ImageSettings,
    /// How long an attempt of each kind of job may run.
    pub deadlines: JobDeadlines,
    pub base_uid: u32,
    pub max_alarms: u32,
    /// This worker's name, written as `locked_by` and as the actor of its log lines.
    pub worker: String,
}

/// The container an attempt acts on, found, and the attempt's deadline.
struct Subjected<'a> {
    uid: Uid,
    facts: &'a host_facts::ContainerFacts,
    deadline: &'a Deadline,
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
    /// The level the job report (and `/api/jobs`) shows: `info`, `warning` or `error`.
    fn level(self) -> &'static str {
        match self {
            Outcome::Ok => "info",
            Outcome::Warning => "warning",
            Outcome::Error => "error",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warning => "warning",
            Outcome::Error => "error",
        }
    }
}

/// One step, waiting to be written to the database.
struct Step {
    action: String,
    target: String,
    outcome: Outcome,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// The operation log of one attempt. Each step goes to `<home>/logs/emperor.log` at once; the
/// database copy (`events` and the job's report) is written with the attempt's next durable
/// change (the alarms, the boot record, the outcome), in the same transaction, so a job costs
/// a few commits rather than one per step. A crash loses only the database copy of the steps
/// since the last change, never a change without its steps.
struct Log<'a> {
    runner: &'a Runner,
    job: &'a Job,
    subject: Option<Subject>,
    pending: std::cell::RefCell<Vec<Step>>,
    /// When the executor renamed a restart's new vassal into place.
    vassal_written: std::cell::Cell<Option<chrono::DateTime<chrono::Utc>>>,
    /// Set for a restart run in a batch ([`batch`]).
    batched: Option<Batched>,
}

/// What a restart run in a batch leaves for the batch: its files staged rather than written,
/// and what its vassal boots, recorded when the batch marks it done.
#[derive(Default)]
struct Batched {
    staged: std::cell::RefCell<Vec<crate::host::Staged>>,
    /// What the staged vassal boots, unless already recorded (`kind`, fallback reason).
    boot: std::cell::RefCell<Option<(&'static str, Option<String>)>>,
    /// The attempt has written to the database (alarms): its boot is recorded before its
    /// vassal is staged, as a single restart's is.
    wrote: std::cell::Cell<bool>,
    /// What the staged vassal boots, once it is staged.
    staged_boot: std::cell::Cell<Option<&'static str>>,
    /// Lines for the emperor log not yet appended: written together, before the attempt's
    /// next database write and before the batch marks it done.
    lines: std::cell::RefCell<Vec<String>>,
}

impl Log<'_> {
    fn step(&self, action: &str, target: &str, outcome: Outcome, detail: &str) {
        self.emperor_log(action, target, outcome, detail);
        self.pending.borrow_mut().push(Step {
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            detail: detail.to_owned(),
            at: chrono::Utc::now(),
        });
    }

    /// Runs `work` in a transaction that holds the job row (or fails with `Lost`), writing the
    /// pending steps first.
    /// The connection is taken for this transaction only: the filesystem work between two
    /// transactions holds none, so a worker's slots share one connection.
    fn guarded<T>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> Result<T, JobError>,
    ) -> Result<T, JobError> {
        let steps = self.pending_steps();
        let subject = self.subject.map(|s| (s.customer, s.container));
        if let Some(batched) = &self.batched {
            batched.wrote.set(true);
        }
        self.write_lines();
        let mut conn = self.runner.pool.get()?;
        let done = conn.transaction(|conn| {
            if !jobs::hold_and_log(conn, self.job.id, &self.runner.worker, subject, &steps)? {
                return Err(JobError::Lost);
            }
            work(conn)
        });
        if done.is_ok() {
            self.pending.borrow_mut().clear();
        }
        done
    }

    /// Writes the pending steps and records what the job's container boots, in one statement
    /// that holds the job row (or fails with `Lost`).
    fn record_boot(&self, boot: &jobs::Boot) -> Result<(), JobError> {
        let steps = self.pending_steps();
        let subject = self.subject.expect("a restart has a container");
        let subject = (subject.customer, subject.container);
        self.write_lines();
        let mut conn = self.runner.pool.get()?;
        let held = jobs::hold_log_and_record_boot(
            &mut conn,
            self.job.id,
            &self.runner.worker,
            subject,
            &steps,
            boot,
        )?;
        if !held {
            return Err(JobError::Lost);
        }
        self.pending.borrow_mut().clear();
        Ok(())
    }

    /// Writes the pending steps now.
    fn flush(&self) -> Result<(), JobError> {
        self.guarded(|_| Ok(()))
    }

    /// The pending steps as the job report keeps them (and the operation log reads them).
    fn pending_steps(&self) -> serde_json::Value {
        let steps = self
            .pending
            .borrow()
            .iter()
            .map(|step| {
                json!({
                    "level": step.outcome.level(),
                    "message": step_message(self.job, step),
                    "at": step.at,
                    "attempt": self.job.attempts,
                    "step": step.action,
                    "target": step.target,
                    "outcome": step.outcome.as_str(),
                    "detail": step.detail,
                })
            })
            .collect();
        serde_json::Value::Array(steps)
    }

    /// Appends the line to `<home>/logs/emperor.log`: at once, or for a batched restart with
    /// its other lines ([`Log::write_lines`]).
    fn emperor_log(&self, action: &str, target: &str, outcome: Outcome, detail: &str) {
        let Some(subject) = self.subject else { return };
        let line = log_line(self.job, action, target, outcome, detail);
        match &self.batched {
            Some(batched) => batched.lines.borrow_mut().push(line),
            None => self.append_lines(subject.uid, &[line]),
        }
    }

    /// Appends the lines a batched restart has logged so far, in one write.
    fn write_lines(&self) {
        let (Some(subject), Some(batched)) = (self.subject, &self.batched) else {
            return;
        };
        let lines = std::mem::take(&mut *batched.lines.borrow_mut());
        if !lines.is_empty() {
            self.append_lines(subject.uid, &lines);
        }
    }

    fn append_lines(&self, uid: Uid, lines: &[String]) {
        let appended = phases::time(Phase::Log, || self.runner.host.append_log(uid, lines));
        if let Err(e) = appended {
            tracing::warn!(job = self.job.id.0, error = %e, "could not write the emperor log");
        }
    }
}

/// The detail of a restart's `vassal` step.
fn vassal_written(boot_kind: &str) -> String {
    format!("written; the Emperor restarts the container (root: {boot_kind})")
}

/// Fails with the job's deadline once it has passed, naming what was about to happen.
fn in_time(deadline: &Deadline, target: &str) -> Result<(), HostError> {
    deadline.check().map_err(|passed| HostError::PastDeadline {
        path: target.to_owned(),
        passed,
    })
}

/// A step as the job report says it: `vassal 30002.ini -> ok: written; ...`.
fn step_message(job: &Job, step: &Step) -> String {
    let line = log_line(job, &step.action, &step.target, step.outcome, &step.detail);
    line.split_once("]: ")
        .map_or(line.clone(), |(_, message)| message.to_owned())
}

/// `2026-11-25 18:00:00 UTC [distropanel job 7 restart]: vassal 30002.ini -> ok: written`
pub fn log_line(job: &Job, action: &str, target: &str, outcome: Outcome, detail: &str) -> String {
    let mut line = format!(
        "{} [distropanel job {} {}]: {action}",
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
        let task = Task::parse(job)?;
        let deadline = task.deadline(&self.deadlines);
        let facts = host_facts::container(&mut *self.pool.get()?, task.container())?;
        let log = Log {
            runner: self,
            job,
            subject: facts.as_ref().map(|f| Subject {
                container: f.id,
                customer: f.customer_id,
                uid: Uid::of(self.base_uid, f.id),
            }),
            pending: Default::default(),
            vassal_written: Default::default(),
            batched: None,
        };
        let Some(facts) = facts else {
            log.step("skip", "", Outcome::Ok, "the container no longer exists");
            return self.finish(&log);
        };
        let uid = Uid::of(self.base_uid, facts.id);
        log.step(
            "start",
            &home_label(uid),
            Outcome::Ok,
            &format!("attempt {} of {}", job.attempts, job.max_attempts),
        );
        let on = Subjected {
            uid,
            facts: &facts,
            deadline: &deadline,
        };
        match self.perform(&log, task, &on) {
            Ok(()) => self.finish(&log),
            Err(JobError::Lost) => Err(JobError::Lost),
            Err(e) => {
                // the failure is a step too; the worker decides about retrying
                log.step("failed", "", Outcome::Error, &e.to_string());
                let _ = log.flush();
                Err(e)
            }
        }
    }

    /// The steps of `task`, on the container it is about.
    fn perform(&self, log: &Log, task: Task, on: &Subjected) -> Result<(), JobError> {
        let (uid, facts, deadline) = (on.uid, on.facts, on.deadline);
        match task {
            Task::Restart(_) => self.restart(log, uid, facts, deadline),
            Task::EnsureStorageDir(_) => self.ensure_storage_dir(log, uid, facts),
            Task::RenameImage { from, to, .. } => {
                let target = format!("{}/distros/{from}", home_label(uid));
                let result = in_time(deadline, &target)
                    .and_then(|()| self.host.rename_image(uid, &from, &to));
                let renamed = format!("now distros/{to}");
                self.outcome(log, "rename image", &target, result, &renamed)
            }
            Task::PurgeImage { path, .. } => {
                let target = format!("{}/distros/{path}", home_label(uid));
                let result =
                    in_time(deadline, &target).and_then(|()| self.host.purge_image(uid, &path));
                self.outcome(log, "purge image", &target, result, "deleted")
            }
            Task::InstallImage {
                image,
                source,
                expect,
                force,
                ..
            } => {
                let install = Install {
                    uid,
                    storage: facts,
                    image: &image,
                    source: &source,
                    expect: expect.as_ref(),
                    force,
                    deadline,
                };
                self.install_image(log, &install)
            }
            Task::RollbackImage { image, .. } => {
                self.rollback_image(log, uid, facts, &image, deadline)
            }
            Task::CheckImage { image, .. } => self.check_image(log, uid, &image, deadline),
        }
    }

    /// Marks the job done, with its last steps.
    fn finish(&self, log: &Log) -> Result<(), JobError> {
        let subject = log.subject.map(|s| (s.customer, s.container));
        let steps = log.pending_steps();
        let done = jobs::Done {
            subject,
            steps: &steps,
            vassal_written_at: log.vassal_written.get(),
        };
        if jobs::finish_and_log(&mut *self.pool.get()?, log.job.id, &self.worker, &done)? {
            log.pending.borrow_mut().clear();
            Ok(())
        } else {
            Err(JobError::Lost)
        }
    }

    /// Logs a host operation's outcome as a step and passes its error on.
    fn outcome<T>(
        &self,
        log: &Log,
        action: &str,
        target: &str,
        result: Result<T, HostError>,
        ok_detail: &str,
    ) -> Result<T, JobError> {
        match result {
            Ok(value) => {
                log.step(action, target, Outcome::Ok, ok_detail);
                Ok(value)
            }
            Err(e) => {
                log.step(action, target, Outcome::Error, &e.to_string());
                Err(e.into())
            }
        }
    }

    fn ensure_home(&self, log: &Log, uid: Uid) -> Result<(), JobError> {
        let skipped = phases::time(Phase::Home, || self.host.ensure_home(uid));
        let skipped = self.outcome(log, "home", &home_label(uid), skipped, "ready")?;
        for s in skipped {
            log.step("home", &s.path, Outcome::Warning, &s.why);
        }
        Ok(())
    }

    fn ensure_storage_dir(
        &self,
        log: &Log,
        uid: Uid,
        facts: &host_facts::ContainerFacts,
    ) -> Result<(), JobError> {
        let target = format!("{}/distros", home_label(uid));
        if !facts.custom_distros_storage {
            log.step(
                "distros",
                &target,
                Outcome::Ok,
                "not a storage container (any more): nothing to do",
            );
            return Ok(());
        }
        self.ensure_home(log, uid)?;
        let result = self.host.ensure_storage_dir(uid);
        self.outcome(
            log,
            "distros",
            &target,
            result,
            "ready, owned by the container",
        )
    }

    /// Lays out the home, writes the keys, decides what the container boots and writes its
    /// vassal, which the Emperor restarts it from.
    fn restart(
        &self,
        log: &Log,
        uid: Uid,
        facts: &host_facts::ContainerFacts,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        self.ensure_home(log, uid)?;
        if facts.custom_distros_storage {
            self.keep_storage_dir(log, uid)?;
        }
        self.write_ssh_keys(log, uid, facts)?;
        let boot = phases::time(Phase::Boot, || self.decide_boot(log, facts))?;
        self.write_vassal(log, uid, facts, boot, deadline)
    }

    /// A storage container's `distros/`, made if missing; something planted there is
    /// reported, left alone, and no reason not to restart.
    fn keep_storage_dir(&self, log: &Log, uid: Uid) -> Result<(), JobError> {
        let target = format!("{}/distros", home_label(uid));
        match self.host.ensure_storage_dir(uid) {
            Ok(()) => log.step(
                "distros",
                &target,
                Outcome::Ok,
                "ready, owned by the container",
            ),
            Err(HostError::Refused { why, .. }) => {
                log.step("distros", &target, Outcome::Warning, &why)
            }
            Err(e) => {
                log.step("distros", &target, Outcome::Error, &e.to_string());
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// The mapped custom distro's image if it passes its check, else the default distro (with
    /// the fallback alarms stored once).
    fn decide_boot(&self, log: &Log, facts: &host_facts::ContainerFacts) -> Result<Boot, JobError> {
        let (distro, image) =
            super::boot_inputs(facts, self.base_uid).map_err(JobError::Invalid)?;
        let check = match &image {
            Some(image) => {
                let check = self.host.check_image(image);
                let check = self.outcome(log, "check image", &image.label(), check, "")?;
                if !check.bootable() {
                    log.step(
                        "check image",
                        &image.label(),
                        Outcome::Warning,
                        "the image cannot boot",
                    );
                }
                Some(check)
            }
            None => None,
        };
        let boot = Boot::decide(distro, image, check);
        if let Boot::Fallback { distro, .. } = &boot {
            self.raise_alarms_once(log, "alarm", Severity::Danger, &boot.fallback_alarms())?;
            log.step(
                "fallback",
                &format!("/distros/{distro}"),
                Outcome::Warning,
                "the container boots its default distro",
            );
        }
        Ok(boot)
    }

    /// Records what the container boots and writes its vassal, both within the deadline.
    fn write_vassal(
        &self,
        log: &Log,
        uid: Uid,
        facts: &host_facts::ContainerFacts,
        boot: Boot,
        deadline: &Deadline,
    ) -> Result<(), JobError> {
        let reason = boot.fallback_reason();
        // nothing is recorded or written once the deadline has passed
        let vassal_name = format!("{uid}.ini");
        in_time(deadline, &vassal_name)?;
        match &log.batched {
            // recorded with the batch's outcome, once the vassal is durable
            Some(batched) if !batched.wrote.get() => {
                *batched.boot.borrow_mut() = Some((boot.kind(), reason.clone()));
            }
            // the container row says what the vassal about to be written boots; under the
            // lease, so a worker that lost the job cannot write it late
            _ => log.record_boot(&jobs::Boot {
                kind: boot.kind(),
                fallback_reason: reason.as_deref(),
            })?,
        }
        let staging = std::time::Instant::now();
        let spec = super::vassal_spec(facts, self.base_uid, boot.clone());
        let vassal = self.template.render(self.host.layout(), &spec);
        let vassal = self.outcome(log, "render vassal", "", vassal, boot.kind())?;
        if let Some(batched) = &log.batched {
            // the batch publishes it and logs the step
            let staged =
                in_time(deadline, &vassal_name).and_then(|()| self.host.stage_vassal(uid, &vassal));
            let staged = match staged {
                Ok(staged) => staged,
                Err(e) => {
                    log.step("vassal", &vassal_name, Outcome::Error, &e.to_string());
                    return Err(e.into());
                }
            };
            batched.staged.borrow_mut().push(staged);
            batched.staged_boot.set(Some(boot.kind()));
            phases::add(Phase::Vassal, staging);
            return Ok(());
        }
        let result = in_time(deadline, &vassal_name).and_then(|()| self.host.restart(uid, &vassal));
        if result.is_ok() {
            log.vassal_written.set(Some(chrono::Utc::now()));
        }
        self.outcome(
            log,
            "vassal",
            &vassal_name,
            result,
            &vassal_written(boot.kind()),
        )?;
        Ok(())
    }

    /// Writes the stored keys that parse to `.ssh/uwsgi_authorized_keys`. A key that does not
    /// parse (stored before keys were checked, or behind the API's back) is left out, with a
    /// warning step and a level-1 alarm naming its index; a planted `.ssh` is reported and
    /// the container restarts all the same.
    fn write_ssh_keys(
        &self,
        log: &Log,
        uid: Uid,
        facts: &host_facts::ContainerFacts,
    ) -> Result<(), JobError> {
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, line) in facts.ssh_keys.iter().flatten().enumerate() {
            match AuthorizedKey::parse(line) {
                Ok(key) => keys.push(key),
                Err(why) => {
                    let detail = format!("ssh_keys[{index}] {why}; it was left out of .ssh/{FILE}");
                    log.step("ssh key", "", Outcome::Warning, &detail);
                    skipped.push(format!("[distropanel] {detail}"));
                }
            }
        }
        if !skipped.is_empty() {
            self.raise_alarms_once(log, "ssh key alarm", Severity::Warning, &skipped)?;
        }
        let target = format!("{}/.ssh/{FILE}", home_label(uid));
        let written = phases::time(Phase::Keys, || match &log.batched {
            Some(batched) => self.host.stage_authorized_keys(uid, &keys).map(|staged| {
                let Some(staged) = staged else {
                    return KeysFile::Unchanged;
                };
                batched.staged.borrow_mut().push(staged);
                KeysFile::Written
            }),
            None => self.host.write_authorized_keys(uid, &keys),
        });
        match written {
            Ok(KeysFile::Written) => log.step(
                "ssh keys",
                &target,
                Outcome::Ok,
                &format!("{} written, mode 0600, owned by the container", keys.len()),
            ),
            Ok(KeysFile::Unchanged) => log.step(
                "ssh keys",
                &target,
                Outcome::Ok,
                &format!(
                    "{} already in place; the file was left as it is",
                    keys.len()
                ),
            ),
            Err(HostError::Refused { why, .. }) => {
                log.step("ssh keys", &target, Outcome::Warning, &why)
            }
            Err(e) => {
                log.step("ssh keys", &target, Outcome::Error, &e.to_string());
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Stores `messages` as alarms once per job: the `step` lines, written with the alarms,
    /// are the marker an attempt after a crash finds. Only the worker holding the job gets
    /// here, so checking first cannot race.
    fn raise_alarms_once(
        &self,
        log: &Log,
        step: &str,
        severity: Severity,
        messages: &[String],
    ) -> Result<(), JobError> {
        let subject = log.subject.expect("a restart has a container");
        if log.guarded(|conn| Ok(jobs::has_step(conn, log.job.id, step)?))? {
            log.step(
                step,
                "",
                Outcome::Ok,
                "already stored by an earlier attempt",
            );
            return Ok(());
        }
        for message in messages {
            log.step(step, "", Outcome::Warning, message);
        }
        log.guarded(|conn| {
            for message in messages {
                host_alarms::raise(
                    conn,
                    subject.container,
                    subject.customer,
                    severity,
                    message,
                    self.max_alarms,
                )?;
            }
            Ok(())
        })
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
        let message = format!(
            "[distropanel] job {} ({}) failed: {error}",
            job.id, job.kind
        );
        conn.transaction(|conn| {
            host_alarms::raise(
                conn,
                facts.id,
                facts.customer_id,
                Severity::Danger,
                &message,
                self.max_alarms,
            )?;
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
        let _ = self
            .host
            .append_log(Uid::of(self.base_uid, facts.id), &[line]);
        Ok(())
    }
}
