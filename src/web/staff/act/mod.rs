//! Acting on a customer's behalf: `/staff/containers/{uid}/act` offers what the customer's
//! container page offers, `/staff/custom-distros/{id}` what their distro page offers. Every
//! form goes through the same `ops` functions and rules as the customer's own, with an
//! [`Actor`] that carries the member of staff and the customer; the customer's operation log
//! and the audit trail both say "done by staff member S for customer C".

mod container;
mod distro;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::staff_act;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId};
use crate::ops::Actor;
use crate::web::error::AppError;
use crate::web::words;

pub use container::{boot, create_distro, restart, show as container_page, storage};
pub use distro::{cancel_install, check, delete, edit, image, rollback, show as distro_page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(container_page)
        .service(storage)
        .service(boot)
        .service(restart)
        .service(create_distro)
        .service(distro_page)
        .service(edit)
        .service(delete)
        .service(image)
        .service(rollback)
        .service(check)
        .service(cancel_install);
}

/// Whose the thing a staff page acts on is: the customer and their company.
#[derive(Debug, Clone)]
struct Owner {
    customer: CustomerId,
    company: String,
}

impl Owner {
    fn actor(&self, staff: &Staff) -> Actor {
        Actor::of_staff(staff, self.customer, self.company.clone())
    }
}

async fn container_owner(state: &AppState, id: ContainerId) -> Result<Owner, AppError> {
    let found = db::run(&state.pool, move |conn| {
        staff_act::container_owner(conn, id).map_err(AppError::from)
    })
    .await?;
    let (customer, company) = found.ok_or(AppError::NotFound)?;
    Ok(Owner { customer, company })
}

async fn distro_owner(state: &AppState, id: CustomDistroId) -> Result<Owner, AppError> {
    let found = db::run(&state.pool, move |conn| {
        staff_act::custom_distro_owner(conn, id).map_err(AppError::from)
    })
    .await?;
    let (customer, company) = found.ok_or(AppError::NotFound)?;
    Ok(Owner { customer, company })
}

/// A refusal the page shows with its reason and status; anything else is an error page. A
/// thing of another customer's named in a form is refused as missing, on the page.
fn shown_refusal(error: AppError) -> Result<(StatusCode, String), AppError> {
    match error {
        AppError::NotFound => Ok((
            StatusCode::NOT_FOUND,
            "The customer has nothing with that number: it is missing, or another \
             customer's."
                .into(),
        )),
        AppError::Invalid(_)
        | AppError::Conflict(_)
        | AppError::Raced(_)
        | AppError::OverQuota(_)
        | AppError::PayloadTooLarge(_)
        | AppError::UnsupportedMediaType(_)
        | AppError::BadRequest(_)
        | AppError::Forbidden(_) => Ok((error.status(), words::plain(&error.reason()))),
        other => Err(other),
    }
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn page(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// `?done=…` after a redirect.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct NoticeQuery {
    done: String,
}
