//! `/staff/customers/new`, `/staff/customers/{id}/edit`, `/staff/customers/{id}/logins/new`
//! and `POST /staff/users/{id}/link`: customers, their logins, and one-time set-password links.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Problem, link_page, page_with, problem};
use crate::AppState;
use crate::auth::guard::Admin;
use crate::db;
use crate::db::models::user::User;
use crate::db::queries::{customers, provision as q};
use crate::domain::ids::{CustomerId, UserId};
use crate::ops::provision::{self, By, CustomerFields};
use crate::web::error::AppError;
use crate::web::render::Layout;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewCustomerForm {
    company: String,
    vat: String,
    username: String,
    email: String,
}

#[derive(Template)]
#[template(path = "staff/customer_form.html")]
struct CustomerFormPage {
    layout: Layout,
    /// `None` for a new customer.
    id: Option<i32>,
    company: String,
    vat: String,
    username: String,
    email: String,
    logins: Vec<LoginRow>,
    problems: Vec<String>,
    notice: Option<String>,
}

struct LoginRow {
    id: i32,
    username: String,
    email: String,
}

fn id_of(raw: &str) -> Result<i32, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

#[get("/staff/customers/new")]
pub async fn new_form(admin: Admin) -> Result<HttpResponse, AppError> {
    page_with(
        StatusCode::OK,
        &CustomerFormPage {
            layout: admin.0.layout(),
            id: None,
            company: String::new(),
            vat: String::new(),
            username: String::new(),
            email: String::new(),
            logins: Vec::new(),
            problems: Vec::new(),
            notice: None,
        },
    )
}

#[post("/staff/customers/new")]
pub async fn create(
    admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewCustomerForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let fields = CustomerFields {
        company: form.company.clone(),
        vat: form.vat.clone(),
    };
    let (username, email) = (form.username.clone(), form.email.clone());
    let made = db::run(&state.pool, move |conn| {
        provision::create_customer(conn, &by, &fields, &username, &email)
    })
    .await;
    match made {
        Ok((customer, login)) => link_page(
            layout,
            &request,
            &login.user.username,
            &login.link,
            login.expires_at,
            format!("/staff/customers/{}/edit", customer.id),
            "Back to the customer",
        ),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            page_with(
                status,
                &CustomerFormPage {
                    layout,
                    id: None,
                    company: form.company,
                    vat: form.vat,
                    username: form.username,
                    email: form.email,
                    logins: Vec::new(),
                    problems: reasons,
                    notice: None,
                },
            )
        }
    }
}

async fn logins(state: &AppState, id: CustomerId) -> Result<Vec<User>, AppError> {
    db::run(&state.pool, move |conn| {
        Ok::<_, AppError>(q::logins_of(conn, id)?)
    })
    .await
}

fn rows(logins: Vec<User>) -> Vec<LoginRow> {
    logins
        .into_iter()
        .map(|u| LoginRow {
            id: u.id.0,
            username: u.username,
            email: u.email,
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

#[get("/staff/customers/{id}/edit")]
pub async fn edit_form(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    done: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let id = CustomerId(id_of(&id)?);
    let (customer, logins) = db::run(&state.pool, move |conn| {
        let customer = customers::find(conn, id)?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((customer, q::logins_of(conn, id)?))
    })
    .await?;
    page_with(
        StatusCode::OK,
        &CustomerFormPage {
            layout: admin.0.layout(),
            id: Some(id.0),
            company: customer.company,
            vat: customer.vat,
            username: String::new(),
            email: String::new(),
            logins: rows(logins),
            problems: Vec::new(),
            notice: (done.done == "saved").then(|| "The customer was saved.".into()),
        },
    )
}

#[post("/staff/customers/{id}/edit")]
pub async fn edit(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = CustomerId(id_of(&id)?);
    let pairs = form.into_inner();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let fields = CustomerFields {
        company: value("company"),
        vat: value("vat"),
    };
    let emails: Vec<(UserId, String)> = pairs
        .iter()
        .filter_map(|(k, v)| {
            let user = k.strip_prefix("email.")?.parse().ok()?;
            Some((UserId(user), v.clone()))
        })
        .collect();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let (typed, typed_emails) = (fields.clone(), emails.clone());
    let saved = db::run(&state.pool, move |conn| {
        provision::edit_customer(conn, &by, id, &fields, &emails)
    })
    .await;
    match saved {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/staff/customers/{id}/edit?done=saved"),
            ))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            let mut logins = rows(logins(&state, id).await?);
            for login in &mut logins {
                if let Some((_, typed)) = typed_emails.iter().find(|(u, _)| u.0 == login.id) {
                    login.email = typed.clone();
                }
            }
            page_with(
                status,
                &CustomerFormPage {
                    layout,
                    id: Some(id.0),
                    company: typed.company,
                    vat: typed.vat,
                    username: String::new(),
                    email: String::new(),
                    logins,
                    problems: reasons,
                    notice: None,
                },
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    email: String,
}

#[derive(Template)]
#[template(path = "staff/login_form.html")]
struct LoginFormPage {
    layout: Layout,
    customer: i32,
    company: String,
    username: String,
    email: String,
    problems: Vec<String>,
}

async fn company(state: &AppState, id: CustomerId) -> Result<String, AppError> {
    db::run(&state.pool, move |conn| {
        customers::find(conn, id)?
            .map(|c| c.company)
            .ok_or(AppError::NotFound)
    })
    .await
}

#[get("/staff/customers/{id}/logins/new")]
pub async fn login_form(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = CustomerId(id_of(&id)?);
    page_with(
        StatusCode::OK,
        &LoginFormPage {
            layout: admin.0.layout(),
            customer: id.0,
            company: company(&state, id).await?,
            username: String::new(),
            email: String::new(),
            problems: Vec::new(),
        },
    )
}

#[post("/staff/customers/{id}/logins/new")]
pub async fn add_login(
    admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let id = CustomerId(id_of(&id)?);
    let form = form.into_inner();
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let (username, email) = (form.username.clone(), form.email.clone());
    let made = db::run(&state.pool, move |conn| {
        provision::add_login(conn, &by, id, &username, &email)
    })
    .await;
    match made {
        Ok(login) => link_page(
            layout,
            &request,
            &login.user.username,
            &login.link,
            login.expires_at,
            format!("/staff/customers/{id}/edit"),
            "Back to the customer",
        ),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            page_with(
                status,
                &LoginFormPage {
                    layout,
                    customer: id.0,
                    company: company(&state, id).await?,
                    username: form.username,
                    email: form.email,
                    problems: reasons,
                },
            )
        }
    }
}

/// `POST /staff/users/{id}/link`: a new one-time set-password link for a login (customer or
/// staff), shown once; the earlier one stops working.
#[post("/staff/users/{id}/link")]
pub async fn new_link(
    admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = UserId(id_of(&id)?);
    let layout = admin.0.layout();
    let by = By::Staff(admin.0);
    let (user, link, expires_at) = db::run(&state.pool, move |conn| {
        provision::reset_link(conn, &by, id)
    })
    .await?;
    let (back, label) = match user.customer_id {
        Some(customer) => (
            format!("/staff/customers/{customer}/edit"),
            "Back to the customer",
        ),
        None => ("/staff/members".to_owned(), "Back to the staff members"),
    };
    link_page(
        layout,
        &request,
        &user.username,
        &link,
        expires_at,
        back,
        label,
    )
}
