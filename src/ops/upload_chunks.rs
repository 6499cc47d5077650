//! An upload's body on its way into PostgreSQL: its first bytes are sniffed before anything is
//! stored, then it is cut into chunk rows. Up to [`STORING_AT_ONCE`] chunks are stored at once,
//! each on its own connection, while the next one is received, and each is hashed, in order, on
//! the blocking pool. At most `STORING_AT_ONCE + 1` chunk buffers are held in memory, whatever
//! the upload's size, and they are reused from one chunk to the next.

use std::collections::VecDeque;
use std::sync::Arc;

use diesel::Connection;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::db::queries::image_uploads;
use crate::db::{self, PgPool};
use crate::domain::archive_format::{self, SNIFF_BYTES};
use crate::domain::image_source::Sha256Hex;
use crate::error::Error;
use crate::ops::fair_use;
use crate::ops::images::{Destination, too_large};

/// Bytes stored per row while an upload streams in (the most a row may hold). Large rows keep
/// the per-row costs (a transaction, the quota check, a few round trips) small against the
/// bytes; the memory held is a few of them.
const CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Chunks being stored at once. Two keep PostgreSQL writing one while the other's bytes cross
/// the socket, and the quota check of one while the other is written.
const STORING_AT_ONCE: usize = 2;

/// What an upload whose first bytes show no archive is told.
fn not_an_archive() -> Error {
    Error::Unsupported(
        "This file is not an image archive: send a tar archive, plain or compressed with \
         gzip, xz, zstd or bzip2. Nothing was stored."
            .into(),
    )
}

fn broke_off() -> Error {
    Error::Unreadable(
        "The upload broke off before the whole archive arrived; send it again.".into(),
    )
}

/// Streams the body into chunks, hashing it on the way; returns its size and digest. Nothing
/// is stored once the body has shown it is no archive; the chunks still being stored when the
/// body is refused have finished before this returns.
pub(crate) async fn receive<S, B, E>(
    pool: &PgPool,
    into: Destination,
    body: S,
    limit: u64,
) -> Result<(u64, Sha256Hex), Error>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    let mut store = Storer::new(pool.clone(), into);
    match fill(&mut store, body, limit).await {
        Ok(total) => {
            let hasher = store.finish().await?;
            Ok((total, Sha256Hex::from_digest(&hasher.finalize().into())))
        }
        Err(refused) => {
            store.settle().await;
            Err(refused)
        }
    }
}

/// Cuts the body into chunks for `store`; returns its size.
async fn fill<S, B, E>(store: &mut Storer, body: S, limit: u64) -> Result<u64, Error>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    let mut body = std::pin::pin!(body);
    let mut pending = store.empty_buffer();
    let mut total = 0u64;
    let mut sniffed = false;
    loop {
        let next = body.next().await;
        let ended = next.is_none();
        let piece = match &next {
            Some(piece) => piece.as_ref().map_err(|_| broke_off())?.as_ref(),
            None => &[],
        };
        total += piece.len() as u64;
        if total > limit {
            return Err(too_large(limit));
        }
        let mut rest = piece;
        loop {
            let taken = rest.len().min(CHUNK_BYTES - pending.len());
            pending.extend_from_slice(&rest[..taken]);
            rest = &rest[taken..];
            if !sniffed && (pending.len() >= SNIFF_BYTES || (ended && total > 0)) {
                archive_format::sniff(&pending).ok_or_else(not_an_archive)?;
                sniffed = true;
            }
            if pending.len() == CHUNK_BYTES || (ended && !pending.is_empty()) {
                store.push(std::mem::take(&mut pending)).await?;
                pending = store.empty_buffer();
            }
            if rest.is_empty() {
                break;
            }
        }
        if ended {
            break;
        }
    }
    if total == 0 {
        return Err(Error::invalid(
            "image",
            "the body is empty: send the archive itself as the request body",
        ));
    }
    Ok(total)
}

/// Stores chunks, [`STORING_AT_ONCE`] at a time, and hashes them in order.
struct Storer {
    pool: PgPool,
    into: Destination,
    seq: i32,
    /// The hash of the chunks before the one being hashed, or of all when none is.
    hasher: Option<Sha256>,
    hashing: Option<JoinHandle<Sha256>>,
    storing: VecDeque<JoinHandle<Result<Arc<Vec<u8>>, Error>>>,
    /// A chunk buffer stored and hashed, to be filled again.
    spare: Option<Vec<u8>>,
}

impl Storer {
    fn new(pool: PgPool, into: Destination) -> Self {
        Storer {
            pool,
            into,
            seq: 0,
            hasher: Some(Sha256::new()),
            hashing: None,
            storing: VecDeque::with_capacity(STORING_AT_ONCE),
            spare: None,
        }
    }

    /// An empty buffer for the next chunk: the spare one, or a new one.
    fn empty_buffer(&mut self) -> Vec<u8> {
        self.spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_BYTES))
    }

    /// The hash of every chunk pushed so far.
    async fn hashed(&mut self) -> Result<Sha256, Error> {
        if let Some(hashing) = self.hashing.take() {
            return hashing.await.map_err(Error::internal);
        }
        Ok(self.hasher.take().unwrap_or_default())
    }

    /// Waits for the oldest chunk being stored; its buffer becomes the spare one once it is
    /// hashed too.
    async fn stored_oldest(&mut self) -> Result<(), Error> {
        let Some(storing) = self.storing.pop_front() else {
            return Ok(());
        };
        let stored = storing.await.map_err(Error::internal)??;
        if let Ok(mut buffer) = Arc::try_unwrap(stored) {
            buffer.clear();
            self.spare = Some(buffer);
        }
        Ok(())
    }

    /// Waits for every chunk being stored, whatever becomes of each.
    async fn settle(&mut self) {
        while !self.storing.is_empty() {
            let _ = self.stored_oldest().await;
        }
    }

    /// Starts storing and hashing the next chunk once fewer than [`STORING_AT_ONCE`] are
    /// being stored; a chunk refused before stops the upload here.
    async fn push(&mut self, data: Vec<u8>) -> Result<(), Error> {
        while self.storing.len() >= STORING_AT_ONCE {
            self.stored_oldest().await?;
        }
        let data = Arc::new(data);
        let mut hasher = self.hashed().await?;
        let hashed = Arc::clone(&data);
        self.hashing = Some(tokio::task::spawn_blocking(move || {
            hasher.update(hashed.as_slice());
            hasher
        }));
        let (pool, into, at) = (self.pool.clone(), self.into, self.seq);
        self.storing.push_back(tokio::spawn(async move {
            store_chunk(&pool, into, at, data).await
        }));
        self.seq += 1;
        Ok(())
    }

    /// The hash of everything stored, once all of it is.
    async fn finish(mut self) -> Result<Sha256, Error> {
        while !self.storing.is_empty() {
            if let Err(refused) = self.stored_oldest().await {
                self.settle().await;
                return Err(refused);
            }
        }
        self.hashed().await
    }
}

/// Stores chunk `at` within the customer's upload quota. The chunk is written before the
/// customer's upload lock is taken, so chunks are written side by side; the quota check and
/// the upload's byte count then run under the lock, and a chunk over the quota is rolled back.
/// Its commit does not wait for the WAL flush: the upload only counts once `complete` commits,
/// which flushes everything written before it, and `complete` checks the bytes stored.
async fn store_chunk(
    pool: &PgPool,
    into: Destination,
    at: i32,
    data: Arc<Vec<u8>>,
) -> Result<Arc<Vec<u8>>, Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let bytes = data.len() as u64;
            image_uploads::commit_without_flush(conn)?;
            image_uploads::insert_chunk(conn, into.upload, at, data.as_slice())?;
            fair_use::may_store_upload(conn, into.customer, bytes, &into.quotas)?;
            image_uploads::count_bytes(conn, into.upload, bytes)?;
            Ok::<_, Error>(())
        })?;
        Ok(data)
    })
    .await
}
