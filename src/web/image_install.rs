//! Runs an [`InstallImage`] for the pages and the API alike: they differ only in how they read
//! the request and render the answer.

use crate::AppState;
use crate::db::models::job::Job;
use crate::domain::commands::InstallImage;
use crate::domain::ids::CustomDistroId;
use crate::ops::Actor;
use crate::ops::images::{self, StoredUpload};
use crate::web::error::AppError;

/// A form sent without the archive an upload needs.
pub fn no_archive() -> AppError {
    AppError::invalid("archive", "choose an archive file (tar, plain or gzip)")
}

/// Queues the job that installs the image `command` names. An upload's archive is received
/// first (before a byte of it is stored, its digest has been parsed) and comes as `uploaded`.
pub async fn queue(
    state: &AppState,
    actor: Actor,
    id: CustomDistroId,
    command: InstallImage,
    uploaded: Option<StoredUpload>,
) -> Result<Job, AppError> {
    match (command, uploaded) {
        (InstallImage::Upload(expect), Some(stored)) => {
            Ok(images::finish_upload(&state.pool, actor, id, stored, expect).await?)
        }
        (InstallImage::Upload(_), None) => Err(no_archive()),
        (InstallImage::Home(file, expect), None) => {
            Ok(images::unpack(&state.pool, actor, id, file, expect).await?)
        }
        (InstallImage::Url(url, expect), None) => {
            Ok(images::fetch(&state.pool, actor, id, url, expect).await?)
        }
        (_, Some(stored)) => {
            images::discard(&state.pool, stored.upload).await;
            Err(AppError::internal(anyhow::anyhow!(
                "an archive came with a command that takes none"
            )))
        }
    }
}
