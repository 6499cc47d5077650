//! `/staff/containers/{uid}/act`: the customer's container with the forms of their container
//! page (storage, boot choice, restart) and creating a custom distro in it once it stores
//! them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use diesel::PgConnection;
use serde::Deserialize;

use super::{NoticeQuery, Owner, container_owner, page, see_other, shown_refusal};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::event::Event;
use crate::db::queries::{container_pages, containers, staff_act};
use crate::domain::commands::{ContainerFields, UpdateContainer};
use crate::domain::ids::ContainerId;
use crate::domain::values::Uid;
use crate::error::Error;
use crate::ops;
use crate::ops::containers as container_ops;
use crate::web::confirm;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::path::ContainerUid;
use crate::web::render::Layout;
use crate::web::words;

const LOG_SHOWN: i64 = 20;

struct Choice {
    id: i32,
    name: String,
    selected: bool,
    storage: String,
    image_state: &'static str,
    cannot_boot: bool,
}

struct Stored {
    id: i32,
    name: String,
    path: String,
    image_state: String,
}

struct LogRow {
    at: String,
    actor: String,
    action: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "staff/act_container.html")]
struct ActContainerPage {
    layout: Layout,
    notice: Option<&'static str>,
    problem: Option<String>,
    customer_id: i32,
    company: String,
    uid: i64,
    name: String,
    server: String,
    boots: String,
    default_distro: Option<String>,
    storage: bool,
    booting_custom: bool,
    choices: Vec<Choice>,
    stored: Vec<Stored>,
    /// What the create form shows again after a refusal.
    new_name: String,
    new_path: String,
    new_note: String,
    log: Vec<LogRow>,
}

struct Loaded {
    view: containers::ContainerView,
    choices: Vec<container_ops::BootChoice>,
    stored: Vec<crate::db::models::custom_distro::CustomDistro>,
    log: Vec<Event>,
}

fn load(conn: &mut PgConnection, owner: &Owner, id: ContainerId) -> Result<Loaded, AppError> {
    let view =
        containers::view_for_customer(conn, owner.customer, id)?.ok_or(AppError::NotFound)?;
    let choices = container_ops::boot_choices(conn, owner.customer, &view.container)?;
    let stored = staff_act::stored_in(conn, id)?;
    let log = container_pages::operation_log(conn, owner.customer, id, LOG_SHOWN)?;
    Ok(Loaded {
        view,
        choices,
        stored,
        log,
    })
}

/// What the page says around the stored state.
#[derive(Default)]
struct Feedback {
    notice: Option<&'static str>,
    problem: Option<String>,
    sent: Option<DistroForm>,
}

async fn render(
    staff: &Staff,
    state: &AppState,
    owner: Owner,
    id: ContainerId,
    status: StatusCode,
    feedback: Feedback,
) -> Result<HttpResponse, AppError> {
    let base_uid = state.config.base_uid;
    let lookup = owner.clone();
    let loaded = db::run(&state.pool, move |conn| load(conn, &lookup, id)).await?;
    let c = &loaded.view.container;
    let current = c.custom_distro_id;
    let boots = match (&loaded.view.custom_distro_name, &loaded.view.distro_name) {
        (Some(custom), _) => format!("custom distro “{custom}”"),
        (None, Some(default)) => format!("default distro “{default}”"),
        (None, None) => "no distro".into(),
    };
    let sent = feedback.sent.unwrap_or_default();
    let shown = ActContainerPage {
        layout: staff.layout(),
        notice: feedback.notice,
        problem: feedback.problem,
        customer_id: owner.customer.0,
        company: owner.company,
        uid: Uid::of(base_uid, c.id).get(),
        name: c.name.clone(),
        server: loaded.view.server_name.clone(),
        boots,
        default_distro: loaded.view.distro_name.clone(),
        storage: c.custom_distros_storage,
        booting_custom: current.is_some(),
        choices: loaded
            .choices
            .into_iter()
            .map(|d| Choice {
                selected: Some(d.distro.id) == current,
                cannot_boot: d.cannot_boot(),
                storage: format!(
                    "{} ({})",
                    d.storage_name,
                    Uid::of(base_uid, d.distro.container_id)
                ),
                image_state: crate::web::pages::containers::image_state_words(
                    &d.distro.image_state,
                ),
                id: d.distro.id.0,
                name: d.distro.name,
            })
            .collect(),
        stored: loaded
            .stored
            .into_iter()
            .map(|d| Stored {
                id: d.id.0,
                image_state: crate::web::pages::containers::image_state_words(&d.image_state)
                    .into(),
                name: d.name,
                path: d.path,
            })
            .collect(),
        new_name: sent.name,
        new_path: sent.path,
        new_note: sent.note,
        log: loaded
            .log
            .into_iter()
            .map(|e| LogRow {
                at: when(e.at),
                actor: words::actor(&e.actor, e.actor_user_id.is_some()),
                action: words::plain(&e.action),
                detail: words::plain(&e.detail),
            })
            .collect(),
    };
    Ok(page(status, shown.render()?))
}

fn notice_for(done: &str) -> Option<&'static str> {
    match done {
        "storage-on" => Some("It now stores custom distros; a restart is queued."),
        "storage-off" => Some("It no longer stores custom distros; a restart is queued."),
        "boot" => Some("Saved; a restart is queued to boot it."),
        "restart" => Some("A restart is queued."),
        "deleted" => Some("The custom distro was deleted."),
        _ => None,
    }
}

#[get("/staff/containers/{uid}/act")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let owner = container_owner(&state, id).await?;
    let feedback = Feedback {
        notice: notice_for(&query.done),
        ..Feedback::default()
    };
    render(&staff, &state, owner, id, StatusCode::OK, feedback).await
}

/// The page again with a refusal's reason.
async fn refused(
    staff: &Staff,
    state: &AppState,
    owner: Owner,
    id: ContainerId,
    error: AppError,
    sent: Option<DistroForm>,
) -> Result<HttpResponse, AppError> {
    let (status, reason) = shown_refusal(error)?;
    let feedback = Feedback {
        problem: Some(reason),
        sent,
        ..Feedback::default()
    };
    render(staff, state, owner, id, status, feedback).await
}

/// Applies a change through the customer's rules and goes back to the page, or shows it
/// again with the reason.
async fn change(
    staff: &Staff,
    state: &AppState,
    owner: Owner,
    id: ContainerId,
    fields: ContainerFields,
    done: &str,
) -> Result<HttpResponse, AppError> {
    let actor = owner.actor(staff);
    let applied = match UpdateContainer::parse(&fields) {
        Ok(command) => db::run(&state.pool, move |conn| {
            container_ops::update(conn, &actor, id, command)
        })
        .await
        .map_err(AppError::from),
        Err(refused) => Err(AppError::from(Error::from(refused))),
    };
    match applied {
        Ok(()) => {
            let uid = Uid::of(state.config.base_uid, id);
            Ok(see_other(format!(
                "/staff/containers/{uid}/act?done={done}"
            )))
        }
        Err(error) => refused(staff, state, owner, id, error, None).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StorageForm {
    storage: String,
    confirmed: Option<String>,
}

#[post("/staff/containers/{uid}/storage")]
pub async fn storage(
    staff: Staff,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    form: web::Form<StorageForm>,
) -> Result<HttpResponse, AppError> {
    let owner = container_owner(&state, id).await?;
    let (on, done) = match form.storage.as_str() {
        "on" => (true, "storage-on"),
        "off" if !confirm::is_given(form.confirmed.as_deref()) => {
            let uid = Uid::of(state.config.base_uid, id);
            let mut ask = confirm::storage_off(uid);
            ask.action = format!("/staff/containers/{uid}/storage");
            ask.back = format!("/staff/containers/{uid}/act");
            return confirm::page(staff.layout(), ask);
        }
        "off" => (false, "storage-off"),
        _ => {
            let why = AppError::invalid("storage", "choose on or off");
            return refused(&staff, &state, owner, id, why, None).await;
        }
    };
    let fields = ContainerFields {
        custom_distros_storage: Some(on),
        ..ContainerFields::default()
    };
    change(&staff, &state, owner, id, fields, done).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BootForm {
    /// `default`, or the id of a custom distro.
    custom_distro: String,
    /// Ticked to boot a custom distro that cannot boot now (and so falls back).
    confirm: String,
}

/// Why booting the custom distro `raw` needs confirming: the container may boot it, but it
/// cannot boot now. Anything the rules refuse is left to them.
fn unconfirmed(
    conn: &mut PgConnection,
    owner: &Owner,
    container: ContainerId,
    raw: i64,
) -> Result<Option<String>, AppError> {
    let Some(view) = containers::view_for_customer(conn, owner.customer, container)? else {
        return Ok(None);
    };
    let choices = container_ops::boot_choices(conn, owner.customer, &view.container)?;
    Ok(choices
        .into_iter()
        .find(|c| i64::from(c.distro.id.0) == raw && c.cannot_boot())
        .map(|c| {
            format!(
                "The custom distro “{}” cannot boot now ({}): the container would fall back to \
                 its default distro. Tick “Boot it even so” to confirm.",
                c.distro.name,
                crate::web::pages::containers::image_state_words(&c.distro.image_state)
            )
        }))
}

#[post("/staff/containers/{uid}/boot")]
pub async fn boot(
    staff: Staff,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    form: web::Form<BootForm>,
) -> Result<HttpResponse, AppError> {
    let owner = container_owner(&state, id).await?;
    let target = match form.custom_distro.as_str() {
        "default" => None,
        raw => match raw.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let why = AppError::invalid(
                    "custom_distro",
                    "choose its default distro or one of the custom distros listed",
                );
                return refused(&staff, &state, owner, id, why, None).await;
            }
        },
    };
    if let (Some(raw), false) = (target, form.confirm == "yes") {
        let lookup = owner.clone();
        let why = db::run(&state.pool, move |conn| unconfirmed(conn, &lookup, id, raw)).await?;
        if let Some(why) = why {
            let feedback = Feedback {
                problem: Some(why),
                ..Feedback::default()
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&staff, &state, owner, id, status, feedback).await;
        }
    }
    let fields = ContainerFields {
        custom_distro: Some(target),
        ..ContainerFields::default()
    };
    change(&staff, &state, owner, id, fields, "boot").await
}

#[post("/staff/containers/{uid}/restart")]
pub async fn restart(
    staff: Staff,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
) -> Result<HttpResponse, AppError> {
    let owner = container_owner(&state, id).await?;
    let fields = ContainerFields {
        reboot: true,
        ..ContainerFields::default()
    };
    change(&staff, &state, owner, id, fields, "restart").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DistroForm {
    name: String,
    path: String,
    note: String,
}

#[post("/staff/containers/{uid}/custom-distros/new")]
pub async fn create_distro(
    staff: Staff,
    state: web::Data<AppState>,
    ContainerUid(id): ContainerUid,
    form: web::Form<DistroForm>,
) -> Result<HttpResponse, AppError> {
    let owner = container_owner(&state, id).await?;
    let form = form.into_inner();
    let actor = owner.actor(&staff);
    let outcome = async {
        let fields = ops::custom_distros::parse_fields(
            Some(form.name.clone()),
            Some(form.path.clone()),
            Some(form.note.clone()),
            true,
        )?;
        ops::custom_distros::create(
            &state.pool,
            (state.config.base_uid, state.config.quotas),
            actor,
            id,
            fields,
        )
        .await
    }
    .await;
    match outcome {
        Ok(made) => Ok(see_other(format!(
            "/staff/custom-distros/{}?done=created",
            made.id
        ))),
        Err(error) => refused(&staff, &state, owner, id, error.into(), Some(form)).await,
    }
}
