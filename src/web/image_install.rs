//! Runs an [`InstallImage`] for the pages and the API alike: they differ only in how they read
//! the request and render the answer.

use crate::AppState;
use crate::db::models::job::Job;
use crate::domain::commands::InstallImage;
use crate::domain::ids::CustomDistroId;
use crate::error::Error;
use crate::ops::Actor;
use crate::ops::images::{self, StoredUpload};
use crate::web::error::AppError;

/// A form sent without the archive an upload needs.
pub fn no_archive() -> AppError {
    AppError::invalid("archive", "choose an archive file (tar, plain or gzip)")
}

/// Queues the job that installs the image `command` names (with `force`, even when its check
/// finds errors). An upload's archive is received first (before a byte of it is stored, its
/// digest has been parsed) and comes as `uploaded`.
pub async fn queue(
    state: &AppState,
    actor: Actor,
    id: CustomDistroId,
    command: InstallImage,
    uploaded: Option<StoredUpload>,
    force: bool,
) -> Result<Job, AppError> {
    Ok(queue_job(state, actor, id, command, uploaded, force).await?)
}

/// As [`queue`], with the refusal as it is (the API shows the pending job of a busy distro).
pub async fn queue_job(
    state: &AppState,
    actor: Actor,
    id: CustomDistroId,
    command: InstallImage,
    uploaded: Option<StoredUpload>,
    force: bool,
) -> Result<Job, Error> {
    let quotas = state.config.quotas;
    match (command, uploaded) {
        (InstallImage::Upload(expect), Some(stored)) => {
            images::finish_upload(&state.pool, actor, quotas, id, stored, expect, force).await
        }
        (InstallImage::Upload(_), None) => Err(Error::invalid(
            "archive",
            "choose an archive file (tar, plain or gzip)",
        )),
        (InstallImage::Home(file, expect), None) => {
            images::unpack(&state.pool, actor, quotas, id, file, expect, force).await
        }
        (InstallImage::Url(url, expect), None) => {
            images::fetch(&state.pool, actor, quotas, id, url, expect, force).await
        }
        (_, Some(stored)) => {
            images::discard(&state.pool, stored.upload).await;
            Err(Error::internal(anyhow::anyhow!(
                "an archive came with a command that takes none"
            )))
        }
    }
}
