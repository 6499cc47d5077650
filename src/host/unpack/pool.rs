//! A small pool of threads creating the archive's small files while the unpacking thread
//! decompresses and walks the archive. Each file is created the way the unpacking thread
//! creates one: relative to its parent's directory descriptor, `O_EXCL | O_NOFOLLOW`, its
//! content read (and counted against the limits) by the unpacking thread first.
//!
//! Order is kept where it matters: the unpacking thread remembers the members in flight (a
//! hash of each path) and waits for the pool to be idle before it touches a path in flight, or
//! a path below one, and before a hard link to one: a later member of the same name still
//! replaces an earlier one, and a link's target exists before the link.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use cap_std::fs::Dir;
use rustix::fs::{Mode, OFlags};

use super::{UnpackError, chown, clear_name};

/// Threads creating files.
pub const THREADS: usize = 3;

/// The largest file handed to the pool; larger ones are written by the unpacking thread as
/// they are read.
pub const POOLED_FILE_BYTES: u64 = 1 << 20;

/// File content read but not yet written, at most (the unpacking thread waits past it).
const MAX_IN_FLIGHT_BYTES: usize = 16 << 20;

/// Paths remembered before the pool is waited for and they are forgotten.
const MAX_REMEMBERED: usize = 1 << 16;

/// One file to create.
pub struct Work {
    pub dir: Arc<Dir>,
    pub name: OsString,
    /// The member's name, for messages.
    pub member: PathBuf,
    pub content: Vec<u8>,
    /// Its mode, set-id bits already dropped.
    pub mode: u32,
    pub owner: Option<u32>,
}

#[derive(Default)]
struct State {
    files: usize,
    bytes: usize,
    error: Option<UnpackError>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// The process's umask, when known: a file whose mode it leaves whole is created with it,
    /// with no `fchmod` after.
    umask: Option<u32>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Pool {
    sender: Option<SyncSender<Work>>,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// Hashes of the paths handed over since the pool was last idle.
    in_flight: HashSet<u64>,
    hasher: std::hash::RandomState,
}

impl Pool {
    pub fn new() -> io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Work>(1024);
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changed: Condvar::new(),
            umask: umask(),
        });
        let mut threads = Vec::with_capacity(THREADS);
        for n in 0..THREADS {
            let (receiver, shared) = (receiver.clone(), shared.clone());
            let thread = std::thread::Builder::new()
                .name(format!("unpack-{n}"))
                .spawn(move || work(&receiver, &shared))?;
            threads.push(thread);
        }
        Ok(Self {
            sender: Some(sender),
            threads,
            shared,
            in_flight: HashSet::new(),
            hasher: std::hash::RandomState::new(),
        })
    }

    /// The hashes of `parts[..1]`, `parts[..2]`, ... `parts`.
    pub fn prefixes(&self, parts: &[&OsStr]) -> Vec<u64> {
        let mut hasher = self.hasher.build_hasher();
        parts
            .iter()
            .map(|part| {
                hasher.write(part.as_encoded_bytes());
                hasher.write_u8(b'/');
                hasher.finish()
            })
            .collect()
    }

    /// Waits for the pool to be idle if a member at `parts` (or a path it goes through) could
    /// meet one in flight. Fails with the first error a file met.
    pub fn before(&mut self, parts: &[&OsStr]) -> Result<(), UnpackError> {
        if self.in_flight.is_empty() {
            return Ok(());
        }
        if self
            .prefixes(parts)
            .iter()
            .any(|hash| self.in_flight.contains(hash))
        {
            self.idle()?;
        }
        Ok(())
    }

    /// Hands a file over; `path` is the hash of its whole path ([`Pool::prefixes`]'s last).
    /// Fails with the first error a file met.
    pub fn create(&mut self, path: u64, work: Work) -> Result<(), UnpackError> {
        if self.in_flight.len() >= MAX_REMEMBERED {
            self.idle()?;
        }
        {
            let mut state = self.shared.lock();
            while state.error.is_none()
                && state.bytes > 0
                && state.bytes + work.content.len() > MAX_IN_FLIGHT_BYTES
            {
                state = self
                    .shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if let Some(error) = state.error.take() {
                return Err(error);
            }
            state.files += 1;
            state.bytes += work.content.len();
        }
        self.in_flight.insert(path);
        let sent = self.sender.as_ref().map(|sender| sender.send(work));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(UnpackError::Io(io::Error::other(
                "the threads writing files stopped",
            ))),
        }
    }

    /// Waits until every file handed over is written. Fails with the first error one met.
    pub fn idle(&mut self) -> Result<(), UnpackError> {
        let mut state = self.shared.lock();
        while state.files > 0 {
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.in_flight.clear();
        match state.error.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Drop for Pool {
    /// Lets the threads finish what they were given, then ends them.
    fn drop(&mut self) {
        self.sender = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn work(receiver: &Mutex<Receiver<Work>>, shared: &Shared) {
    loop {
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(work) = next else { return };
        let written = write(&work, shared.umask);
        let mut state = shared.lock();
        state.files -= 1;
        state.bytes -= work.content.len();
        if let Err(error) = written {
            state.error.get_or_insert(error);
        }
        shared.changed.notify_all();
    }
}

/// Creates one file as the unpacking thread would: a name taken by an earlier file or link
/// is cleared first, a directory never replaced.
fn write(work: &Work, umask: Option<u32>) -> Result<(), UnpackError> {
    // a mode the umask leaves whole is given at creation; any other is set after
    let direct = umask.is_some_and(|umask| work.mode & umask == 0);
    let create = if direct { work.mode } else { 0o600 };
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || rustix::fs::openat(&*work.dir, &work.name, flags, Mode::from_raw_mode(create));
    let fd = match open() {
        Err(rustix::io::Errno::EXIST) => {
            clear_name(&work.dir, &work.name, &work.member)?;
            open().map_err(io::Error::from)?
        }
        opened => opened.map_err(io::Error::from)?,
    };
    let mut file = File::from(fd);
    file.write_all(&work.content)?;
    if !direct {
        rustix::fs::fchmod(&file, Mode::from_raw_mode(work.mode)).map_err(io::Error::from)?;
    }
    chown(&file, work.owner)?;
    Ok(())
}

/// The process's umask, from `/proc/self/status` (reading it with `umask(2)` would change it
/// for a moment under the other threads).
fn umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}
