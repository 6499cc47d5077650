//! The quotas on the parts every customer shares: the job queue and the database's disk.
//! Each check runs inside the transaction that makes the change it guards, under a lock, so
//! concurrent requests cannot both take the last free place.

use diesel::PgConnection;

use crate::config::Quotas;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::Job;
use crate::db::queries::fair_use::{self, Guarded};
use crate::domain::ids::{ContainerId, CustomerId};
use crate::error::Error;

/// The unfinished image job of `distro`, if there is one: a distro has at most one.
pub fn pending_image_job(
    conn: &mut PgConnection,
    distro: &CustomDistro,
) -> Result<Option<Job>, Error> {
    Ok(fair_use::pending_image_job(
        conn,
        distro.container_id,
        distro.id,
        &distro.path,
    )?)
}

/// The refusal of a second image job while `job` is pending.
pub fn busy(distro: &CustomDistro, job: Job) -> Error {
    Error::JobPending {
        reason: format!(
            "Job {} ({}) of {} is still {}: a distro has one image job pending at a time. \
             Wait until it has finished, then send this again.",
            job.id, job.kind, distro.name, job.state
        ),
        job: Box::new(job),
    }
}

/// Refuses one more counted job when the customer has `max_pending_jobs` unfinished ones.
/// Holds the customer's job lock until the transaction ends.
pub fn may_queue_job(
    conn: &mut PgConnection,
    customer: CustomerId,
    quotas: &Quotas,
) -> Result<(), Error> {
    fair_use::lock(conn, Guarded::CustomerJobs, customer.0)?;
    let cap = i64::from(quotas.max_pending_jobs);
    if fair_use::counted_jobs(conn, customer, cap)? >= cap {
        return Err(Error::OverQuota(format!(
            "You have {cap} unfinished jobs, the most one customer may queue \
             (DISTROPANEL_MAX_PENDING_JOBS). Wait until some have finished, then send this again."
        )));
    }
    Ok(())
}

/// Refuses `more` bytes of upload when the customer's uploads not yet unpacked would then
/// exceed `max_upload_bytes_in_flight`. Holds the customer's upload lock until the
/// transaction ends.
pub fn may_store_upload(
    conn: &mut PgConnection,
    customer: CustomerId,
    more: u64,
    quotas: &Quotas,
) -> Result<(), Error> {
    fair_use::lock(conn, Guarded::CustomerUploads, customer.0)?;
    let stored = u64::try_from(fair_use::upload_bytes_in_flight(conn, customer)?).unwrap_or(0);
    if stored.saturating_add(more) > quotas.max_upload_bytes_in_flight {
        return Err(Error::OverQuota(format!(
            "Your uploads not yet unpacked would exceed {} MiB, the most one customer may have \
             stored (DISTROPANEL_MAX_UPLOAD_MB_IN_FLIGHT). Wait until your other uploads have \
             been unpacked, then send this again.",
            quotas.max_upload_bytes_in_flight >> 20
        )));
    }
    Ok(())
}

/// Refuses one more distro in a storage container holding `max_distros_per_storage`. Holds
/// the container's distro lock until the transaction ends.
pub fn may_add_distro(
    conn: &mut PgConnection,
    storage: ContainerId,
    storage_name: &str,
    quotas: &Quotas,
) -> Result<(), Error> {
    fair_use::lock(conn, Guarded::StorageDistros, storage.0)?;
    let cap = i64::from(quotas.max_distros_per_storage);
    if fair_use::distros_in(conn, storage)? >= cap {
        return Err(Error::OverQuota(format!(
            "{storage_name} holds {cap} custom distros, the most one storage container may \
             (DISTROPANEL_MAX_DISTROS_PER_STORAGE). Delete one you no longer use, or use \
             another storage container."
        )));
    }
    Ok(())
}
