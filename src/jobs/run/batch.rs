//! Restarts claimed together, run as one batch: each restart's steps as a single restart runs
//! them, its keys and vassal staged rather than written; then one publication of every staged
//! file (two filesystem syncs for the lot) and one statement marking the batch done, with each
//! job's steps, boot record and the moment its vassal was written. No job is marked done before
//! its vassal is durable; a worker that dies before the statement leaves jobs another worker
//! runs again, as it would leave a single restart.

use std::collections::HashMap;
use std::time::Instant;

use crate::db::models::job::Job;
use crate::db::queries::{host_facts, jobs};
use crate::domain::values::Uid;
use crate::host::deadline::Deadline;
use crate::host::home_label;
use crate::jobs::Task;
use crate::phases::{self, Phase};

use super::{Batched, JobError, Log, Outcome, Runner, Subject, Subjected, vassal_written};

/// What became of a batch: each restart's outcome, in order, and whether the worker should
/// claim as the batch ends (a job waits behind one of its restarts, or one did not end done).
pub struct BatchOutcome {
    pub results: Vec<Result<(), JobError>>,
    pub claim_again: bool,
}

impl BatchOutcome {
    /// `behind`: a job waits behind one of the restarts marked done.
    fn new(results: Vec<Result<(), JobError>>, behind: bool) -> Self {
        // a restart that did not end done may be retried or fail for good, which lets a job
        // queued behind it run: only a batch done in full knows nothing waits behind it
        let claim_again = behind || results.iter().any(Result::is_err);
        BatchOutcome {
            results,
            claim_again,
        }
    }
}

/// A restart of the batch, and how far it got.
struct Member<'a> {
    log: Log<'a>,
    /// `None` while it is on its way to being marked done.
    result: Option<Result<(), JobError>>,
    /// Its vassal's name and what it boots, once staged.
    vassal: Option<(String, &'static str)>,
}

impl Runner {
    /// Runs `restarts` (restart jobs of different containers, claimed by this worker) as one
    /// batch and returns each one's outcome, in order. Nothing is renamed into place after
    /// `lease_safe`, before which the claim's lease cannot have run out: past it, the batch's
    /// jobs are left to whoever holds them now ([`JobError::Lost`]). Blocking.
    pub fn run_restarts(&self, restarts: &[Job], lease_safe: Instant) -> BatchOutcome {
        let started = Instant::now();
        let outcome = self.run_batch(restarts, lease_safe);
        phases::add(Phase::Batch, started);
        outcome
    }

    fn run_batch(&self, restarts: &[Job], lease_safe: Instant) -> BatchOutcome {
        let ids: Vec<_> = restarts.iter().filter_map(|job| job.container_id).collect();
        let read = Instant::now();
        let facts = match self
            .pool
            .get()
            .map_err(JobError::from)
            .and_then(|mut conn| Ok(host_facts::containers(&mut conn, &ids)?))
        {
            Ok(facts) => facts,
            Err(e) => {
                let message = e.to_string();
                let failed = restarts
                    .iter()
                    .map(|_| Err(JobError::Batch(message.clone())));
                return BatchOutcome::new(failed.collect(), false);
            }
        };
        phases::add(Phase::Facts, read);
        let facts: HashMap<_, _> = facts.into_iter().map(|f| (f.id, f)).collect();
        let mut members: Vec<Member> = restarts
            .iter()
            .map(|job| self.stage_restart(job, &facts))
            .collect();

        let mut staged = Vec::new();
        let mut owners = Vec::new();
        for (n, member) in members.iter().enumerate() {
            if let (None, Some(batched)) = (&member.result, &member.log.batched) {
                for file in batched.staged.borrow_mut().drain(..) {
                    staged.push(file);
                    owners.push(n);
                }
            }
        }
        if Instant::now() >= lease_safe {
            tracing::warn!(
                jobs = restarts.len(),
                "a batch of restarts ran as long as its lease: nothing written, left to the lease"
            );
            for member in &members {
                member.log.write_lines();
            }
            // dropping what was staged removes it
            let left = members
                .into_iter()
                .map(|m| m.result.unwrap_or(Err(JobError::Lost)));
            return BatchOutcome::new(left.collect(), false);
        }
        let published = self.host.publish(staged);
        let written_at = chrono::Utc::now();
        let mut failed: Vec<Option<crate::host::HostError>> = std::iter::repeat_with(|| None)
            .take(members.len())
            .collect();
        for (owner, result) in owners.into_iter().zip(published) {
            if let Err(e) = result {
                failed[owner].get_or_insert(e);
            }
        }
        for (member, failure) in members.iter_mut().zip(failed) {
            if member.result.is_some() {
                continue;
            }
            let Some((name, kind)) = member.vassal.clone() else {
                continue;
            };
            match failure {
                None => {
                    member.log.vassal_written.set(Some(written_at));
                    member
                        .log
                        .step("vassal", &name, Outcome::Ok, &vassal_written(kind));
                }
                Some(e) => {
                    member
                        .log
                        .step("vassal", &name, Outcome::Error, &e.to_string());
                    member.result = Some(Err(self.failed(&member.log, e.into())));
                }
            }
        }
        for member in &members {
            member.log.write_lines();
        }
        let behind = self.finish_batch(&mut members);
        let results = members.into_iter().map(|m| m.result.unwrap_or(Ok(())));
        BatchOutcome::new(results.collect(), behind)
    }

    /// The steps of one restart of the batch, up to its staged files.
    fn stage_restart<'a>(
        &'a self,
        job: &'a Job,
        facts: &'a HashMap<crate::domain::ids::ContainerId, host_facts::ContainerFacts>,
    ) -> Member<'a> {
        let facts = job.container_id.and_then(|id| facts.get(&id));
        let log = Log {
            runner: self,
            job,
            subject: facts.map(|f| Subject {
                container: f.id,
                customer: f.customer_id,
                uid: Uid::of(self.base_uid, f.id),
            }),
            pending: Default::default(),
            vassal_written: Default::default(),
            batched: Some(Batched::default()),
        };
        let mut member = Member {
            log,
            result: None,
            vassal: None,
        };
        let task = match Task::parse(job) {
            Ok(task) => task,
            Err(e) => {
                member.result = Some(Err(e.into()));
                return member;
            }
        };
        let Some(facts) = facts else {
            member
                .log
                .step("skip", "", Outcome::Ok, "the container no longer exists");
            return member;
        };
        let uid = Uid::of(self.base_uid, facts.id);
        member.log.step(
            "start",
            &home_label(uid),
            Outcome::Ok,
            &format!("attempt {} of {}", job.attempts, job.max_attempts),
        );
        let deadline: Deadline = task.deadline(&self.deadlines);
        let on = Subjected {
            uid,
            facts,
            deadline: &deadline,
        };
        match self.perform(&member.log, task, &on) {
            Ok(()) => {
                let batched = member.log.batched.as_ref().expect("a batched log");
                member.vassal = batched
                    .staged_boot
                    .get()
                    .map(|kind| (format!("{uid}.ini"), kind));
            }
            Err(JobError::Lost) => member.result = Some(Err(JobError::Lost)),
            Err(e) => member.result = Some(Err(self.failed(&member.log, e))),
        }
        member
    }

    /// Logs the failure as a step and writes the pending steps, as a single restart does;
    /// the worker decides about retrying.
    fn failed(&self, log: &Log, error: JobError) -> JobError {
        log.step("failed", "", Outcome::Error, &error.to_string());
        if let Some(batched) = &log.batched {
            // nothing of a failed restart is published
            batched.staged.borrow_mut().clear();
        }
        let _ = log.flush();
        error
    }

    /// Marks every member still on its way done, in one statement; one the worker no longer
    /// holds is lost, and a failed statement fails them all (they run again). True when a job
    /// waits behind one of those marked done.
    fn finish_batch(&self, members: &mut [Member]) -> bool {
        let finished: Vec<jobs::FinishedRestart> = members
            .iter()
            .filter(|m| m.result.is_none())
            .map(|m| {
                let batched = m.log.batched.as_ref().expect("a batched log");
                let boot = batched.boot.borrow_mut().take();
                jobs::FinishedRestart {
                    id: m.log.job.id,
                    customer_id: m.log.subject.map(|s| s.customer),
                    container_id: m.log.subject.map(|s| s.container),
                    steps: m.log.pending_steps(),
                    boot_kind: boot.as_ref().map(|(kind, _)| *kind),
                    fallback_reason: boot.and_then(|(_, reason)| reason),
                    vassal_written_at: m.log.vassal_written.get(),
                }
            })
            .collect();
        if finished.is_empty() {
            return false;
        }
        let held = phases::time(Phase::Finish, || {
            self.pool
                .get()
                .map_err(JobError::from)
                .and_then(|mut conn| Ok(jobs::finish_restarts(&mut conn, &self.worker, &finished)?))
        });
        match held {
            Ok(held) => {
                for member in members.iter_mut().filter(|m| m.result.is_none()) {
                    member.result = Some(if held.iter().any(|h| h.id == member.log.job.id) {
                        member.log.pending.borrow_mut().clear();
                        Ok(())
                    } else {
                        Err(JobError::Lost)
                    });
                }
                held.iter().any(|h| h.behind)
            }
            Err(e) => {
                let message = e.to_string();
                for member in members.iter_mut().filter(|m| m.result.is_none()) {
                    member.result = Some(Err(JobError::Batch(message.clone())));
                }
                true
            }
        }
    }
}
