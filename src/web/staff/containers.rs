//! `GET /staff/containers`: every container on the platform, newest first, filterable by
//! customer, server and name, a page at a time.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::server::Server;
use crate::db::queries::overview;
use crate::db::queries::staff_views::{self, ContainerFilter, ContainerListing};
use crate::domain::ids::CustomerId;
use crate::web::error::AppError;
use crate::web::render::{Layout, html};

const PAGE: i64 = 100;

/// A filter field: empty means "any"; anything else must be a number.
pub(super) fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("The {field} filter must be a number.")))
}

/// `key=value&…` of the non-empty pairs, for links that keep the filters.
pub(super) fn query_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencoding(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencoding(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One option of a filter menu.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The customers menu: `#id company`, the filtered one selected.
pub(super) fn customer_menu(
    customers: Vec<(CustomerId, String)>,
    chosen: Option<i32>,
) -> Vec<Choice> {
    customers
        .into_iter()
        .map(|(id, company)| Choice {
            value: id.0.to_string(),
            label: format!("#{id} {company}"),
            selected: chosen == Some(id.0),
        })
        .collect()
}

struct Row {
    uid: i64,
    name: String,
    customer_id: i32,
    company: String,
    server: String,
    distro: String,
    custom_distro: Option<(String, i64)>,
    storage: bool,
    fallback_reason: String,
    pending_jobs: i64,
}

#[derive(Template)]
#[template(path = "staff/containers.html")]
struct ContainersPage {
    layout: Layout,
    customers: Vec<Choice>,
    servers: Vec<Choice>,
    q: String,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    customer: String,
    server: String,
    q: String,
    before: String,
}

fn row(c: ContainerListing, base_uid: i64) -> Row {
    Row {
        uid: base_uid + i64::from(c.id),
        name: c.name,
        customer_id: c.customer_id,
        company: c.company,
        server: c.server,
        distro: c.distro.unwrap_or_default(),
        custom_distro: c
            .custom_distro
            .zip(c.custom_storage_id)
            .map(|(name, storage)| (name, base_uid + i64::from(storage))),
        storage: c.storage,
        fallback_reason: c.fallback_reason.unwrap_or_default(),
        pending_jobs: c.pending_jobs,
    }
}

#[get("/staff/containers")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.q.trim().to_owned();
    let filter = ContainerFilter {
        customer: number("customer", &query.customer)?,
        server: number("server", &query.server)?,
        name: (!q.is_empty()).then(|| q.clone()),
        before: number("before", &query.before)?,
        // one more than shown tells whether there is a next page
        limit: PAGE + 1,
    };
    let lookup = filter.clone();
    let (customers, servers, mut found) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_views::customer_choices(conn)?,
            overview::servers(conn)?,
            staff_views::containers(conn, &lookup)?,
        ))
    })
    .await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let next = match (more, found.last()) {
        (true, Some(last)) => Some(query_string(&[
            ("customer", query.customer.trim().to_owned()),
            ("server", query.server.trim().to_owned()),
            ("q", q.clone()),
            ("before", last.id.to_string()),
        ])),
        _ => None,
    };
    let base_uid = i64::from(state.config.base_uid);
    html(&ContainersPage {
        layout: staff.layout(),
        customers: customer_menu(customers, filter.customer),
        servers: servers
            .into_iter()
            .map(|s: Server| Choice {
                value: s.id.0.to_string(),
                selected: filter.server == Some(s.id.0),
                label: s.name,
            })
            .collect(),
        q,
        rows: found.into_iter().map(|c| row(c, base_uid)).collect(),
        next,
    })
}
