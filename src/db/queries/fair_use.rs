//! What the quotas on the shared parts read: a distro's pending image job, a customer's
//! counted jobs and stored upload bytes, a storage container's distros. A quota is checked and
//! its change written under [`lock`], so two requests cannot both pass the last free place.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::models::job::Job;
use crate::db::schema::{custom_distros, jobs};
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId};

/// What a transaction-scoped lock guards: the first key of `pg_advisory_xact_lock(int, int)`.
#[derive(Debug, Clone, Copy)]
#[repr(i32)]
pub enum Guarded {
    /// A customer's counted jobs.
    CustomerJobs = 0x6a6f_6273,
    /// A customer's upload bytes.
    CustomerUploads = 0x7570_6c64,
    /// A storage container's distros.
    StorageDistros = 0x6469_7374,
}

/// Waits for, then holds until the transaction ends, the lock on `what` of `key`.
pub fn lock(conn: &mut PgConnection, what: Guarded, key: i32) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<Integer, _>(what as i32)
        .bind::<Integer, _>(key)
        .execute(conn)?;
    Ok(())
}

/// The oldest unfinished image job of a distro: an install, check or rollback naming it, or a
/// rename or purge of its directory (`path`).
pub fn pending_image_job(
    conn: &mut PgConnection,
    storage: ContainerId,
    distro: CustomDistroId,
    path: &str,
) -> QueryResult<Option<Job>> {
    let found: Option<JobRow> = diesel::sql_query(
        "SELECT id FROM jobs \
         WHERE container_id = $1 AND state IN ('queued', 'retrying', 'running') \
           AND kind NOT IN ('restart', 'ensure_storage_dir') \
           AND (payload ->> 'distro' = $2::text OR payload ->> 'path' = $3 \
                OR payload ->> 'to' = $3) \
         ORDER BY id LIMIT 1",
    )
    .bind::<Integer, _>(storage.0)
    .bind::<Integer, _>(distro.0)
    .bind::<Text, _>(path)
    .get_result(conn)
    .optional()?;
    match found {
        None => Ok(None),
        Some(row) => jobs::table
            .find(row.id)
            .select(Job::as_select())
            .first(conn)
            .optional(),
    }
}

#[derive(QueryableByName)]
struct JobRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A customer's unfinished jobs that count against their cap, counted up to `up_to` (so a
/// customer with a long queue costs no more than one at the cap).
pub fn counted_jobs(conn: &mut PgConnection, customer: CustomerId, up_to: i64) -> QueryResult<i64> {
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM ( \
             SELECT 1 FROM jobs \
             WHERE customer_id = $1 AND state IN ('queued', 'retrying', 'running') \
               AND kind NOT IN ('restart', 'ensure_storage_dir') \
             LIMIT $2) counted",
    )
    .bind::<Integer, _>(customer.0)
    .bind::<BigInt, _>(up_to)
    .get_result(conn)?;
    Ok(count.n)
}

/// Bytes of a customer's uploads not yet unpacked: still receiving, or complete and named
/// by an unfinished unpack job.
pub fn upload_bytes_in_flight(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<i64> {
    let count: Count = diesel::sql_query(
        "SELECT coalesce(sum(u.bytes), 0)::bigint AS n \
         FROM image_uploads u JOIN custom_distros d ON d.id = u.custom_distro_id \
         WHERE d.customer_id = $1 \
           AND (u.state = 'receiving' OR EXISTS ( \
               SELECT 1 FROM jobs j \
               WHERE j.container_id = d.container_id \
                 AND j.state IN ('queued', 'retrying', 'running') AND j.kind = 'unpack_image' \
                 AND j.payload -> 'source' ->> 'upload' = u.id::text))",
    )
    .bind::<Integer, _>(customer.0)
    .get_result(conn)?;
    Ok(count.n)
}

/// Custom distros a storage container holds.
pub fn distros_in(conn: &mut PgConnection, storage: ContainerId) -> QueryResult<i64> {
    custom_distros::table
        .filter(custom_distros::container_id.eq(storage))
        .count()
        .get_result(conn)
}
