//! `GET /staff`: every customer with their logins, staff, servers, containers, and the newest
//! audit entries.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::container::Container;
use crate::db::models::customer::Customer;
use crate::db::models::event::Event;
use crate::db::models::server::Server;
use crate::db::models::user::User;
use crate::db::queries::overview;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, html};

struct ContainerRow {
    uid: i64,
    name: String,
    company: String,
    server: String,
    storage: bool,
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct StaffHome {
    layout: Layout,
    notice: Option<&'static str>,
    customers: Vec<(Customer, Vec<User>)>,
    staff: Vec<User>,
    servers: Vec<Server>,
    containers: Vec<ContainerRow>,
    audit: Vec<(String, Event)>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Done {
    done: String,
}

#[get("/staff")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let (customers, staff_logins, servers, containers, audit) = db::run(&state.pool, |conn| {
        Ok::<_, AppError>((
            overview::customers_with_logins(conn)?,
            overview::staff_logins(conn)?,
            overview::servers(conn)?,
            overview::containers(conn)?,
            overview::recent_audit(conn, 50)?,
        ))
    })
    .await?;
    let base_uid = i64::from(state.config.base_uid);
    html(&StaffHome {
        layout: staff.layout(),
        notice: (query.done == "sessions-ended").then_some("The user's sessions were ended."),
        customers,
        staff: staff_logins,
        servers,
        containers: containers
            .into_iter()
            .map(
                |(c, server, company): (Container, String, String)| ContainerRow {
                    uid: base_uid + i64::from(c.id.0),
                    name: c.name,
                    company,
                    server,
                    storage: c.custom_distros_storage,
                },
            )
            .collect(),
        audit: audit.into_iter().map(|e| (when(e.at), e)).collect(),
    })
}
