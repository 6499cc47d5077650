//! `/staff/distros/new`, `/staff/distros/{id}/edit`, `POST /staff/distros/{id}/retire` and
//! `POST /staff/distros/{id}/delete`: the platform distros.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Problem, page_with, problem};
use crate::AppState;
use crate::auth::guard::Admin;
use crate::db;
use crate::db::models::distro::Distro;
use crate::db::queries::distros;
use crate::domain::ids::DistroId;
use crate::ops::provision::{self, By, DistroFields};
use crate::web::error::AppError;
use crate::web::render::Layout;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct DistroForm {
    name: String,
    path: String,
    note: String,
}

#[derive(Template)]
#[template(path = "staff/distro_form.html")]
struct DistroFormPage {
    layout: Layout,
    /// The distro edited; `None` for a new one.
    id: Option<i32>,
    retired: Option<String>,
    form: DistroForm,
    /// The containers (uid, name) whose default it is.
    used_by: Vec<(i64, String)>,
    problems: Vec<String>,
    notice: Option<String>,
}

#[get("/staff/distros/new")]
pub async fn new_form(admin: Admin) -> Result<HttpResponse, AppError> {
    page_with(
        StatusCode::OK,
        &DistroFormPage {
            layout: admin.0.layout(),
            id: None,
            retired: None,
            form: DistroForm::default(),
            used_by: Vec::new(),
            problems: Vec::new(),
            notice: None,
        },
    )
}

#[post("/staff/distros/new")]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    form: web::Form<DistroForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let fields = DistroFields {
        name: form.name.clone(),
        path: form.path.clone(),
        note: form.note.clone(),
    };
    let made = db::run(&state.pool, move |conn| {
        provision::create_distro(conn, &by, &fields)
    })
    .await;
    match made {
        Ok(distro) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/staff/distros/{}/edit?done=created", distro.id),
            ))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            page_with(
                status,
                &DistroFormPage {
                    layout,
                    id: None,
                    retired: None,
                    form,
                    used_by: Vec::new(),
                    problems: reasons,
                    notice: None,
                },
            )
        }
    }
}

fn distro_id(raw: &str) -> Result<DistroId, AppError> {
    raw.parse().map(DistroId).map_err(|_| AppError::NotFound)
}

async fn current(state: &AppState, id: DistroId) -> Result<(Distro, Vec<(i64, String)>), AppError> {
    let base_uid = state.config.base_uid;
    db::run(&state.pool, move |conn| {
        let distro = distros::find(conn, id)?.ok_or(AppError::NotFound)?;
        let used_by = provision::distro_users(conn, base_uid, id)?;
        Ok::<_, AppError>((distro, used_by))
    })
    .await
}

/// The edit page of `id`, showing `form` (what was typed, or the stored distro).
async fn edit_page(
    state: &AppState,
    layout: Layout,
    id: DistroId,
    status: StatusCode,
    typed: Option<DistroForm>,
    problems: Vec<String>,
    notice: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (distro, used_by) = current(state, id).await?;
    let form = typed.unwrap_or_else(|| DistroForm {
        name: distro.name.clone(),
        path: distro.path.clone(),
        note: distro.note.clone(),
    });
    page_with(
        status,
        &DistroFormPage {
            layout,
            id: Some(id.0),
            retired: distro
                .retired_at
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()),
            form: DistroForm {
                path: distro.path,
                ..form
            },
            used_by,
            problems,
            notice,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

#[get("/staff/distros/{id}/edit")]
pub async fn edit_form(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    done: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let notice = match done.done.as_str() {
        "created" => Some("The distro was created.".to_owned()),
        "saved" => Some("The distro was saved.".to_owned()),
        "retired" => Some(
            "The distro was retired: it is no longer offered for new containers or as a new default."
                .to_owned(),
        ),
        "restored" => Some("The distro is offered again.".to_owned()),
        _ => None,
    };
    edit_page(
        &state,
        admin.0.layout(),
        id,
        StatusCode::OK,
        None,
        Vec::new(),
        notice,
    )
    .await
}

#[post("/staff/distros/{id}/edit")]
pub async fn edit(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<DistroForm>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let fields = DistroFields {
        name: form.name.clone(),
        path: String::new(),
        note: form.note.clone(),
    };
    let saved = db::run(&state.pool, move |conn| {
        provision::edit_distro(conn, &by, id, &fields)
    })
    .await;
    match saved {
        Ok(_) => Ok(see_other(id, "saved")),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            edit_page(&state, layout, id, status, Some(form), reasons, None).await
        }
    }
}

fn see_other(id: DistroId, done: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/staff/distros/{id}/edit?done={done}"),
        ))
        .finish()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RetireForm {
    /// `restore` offers a retired distro again; anything else retires it.
    action: String,
}

#[post("/staff/distros/{id}/retire")]
pub async fn retire(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RetireForm>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let retire = form.action != "restore";
    let by = By::Staff(admin.0);
    db::run(&state.pool, move |conn| {
        provision::retire_distro(conn, &by, id, retire)
    })
    .await?;
    Ok(see_other(id, if retire { "retired" } else { "restored" }))
}

#[post("/staff/distros/{id}/delete")]
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    confirmation: web::Form<crate::web::confirm::Confirmation>,
) -> Result<HttpResponse, AppError> {
    let id = distro_id(&id)?;
    let layout = admin.0.layout();
    if !confirmation.given() {
        let distro = db::run(&state.pool, move |conn| {
            distros::find(conn, id)?.ok_or(crate::error::Error::NotFound)
        })
        .await?;
        let ask = crate::web::confirm::delete_platform_distro(id.0, &distro.name);
        return crate::web::confirm::page(layout, ask);
    }
    let by = By::Staff(admin.0);
    let base_uid = state.config.base_uid;
    let deleted = db::run(&state.pool, move |conn| {
        provision::delete_distro(conn, &by, base_uid, id)
    })
    .await;
    match deleted {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/staff/distros?done=deleted"))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            edit_page(&state, layout, id, status, None, reasons, None).await
        }
    }
}
