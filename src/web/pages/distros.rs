//! `/distros`: the signed-in customer's custom distros, by storage container, and
//! `/distros/<id>`: one distro, its image and its image jobs. Every form works without
//! JavaScript (POST, then 303 back with a short notice); a refusal shows the page again with
//! the reason and changes nothing.

use actix_multipart::{Field, Multipart};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::Job;
use crate::db::queries::images;
use crate::db::queries::{containers, custom_distros, distro_jobs};
use crate::domain::ids::{ContainerId, CustomDistroId};
use crate::domain::image_source::{FetchUrl, HomeFile, Sha256Hex};
use crate::domain::values::Uid;
use crate::ops::{self, Actor};
use crate::web::api::jobs::{ReportLine, report_lines};
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, byte_size};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(delete)
        .service(upload)
        .service(unpack)
        .service(fetch)
        .service(rollback)
        .service(check);
}

/// How many image jobs a distro's page lists.
const RECENT_JOBS: i64 = 10;
/// The most a multipart text field (the digest) may hold.
const MAX_TEXT_FIELD: usize = 1024;
/// Room for the multipart framing around the archive.
const MULTIPART_SLACK: u64 = 64 * 1024;

struct DistroRow {
    id: i32,
    name: String,
    path: String,
    image_state: String,
    size: String,
    checked: String,
    booted_by: Vec<String>,
}

struct StorageBlock {
    uid: i64,
    name: String,
    distros: Vec<DistroRow>,
}

/// What the create form shows: what was sent, after a refusal.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateForm {
    storage: String,
    name: String,
    path: String,
    note: String,
}

#[derive(Template)]
#[template(path = "distros.html")]
struct DistrosPage {
    layout: Layout,
    notice: Option<&'static str>,
    problem: Option<String>,
    storages: Vec<StorageBlock>,
    form: CreateForm,
}

fn checked_at(distro: &CustomDistro) -> String {
    distro
        .checked_at
        .map(when)
        .unwrap_or_else(|| "never".into())
}

fn page(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A refusal the page shows with its reason; anything else is an error page.
fn shown_refusal(error: AppError) -> Result<(StatusCode, String), AppError> {
    match error {
        AppError::Invalid(_)
        | AppError::Conflict(_)
        | AppError::PayloadTooLarge(_)
        | AppError::BadRequest(_)
        | AppError::Forbidden(_) => Ok((error.status(), error.reason())),
        other => Err(other),
    }
}

/// A distro id from the address; anything else names nothing.
fn distro_id(raw: &str) -> Result<CustomDistroId, AppError> {
    raw.parse::<i32>()
        .map(CustomDistroId)
        .map_err(|_| AppError::NotFound)
}

async fn storage_blocks(
    state: &AppState,
    customer: &Customer,
) -> Result<Vec<StorageBlock>, AppError> {
    let customer_id = customer.customer_id;
    let base_uid = state.config.base_uid;
    db::run(&state.pool, move |conn| {
        let all = containers::for_customer(conn, customer_id)?;
        let distros = custom_distros::for_customer(conn, customer_id)?;
        let busy = images::busy_for_customer(conn, customer_id)?;
        let mut rows = Vec::with_capacity(distros.len());
        for distro in distros {
            let image_state = if busy.contains(&distro.id) {
                "unpacking".to_owned()
            } else {
                distro.image_state.clone()
            };
            let booted_by = all
                .iter()
                .filter(|c| c.custom_distro_id == Some(distro.id))
                .map(|c| c.name.clone())
                .collect();
            rows.push((
                distro.container_id,
                DistroRow {
                    id: distro.id.0,
                    size: byte_size(distro.image_bytes),
                    checked: checked_at(&distro),
                    name: distro.name,
                    path: distro.path,
                    image_state,
                    booted_by,
                },
            ));
        }
        let blocks = all
            .iter()
            .filter(|c| c.custom_distros_storage)
            .map(|storage| StorageBlock {
                uid: Uid::of(base_uid, storage.id).get(),
                name: storage.name.clone(),
                distros: rows
                    .extract_if(.., |(holder, _)| *holder == storage.id)
                    .map(|(_, row)| row)
                    .collect(),
            })
            .collect();
        Ok(blocks)
    })
    .await
}

async fn render_list(
    state: &AppState,
    customer: &Customer,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
    form: CreateForm,
) -> Result<HttpResponse, AppError> {
    let page_body = DistrosPage {
        layout: customer.layout(),
        notice,
        problem,
        storages: storage_blocks(state, customer).await?,
        form,
    }
    .render()?;
    Ok(page(status, page_body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Done {
    done: String,
}

#[get("/distros")]
async fn list(
    customer: Customer,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let notice = match query.done.as_str() {
        "deleted" => Some("The custom distro was deleted."),
        "purged" => Some("The custom distro was deleted; its image files are being removed."),
        _ => None,
    };
    render_list(
        &state,
        &customer,
        StatusCode::OK,
        notice,
        None,
        CreateForm::default(),
    )
    .await
}

fn not_a_storage_container() -> AppError {
    AppError::invalid("storage", "choose one of your storage containers")
}

fn storage_of(raw: &str, base_uid: u32) -> Result<ContainerId, AppError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .and_then(|uid| Uid::container_id(uid, base_uid))
        .ok_or_else(not_a_storage_container)
}

#[post("/distros")]
async fn create(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let actor = Actor::of_page(&customer, &request);
    let made = async {
        let storage = storage_of(&form.storage, state.config.base_uid)?;
        let fields = ops::custom_distros::parse_fields(
            Some(form.name.clone()),
            Some(form.path.clone()),
            Some(form.note.clone()),
            true,
        )?;
        ops::custom_distros::create(&state, actor, storage, fields).await
    }
    .await;
    match made {
        Ok(made) => Ok(see_other(format!("/distros/{}?done=created", made.id.0))),
        Err(error) => {
            // the storage container is a field of the form here, not the page's address
            let error = match error {
                AppError::NotFound => not_a_storage_container(),
                other => other,
            };
            let (status, reason) = shown_refusal(error)?;
            render_list(&state, &customer, status, None, Some(reason), form).await
        }
    }
}

struct JobRow {
    id: i64,
    kind: String,
    state: String,
    created: String,
    finished: String,
    error: String,
    report: Vec<ReportLine>,
}

fn job_row(job: Job) -> JobRow {
    JobRow {
        id: job.id.0,
        kind: job.kind.as_str().replace('_', " "),
        state: job.state,
        created: when(job.created_at),
        finished: job.finished_at.map(when).unwrap_or_default(),
        error: job.error.unwrap_or_default(),
        report: report_lines(&job.report),
    }
}

/// What the forms of a distro's page show: the stored values, or what was sent.
#[derive(Debug, Default)]
struct Echo {
    name: String,
    path: String,
    note: String,
    file: String,
    url: String,
    sha256: String,
}

#[derive(Template)]
#[template(path = "distro.html")]
struct DistroPage {
    layout: Layout,
    notice: Option<&'static str>,
    problem: Option<String>,
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
    jobs: Vec<JobRow>,
    echo: Echo,
}

impl DistroPage {
    fn report_has_errors(&self) -> bool {
        self.report.iter().any(|line| line.level == "error")
    }
}

struct Loaded {
    distro: CustomDistro,
    image_state: String,
    storage_name: String,
    booted_by: Vec<String>,
    jobs: Vec<Job>,
}

async fn load(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
) -> Result<Loaded, AppError> {
    let customer_id = customer.customer_id;
    db::run(&state.pool, move |conn| {
        let (distro, image_state) =
            images::find_with_state(conn, customer_id, id)?.ok_or(AppError::NotFound)?;
        let storage = containers::find_for_customer(conn, customer_id, distro.container_id)?
            .ok_or(AppError::NotFound)?;
        let booted_by = containers::booting(conn, id)?
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        let jobs = distro_jobs::recent_for_distro(conn, customer_id, storage.id, id, RECENT_JOBS)?;
        Ok(Loaded {
            distro,
            image_state,
            storage_name: storage.name,
            booted_by,
            jobs,
        })
    })
    .await
}

struct Shown {
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
    echo: Option<Echo>,
}

async fn render_distro(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    shown: Shown,
) -> Result<HttpResponse, AppError> {
    let loaded = load(state, customer, id).await?;
    let distro = loaded.distro;
    let echo = shown.echo.unwrap_or_else(|| Echo {
        name: distro.name.clone(),
        path: distro.path.clone(),
        note: distro.note.clone(),
        ..Echo::default()
    });
    let body = DistroPage {
        layout: customer.layout(),
        notice: shown.notice,
        problem: shown.problem,
        id: distro.id.0,
        storage_uid: Uid::of(state.config.base_uid, distro.container_id).get(),
        storage_name: loaded.storage_name,
        image_state: loaded.image_state,
        size: byte_size(distro.image_bytes),
        sha256: distro.image_sha256.clone().unwrap_or_default(),
        checked: checked_at(&distro),
        rollback_known: distro.previous_sha256.is_some(),
        booted_by: loaded.booted_by,
        report: distro
            .check_report
            .as_ref()
            .map(report_lines)
            .unwrap_or_default(),
        jobs: loaded.jobs.into_iter().map(job_row).collect(),
        name: distro.name,
        path: distro.path,
        echo,
    }
    .render()?;
    Ok(page(shown.status, body))
}

/// The page again with the reason of a refusal, and what was sent.
async fn refused(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    error: AppError,
    echo: Option<Echo>,
) -> Result<HttpResponse, AppError> {
    let (status, reason) = shown_refusal(error)?;
    render_distro(
        state,
        customer,
        id,
        Shown {
            status,
            notice: None,
            problem: Some(reason),
            echo,
        },
    )
    .await
}

/// 303 back to the distro's page with a notice, or the page with the refusal.
async fn answer<T>(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    outcome: Result<T, AppError>,
    done: &str,
    echo: Option<Echo>,
) -> Result<HttpResponse, AppError> {
    match outcome {
        Ok(_) => Ok(see_other(format!("/distros/{}?done={done}", id.0))),
        Err(error) => refused(state, customer, id, error, echo).await,
    }
}

#[get("/distros/{id}")]
async fn show(
    customer: Customer,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let notice = match query.done.as_str() {
        "created" => Some("The custom distro was created. Now put an image into it."),
        "saved" => Some("The changes were saved."),
        "uploaded" => Some("The archive was uploaded; the host unpacks and checks it next."),
        "unpack" => Some("The host unpacks the archive and checks the image next."),
        "fetch" => Some("The host downloads the archive, unpacks and checks it next."),
        "rollback" => Some("The host brings back the previous image next."),
        "check" => Some("The host checks the image again next."),
        _ => None,
    };
    render_distro(
        &state,
        &customer,
        id,
        Shown {
            status: StatusCode::OK,
            notice,
            problem: None,
            echo: None,
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EditForm {
    name: String,
    path: String,
    note: String,
}

#[post("/distros/{id}")]
async fn update(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let form = form.into_inner();
    let actor = Actor::of_page(&customer, &request);
    let outcome = async {
        let fields = ops::custom_distros::parse_fields(
            Some(form.name.clone()),
            Some(form.path.clone()),
            Some(form.note.clone()),
            true,
        )?;
        ops::custom_distros::update(&state, actor, id, fields).await
    }
    .await;
    let echo = Echo {
        name: form.name,
        path: form.path,
        note: form.note,
        ..Echo::default()
    };
    answer(&state, &customer, id, outcome, "saved", Some(echo)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteForm {
    purge: Option<String>,
}

#[post("/distros/{id}/delete")]
async fn delete(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let purge = form.purge.is_some();
    let actor = Actor::of_page(&customer, &request);
    match ops::custom_distros::delete(&state, actor, id, purge).await {
        Ok(_) if purge => Ok(see_other("/distros?done=purged".into())),
        Ok(_) => Ok(see_other("/distros?done=deleted".into())),
        Err(error) => refused(&state, &customer, id, error, None).await,
    }
}

fn unreadable_form() -> AppError {
    AppError::BadRequest("The form could not be read; send it again.".into())
}

fn no_archive() -> AppError {
    AppError::invalid("archive", "choose an archive file (tar, plain or gzip)")
}

async fn text_of(mut field: Field) -> Result<String, AppError> {
    let mut text = Vec::new();
    while let Some(piece) = field.next().await {
        let piece = piece.map_err(|_| unreadable_form())?;
        if text.len() + piece.len() > MAX_TEXT_FIELD {
            return Err(AppError::invalid("sha256", "is too long"));
        }
        text.extend_from_slice(&piece);
    }
    String::from_utf8(text).map_err(|_| unreadable_form())
}

async fn skip(mut field: Field) -> Result<(), AppError> {
    while let Some(piece) = field.next().await {
        piece.map_err(|_| unreadable_form())?;
    }
    Ok(())
}

fn has_file_name(field: &Field) -> bool {
    field
        .content_disposition()
        .and_then(|disposition| disposition.get_filename())
        .is_some_and(|name| !name.is_empty())
}

fn optional_digest(raw: &str) -> Result<Option<Sha256Hex>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    Sha256Hex::parse(raw)
        .map(Some)
        .map_err(|why| AppError::invalid("sha256", why))
}

/// Reads the multipart form, streaming the `archive` field into the chunk store as it comes;
/// a digest sent before the archive is checked before a byte of it is stored. An upload
/// stored before a later field is refused is dropped again.
async fn receive_form(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    form: Multipart,
) -> Result<(ops::images::StoredUpload, Option<Sha256Hex>), AppError> {
    let mut stored = None;
    match read_fields(state, customer, id, form, &mut stored).await {
        Ok(digest) => Ok((stored.ok_or_else(no_archive)?, digest)),
        Err(refused) => {
            if let Some(stored) = stored {
                ops::images::discard(state, stored.upload).await;
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
    stored: &mut Option<ops::images::StoredUpload>,
) -> Result<Option<Sha256Hex>, AppError> {
    let limit = state.config.images.max_archive_bytes;
    let mut digest = None;
    while let Some(field) = form.try_next().await.map_err(|_| unreadable_form())? {
        match field.name() {
            Some("sha256") => digest = optional_digest(&text_of(field).await?)?,
            Some("archive") if stored.is_none() && has_file_name(&field) => {
                let received =
                    ops::images::receive_upload(state, customer.customer_id, id, field, limit)
                        .await?;
                *stored = Some(received);
            }
            _ => skip(field).await?,
        }
    }
    Ok(digest)
}

#[post("/distros/{id}/image")]
async fn upload(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let limit = state.config.images.max_archive_bytes;
    load(&state, &customer, id).await?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit + MULTIPART_SLACK) {
        return refused(&state, &customer, id, ops::images::too_large(limit), None).await;
    }
    let actor = Actor::of_page(&customer, &request);
    let outcome = async {
        let (stored, expect) = receive_form(&state, &customer, id, form).await?;
        ops::images::finish_upload(&state, actor, id, stored, expect).await
    }
    .await;
    answer(&state, &customer, id, outcome, "uploaded", None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UnpackForm {
    file: String,
    sha256: String,
}

#[post("/distros/{id}/unpack")]
async fn unpack(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<UnpackForm>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let form = form.into_inner();
    let actor = Actor::of_page(&customer, &request);
    let outcome = async {
        let file =
            HomeFile::parse(form.file.trim()).map_err(|why| AppError::invalid("file", why))?;
        let expect = optional_digest(&form.sha256)?;
        ops::images::unpack(&state, actor, id, file, expect).await
    }
    .await;
    let echo = image_echo(&customer, &state, id, |echo| {
        echo.file = form.file;
        echo.sha256 = form.sha256;
    })
    .await?;
    answer(&state, &customer, id, outcome, "unpack", Some(echo)).await
}

/// The stored name, path and note, with what an image form sent.
async fn image_echo(
    customer: &Customer,
    state: &AppState,
    id: CustomDistroId,
    sent: impl FnOnce(&mut Echo),
) -> Result<Echo, AppError> {
    let customer_id = customer.customer_id;
    let distro = db::run(&state.pool, move |conn| {
        custom_distros::find_for_customer(conn, customer_id, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let mut echo = Echo {
        name: distro.name,
        path: distro.path,
        note: distro.note,
        ..Echo::default()
    };
    sent(&mut echo);
    Ok(echo)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FetchForm {
    url: String,
    sha256: String,
}

#[post("/distros/{id}/fetch")]
async fn fetch(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<FetchForm>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let form = form.into_inner();
    let actor = Actor::of_page(&customer, &request);
    let outcome = async {
        let url = FetchUrl::parse(form.url.trim()).map_err(|why| AppError::invalid("url", why))?;
        let expect = optional_digest(&form.sha256)?
            .ok_or_else(|| AppError::invalid("sha256", "is required for a download"))?;
        ops::images::fetch(&state, actor, id, url, expect).await
    }
    .await;
    let echo = image_echo(&customer, &state, id, |echo| {
        echo.url = form.url;
        echo.sha256 = form.sha256;
    })
    .await?;
    answer(&state, &customer, id, outcome, "fetch", Some(echo)).await
}

#[post("/distros/{id}/rollback")]
async fn rollback(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let actor = Actor::of_page(&customer, &request);
    let outcome = ops::images::rollback(&state, actor, id).await;
    answer(&state, &customer, id, outcome, "rollback", None).await
}

#[post("/distros/{id}/check")]
async fn check(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let actor = Actor::of_page(&customer, &request);
    let outcome = ops::images::check_now(&state, actor, id).await;
    answer(&state, &customer, id, outcome, "check", None).await
}
