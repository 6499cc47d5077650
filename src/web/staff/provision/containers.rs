//! `/staff/containers/new`, `/staff/containers/{uid}/edit` and
//! `POST /staff/containers/{uid}/delete`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Choice, Problem, page_with, problem, whole_number};
use crate::AppState;
use crate::auth::guard::Admin;
use crate::db;
use crate::db::models::container::Container;
use crate::db::queries::provision as q;
use crate::domain::fields::FieldErrors;
use crate::domain::ids::{ContainerId, CustomerId, DistroId, ServerId};
use crate::domain::values::Uid;
use crate::error::Error;
use crate::ops::provision::{self, By, ContainerFields};
use crate::web::error::AppError;
use crate::web::render::Layout;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct ContainerForm {
    customer: String,
    server: String,
    name: String,
    memory: String,
    storage: String,
    distro: String,
    custom_distros_storage: String,
}

#[derive(Template)]
#[template(path = "staff/container_form.html")]
struct ContainerFormPage {
    layout: Layout,
    /// The uid of the container edited; `None` for a new one.
    uid: Option<i64>,
    /// For an edit: where it lives and whose it is.
    placed: String,
    form: ContainerForm,
    customers: Vec<Choice>,
    servers: Vec<Choice>,
    distros: Vec<Choice>,
    problems: Vec<String>,
    notice: Option<String>,
    /// Why it cannot be deleted now, if it cannot.
    blocked: Option<String>,
}

/// The menus of the form: customers and servers (for a new container), and the platform
/// distros that may be chosen (a retired one only when it is the current one).
struct Menus {
    customers: Vec<Choice>,
    servers: Vec<Choice>,
    distros: Vec<Choice>,
}

async fn menus(
    state: &AppState,
    form: &ContainerForm,
    current: Option<i32>,
) -> Result<Menus, AppError> {
    let (customers, servers, distros) = db::run(&state.pool, |conn| {
        Ok::<_, AppError>((
            q::customers_by_company(conn)?,
            q::all_servers(conn)?,
            q::distros_by_name(conn)?,
        ))
    })
    .await?;
    let mut distro_menu = vec![Choice {
        value: String::new(),
        label: "none".into(),
        selected: form.distro.is_empty(),
    }];
    distro_menu.extend(
        distros
            .into_iter()
            .filter(|d| d.retired_at.is_none() || Some(d.id.0) == current)
            .map(|d| Choice {
                selected: form.distro == d.id.0.to_string(),
                label: if d.retired_at.is_some() {
                    format!("{} (retired)", d.name)
                } else {
                    d.name
                },
                value: d.id.0.to_string(),
            }),
    );
    Ok(Menus {
        customers: customers
            .into_iter()
            .map(|c| Choice {
                selected: form.customer == c.id.0.to_string(),
                label: format!("#{} {}", c.id, c.company),
                value: c.id.0.to_string(),
            })
            .collect(),
        servers: servers
            .into_iter()
            .map(|s| Choice {
                selected: form.server == s.id.0.to_string(),
                label: format!("{} ({})", s.name, s.mode().as_str()),
                value: s.id.0.to_string(),
            })
            .collect(),
        distros: distro_menu,
    })
}

fn fields(form: &ContainerForm, errors: &mut FieldErrors) -> Option<ContainerFields> {
    let memory = whole_number(errors, "memory", &form.memory, false);
    let storage = whole_number(errors, "storage", &form.storage, false);
    let distro = match form.distro.trim() {
        "" => Some(None),
        raw => match raw.parse() {
            Ok(id) => Some(Some(DistroId(id))),
            Err(_) => {
                errors.add("distro", "choose a distro from the list");
                None
            }
        },
    };
    Some(ContainerFields {
        name: form.name.clone(),
        memory: memory?,
        storage: storage?,
        distro: distro?,
        storage_container: form.custom_distros_storage == "on",
    })
}

fn id_field<T: std::str::FromStr>(errors: &mut FieldErrors, field: &str, raw: &str) -> Option<T> {
    let parsed = raw.trim().parse().ok();
    if parsed.is_none() {
        errors.add(field, "choose one from the list");
    }
    parsed
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    customer: String,
}

#[get("/staff/containers/new")]
pub async fn new_form(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let form = ContainerForm {
        customer: query.into_inner().customer,
        memory: "256".into(),
        storage: "1024".into(),
        ..Default::default()
    };
    let menus = menus(&state, &form, None).await?;
    page_with(
        StatusCode::OK,
        &ContainerFormPage {
            layout: admin.0.layout(),
            uid: None,
            placed: String::new(),
            form,
            customers: menus.customers,
            servers: menus.servers,
            distros: menus.distros,
            problems: Vec::new(),
            notice: None,
            blocked: None,
        },
    )
}

#[post("/staff/containers/new")]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    form: web::Form<ContainerForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let mut errors = FieldErrors::default();
    let customer: Option<i32> = id_field(&mut errors, "customer", &form.customer);
    let server: Option<i32> = id_field(&mut errors, "server", &form.server);
    let fields = fields(&form, &mut errors);
    let made = match (errors.finish(), customer, server, fields) {
        (Ok(()), Some(customer), Some(server), Some(fields)) => {
            db::run(&state.pool, move |conn| {
                provision::create_container(
                    conn,
                    &by,
                    CustomerId(customer),
                    ServerId(server),
                    &fields,
                )
            })
            .await
        }
        (Err(errors), ..) => Err(Error::Invalid(errors)),
        _ => Err(Error::invalid("form", "incomplete")),
    };
    match made {
        Ok(container) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!(
                    "/staff/containers/{}/edit?done=created",
                    Uid::of(state.config.base_uid, container.id)
                ),
            ))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            let menus = menus(&state, &form, None).await?;
            page_with(
                status,
                &ContainerFormPage {
                    layout,
                    uid: None,
                    placed: String::new(),
                    form,
                    customers: menus.customers,
                    servers: menus.servers,
                    distros: menus.distros,
                    problems: reasons,
                    notice: None,
                    blocked: None,
                },
            )
        }
    }
}

fn container_id(state: &AppState, raw: &str) -> Result<ContainerId, AppError> {
    raw.parse::<i64>()
        .ok()
        .and_then(|uid| Uid::container_id(uid, state.config.base_uid))
        .ok_or(AppError::NotFound)
}

/// The container, where it lives, and why it cannot be deleted now.
async fn current(
    state: &AppState,
    id: ContainerId,
) -> Result<(Container, String, Option<String>), AppError> {
    db::run(&state.pool, move |conn| {
        let container = q::container(conn, id)?.ok_or(AppError::NotFound)?;
        let server = q::server(conn, container.server_id)?
            .map(|s| s.name)
            .unwrap_or_default();
        let company = crate::db::queries::customers::find(conn, container.customer_id)?
            .map(|c| c.company)
            .unwrap_or_default();
        let blocked = provision::container_blockers(conn, &container)?.refusal(&container.name);
        let placed = format!(
            "customer #{} {company}, on server {server}",
            container.customer_id
        );
        Ok::<_, AppError>((container, placed, blocked))
    })
    .await
}

fn form_of(container: &Container) -> ContainerForm {
    ContainerForm {
        customer: container.customer_id.0.to_string(),
        server: container.server_id.0.to_string(),
        name: container.name.clone(),
        memory: container.memory_mb.to_string(),
        storage: container.storage_mb.to_string(),
        distro: container
            .distro_id
            .map(|d| d.0.to_string())
            .unwrap_or_default(),
        custom_distros_storage: if container.custom_distros_storage {
            "on".into()
        } else {
            String::new()
        },
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

#[get("/staff/containers/{uid}/edit")]
pub async fn edit_form(
    admin: Admin,
    state: web::Data<AppState>,
    uid: web::Path<String>,
    done: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let id = container_id(&state, &uid)?;
    let (container, placed, blocked) = current(&state, id).await?;
    let form = form_of(&container);
    let menus = menus(&state, &form, container.distro_id.map(|d| d.0)).await?;
    page_with(
        StatusCode::OK,
        &ContainerFormPage {
            layout: admin.0.layout(),
            uid: Some(Uid::of(state.config.base_uid, id).get()),
            placed,
            form,
            customers: menus.customers,
            servers: menus.servers,
            distros: menus.distros,
            problems: Vec::new(),
            notice: match done.done.as_str() {
                "created" => Some("The container was created.".into()),
                "saved" => Some("The container was saved.".into()),
                _ => None,
            },
            blocked,
        },
    )
}

#[post("/staff/containers/{uid}/edit")]
pub async fn edit(
    admin: Admin,
    state: web::Data<AppState>,
    uid: web::Path<String>,
    form: web::Form<ContainerForm>,
) -> Result<HttpResponse, AppError> {
    let id = container_id(&state, &uid)?;
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let mut errors = FieldErrors::default();
    let fields = fields(&form, &mut errors);
    let saved = match (errors.finish(), fields) {
        (Ok(()), Some(fields)) => {
            db::run(&state.pool, move |conn| {
                provision::edit_container(conn, &by, id, &fields)
            })
            .await
        }
        (Err(errors), _) => Err(Error::Invalid(errors)),
        (Ok(()), None) => Err(Error::invalid("form", "incomplete")),
    };
    let uid = Uid::of(state.config.base_uid, id).get();
    match saved {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/staff/containers/{uid}/edit?done=saved"),
            ))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            let (container, placed, blocked) = current(&state, id).await?;
            let menus = menus(&state, &form, container.distro_id.map(|d| d.0)).await?;
            page_with(
                status,
                &ContainerFormPage {
                    layout,
                    uid: Some(uid),
                    placed,
                    form,
                    customers: menus.customers,
                    servers: menus.servers,
                    distros: menus.distros,
                    problems: reasons,
                    notice: None,
                    blocked,
                },
            )
        }
    }
}

#[post("/staff/containers/{uid}/delete")]
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    uid: web::Path<String>,
    confirmation: web::Form<crate::web::confirm::Confirmation>,
) -> Result<HttpResponse, AppError> {
    let id = container_id(&state, &uid)?;
    let layout = admin.0.layout();
    if !confirmation.given() {
        let (container, _, _) = current(&state, id).await?;
        let uid = Uid::of(state.config.base_uid, id).get();
        let ask = crate::web::confirm::delete_container(uid, &container.name);
        return crate::web::confirm::page(layout, ask);
    }
    let by = By::Staff(admin.0);
    let base_uid = state.config.base_uid;
    let deleted = db::run(&state.pool, move |conn| {
        provision::delete_container(conn, &by, base_uid, id)
    })
    .await;
    match deleted {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/staff/containers?done=deleted"))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            let (container, placed, blocked) = current(&state, id).await?;
            let form = form_of(&container);
            let menus = menus(&state, &form, container.distro_id.map(|d| d.0)).await?;
            page_with(
                status,
                &ContainerFormPage {
                    layout,
                    uid: Some(Uid::of(base_uid, id).get()),
                    placed,
                    form,
                    customers: menus.customers,
                    servers: menus.servers,
                    distros: menus.distros,
                    problems: reasons,
                    notice: None,
                    blocked,
                },
            )
        }
    }
}
