//! Putting an image into a distro from its page: an uploaded archive, a file in the storage
//! container's home or an address to download; and rolling back or checking it again. The
//! forms are read here; what they may hold is [`InstallImage`]'s to say, as for the API.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::detail::{FormValues, answer, ensure_own, refused, sent_with_stored};
use super::see_other;
use crate::AppState;
use crate::auth::guard::Customer;
use crate::domain::commands::{ImageFields, InstallImage, force_flag};
use crate::domain::ids::CustomDistroId;
use crate::ops::images::{self as image_ops, StoredUpload};
use crate::ops::{self, Actor};
use crate::web::confirm;
use crate::web::error::AppError;
use crate::web::{image_install, multipart};

/// The most a multipart text field (the digest) may hold.
const MAX_TEXT_FIELD: usize = 1024;
/// Room for the multipart framing around the archive.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// A form's optional field left empty was not answered.
fn answered(raw: &str) -> Option<&str> {
    (!raw.trim().is_empty()).then_some(raw)
}

/// What the upload form brought: its command, whether it is forced, and the archive once
/// stored.
struct UploadForm {
    command: InstallImage,
    force: bool,
    archive: Option<StoredUpload>,
}

/// Reads the multipart form, streaming the `archive` field into the chunk store as it comes;
/// a digest sent before the archive is checked before a byte of it is stored. An upload
/// stored before a later field is refused is dropped again.
async fn receive_form(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    form: Multipart,
) -> Result<UploadForm, AppError> {
    let mut archive = None;
    match read_fields(state, customer, id, form, &mut archive).await {
        Ok((command, force)) => Ok(UploadForm {
            command,
            force,
            archive,
        }),
        Err(refused) => {
            if let Some(stored) = archive {
                image_ops::discard(&state.pool, stored.upload).await;
            }
            Err(refused)
        }
    }
}

async fn read_fields(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    mut form: Multipart,
    archive: &mut Option<StoredUpload>,
) -> Result<(InstallImage, bool), AppError> {
    let limit = state.config.images.max_archive_bytes;
    let mut command = InstallImage::Upload(None);
    let mut force = false;
    while let Some(field) = multipart::next_field(&mut form).await? {
        match field.name() {
            Some("force") => {
                force = force_flag(Some(&multipart::text(field, MAX_TEXT_FIELD).await?))?;
            }
            Some("sha256") => {
                let sent = multipart::text(field, MAX_TEXT_FIELD).await?;
                let fields = ImageFields {
                    sha256: answered(&sent),
                    ..ImageFields::default()
                };
                command = InstallImage::upload(fields)?;
            }
            Some("archive") if archive.is_none() && multipart::has_file_name(&field) => {
                let received = image_ops::receive_upload(
                    &state.pool,
                    customer.customer_id,
                    state.config.quotas,
                    id,
                    field,
                    limit,
                )
                .await?;
                *archive = Some(received);
            }
            _ => multipart::skip(field).await?,
        }
    }
    Ok((command, force))
}

fn declared_length(request: &HttpRequest) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

#[post("/distros/{id}/image")]
pub(super) async fn upload(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: Multipart,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let limit = state.config.images.max_archive_bytes;
    ensure_own(&state, &customer, id).await?;
    if declared_length(&request).is_some_and(|length| length > limit + MULTIPART_SLACK) {
        return refused(&state, &customer, id, image_ops::too_large(limit), None).await;
    }
    let actor = Actor::of_page(&customer, &request);
    let outcome = async {
        let sent = receive_form(&state, &customer, id, form).await?;
        image_install::queue(&state, actor, id, sent.command, sent.archive, sent.force).await
    }
    .await;
    match outcome {
        // the job's number lets the page follow it once the upload is in
        Ok(job) => Ok(see_other(format!(
            "/distros/{id}?done=uploaded&job={}#image",
            job.id
        ))),
        Err(error) => answer(&state, &customer, id, Err::<(), _>(error), "uploaded", None).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UnpackForm {
    file: String,
    sha256: String,
    force: Option<String>,
}

impl TryFrom<&UnpackForm> for InstallImage {
    type Error = AppError;

    fn try_from(form: &UnpackForm) -> Result<Self, AppError> {
        let fields = ImageFields {
            file: Some(&form.file),
            sha256: answered(&form.sha256),
            ..ImageFields::default()
        };
        Ok(InstallImage::from_home(fields)?)
    }
}

#[post("/distros/{id}/unpack")]
pub(super) async fn unpack(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<UnpackForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let command = forced(InstallImage::try_from(&form), form.force.as_deref());
    let sent = move |values: &mut FormValues| {
        values.file = form.file;
        values.sha256 = form.sha256;
        values.force = form.force.is_some();
    };
    queue_from_form(&state, &customer, &request, *id, command, sent, "unpack").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FetchForm {
    url: String,
    sha256: String,
    force: Option<String>,
}

impl TryFrom<&FetchForm> for InstallImage {
    type Error = AppError;

    fn try_from(form: &FetchForm) -> Result<Self, AppError> {
        let fields = ImageFields {
            url: Some(&form.url),
            sha256: answered(&form.sha256),
            ..ImageFields::default()
        };
        Ok(InstallImage::from_url(fields)?)
    }
}

#[post("/distros/{id}/fetch")]
pub(super) async fn fetch(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<FetchForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let command = forced(InstallImage::try_from(&form), form.force.as_deref());
    let sent = move |values: &mut FormValues| {
        values.url = form.url;
        values.sha256 = form.sha256;
        values.force = form.force.is_some();
    };
    queue_from_form(&state, &customer, &request, *id, command, sent, "fetch").await
}

/// A form's command with its force checkbox.
fn forced(
    command: Result<InstallImage, AppError>,
    force: Option<&str>,
) -> Result<(InstallImage, bool), AppError> {
    Ok((command?, force_flag(force)?))
}

/// Queues the install a plain form asked for, then answers with the page: the notice `done`,
/// or the refusal with what was sent.
async fn queue_from_form(
    state: &AppState,
    customer: &Customer,
    request: &HttpRequest,
    id: CustomDistroId,
    command: Result<(InstallImage, bool), AppError>,
    sent: impl FnOnce(&mut FormValues),
    done: &str,
) -> Result<HttpResponse, AppError> {
    let actor = Actor::of_page(customer, request);
    let outcome = match command {
        Ok((command, force)) => image_install::queue(state, actor, id, command, None, force).await,
        Err(refused) => Err(refused),
    };
    let sent = sent_with_stored(state, customer, id, sent).await?;
    answer(state, customer, id, outcome, done, Some(sent)).await
}

#[post("/distros/{id}/rollback")]
pub(super) async fn rollback(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<confirm::Confirmation>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    if !form.given() {
        return confirm::page(customer.layout(), confirm::roll_back(id));
    }
    let actor = Actor::of_page(&customer, &request);
    let outcome = ops::images::rollback(&state.pool, actor, state.config.quotas, id).await;
    answer(&state, &customer, id, outcome, "rollback", None).await
}

#[post("/distros/{id}/check")]
pub(super) async fn check(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let actor = Actor::of_page(&customer, &request);
    let outcome = ops::images::check_now(&state.pool, actor, state.config.quotas, id).await;
    answer(&state, &customer, id, outcome, "check", None).await
}
