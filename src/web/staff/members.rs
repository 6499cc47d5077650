//! `/staff/members` (admin): the staff accounts with their roles, adding a member (who gets a
//! one-time set-password link), and changing a role, never leaving staff without an admin.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::auth::guard::Admin;
use crate::db;
use crate::db::queries::provision as q;
use crate::domain::ids::UserId;
use crate::domain::staff_role::StaffRole;
use crate::ops::provision::{self, By};
use crate::web::error::AppError;
use crate::web::render::Layout;
use crate::web::staff::provision::{Problem, link_page, page_with, problem};

struct MemberRow {
    id: i32,
    username: String,
    email: String,
    role: StaffRole,
    is_me: bool,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct MemberForm {
    username: String,
    email: String,
    role: String,
}

#[derive(Template)]
#[template(path = "staff/members.html")]
struct MembersPage {
    layout: Layout,
    members: Vec<MemberRow>,
    form: MemberForm,
    roles: [StaffRole; 2],
    problems: Vec<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

async fn page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    form: MemberForm,
    problems: Vec<String>,
    notice: Option<String>,
) -> Result<HttpResponse, AppError> {
    let me = admin.0.session.user_id;
    let members = db::run(&state.pool, |conn| {
        Ok::<_, AppError>(q::staff_members(conn)?)
    })
    .await?
    .into_iter()
    .map(|u| MemberRow {
        role: u.staff_role().unwrap_or(StaffRole::Support),
        is_me: u.id == me,
        id: u.id.0,
        username: u.username,
        email: u.email,
    })
    .collect();
    page_with(
        status,
        &MembersPage {
            layout: admin.0.layout(),
            members,
            form,
            roles: StaffRole::ALL,
            problems,
            notice,
        },
    )
}

#[get("/staff/members")]
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    done: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let notice = (done.done == "role")
        .then(|| "The role was changed; the member's sessions ended, so it applies from their next login.".to_owned());
    let form = MemberForm {
        role: "support".into(),
        ..Default::default()
    };
    page(&state, &admin, StatusCode::OK, form, Vec::new(), notice).await
}

#[post("/staff/members/new")]
pub async fn add(
    admin: Admin,
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let by = By::Staff(admin.0.clone());
    let typed = form.clone();
    let made = db::run(&state.pool, move |conn| {
        provision::add_member(conn, &by, &typed.username, &typed.email, &typed.role)
    })
    .await;
    match made {
        Ok(login) => link_page(
            admin.0.layout(),
            &request,
            &login.user.username,
            &login.link,
            login.expires_at,
            "/staff/members".into(),
            "Back to the staff members",
        ),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            page(&state, &admin, status, form, reasons, None).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

/// `POST /staff/members/{id}/role`: a new role; the member's sessions end so it applies.
#[post("/staff/members/{id}/role")]
pub async fn change_role(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let id = UserId(id.parse().map_err(|_| AppError::NotFound)?);
    let by = By::Staff(admin.0.clone());
    let role = form.into_inner().role;
    let changed = db::run(&state.pool, move |conn| {
        provision::change_role(conn, &by, id, &role)
    })
    .await;
    match changed {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/staff/members?done=role"))
            .finish()),
        Err(error) => {
            let Problem { status, reasons } = problem(error)?;
            let form = MemberForm {
                role: "support".into(),
                ..Default::default()
            };
            page(&state, &admin, status, form, reasons, None).await
        }
    }
}
