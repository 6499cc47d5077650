//! `/staff/servers/new` (with every server's token rotation) and
//! `POST /staff/servers/{id}/token`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Problem, SecretPage, page_with, problem, whole_number};
use crate::AppState;
use crate::auth::guard::Admin;
use crate::db;
use crate::db::models::server::{Server, ServerMode};
use crate::db::queries::provision as q;
use crate::domain::fields::FieldErrors;
use crate::domain::ids::ServerId;
use crate::error::Error;
use crate::ops::provision::{self, By, ServerFields};
use crate::web::error::AppError;
use crate::web::render::Layout;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct ServerForm {
    name: String,
    address: String,
    memory: String,
    storage: String,
    mode: String,
}

#[derive(Template)]
#[template(path = "staff/server_form.html")]
struct ServerFormPage {
    layout: Layout,
    form: ServerForm,
    servers: Vec<Server>,
    problems: Vec<String>,
}

async fn servers(state: &AppState) -> Result<Vec<Server>, AppError> {
    db::run(&state.pool, |conn| Ok::<_, AppError>(q::all_servers(conn)?)).await
}

#[get("/staff/servers/new")]
pub async fn new_form(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page_with(
        StatusCode::OK,
        &ServerFormPage {
            layout: admin.0.layout(),
            form: ServerForm {
                mode: "agent".into(),
                ..Default::default()
            },
            servers: servers(&state).await?,
            problems: Vec::new(),
        },
    )
}

fn fields(form: &ServerForm) -> Result<ServerFields, Error> {
    let mut errors = FieldErrors::default();
    let memory = whole_number(&mut errors, "memory", &form.memory, true);
    let storage = whole_number(&mut errors, "storage", &form.storage, true);
    let mode = match form.mode.as_str() {
        "pull" => Some(ServerMode::Pull),
        "agent" => Some(ServerMode::Agent),
        _ => {
            errors.add("mode", "choose agent or pull");
            None
        }
    };
    errors.finish().map_err(Error::Invalid)?;
    Ok(ServerFields {
        name: form.name.clone(),
        address: form.address.clone(),
        memory,
        storage,
        mode: mode.unwrap(),
    })
}

#[post("/staff/servers/new")]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    form: web::Form<ServerForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let made = match fields(&form) {
        Ok(fields) => {
            db::run(&state.pool, move |conn| {
                provision::create_server(conn, &by, &fields)
            })
            .await
        }
        Err(refused) => Err(refused),
    };
    match made {
        Ok((server, token)) => page_with(
            StatusCode::OK,
            &SecretPage {
                layout,
                title: format!("Server {} created", server.name),
                lead: match &token {
                    Some(_) => format!(
                        "{} fetches its vassals from the private API with this token: it is \
                         shown only this once. Put it in the host's configuration.",
                        server.name
                    ),
                    None => format!(
                        "{} runs an agent: start it there with `distropanel agent --server {}`.",
                        server.name, server.name
                    ),
                },
                secret: token.unwrap_or_default(),
                back: "/staff/servers/new".into(),
                back_label: "Back to the servers".into(),
            },
        ),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            page_with(
                status,
                &ServerFormPage {
                    layout,
                    form,
                    servers: servers(&state).await?,
                    problems: reasons,
                },
            )
        }
    }
}

/// `POST /staff/servers/{id}/token`: a new private-API token, shown once; the old one stops
/// working at once.
#[post("/staff/servers/{id}/token")]
pub async fn rotate_token(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = ServerId(id.parse().map_err(|_| AppError::NotFound)?);
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let (server, token) = db::run(&state.pool, move |conn| {
        provision::rotate_server_token(conn, &by, id)
    })
    .await?;
    page_with(
        StatusCode::OK,
        &SecretPage {
            layout,
            title: format!("New private-API token for {}", server.name),
            lead: format!(
                "It is shown only this once. The previous token of {} stopped working: put this \
                 one in the host's configuration.",
                server.name
            ),
            secret: token,
            back: "/staff/servers/new".into(),
            back_label: "Back to the servers".into(),
        },
    )
}
