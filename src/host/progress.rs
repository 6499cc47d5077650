//! How far an image install has got, told to whoever runs it, and their word to stop.
//!
//! The unpack calls [`Progress::entry`] once per archive member and the archive reader counts
//! its bytes through [`Progress::counting`]; the sink hears of it at most once per
//! [`Progress::every`] (and at each change of phase), so a job writes its progress a few
//! times a second, not per member. A sink that answers "stop" makes the next call fail with
//! [`cancelled`], which the work passes up as its error; [`Progress::stopped`] tells it apart.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the install is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading the archive (an upload, a home file or a download) and writing its members.
    #[default]
    Unpacking,
    /// Running the checklist on the unpacked tree, before it is swapped in.
    Checking,
}

/// How far the install has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Done {
    pub phase: Phase,
    /// Bytes of the archive read, as it comes (compressed).
    pub done: u64,
    /// Bytes the archive has, when known before it is read.
    pub total: Option<u64>,
    /// Members unpacked.
    pub members: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Where progress goes (the job's row), and whether the work should go on.
pub trait ProgressSink {
    /// Records `done`; `false` when the work must stop.
    fn report(&mut self, done: &Done) -> bool;
}

struct State<'a> {
    sink: Option<&'a mut dyn ProgressSink>,
    every: Duration,
    last: Option<Instant>,
    done: Done,
    stopped: bool,
}

impl State<'_> {
    /// Tells the sink when it is time (or `now`), and fails once it said stop.
    fn tell(&mut self, now: bool) -> io::Result<()> {
        if self.stopped {
            return Err(cancelled());
        }
        let due = self.last.is_none_or(|last| last.elapsed() >= self.every);
        if let Some(sink) = self.sink.as_mut()
            && (now || due)
        {
            self.last = Some(Instant::now());
            if !sink.report(&self.done) {
                self.stopped = true;
                return Err(cancelled());
            }
        }
        Ok(())
    }
}

/// The error the work stops with once its sink said stop.
pub fn cancelled() -> io::Error {
    io::Error::other("the install was cancelled")
}

/// A handle on the progress of one install; clones share it.
#[derive(Clone)]
pub struct Progress<'a> {
    state: Rc<RefCell<State<'a>>>,
}

impl<'a> Progress<'a> {
    /// Progress nobody hears of; the work never stops for it.
    pub fn none() -> Self {
        Self::new(None, Duration::MAX, None)
    }

    /// Progress told to `sink` at most once per `every`; `total` archive bytes, if known.
    pub fn to(sink: &'a mut dyn ProgressSink, every: Duration, total: Option<u64>) -> Self {
        Self::new(Some(sink), every, total)
    }

    fn new(sink: Option<&'a mut dyn ProgressSink>, every: Duration, total: Option<u64>) -> Self {
        let done = Done {
            total,
            ..Done::default()
        };
        Self {
            state: Rc::new(RefCell::new(State {
                sink,
                every,
                last: None,
                done,
                stopped: false,
            })),
        }
    }

    /// One member unpacked: `members` so far, holding `bytes` of file content.
    pub fn entry(&self, members: u64, bytes: u64) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        state.done.members = members;
        state.done.bytes = bytes;
        state.tell(false)
    }

    /// The install moves on to `phase`; the sink hears of it at once.
    pub fn phase(&self, phase: Phase) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        state.done.phase = phase;
        state.tell(true)
    }

    /// Whether the sink said stop.
    pub fn stopped(&self) -> bool {
        self.state.borrow().stopped
    }

    /// How far it got.
    pub fn done(&self) -> Done {
        self.state.borrow().done
    }

    /// `source`, its bytes counted as the archive read (and the sink told when it is time).
    pub fn counting<R: Read>(&self, source: R) -> Counting<'a, R> {
        Counting {
            source,
            progress: self.clone(),
        }
    }
}

/// An archive source whose bytes count as progress.
pub struct Counting<'a, R> {
    source: R,
    progress: Progress<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.source.read(buf)?;
        let mut state = self.progress.state.borrow_mut();
        state.done.done += read as u64;
        state.tell(false)?;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Heard {
        told: Vec<Done>,
        stop_after: Option<usize>,
    }

    impl ProgressSink for Heard {
        fn report(&mut self, done: &Done) -> bool {
            self.told.push(*done);
            self.stop_after.is_none_or(|n| self.told.len() < n)
        }
    }

    #[test]
    fn the_sink_hears_at_most_once_per_interval_but_always_of_a_new_phase() {
        let mut heard = Heard::default();
        {
            let progress = Progress::to(&mut heard, Duration::from_secs(3600), Some(10));
            let mut read = Vec::new();
            progress
                .counting(&b"0123456789"[..])
                .read_to_end(&mut read)
                .unwrap();
            for n in 1..=1000 {
                progress.entry(n, n * 2).unwrap();
            }
            progress.phase(Phase::Checking).unwrap();
        }
        assert_eq!(heard.told.len(), 2, "{:?}", heard.told);
        assert_eq!(
            heard.told[1],
            Done {
                phase: Phase::Checking,
                done: 10,
                total: Some(10),
                members: 1000,
                bytes: 2000,
            }
        );
    }

    #[test]
    fn once_the_sink_says_stop_every_later_call_fails() {
        let mut heard = Heard {
            stop_after: Some(2),
            ..Heard::default()
        };
        let progress = Progress::to(&mut heard, Duration::ZERO, None);
        progress.entry(1, 0).unwrap();
        assert!(progress.entry(2, 0).is_err());
        assert!(progress.stopped());
        assert!(progress.counting(&b"x"[..]).read(&mut [0; 1]).is_err());
        assert!(!Progress::none().stopped());
    }
}
