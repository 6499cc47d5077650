//! `GET /staff`: the customers, a page at a time in the order asked, with the servers, their
//! agents' last reports and the newest audit entries.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::event::Event;
use crate::db::models::server::Server;
use crate::db::queries::host_reports::{self, Heartbeat};
use crate::db::queries::overview;
use crate::db::queries::staff_views::{self, CustomerListing, CustomerSort};
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, ago, html};
use crate::web::staff::table::{PER_PAGE, Pager, SortColumn, TableQuery, Window};

/// A server's last heartbeat; `silent` when its worker missed more than three reports.
struct HeartbeatRow {
    server: String,
    worker: String,
    last: String,
    silent: bool,
}

fn heartbeat_rows(beats: Vec<Heartbeat>, every: std::time::Duration) -> Vec<HeartbeatRow> {
    let silence =
        chrono::Duration::from_std(every.saturating_mul(3)).unwrap_or(chrono::Duration::MAX);
    let now = chrono::Utc::now();
    beats
        .into_iter()
        .map(|beat| HeartbeatRow {
            server: beat.server,
            worker: beat.worker.unwrap_or_default(),
            last: beat.reported_at.map_or_else(|| "never".into(), ago),
            silent: beat.reported_at.is_some_and(|at| now - at > silence),
        })
        .collect()
}

/// The columns the customers table sorts by.
const COLUMNS: &[SortColumn<CustomerSort>] = &[
    SortColumn {
        name: "id",
        label: "#",
        key: CustomerSort::Id,
    },
    SortColumn {
        name: "company",
        label: "Company",
        key: CustomerSort::Company,
    },
    SortColumn {
        name: "containers",
        label: "Containers",
        key: CustomerSort::Containers,
    },
    SortColumn {
        name: "created",
        label: "Since",
        key: CustomerSort::Created,
    },
];

struct CustomerRow {
    id: i32,
    company: String,
    vat: String,
    containers: i64,
    since: String,
    logins: String,
}

fn customer_row(c: CustomerListing) -> CustomerRow {
    CustomerRow {
        id: c.id,
        company: c.company,
        vat: c.vat,
        containers: c.containers,
        since: when(c.created_at),
        logins: c.logins.join(", "),
    }
}

/// Audit entries the staff home shows; the audit page has the rest.
const AUDIT_SHOWN: i64 = 10;

#[derive(Template)]
#[template(path = "staff/home.html")]
struct StaffHome {
    layout: Layout,
    notice: Option<&'static str>,
    customers: Vec<CustomerRow>,
    pager: Pager,
    servers: Vec<Server>,
    heartbeats: Vec<HeartbeatRow>,
    audit: Vec<(String, Event)>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct HomeQuery {
    done: String,
    #[serde(flatten)]
    table: TableQuery,
}

#[get("/staff")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<HomeQuery>,
) -> Result<HttpResponse, AppError> {
    let window = Window::parse(&query.table, COLUMNS, false);
    let (sort, descending, offset, limit) = (
        window.sort.key,
        window.descending,
        window.offset(),
        window.limit_probe(),
    );
    let (customers, servers, audit, beats) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_views::customers_page(conn, sort, descending, offset, limit)?,
            overview::servers(conn)?,
            overview::recent_audit(conn, AUDIT_SHOWN)?,
            host_reports::heartbeats(conn)?,
        ))
    })
    .await?;
    let pager = window.pager("/staff", "", customers.len(), COLUMNS);
    html(&StaffHome {
        layout: staff.layout(),
        notice: (query.done == "sessions-ended").then_some("The user's sessions were ended."),
        customers: customers
            .into_iter()
            .take(PER_PAGE as usize)
            .map(customer_row)
            .collect(),
        pager,
        servers,
        heartbeats: heartbeat_rows(beats, state.config.jobs.report),
        audit: audit.into_iter().map(|e| (when(e.at), e)).collect(),
    })
}
