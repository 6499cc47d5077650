//! Image archives received through the API, stored in chunks until the host unpacks them.

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Integer};

use crate::db::schema::{image_upload_chunks, image_uploads};
use crate::domain::ids::{CustomDistroId, UploadId};

/// Starts receiving an archive for `distro`.
pub fn begin(conn: &mut PgConnection, distro: CustomDistroId) -> QueryResult<UploadId> {
    diesel::insert_into(image_uploads::table)
        .values(image_uploads::custom_distro_id.eq(distro))
        .returning(image_uploads::id)
        .get_result(conn)
}

/// The transaction's commit does not wait for its WAL to reach the disk. For chunks only: what
/// commits after them with a flush (the upload's `complete`) makes them durable too.
pub fn commit_without_flush(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off").execute(conn)?;
    Ok(())
}

/// Stores chunk `seq` of an upload through `COPY ... FROM STDIN (FORMAT binary)`, written in
/// slices: neither a bind parameter nor libpq's send buffer holds a copy of the whole chunk.
pub fn insert_chunk(
    conn: &mut PgConnection,
    upload: UploadId,
    seq: i32,
    data: &[u8],
) -> QueryResult<()> {
    const SLICE: usize = 256 * 1024;
    let length = i32::try_from(data.len())
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::copy_from(image_upload_chunks::table)
        .from_raw_data(
            (
                image_upload_chunks::upload_id,
                image_upload_chunks::seq,
                image_upload_chunks::data,
            ),
            |out: &mut dyn std::io::Write| -> QueryResult<()> {
                let mut head = Vec::with_capacity(64);
                head.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
                head.extend_from_slice(&0i32.to_be_bytes()); // flags
                head.extend_from_slice(&0i32.to_be_bytes()); // header extension
                head.extend_from_slice(&3i16.to_be_bytes()); // fields in the row
                head.extend_from_slice(&8i32.to_be_bytes());
                head.extend_from_slice(&upload.0.to_be_bytes());
                head.extend_from_slice(&4i32.to_be_bytes());
                head.extend_from_slice(&seq.to_be_bytes());
                head.extend_from_slice(&length.to_be_bytes());
                let io = |e| diesel::result::Error::SerializationError(Box::new(e));
                out.write_all(&head).map_err(io)?;
                for slice in data.chunks(SLICE) {
                    out.write_all(slice).map_err(io)?;
                }
                out.write_all(&(-1i16).to_be_bytes()).map_err(io)?; // end of data
                Ok(())
            },
        )
        .with_format(diesel::pg::CopyFormat::Binary)
        .execute(conn)?;
    Ok(())
}

/// Counts `bytes` more stored for an upload still receiving.
pub fn count_bytes(conn: &mut PgConnection, upload: UploadId, bytes: u64) -> QueryResult<()> {
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    diesel::update(
        image_uploads::table
            .find(upload)
            .filter(image_uploads::state.eq("receiving")),
    )
    .set(image_uploads::bytes.eq(image_uploads::bytes + bytes))
    .execute(conn)?;
    Ok(())
}

/// The whole archive is here: it is kept, with its digest, for the unpack job. `false` unless
/// the upload is still receiving and holds `bytes`, every chunk received.
pub fn complete(
    conn: &mut PgConnection,
    upload: UploadId,
    bytes: u64,
    sha256: &str,
) -> QueryResult<bool> {
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    let updated = diesel::update(
        image_uploads::table
            .find(upload)
            .filter(image_uploads::state.eq("receiving"))
            .filter(image_uploads::bytes.eq(bytes)),
    )
    .set((
        image_uploads::state.eq("complete"),
        image_uploads::sha256.eq(sha256),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Drops an upload and its chunks (a refused or finished one).
pub fn discard(conn: &mut PgConnection, upload: UploadId) -> QueryResult<usize> {
    diesel::delete(image_uploads::table.find(upload)).execute(conn)
}

/// A complete upload: its size and digest.
pub fn find_complete(
    conn: &mut PgConnection,
    upload: UploadId,
) -> QueryResult<Option<(i64, String)>> {
    image_uploads::table
        .find(upload)
        .filter(image_uploads::state.eq("complete"))
        .select((
            image_uploads::bytes,
            image_uploads::sha256.assume_not_null(),
        ))
        .first(conn)
        .optional()
}

diesel::define_sql_function! {
    /// PostgreSQL's `substring(bytes, start, count)`, with `start` counted from 1. On chunks
    /// (stored uncompressed) it reads only the part asked for.
    fn substring(bytes: Bytea, start: Integer, count: Integer) -> Bytea;
}

/// At most `len` bytes of chunk `seq` of an upload from `offset` on, empty past its end;
/// `None` past the last chunk.
pub fn chunk_part(
    conn: &mut PgConnection,
    upload: UploadId,
    seq: i32,
    offset: i32,
    len: i32,
) -> QueryResult<Option<Vec<u8>>> {
    image_upload_chunks::table
        .find((upload, seq))
        .select(substring(image_upload_chunks::data, offset + 1, len))
        .first(conn)
        .optional()
}

/// Deletes what no job will read any more: uploads still receiving after `stale_after`
/// (their request died), and complete ones that no unfinished job names and that are older
/// than that (their job failed, was cancelled, or their distro moved on).
pub fn sweep(conn: &mut PgConnection, stale_after: std::time::Duration) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM image_uploads u \
         WHERE u.created_at < now() - make_interval(secs => $1) \
           AND NOT EXISTS ( \
               SELECT 1 FROM jobs j \
               WHERE j.state IN ('queued', 'retrying', 'running') AND j.kind = 'unpack_image' \
                 AND j.payload -> 'source' ->> 'upload' = u.id::text)",
    )
    .bind::<diesel::sql_types::Double, _>(stale_after.as_secs_f64())
    .execute(conn)
}
