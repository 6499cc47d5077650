//! How long a piece of host work may run. Blocking work cannot be killed from outside, so it
//! looks at its deadline itself as it goes (per archive member, per chunk read, per directory
//! entry walked) and stops with [`DeadlinePassed`] once it is over.

use std::fmt;
use std::time::{Duration, Instant};

/// When the work of one job must be done by, and what to call it when it is not.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadline {
    due: Option<Due>,
}

#[derive(Debug, Clone, Copy)]
struct Due {
    at: Instant,
    limit: Duration,
    work: &'static str,
}

impl Deadline {
    /// No deadline: the work runs until it is done.
    pub const NONE: Deadline = Deadline { due: None };

    /// `limit` from now, for the work called `work` ("unpack", "check"...).
    pub fn after(limit: Duration, work: &'static str) -> Self {
        Self::since(Instant::now(), limit, work)
    }

    /// `limit` from `start`: work that began at `start`.
    pub fn since(start: Instant, limit: Duration, work: &'static str) -> Self {
        Self {
            due: start.checked_add(limit).map(|at| Due { at, limit, work }),
        }
    }

    pub fn check(&self) -> Result<(), DeadlinePassed> {
        match self.due {
            Some(due) if Instant::now() >= due.at => Err(DeadlinePassed {
                work: due.work,
                limit: due.limit,
            }),
            _ => Ok(()),
        }
    }
}

/// Work ran past its deadline and stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {work} ran past its {} deadline", Span(*limit))]
pub struct DeadlinePassed {
    pub work: &'static str,
    pub limit: Duration,
}

/// A limit as people say it: `2 min`, `30 min`, `2 h`, `90 s`.
struct Span(Duration);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        match secs {
            0 => write!(f, "{} ms", self.0.as_millis()),
            s if s % 3600 == 0 => write!(f, "{} h", s / 3600),
            s if s % 60 == 0 => write!(f, "{} min", s / 60),
            s => write!(f, "{s} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_names_the_work_and_its_limit() {
        assert!(
            Deadline::after(Duration::from_secs(60), "unpack")
                .check()
                .is_ok()
        );
        let past = Deadline::after(Duration::ZERO, "unpack")
            .check()
            .unwrap_err();
        assert_eq!(past.to_string(), "the unpack ran past its 0 ms deadline");
        for (limit, said) in [
            (120, "2 min"),
            (1800, "30 min"),
            (7200, "2 h"),
            (90, "90 s"),
        ] {
            let past = DeadlinePassed {
                work: "check",
                limit: Duration::from_secs(limit),
            };
            assert_eq!(
                past.to_string(),
                format!("the check ran past its {said} deadline")
            );
        }
        assert!(Deadline::NONE.check().is_ok());
        let started = Instant::now() - Duration::from_secs(5);
        let late = Deadline::since(started, Duration::from_secs(4), "check");
        assert_eq!(
            late.check().unwrap_err().to_string(),
            "the check ran past its 4 s deadline"
        );
    }
}
