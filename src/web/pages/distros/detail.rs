//! `/distros/<id>`: one distro, its image and its image jobs, and the forms that rename and
//! delete it. While an image is being unpacked, htmx polls the page for its image block.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::install::{JobRow, job_row, latest_install};
use super::{NoticeQuery, checked_at, page, see_other, shown_refusal};
use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::models::custom_distro::CustomDistro;
use crate::db::models::job::Job;
use crate::db::queries::{containers, custom_distros, distro_jobs, images};
use crate::domain::ids::CustomDistroId;
use crate::domain::values::Uid;
use crate::ops::{self, Actor};
use crate::web::api::jobs::{ReportLine, report_lines};
use crate::web::confirm;
use crate::web::error::AppError;
use crate::web::htmx;
use crate::web::render::{Layout, byte_size};

/// How many image jobs a distro's page lists.
const RECENT_JOBS: i64 = 10;

/// What the forms of a distro's page show: the stored values, or what was sent.
#[derive(Debug, Default)]
pub(super) struct FormValues {
    pub name: String,
    pub path: String,
    pub note: String,
    pub file: String,
    pub url: String,
    pub sha256: String,
    /// The force checkbox of the install forms, as sent.
    pub force: bool,
}

impl FormValues {
    fn stored(distro: &CustomDistro) -> Self {
        Self {
            name: distro.name.clone(),
            path: distro.path.clone(),
            note: distro.note.clone(),
            ..Self::default()
        }
    }
}

#[derive(Template)]
#[template(path = "distro.html", blocks = ["image", "jobs"])]
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
    /// The latest install, its result or progress shown next to the image state.
    install: Option<JobRow>,
    jobs: Vec<JobRow>,
    /// The operation log's lines about this distro, newest first.
    log: Vec<LogRow>,
    values: FormValues,
    /// An image job is pending: the image and jobs parts poll until none is.
    pending: bool,
    /// The jobs part is an out-of-band swap of a poll's answer.
    oob: bool,
}

impl DistroPage {
    fn report_has_errors(&self) -> bool {
        self.report.iter().any(|line| line.level == "error")
    }
}

/// A line of the operation log about the distro, in the panel's words.
pub(super) struct LogRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

fn log_row(e: crate::db::models::event::Event) -> LogRow {
    use crate::web::words;
    LogRow {
        at: crate::web::pages::settings::when(e.at),
        actor: words::actor(&e.actor, e.actor_user_id.is_some()),
        action: words::plain(&e.action),
        detail: words::plain(&e.detail),
    }
}

/// The customer's distro with what its page shows around it.
struct DistroRecord {
    distro: CustomDistro,
    image_state: String,
    storage_name: String,
    booted_by: Vec<String>,
    jobs: Vec<Job>,
    log: Vec<crate::db::models::event::Event>,
}

/// The customer's distro `id`, read in one go on the blocking pool.
async fn load(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
) -> Result<DistroRecord, AppError> {
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
        let log = crate::db::queries::container_pages::distro_log(
            conn,
            customer_id,
            storage.id,
            &distro.name,
            RECENT_JOBS,
        )?;
        Ok(DistroRecord {
            distro,
            image_state,
            storage_name: storage.name,
            booted_by,
            jobs,
            log,
        })
    })
    .await
}

/// The customer's distro `id`, or `NotFound`: a page's forms answer only for their own.
pub(super) async fn ensure_own(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
) -> Result<(), AppError> {
    load(state, customer, id).await.map(|_| ())
}

/// What the page says on top of the stored distro.
struct Feedback {
    notice: Option<&'static str>,
    problem: Option<String>,
    /// What the forms show instead of the stored values, after a refusal.
    sent: Option<FormValues>,
}

async fn distro_page(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    feedback: Feedback,
) -> Result<DistroPage, AppError> {
    let record = load(state, customer, id).await?;
    let distro = record.distro;
    let values = feedback.sent.unwrap_or_else(|| FormValues::stored(&distro));
    Ok(DistroPage {
        layout: customer.layout(),
        notice: feedback.notice,
        problem: feedback.problem,
        id: distro.id.0,
        storage_uid: Uid::of(state.config.base_uid, distro.container_id).get(),
        storage_name: record.storage_name,
        image_state: record.image_state,
        size: byte_size(distro.image_bytes),
        sha256: distro.image_sha256.clone().unwrap_or_default(),
        checked: checked_at(&distro),
        rollback_known: distro.previous_sha256.is_some(),
        booted_by: record.booted_by,
        report: distro
            .check_report
            .as_ref()
            .map(report_lines)
            .unwrap_or_default(),
        pending: record
            .jobs
            .iter()
            .any(|j| crate::db::queries::api_jobs::PENDING.contains(&j.state.as_str())),
        oob: false,
        install: latest_install(&record.jobs),
        jobs: record.jobs.into_iter().map(job_row).collect(),
        log: record.log.into_iter().map(log_row).collect(),
        name: distro.name,
        path: distro.path,
        values,
    })
}

/// The page again with the reason of a refusal, and what was sent.
pub(super) async fn refused(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    error: impl Into<AppError>,
    sent: Option<FormValues>,
) -> Result<HttpResponse, AppError> {
    let (status, reason) = shown_refusal(error.into())?;
    let feedback = Feedback {
        notice: None,
        problem: Some(reason),
        sent,
    };
    let shown = distro_page(state, customer, id, feedback).await?;
    Ok(page(status, shown.render()?))
}

/// 303 back to the distro's page with a notice, or the page with the refusal.
pub(super) async fn answer<T>(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    outcome: Result<T, impl Into<AppError>>,
    done: &str,
    sent: Option<FormValues>,
) -> Result<HttpResponse, AppError> {
    match outcome {
        Ok(_) => Ok(see_other(format!("/distros/{id}?done={done}"))),
        Err(error) => refused(state, customer, id, error, sent).await,
    }
}

/// The stored name, path and note, with what an image form sent.
pub(super) async fn sent_with_stored(
    state: &AppState,
    customer: &Customer,
    id: CustomDistroId,
    sent: impl FnOnce(&mut FormValues),
) -> Result<FormValues, AppError> {
    let customer_id = customer.customer_id;
    let distro = db::run(&state.pool, move |conn| {
        custom_distros::find_for_customer(conn, customer_id, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let mut values = FormValues::stored(&distro);
    sent(&mut values);
    Ok(values)
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

#[get("/distros/{id}")]
pub(super) async fn show(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let feedback = Feedback {
        notice: notice_for(&query.done),
        problem: None,
        sent: None,
    };
    let mut shown = distro_page(&state, &customer, *id, feedback).await?;
    if htmx::is_htmx(&request) {
        // a poll: the image part, and the job rows out of band
        shown.oob = true;
        let body = shown.as_image().render()? + &shown.as_jobs().render()?;
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .insert_header((actix_web::http::header::VARY, "HX-Request"))
            .body(body));
    }
    htmx::page_or_block(&request, StatusCode::OK, &shown, &shown.as_image())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EditForm {
    name: String,
    path: String,
    note: String,
}

#[post("/distros/{id}")]
pub(super) async fn update(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let form = form.into_inner();
    let actor = Actor::of_page(&customer, &request);
    let outcome = async {
        let fields = ops::custom_distros::parse_fields(
            Some(form.name.clone()),
            Some(form.path.clone()),
            Some(form.note.clone()),
            true,
        )?;
        ops::custom_distros::update(&state.pool, state.config.base_uid, actor, id, fields).await
    }
    .await;
    let sent = FormValues {
        name: form.name,
        path: form.path,
        note: form.note,
        ..FormValues::default()
    };
    answer(&state, &customer, id, outcome, "saved", Some(sent)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteForm {
    purge: Option<String>,
    confirmed: Option<String>,
}

#[post("/distros/{id}/delete")]
pub(super) async fn delete(
    customer: Customer,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<CustomDistroId>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let purge = form.purge.is_some();
    if !confirm::is_given(form.confirmed.as_deref()) {
        return confirm::page(customer.layout(), confirm::delete_distro(id, purge));
    }
    let actor = Actor::of_page(&customer, &request);
    match ops::custom_distros::delete(
        &state.pool,
        (state.config.base_uid, state.config.quotas),
        actor,
        id,
        purge,
    )
    .await
    {
        Ok(_) if purge => Ok(see_other("/distros?done=purged".into())),
        Ok(_) => Ok(see_other("/distros?done=deleted".into())),
        Err(error) => refused(&state, &customer, id, error, None).await,
    }
}
