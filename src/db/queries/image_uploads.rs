//! Image archives received through the API, stored in chunks until the host unpacks them.

use diesel::prelude::*;

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

/// Stores chunk `seq` of an upload.
pub fn insert_chunk(
    conn: &mut PgConnection,
    upload: UploadId,
    seq: i32,
    data: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(image_upload_chunks::table)
        .values((
            image_upload_chunks::upload_id.eq(upload),
            image_upload_chunks::seq.eq(seq),
            image_upload_chunks::data.eq(data),
        ))
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

/// Chunk `seq` of an upload; `None` past the last one.
pub fn chunk(conn: &mut PgConnection, upload: UploadId, seq: i32) -> QueryResult<Option<Vec<u8>>> {
    image_upload_chunks::table
        .find((upload, seq))
        .select(image_upload_chunks::data)
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
