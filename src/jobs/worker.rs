//! The worker loop: claims jobs while it has free slots, runs each on the blocking pool,
//! keeps their leases alive, settles their outcome, and on shutdown stops claiming and lets
//! running jobs finish.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use tokio::task::JoinSet;

use crate::db::models::job::{Job, JobKind};
use crate::db::queries::jobs::{self, AfterFailure};
use crate::domain::ids::JobId;
use crate::jobs::queue::{self, QueueSettings};
use crate::jobs::run::{BatchOutcome, JobError, Runner};
use crate::phases::Phase;

/// How long job attempts ran, by kind and outcome (`done`, `failed`, `lost`); `/metrics`
/// exports it.
pub static JOB_RUN_SECONDS: LazyLock<JobRunTimes> = LazyLock::new(|| {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.1, 2.0, 14)))
});

pub type JobRunTimes = Family<JobRunLabels, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobRunLabels {
    kind: String,
    outcome: &'static str,
}

/// How often an idle worker looks at the notifications its connection received.
pub const LISTEN_TICK: std::time::Duration = std::time::Duration::from_millis(2);

/// How many restarts a worker claims at once per free slot: they run as batches
/// ([`Runner::run_restarts`]), so a thousand queued restarts cost a few dozen claims and
/// batches rather than hundreds of each.
pub const CLAIM_AHEAD: usize = 64;

/// The most restarts one batch runs.
pub const MAX_BATCH: usize = 256;

/// A claimed job, and when the claim that took it was sent (its lease runs from no earlier).
type Claimed = (Job, std::time::Instant);

/// When the worker claims next. A claim walks every container with unfinished jobs, so it is
/// made when something may have become runnable, not at every wakeup of the worker (a
/// heartbeat, a report): when a notification comes, at each poll (retries whose backoff ran
/// out, leases of a worker that died), and as a job ends when a claim is owed or the job says
/// one is worth making.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Now,
    /// When a running job ends: the last claim was skipped or cut short (slots were busy, the
    /// claim failed, or it took as many as it asked for), so runnable jobs may be waiting.
    WhenAJobEnds,
    /// At the next notification or poll, or as a job ends that says a job waits behind it.
    /// The last claim took every runnable job, so what became runnable since is a new job (its
    /// notification comes), a retry or a dead worker's lease (the poll), or a job queued behind
    /// one of this worker's own (it ends saying so: [`crate::jobs::run::BatchOutcome`]).
    Later,
}

impl Due {
    /// `claim_again`: the job that ended says a claim is worth making now.
    fn after_a_job_ended(self, claim_again: bool) -> Self {
        match self {
            Due::Later if !claim_again => Due::Later,
            Due::Now | Due::WhenAJobEnds | Due::Later => Due::Now,
        }
    }
}

pub struct Worker {
    runner: Arc<Runner>,
    settings: QueueSettings,
    /// How often it reports its servers ([`crate::jobs::report`]).
    report_every: std::time::Duration,
}

/// `<host>:<pid>:<random>`: unique per process, readable in `locked_by`.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

impl Worker {
    pub fn new(runner: Runner, settings: QueueSettings) -> Self {
        Self {
            runner: Arc::new(runner),
            settings,
            report_every: std::time::Duration::from_secs(60),
        }
    }

    /// Reports every `every` instead of every minute.
    pub fn reporting_every(mut self, every: std::time::Duration) -> Self {
        self.report_every = every.max(std::time::Duration::from_secs(1));
        self
    }

    /// Measures and records one report of this worker's servers, off the async runtime.
    pub async fn report(&self) -> anyhow::Result<crate::jobs::report::Reported> {
        let runner = self.runner.clone();
        let scope = self.settings.scope.clone();
        tokio::task::spawn_blocking(move || crate::jobs::report::report(&runner, &scope)).await?
    }

    /// Starts a report unless the last one is still measuring (at most one at a time).
    fn start_report(&self, reporting: &mut JoinSet<()>) {
        if !reporting.is_empty() {
            return;
        }
        let runner = self.runner.clone();
        let scope = self.settings.scope.clone();
        reporting.spawn_blocking(move || {
            if let Err(e) = crate::jobs::report::report(&runner, &scope) {
                tracing::warn!(error = %e, "reporting the servers failed");
            }
        });
    }

    pub fn name(&self) -> &str {
        &self.runner.worker
    }

    /// Runs until `shutdown` resolves, then waits for the jobs it is running.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let slots = self.settings.slots.max(1);
        // each running job resolves to whether a claim is worth making as it ends
        let mut running: JoinSet<bool> = JoinSet::new();
        let mut claimed = VecDeque::new();
        let mut heartbeat = tokio::time::interval(self.settings.lease / 3);
        let mut report = tokio::time::interval(self.report_every);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reporting: JoinSet<()> = JoinSet::new();
        let mut poll = tokio::time::interval(self.settings.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut due = Due::Now;
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.name(), slots, "job worker started");
        loop {
            // a stop asked for while claiming or running is seen before the next claim
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = std::future::ready(()) => {}
            }
            if due == Due::Later {
                self.start(&mut running, &mut claimed, slots);
            } else {
                due = self.fill(&mut running, &mut claimed, slots).await;
            }
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(ended) = running.join_next(), if !running.is_empty() => {
                    // a task that died (it logged why) may have left anything behind
                    due = due.after_a_job_ended(ended.unwrap_or(true));
                }
                _ = heartbeat.tick() => self.heartbeat().await,
                _ = report.tick() => self.start_report(&mut reporting),
                Some(_) = reporting.join_next(), if !reporting.is_empty() => {}
                _ = poll.tick() => due = Due::Now,
                _ = self.notified(), if claimed.is_empty() => due = Due::Now,
            }
        }
        tracing::info!(worker = %self.name(), running = running.len(), "job worker stopping");
        self.release(claimed.drain(..).map(|(job, _)| job.id).collect())
            .await;
        while !running.is_empty() {
            tokio::select! {
                _ = running.join_next() => {}
                _ = heartbeat.tick() => self.heartbeat().await,
            }
        }
    }

    /// Starts claimed jobs in the free slots, and claims more when the claimed ones are all
    /// started and a batch of slots is free (idle, or at least half free): a claim walks every
    /// container with unfinished jobs, so it is not made again after every job that ends.
    /// Restarts are claimed up to [`CLAIM_AHEAD`] times the free slots and shared out over
    /// them as batches; other jobs, which run longer, are claimed only for free slots.
    async fn fill(
        &self,
        running: &mut JoinSet<bool>,
        claimed: &mut VecDeque<Claimed>,
        slots: usize,
    ) -> Due {
        loop {
            self.start(running, claimed, slots);
            let free = slots - running.len();
            if free == 0 || !(running.is_empty() || free * 2 >= slots) {
                return Due::WhenAJobEnds;
            }
            // a claim takes only the first unfinished job of each container: the jobs queued
            // behind the ones it took, or behind the ones running, become claimable as those
            // end, which say so
            let limit = free * CLAIM_AHEAD;
            let claimed_at = std::time::Instant::now();
            let jobs = match self.claim(limit).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed");
                    return Due::WhenAJobEnds;
                }
            };
            let full = jobs.len() == limit;
            let mut other = Vec::new();
            for (n, job) in jobs.into_iter().enumerate() {
                if n < free || job.kind == JobKind::Restart {
                    claimed.push_back((job, claimed_at));
                } else {
                    other.push(job.id);
                }
            }
            let gave_back = !other.is_empty();
            if gave_back {
                self.release(other).await;
            }
            if !full {
                // nothing more is runnable now but what was given back for want of a slot:
                // start what was claimed and wait
                self.start(running, claimed, slots);
                return if gave_back {
                    Due::WhenAJobEnds
                } else {
                    Due::Later
                };
            }
        }
    }

    /// Starts claimed jobs, oldest first, while a slot is free. Restarts waiting in a row run
    /// as one batch in one slot, the waiting ones shared out over the free slots.
    fn start(&self, running: &mut JoinSet<bool>, claimed: &mut VecDeque<Claimed>, slots: usize) {
        let batchable =
            |job: &Job| job.kind == JobKind::Restart && job.attempts <= job.max_attempts;
        while running.len() < slots {
            let Some((job, claimed_at)) = claimed.pop_front() else {
                return;
            };
            if !batchable(&job) {
                running.spawn(self.execute(job));
                continue;
            }
            let share = (claimed.len() + 1)
                .div_ceil(slots - running.len())
                .min(MAX_BATCH);
            let mut batch = vec![job];
            while batch.len() < share && claimed.front().is_some_and(|(next, _)| batchable(next)) {
                batch.extend(claimed.pop_front().map(|(next, _)| next));
            }
            running.spawn(self.execute_restarts(batch, claimed_at));
        }
    }

    /// Gives back claimed jobs this worker will not start.
    async fn release(&self, jobs: Vec<JobId>) {
        if jobs.is_empty() {
            return;
        }
        let runner = self.runner.clone();
        let released = tokio::task::spawn_blocking(move || {
            queue::release(&runner.pool, &runner.worker, &jobs)
        })
        .await;
        if let Ok(Err(e)) = released {
            tracing::warn!(error = %e, "giving back claimed jobs failed; their leases run out");
        }
    }

    /// Runs every job that can run now, then returns how many ran. Jobs waiting for a
    /// backoff stay waiting.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let jobs = self.claim(self.settings.slots.max(1)).await?;
            if jobs.is_empty() {
                return Ok(total);
            }
            total += jobs.len();
            let mut batch = JoinSet::new();
            for job in jobs {
                batch.spawn(self.execute(job));
            }
            while batch.join_next().await.is_some() {}
        }
    }

    /// Resolves once a notification says a job of this worker's servers became runnable. The
    /// worker's connection LISTENs; every [`LISTEN_TICK`] this looks at what libpq has
    /// received on its socket, which costs no round trip. While a job's statement uses the
    /// connection the look waits for the next tick; notifications wait in libpq meanwhile.
    async fn notified(&self) {
        let mut tick = tokio::time::interval(LISTEN_TICK);
        loop {
            tick.tick().await;
            let Some(mut conn) = self.runner.pool.try_get() else {
                continue;
            };
            match jobs::take_ready(&mut conn, &self.settings.scope) {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the job connection failed; opening another");
                    crate::db::discard(conn);
                    // the poll finds what was notified meanwhile
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<Job>> {
        let runner = self.runner.clone();
        let settings = self.settings.clone();
        tokio::task::spawn_blocking(move || {
            crate::phases::time(Phase::Claim, || {
                queue::claim(&runner.pool, &runner.worker, &settings, limit)
            })
        })
        .await?
    }

    async fn heartbeat(&self) {
        let runner = self.runner.clone();
        let lease = self.settings.lease;
        let extended = tokio::task::spawn_blocking(move || {
            queue::extend_leases(&runner.pool, &runner.worker, lease)
        })
        .await;
        if let Ok(Err(e)) = extended {
            tracing::warn!(error = %e, "extending job leases failed");
        }
    }

    /// Runs restarts claimed no earlier than `claimed_at` as one batch, then records each
    /// one's outcome as [`settle`] does. The batch renames nothing into place once a tenth of
    /// the lease is left of the claim's.
    fn execute_restarts(
        &self,
        batch: Vec<Job>,
        claimed_at: std::time::Instant,
    ) -> impl Future<Output = bool> + Send + 'static {
        let runner = self.runner.clone();
        let backoff = self.settings.backoff;
        let lease = self.settings.lease;
        let lease_safe = claimed_at + lease.saturating_sub(lease / 10);
        async move {
            let settled = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    runner.run_restarts(&batch, lease_safe)
                }))
                .unwrap_or_else(|panic| {
                    let message = panic_message(panic.as_ref());
                    BatchOutcome {
                        results: batch
                            .iter()
                            .map(|_| Err(JobError::Panic(message.clone())))
                            .collect(),
                        claim_again: true,
                    }
                });
                let seconds = started.elapsed().as_secs_f64();
                for (job, result) in batch.iter().zip(outcome.results) {
                    observe(job, &result, seconds);
                    let span = tracing::info_span!(
                        "job",
                        id = job.id.0,
                        kind = %job.kind,
                        attempt = job.attempts
                    );
                    let _entered = span.enter();
                    record(&runner, job, result, backoff);
                }
                outcome.claim_again
            })
            .await;
            settled.unwrap_or_else(|e| {
                tracing::error!(error = %e, "a batch's thread died");
                true
            })
        }
    }

    /// Runs one job as [`settle`] does. As it ends, a claim is always worth making: what it
    /// did (an install queues restarts, a failure lets the job behind it run) is not tracked.
    fn execute(&self, job: Job) -> impl Future<Output = bool> + Send + 'static {
        let runner = self.runner.clone();
        let backoff = self.settings.backoff;
        async move {
            let settled = tokio::task::spawn_blocking(move || settle(&runner, &job, backoff)).await;
            if let Err(e) = settled {
                tracing::error!(error = %e, "a job's thread died");
            }
            true
        }
    }
}

/// Runs the job once, a panic caught as its error, and times it in [`JOB_RUN_SECONDS`].
fn timed_attempt(runner: &Runner, job: &Job) -> Result<(), JobError> {
    let started = std::time::Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| runner.run(job)))
        .unwrap_or_else(|panic| Err(JobError::Panic(panic_message(panic.as_ref()))));
    observe(job, &result, started.elapsed().as_secs_f64());
    result
}

/// Times an attempt in [`JOB_RUN_SECONDS`].
fn observe(job: &Job, result: &Result<(), JobError>, seconds: f64) {
    let outcome = match result {
        Ok(()) => "done",
        Err(JobError::Lost) => "lost",
        Err(_) => "failed",
    };
    JOB_RUN_SECONDS
        .get_or_create(&JobRunLabels {
            kind: job.kind.to_string(),
            outcome,
        })
        .observe(seconds);
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs one attempt, catching a panic, and records what became of it. Everything the attempt
/// logs is inside this span, so a trace shows one job end to end.
#[tracing::instrument(name = "job", skip_all, fields(id = job.id.0, kind = %job.kind, attempt = job.attempts))]
fn settle(runner: &Runner, job: &Job, backoff: std::time::Duration) {
    let result = if job.attempts > job.max_attempts {
        // its workers kept dying mid-job: stop taking it
        Err(JobError::Invalid(format!(
            "no attempt finished after {} tries",
            job.max_attempts
        )))
    } else {
        timed_attempt(runner, job)
    };
    record(runner, job, result, backoff);
}

/// Records what became of an attempt: nothing more when it is done or lost, else a
/// cancellation, a retry or a failure.
fn record(runner: &Runner, job: &Job, result: Result<(), JobError>, backoff: std::time::Duration) {
    let error = match result {
        Ok(()) => {
            tracing::info!("job done");
            return;
        }
        Err(JobError::Lost) => {
            tracing::warn!("job taken over by another worker; its outcome is theirs");
            return;
        }
        Err(e) => e,
    };
    let message = error.to_string();
    if error.is_cancelled() {
        match queue::cancel_attempt(&runner.pool, job, &runner.worker, &message) {
            Ok(true) => tracing::info!("job cancelled by its owner"),
            Ok(false) => tracing::warn!("job taken over by another worker"),
            Err(e) => tracing::error!(error = %e, "could not record the job's cancellation"),
        }
        return;
    }
    match queue::fail_attempt(
        &runner.pool,
        job,
        &runner.worker,
        &message,
        error.is_permanent(),
        backoff,
    ) {
        Ok(AfterFailure::Retrying) => {
            tracing::warn!(error = %message, "job attempt failed; will retry")
        }
        Ok(AfterFailure::Failed) => {
            tracing::error!(error = %message, "job failed");
            if let Err(e) = runner.report_failure(job, &message) {
                tracing::error!(error = %e, "could not raise the failed job's alarm");
            }
        }
        Ok(AfterFailure::Lost) => tracing::warn!("job taken over by another worker"),
        Err(e) => tracing::error!(error = %e, "could not record the job's failure"),
    }
}

/// A worker for this machine's host root, with a database pool of its own.
pub async fn local_worker(
    config: &crate::config::Config,
    scope: crate::db::queries::jobs::ServerScope,
) -> anyhow::Result<Worker> {
    let url = secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned();
    let worker = worker_name();
    let name = format!("distropanel worker {worker}");
    let (pool, streams) = tokio::task::spawn_blocking(move || {
        let pool = crate::db::worker_pool(&url, &name)?;
        let streams = crate::db::on_demand_pool(&url, &format!("{name} install"))?;
        anyhow::Ok((pool, streams))
    })
    .await??;
    let (host, template) = crate::host::open_local(config).await?;
    let runner = Runner {
        pool,
        streams,
        host,
        template,
        fetcher: Arc::new(crate::host::fetch::Fetcher::new(
            crate::host::fetch::FetchPolicy {
                allow_private: config.images.fetch_allow_private,
                timeout: config.images.fetch_timeout,
                deadline: config.jobs.deadlines.fetch,
                ..Default::default()
            },
        )),
        images: config.images.clone(),
        deadlines: config.jobs.deadlines,
        base_uid: config.base_uid,
        max_alarms: config.max_alarms,
        worker,
    };
    let settings = QueueSettings {
        scope,
        lease: config.jobs.lease,
        poll: config.jobs.poll,
        backoff: config.jobs.backoff,
        slots: config.jobs.slots,
    };
    Ok(Worker::new(runner, settings).reporting_every(config.jobs.report))
}
