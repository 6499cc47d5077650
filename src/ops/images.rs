//! Putting a root filesystem into a custom distro: each change queues a job on the storage
//! container's host. An uploaded archive streams into PostgreSQL in chunks while it is hashed,
//! whatever carries it (a raw request body or a multipart file field), never whole in memory.

use diesel::{Connection, PgConnection};
use futures_util::Stream;

use crate::config::Quotas;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::{Job, NewJob};
use crate::db::queries::{custom_distros, image_uploads, jobs};
use crate::db::{self, PgPool};
use crate::domain::ids::{CustomDistroId, CustomerId, JobId, UploadId};
use crate::domain::image_source::{FetchUrl, HomeFile, Sha256Hex};
use crate::error::Error;
use crate::jobs::{ArchiveSource, DistroImage};
use crate::ops::custom_distros::stored_path;
use crate::ops::{Actor, fair_use, upload_chunks};

fn distro_image(distro: &CustomDistro) -> Result<DistroImage, Error> {
    Ok(DistroImage {
        distro: distro.id,
        path: stored_path(&distro.path)?,
    })
}

/// What a request for an image job does when the distro has one pending already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfPending {
    /// Refused with the pending job (an install, a rollback).
    Refuse,
    /// Answered with the pending job, which does what was asked (a check: an install checks
    /// anyway).
    Join,
}

/// In one transaction: the actor's distro (locked), its pending image job (see
/// [`IfPending`]), what `prepare` checks or writes first, the customer's job quota, the job
/// `make` builds, and the operation log line.
#[allow(clippy::too_many_arguments)]
pub async fn queue_image_job(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
    (action, detail): (&'static str, String),
    if_pending: IfPending,
    prepare: impl FnOnce(&mut PgConnection, &CustomDistro) -> Result<(), Error> + Send + 'static,
    make: impl FnOnce(&CustomDistro, &DistroImage) -> NewJob + Send + 'static,
) -> Result<Job, Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let distro = custom_distros::lock_for_customer(conn, actor.customer, id)?
                .ok_or(Error::NotFound)?;
            if let Some(pending) = fair_use::pending_image_job(conn, &distro)? {
                return match if_pending {
                    IfPending::Join => Ok(pending),
                    IfPending::Refuse => Err(fair_use::busy(&distro, pending)),
                };
            }
            prepare(conn, &distro)?;
            fair_use::may_queue_job(conn, actor.customer, &quotas)?;
            let image = distro_image(&distro)?;
            let job = jobs::enqueue(conn, &make(&distro, &image))?;
            actor.log(conn, distro.container_id, action, &distro.name, &detail)?;
            Ok(job)
        })
    })
    .await
}

pub fn too_large(limit: u64) -> Error {
    Error::TooLarge(format!(
        "The archive is larger than the {} MiB an image may be; make it smaller or fetch it from a URL.",
        limit >> 20
    ))
}

/// The operation log's detail of an install request, saying when it is forced.
fn requested(detail: String, force: bool) -> String {
    if force {
        format!("{detail}; with force: installed even if its check finds errors")
    } else {
        detail
    }
}

/// An archive stored in chunks, not yet handed to a job.
#[derive(Debug)]
pub struct StoredUpload {
    pub upload: UploadId,
    pub bytes: u64,
    pub digest: Sha256Hex,
}

/// Stores the archive `body` brings for the customer's distro `id`, at most `limit` bytes.
/// The distro must be the customer's, with no image job pending and no other upload in
/// flight, and the first bytes must show an archive, before a byte is stored; a refused
/// upload leaves nothing.
#[tracing::instrument(skip_all, fields(customer = %customer, distro = %id))]
pub async fn receive_upload<S, B, E>(
    pool: &PgPool,
    customer: CustomerId,
    quotas: Quotas,
    id: CustomDistroId,
    body: S,
    limit: u64,
) -> Result<StoredUpload, Error>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    let upload = db::run(pool, move |conn| {
        conn.transaction(|conn| begin_upload(conn, customer, &quotas, id))
    })
    .await?;
    let into = Destination {
        upload,
        customer,
        quotas,
    };
    match upload_chunks::receive(pool, into, body, limit).await {
        Ok((bytes, digest)) => Ok(StoredUpload {
            upload,
            bytes,
            digest,
        }),
        Err(refused) => {
            discard(pool, upload).await;
            Err(refused)
        }
    }
}

/// Where an upload's chunks go, and whose quota they count against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Destination {
    pub upload: UploadId,
    pub customer: CustomerId,
    pub quotas: Quotas,
}

/// Starts an upload for the customer's distro, refused while an image job of the distro is
/// pending, while the customer is at their job quota, or while another upload to the
/// distro is in flight (the database holds one receiving upload per distro).
fn begin_upload(
    conn: &mut PgConnection,
    customer: CustomerId,
    quotas: &Quotas,
    id: CustomDistroId,
) -> Result<UploadId, Error> {
    let distro = custom_distros::lock_for_customer(conn, customer, id)?.ok_or(Error::NotFound)?;
    if let Some(pending) = fair_use::pending_image_job(conn, &distro)? {
        return Err(fair_use::busy(&distro, pending));
    }
    fair_use::may_queue_job(conn, customer, quotas)?;
    image_uploads::begin(conn, id).map_err(|e| {
        if db::violated_constraint(&e) == Some("image_uploads_one_receiving_idx") {
            Error::Conflict(format!(
                "Another upload to {} is in flight: a distro takes one upload at a time. \
                 Wait until it has been taken, then send this again.",
                distro.name
            ))
        } else {
            e.into()
        }
    })
}

/// Drops an upload no job will read; if this fails too, the sweep drops it later.
pub async fn discard(pool: &PgPool, upload: UploadId) {
    let _ = db::run(pool, move |conn| {
        image_uploads::discard(conn, upload).map_err(Error::from)
    })
    .await;
}

/// Queues the unpack of a stored upload, unless its digest is not `expect`; a refused
/// upload is dropped.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn finish_upload(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
    stored: StoredUpload,
    expect: Option<Sha256Hex>,
    force: bool,
) -> Result<Job, Error> {
    let upload = stored.upload;
    let queued = queue_upload(pool, actor, quotas, id, stored, (expect, force)).await;
    if queued.is_err() {
        discard(pool, upload).await;
    }
    queued
}

async fn queue_upload(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
    stored: StoredUpload,
    (expect, force): (Option<Sha256Hex>, bool),
) -> Result<Job, Error> {
    let StoredUpload {
        upload,
        bytes,
        digest,
    } = stored;
    if let Some(expect) = &expect
        && *expect != digest
    {
        return Err(Error::invalid(
            "sha256",
            format!("the archive received has SHA-256 {digest}, not {expect}; send it again"),
        ));
    }
    let detail = requested(format!("{bytes} bytes, SHA-256 {digest}"), force);
    let digest_kept = digest.clone();
    queue_image_job(
        pool,
        actor,
        quotas,
        id,
        ("image uploaded", detail),
        IfPending::Refuse,
        move |conn, _| {
            if image_uploads::complete(conn, upload, bytes, digest_kept.as_str())? {
                Ok(())
            } else {
                Err(Error::internal(anyhow::anyhow!(
                    "upload {upload} was not receiving any more, or lacks some of its {bytes} bytes"
                )))
            }
        },
        move |distro, image| {
            let source = ArchiveSource::Upload(upload);
            crate::jobs::install_image(distro, image, &source, Some(&digest), force)
        },
    )
    .await
}

/// Unpacks an archive in the storage container's home.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn unpack(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
    file: HomeFile,
    expect: Option<Sha256Hex>,
    force: bool,
) -> Result<Job, Error> {
    let detail = requested(format!("from {file}"), force);
    queue_image_job(
        pool,
        actor,
        quotas,
        id,
        ("image unpack requested", detail),
        IfPending::Refuse,
        |_, _| Ok(()),
        move |distro, image| {
            crate::jobs::install_image(
                distro,
                image,
                &ArchiveSource::HomeFile(file),
                expect.as_ref(),
                force,
            )
        },
    )
    .await
}

/// Has the host download an archive with this digest.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn fetch(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
    url: FetchUrl,
    expect: Sha256Hex,
    force: bool,
) -> Result<Job, Error> {
    let detail = requested(format!("from {url}, SHA-256 {expect}"), force);
    queue_image_job(
        pool,
        actor,
        quotas,
        id,
        ("image fetch requested", detail),
        IfPending::Refuse,
        |_, _| Ok(()),
        move |distro, image| {
            let source = ArchiveSource::Url(url);
            crate::jobs::install_image(distro, image, &source, Some(&expect), force)
        },
    )
    .await
}

/// Brings back the image the last install replaced; refused when none is known.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn rollback(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
) -> Result<Job, Error> {
    queue_image_job(
        pool,
        actor,
        quotas,
        id,
        ("image rollback requested", String::new()),
        IfPending::Refuse,
        |_, distro| {
            if distro.previous_sha256.is_none() {
                return Err(Error::Conflict(format!(
                    "{} has no earlier image to roll back to: a rollback brings back the image the last install replaced.",
                    distro.name
                )));
            }
            Ok(())
        },
        |distro, image| crate::jobs::rollback_image(distro, image),
    )
    .await
}

/// Checks the installed image again; while an image job of the distro is pending, that job
/// is the answer.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, distro = %id))]
pub async fn check_now(
    pool: &PgPool,
    actor: Actor,
    quotas: Quotas,
    id: CustomDistroId,
) -> Result<Job, Error> {
    queue_image_job(
        pool,
        actor,
        quotas,
        id,
        ("image check requested", String::new()),
        IfPending::Join,
        |_, _| Ok(()),
        |distro, image| crate::jobs::check_image(distro, image),
    )
    .await
}

/// Cancels the actor's install job `id`: a queued one never runs; a running one stops at its
/// next progress write and leaves the installed image as it was. Logged either way.
#[tracing::instrument(skip_all, fields(customer = %actor.customer, job = %id))]
pub async fn cancel_install(pool: &PgPool, actor: Actor, id: JobId) -> Result<Job, Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let job = match jobs::cancel_for_customer(conn, actor.customer, id)? {
                None => return Err(Error::NotFound),
                Some(Err(refused)) => return Err(Error::Conflict(refused.to_string())),
                Some(Ok(job)) => job,
            };
            let detail = if job.state == "cancelled" {
                "it had not started and will not"
            } else {
                "it stops at its next progress report; the installed image stays"
            };
            if let Some(container) = job.container_id {
                let target = format!("job {}", job.id);
                actor.log(conn, container, "image install cancelled", &target, detail)?;
            }
            Ok(job)
        })
    })
    .await
}
