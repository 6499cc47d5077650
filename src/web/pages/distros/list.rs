//! `/distros`: the customer's custom distros by storage container, and the form that creates
//! one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{NoticeQuery, checked_at, page, see_other, shown_refusal};
use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::queries::dashboard::JobCounts;
use crate::db::queries::{containers, custom_distros, images};
use crate::domain::ids::ContainerId;
use crate::domain::values::Uid;
use crate::ops::{self, Actor};
use crate::web::error::AppError;
use crate::web::render::{Layout, byte_size};

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

/// The storage blocks, and the top bar's job counts (one statement).
async fn storage_blocks(
    state: &AppState,
    customer: &Customer,
) -> Result<(Vec<StorageBlock>, JobCounts), AppError> {
    let customer_id = customer.customer_id;
    let base_uid = state.config.base_uid;
    db::run(&state.pool, move |conn| {
        let all = containers::for_customer(conn, customer_id)?;
        let distros = custom_distros::for_customer(conn, customer_id)?;
        let busy = images::busy_for_customer(conn, customer_id)?;
        let counts = crate::db::queries::dashboard::job_counts(conn, customer_id)?;
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
        Ok((blocks, counts))
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
    let (storages, counts) = storage_blocks(state, customer).await?;
    let page_body = DistrosPage {
        layout: customer.layout().with_jobs(counts),
        notice,
        problem,
        storages,
        form,
    }
    .render()?;
    Ok(page(status, page_body))
}

#[get("/distros")]
pub(super) async fn list(
    customer: Customer,
    state: web::Data<AppState>,
    query: web::Query<NoticeQuery>,
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
pub(super) async fn create(
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
        Ok::<_, AppError>(
            ops::custom_distros::create(
                &state.pool,
                (state.config.base_uid, state.config.quotas),
                actor,
                storage,
                fields,
            )
            .await?,
        )
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
