//! `/staff/custom-distros/{id}`: a customer's custom distro with the forms of their distro
//! page: edit, delete, install an image (upload, a file in the storage container's home, an
//! address), roll back, check, and cancel an install; and its latest jobs' results.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{NoticeQuery, Owner, distro_owner, page, see_other, shown_refusal};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::Job;
use crate::db::queries::{api_jobs, containers, distro_jobs, images};
use crate::domain::commands::{ImageFields, InstallImage, force_flag};
use crate::domain::ids::{CustomDistroId, JobId};
use crate::domain::values::Uid;
use crate::ops;
use crate::ops::images::{self as image_ops, StoredUpload};
use crate::web::api::jobs::{ReportLine, report_lines};
use crate::web::confirm;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, byte_size};
use crate::web::{image_install, multipart, words};

const RECENT_JOBS: i64 = 10;
/// The most a text field of the install form may hold.
const MAX_TEXT_FIELD: usize = 4096;
/// The most a urlencoded install form may hold.
const MAX_FORM: usize = 16 * 1024;

struct JobRow {
    id: i64,
    kind: String,
    state: String,
    created: String,
    finished: String,
    error: String,
    report: Vec<ReportLine>,
    cancellable: bool,
}

fn job_row(job: Job) -> JobRow {
    let install = matches!(job.kind.as_str(), "unpack_image" | "fetch_image");
    let pending = api_jobs::PENDING.contains(&job.state.as_str());
    JobRow {
        id: job.id.0,
        kind: job.kind.as_str().replace('_', " "),
        cancellable: install && pending && !job.cancel_requested,
        state: job.state,
        created: when(job.created_at),
        finished: job.finished_at.map(when).unwrap_or_default(),
        error: words::plain(&job.error.unwrap_or_default()),
        report: report_lines(&job.report),
    }
}

/// What the forms show: the stored values, or what was sent.
#[derive(Debug, Default)]
struct Values {
    name: String,
    path: String,
    note: String,
    file: String,
    url: String,
}

#[derive(Template)]
#[template(path = "staff/act_distro.html")]
struct ActDistroPage {
    layout: Layout,
    notice: Option<&'static str>,
    problem: Option<String>,
    customer_id: i32,
    company: String,
    id: i32,
    name: String,
    path: String,
    storage_uid: i64,
    storage_name: String,
    image_state: String,
    size: String,
    sha256: String,
    checked: String,
    rollback_known: bool,
    booted_by: Vec<String>,
    report: Vec<ReportLine>,
    /// The newest job, its result shown next to the image.
    latest: Option<JobRow>,
    jobs: Vec<JobRow>,
    values: Values,
}

struct Record {
    distro: CustomDistro,
    image_state: String,
    storage_name: String,
    booted_by: Vec<String>,
    jobs: Vec<Job>,
}

async fn load(state: &AppState, owner: &Owner, id: CustomDistroId) -> Result<Record, AppError> {
    let customer = owner.customer;
    db::run(&state.pool, move |conn| {
        let (distro, image_state) =
            images::find_with_state(conn, customer, id)?.ok_or(AppError::NotFound)?;
        let storage = containers::find_for_customer(conn, customer, distro.container_id)?
            .ok_or(AppError::NotFound)?;
        let booted_by = containers::booting(conn, id)?
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        let jobs = distro_jobs::recent_for_distro(conn, customer, storage.id, id, RECENT_JOBS)?;
        Ok(Record {
            distro,
            image_state,
            storage_name: storage.name,
            booted_by,
            jobs,
        })
    })
    .await
}

#[derive(Default)]
struct Feedback {
    notice: Option<&'static str>,
    problem: Option<String>,
    sent: Option<Values>,
}

async fn render(
    staff: &Staff,
    state: &AppState,
    owner: Owner,
    id: CustomDistroId,
    status: StatusCode,
    feedback: Feedback,
) -> Result<HttpResponse, AppError> {
    let record = load(state, &owner, id).await?;
    let distro = record.distro;
    let mut values = feedback.sent.unwrap_or_default();
    if values.name.is_empty() && values.path.is_empty() {
        values.name = distro.name.clone();
        values.path = distro.path.clone();
        values.note = distro.note.clone();
    }
    let jobs: Vec<JobRow> = record.jobs.into_iter().map(job_row).collect();
    let shown = ActDistroPage {
        layout: staff.layout(),
        notice: feedback.notice,
        problem: feedback.problem,
        customer_id: owner.customer.0,
        company: owner.company,
        id: distro.id.0,
        storage_uid: Uid::of(state.config.base_uid, distro.container_id).get(),
        storage_name: record.storage_name,
        image_state: record.image_state,
        size: byte_size(distro.image_bytes),
        sha256: distro.image_sha256.clone().unwrap_or_default(),
        checked: distro
            .checked_at
            .map(when)
            .unwrap_or_else(|| "never".into()),
        rollback_known: distro.previous_sha256.is_some(),
        booted_by: record.booted_by,
        report: distro
            .check_report
            .as_ref()
            .map(report_lines)
            .unwrap_or_default(),
        latest: None,
        jobs,
        name: distro.name,
        path: distro.path,
        values,
    };
    let mut shown = shown;
    shown.latest = shown.jobs.first().map(|j| JobRow {
        id: j.id,
        kind: j.kind.clone(),
        state: j.state.clone(),
        created: j.created.clone(),
        finished: j.finished.clone(),
        error: j.error.clone(),
        report: Vec::new(),
        cancellable: j.cancellable,
    });
    Ok(page(status, shown.render()?))
}

fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "created" => Some("The custom distro was created. Now put an image into it."),
        "saved" => Some("The changes were saved."),
        "uploaded" => Some("The archive was uploaded; the host unpacks and checks it next."),
        "unpack" => Some("The host unpacks the archive and checks the image next."),
        "fetch" => Some("The host downloads the archive, unpacks and checks it next."),
        "rollback" => Some("The host brings back the previous image next."),
        "check" => Some("The host checks the image again next."),
        "cancelled" => Some("The install was cancelled: the installed image stays as it was."),
        _ => None,
    }
}

#[get("/staff/custom-distros/{id}")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let owner = distro_owner(&state, *id).await?;
    let feedback = Feedback {
        notice: notice_for(&query.done),
        ..Feedback::default()
    };
    render(&staff, &state, owner, *id, StatusCode::OK, feedback).await
}

/// 303 back to the page with a notice, or the page with the refusal and what was sent.
async fn answer<T>(
    staff: &Staff,
    state: &AppState,
    owner: Owner,
    id: CustomDistroId,
    outcome: Result<T, AppError>,
    done: &str,
    sent: Option<Values>,
) -> Result<HttpResponse, AppError> {
    match outcome {
        Ok(_) => Ok(see_other(format!("/staff/custom-distros/{id}?done={done}"))),
        Err(error) => {
            let (status, reason) = shown_refusal(error)?;
            let feedback = Feedback {
                problem: Some(reason),
                sent,
                ..Feedback::default()
            };
            render(staff, state, owner, id, status, feedback).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditForm {
    name: String,
    path: String,
    note: String,
}

#[post("/staff/custom-distros/{id}/edit")]
pub async fn edit(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let owner = distro_owner(&state, id).await?;
    let form = form.into_inner();
    let actor = owner.actor(&staff);
    let outcome = async {
        let fields = ops::custom_distros::parse_fields(
            Some(form.name.clone()),
            Some(form.path.clone()),
            Some(form.note.clone()),
            true,
        )?;
        ops::custom_distros::update(&state.pool, state.config.base_uid, actor, id, fields).await
    }
    .await
    .map_err(AppError::from);
    let sent = Values {
        name: form.name,
        path: form.path,
        note: form.note,
        ..Values::default()
    };
    answer(&staff, &state, owner, id, outcome, "saved", Some(sent)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    purge: Option<String>,
    confirmed: Option<String>,
}

#[post("/staff/custom-distros/{id}/delete")]
pub async fn delete(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let owner = distro_owner(&state, id).await?;
    let purge = form.purge.is_some();
    if !confirm::is_given(form.confirmed.as_deref()) {
        let mut ask = confirm::delete_distro(id, purge);
        ask.action = format!("/staff/custom-distros/{id}/delete");
        ask.back = format!("/staff/custom-distros/{id}");
        return confirm::page(staff.layout(), ask);
    }
    let actor = owner.actor(&staff);
    let outcome = ops::custom_distros::delete(
        &state.pool,
        (state.config.base_uid, state.config.quotas),
        actor,
        id,
        purge,
    )
    .await;
    match outcome {
        Ok(gone) => {
            let uid = Uid::of(state.config.base_uid, gone.container_id);
            Ok(see_other(format!(
                "/staff/containers/{uid}/act?done=deleted"
            )))
        }
        Err(error) => {
            answer(
                &staff,
                &state,
                owner,
                id,
                Err::<(), _>(error.into()),
                "",
                None,
            )
            .await
        }
    }
}

/// The install form: `source` is `upload` (multipart, with `archive`), `home` (with `file`)
/// or `url` (with `url`); `sha256` and `force` as on the customer's page.
#[derive(Debug, Default)]
struct InstallForm {
    source: String,
    file: String,
    url: String,
    sha256: String,
    force: Option<String>,
}

impl InstallForm {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "source" => self.source = value,
            "file" => self.file = value,
            "url" => self.url = value,
            "sha256" => self.sha256 = value,
            "force" => self.force = Some(value),
            _ => {}
        }
    }

    fn command(&self) -> Result<(InstallImage, bool), AppError> {
        let sha256 = (!self.sha256.trim().is_empty()).then_some(self.sha256.as_str());
        let command = match self.source.as_str() {
            "home" => InstallImage::from_home(ImageFields {
                file: Some(&self.file),
                sha256,
                ..ImageFields::default()
            })?,
            "url" => InstallImage::from_url(ImageFields {
                url: Some(&self.url),
                sha256,
                ..ImageFields::default()
            })?,
            "upload" => InstallImage::upload(ImageFields {
                sha256,
                ..ImageFields::default()
            })?,
            _ => {
                return Err(AppError::invalid(
                    "source",
                    "choose an upload, a file in the storage container's home or an address",
                ));
            }
        };
        Ok((command, force_flag(self.force.as_deref())?))
    }
}

/// Reads a multipart install form, storing its archive as it comes (the fields before the
/// archive are read first, so a bad digest refuses before a byte is stored).
async fn read_multipart(
    state: &AppState,
    owner: &Owner,
    id: CustomDistroId,
    mut form: Multipart,
    archive: &mut Option<StoredUpload>,
) -> Result<InstallForm, AppError> {
    let mut sent = InstallForm {
        source: "upload".into(),
        ..InstallForm::default()
    };
    while let Some(field) = multipart::next_field(&mut form).await? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "archive" {
            if archive.is_none() && multipart::has_file_name(&field) {
                sent.command()?;
                let received = image_ops::receive_upload(
                    &state.pool,
                    owner.customer,
                    state.config.quotas,
                    id,
                    field,
                    state.config.images.max_archive_bytes,
                )
                .await?;
                *archive = Some(received);
            } else {
                multipart::skip(field).await?;
            }
        } else {
            let value = multipart::text(field, MAX_TEXT_FIELD).await?;
            sent.set(&name, value);
        }
    }
    Ok(sent)
}

async fn read_urlencoded(mut payload: web::Payload) -> Result<InstallForm, AppError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| multipart::unreadable())?;
        if body.len() + chunk.len() > MAX_FORM {
            return Err(AppError::PayloadTooLarge(
                "The form is too large; upload an archive with the upload form.".into(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let mut sent = InstallForm::default();
    for (name, value) in url::form_urlencoded::parse(&body) {
        sent.set(&name, value.into_owned());
    }
    Ok(sent)
}

/// `POST /staff/custom-distros/{id}/image`: installs an image from an upload (multipart), a
/// file in the storage container's home or an address (either form), with `force` to install
/// even when its check finds errors.
#[post("/staff/custom-distros/{id}/image")]
pub async fn image(
    staff: Staff,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let owner = distro_owner(&state, id).await?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut archive = None;
    let sent = if is_multipart {
        let form = Multipart::new(request.headers(), payload);
        read_multipart(&state, &owner, id, form, &mut archive).await
    } else {
        read_urlencoded(payload).await
    };
    let sent = match sent {
        Ok(sent) => sent,
        Err(refused) => {
            if let Some(stored) = archive {
                image_ops::discard(&state.pool, stored.upload).await;
            }
            return answer(&staff, &state, owner, id, Err::<(), _>(refused), "", None).await;
        }
    };
    let actor = owner.actor(&staff);
    let outcome = match sent.command() {
        Ok((command, force)) => {
            image_install::queue(&state, actor, id, command, archive.take(), force).await
        }
        Err(refused) => Err(refused),
    };
    if let Some(stored) = archive {
        image_ops::discard(&state.pool, stored.upload).await;
    }
    let done = match sent.source.as_str() {
        "home" => "unpack",
        "url" => "fetch",
        _ => "uploaded",
    };
    let values = Some(Values {
        file: sent.file,
        url: sent.url,
        ..Values::default()
    });
    answer(&staff, &state, owner, id, outcome, done, values).await
}

#[post("/staff/custom-distros/{id}/rollback")]
pub async fn rollback(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<confirm::Confirmation>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let owner = distro_owner(&state, id).await?;
    if !form.given() {
        let mut ask = confirm::roll_back(id);
        ask.action = format!("/staff/custom-distros/{id}/rollback");
        ask.back = format!("/staff/custom-distros/{id}");
        return confirm::page(staff.layout(), ask);
    }
    let actor = owner.actor(&staff);
    let outcome = ops::images::rollback(&state.pool, actor, state.config.quotas, id)
        .await
        .map_err(AppError::from);
    answer(&staff, &state, owner, id, outcome, "rollback", None).await
}

#[post("/staff/custom-distros/{id}/check")]
pub async fn check(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let owner = distro_owner(&state, id).await?;
    let actor = owner.actor(&staff);
    let outcome = ops::images::check_now(&state.pool, actor, state.config.quotas, id)
        .await
        .map_err(AppError::from);
    answer(&staff, &state, owner, id, outcome, "check", None).await
}

/// `POST /staff/custom-distros/{id}/jobs/{job}/cancel`: a queued install never runs, a
/// running one stops and leaves the installed image as it was.
#[post("/staff/custom-distros/{id}/jobs/{job}/cancel")]
pub async fn cancel_install(
    staff: Staff,
    state: web::Data<AppState>,
    path: web::Path<(CustomDistroId, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, job) = path.into_inner();
    let owner = distro_owner(&state, id).await?;
    let customer = owner.customer;
    let found = db::run(&state.pool, move |conn| {
        api_jobs::find_for_customer(conn, customer, JobId(job)).map_err(AppError::from)
    })
    .await?;
    let of_distro = found
        .as_ref()
        .and_then(|j| j.payload.get("distro")?.as_i64())
        == Some(i64::from(id.0));
    let outcome = if of_distro {
        let actor = owner.actor(&staff);
        ops::images::cancel_install(&state.pool, actor, JobId(job))
            .await
            .map_err(AppError::from)
    } else {
        Err(AppError::Conflict(format!(
            "Job {job} is no install of this custom distro; only its own installs can be \
             cancelled here."
        )))
    };
    answer(&staff, &state, owner, id, outcome, "cancelled", None).await
}
