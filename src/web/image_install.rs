//! Runs an [`InstallImage`] for the pages and the API alike: they differ only in how they read
//! the request and render the answer.

use crate::AppState;
use crate::db::models::job::Job;
use crate::domain::commands::{InstallImage, InvalidFields};
use crate::domain::ids::CustomDistroId;
use crate::ops::Actor;
use crate::ops::images::{self, StoredUpload};
use crate::web::error::AppError;

impl From<InvalidFields> for AppError {
    fn from(refused: InvalidFields) -> Self {
        AppError::Invalid(refused.into_pairs())
    }
}

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
            images::finish_upload(state, actor, id, stored, expect).await
        }
        (InstallImage::Upload(_), None) => Err(no_archive()),
        (InstallImage::Home(file, expect), None) => {
            images::unpack(state, actor, id, file, expect).await
        }
        (InstallImage::Url(url, expect), None) => {
            images::fetch(state, actor, id, url, expect).await
        }
        (_, Some(stored)) => {
            images::discard(state, stored.upload).await;
            Err(AppError::internal(anyhow::anyhow!(
                "an archive came with a command that takes none"
            )))
        }
    }
}
