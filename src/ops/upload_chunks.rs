//! An upload's body on its way into PostgreSQL: its first bytes are sniffed before anything is
//! stored, then it is cut into chunk rows, each stored (and hashed) on the blocking pool while
//! the next one is received. At most two chunks are held in memory, whatever the upload's size.

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

/// Bytes stored per row while an upload streams in.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

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
/// is stored once the body has shown it is no archive; a chunk still being stored when the
/// body is refused has finished before this returns.
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
            let _ = store.settle().await;
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
    let mut pending: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    let mut total = 0u64;
    let mut sniffed = false;
    loop {
        let next = body.next().await;
        let ended = next.is_none();
        if let Some(piece) = next {
            let piece = piece.map_err(|_| broke_off())?;
            let piece = piece.as_ref();
            total += piece.len() as u64;
            if total > limit {
                return Err(too_large(limit));
            }
            pending.extend_from_slice(piece);
        }
        if !sniffed && (pending.len() >= SNIFF_BYTES || (ended && total > 0)) {
            archive_format::sniff(&pending).ok_or_else(not_an_archive)?;
            sniffed = true;
        }
        while pending.len() >= CHUNK_BYTES || (ended && !pending.is_empty()) {
            let rest = pending.split_off(pending.len().min(CHUNK_BYTES));
            let full = std::mem::replace(&mut pending, rest);
            store.push(full).await?;
            pending.reserve(CHUNK_BYTES);
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

/// Stores chunks in order, one at a time, each while the next is received.
struct Storer {
    pool: PgPool,
    into: Destination,
    seq: i32,
    hasher: Option<Sha256>,
    storing: Option<JoinHandle<Result<Sha256, Error>>>,
}

impl Storer {
    fn new(pool: PgPool, into: Destination) -> Self {
        Storer {
            pool,
            into,
            seq: 0,
            hasher: Some(Sha256::new()),
            storing: None,
        }
    }

    /// Waits for the chunk being stored, if any.
    async fn settle(&mut self) -> Result<(), Error> {
        if let Some(storing) = self.storing.take() {
            self.hasher = Some(storing.await.map_err(Error::internal)??);
        }
        Ok(())
    }

    /// Starts storing the next chunk once the one before it is stored.
    async fn push(&mut self, data: Vec<u8>) -> Result<(), Error> {
        self.settle().await?;
        let hasher = self.hasher.take().unwrap_or_default();
        let (pool, into, at) = (self.pool.clone(), self.into, self.seq);
        self.storing = Some(tokio::spawn(async move {
            store_chunk(&pool, into, at, data, hasher).await
        }));
        self.seq += 1;
        Ok(())
    }

    /// The hash of everything stored.
    async fn finish(mut self) -> Result<Sha256, Error> {
        self.settle().await?;
        Ok(self.hasher.take().unwrap_or_default())
    }
}

/// Stores chunk `at` within the customer's upload quota, and hashes it.
async fn store_chunk(
    pool: &PgPool,
    into: Destination,
    at: i32,
    data: Vec<u8>,
    mut hasher: Sha256,
) -> Result<Sha256, Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let bytes = data.len() as u64;
            fair_use::may_store_upload(conn, into.customer, bytes, &into.quotas)?;
            image_uploads::append(conn, into.upload, at, &data)?;
            Ok::<_, Error>(())
        })?;
        hasher.update(&data);
        Ok(hasher)
    })
    .await
}
