//! `GET /staff/servers`: the container hosts with their containers, unfinished jobs and last
//! report, sorted and paged by the database; `GET /staff/servers/{id}`: one host's containers,
//! its job queue, its agent's last heartbeat and the disk use of each home it measured.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::job::Job;
use crate::db::models::server::Server;
use crate::db::queries::staff_views::{
    self, ContainerFilter, ContainerListing, HomeUse, Queue, ServerListing, ServerSort,
};
use crate::domain::ids::{ContainerId, ServerId};
use crate::domain::values::Uid;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, ago, byte_size, html};
use crate::web::staff::containers::{COLUMNS as CONTAINER_COLUMNS, Row, row};
use crate::web::staff::table::{PER_PAGE, Pager, SortColumn, TableQuery, Window};

const COLUMNS: &[SortColumn<ServerSort>] = &[
    SortColumn {
        name: "name",
        label: "Name",
        key: ServerSort::Name,
    },
    SortColumn {
        name: "containers",
        label: "Containers",
        key: ServerSort::Containers,
    },
    SortColumn {
        name: "pending",
        label: "Unfinished jobs",
        key: ServerSort::Pending,
    },
    SortColumn {
        name: "reported",
        label: "Last report",
        key: ServerSort::Reported,
    },
];

struct ServerRow {
    id: i32,
    name: String,
    address: String,
    mode: &'static str,
    containers: i64,
    pending: i64,
    reported: String,
}

fn server_row(s: ServerListing) -> ServerRow {
    ServerRow {
        id: s.id,
        name: s.name,
        address: s.address,
        mode: if s.pull { "pull" } else { "agent" },
        containers: s.containers,
        pending: s.pending,
        reported: s.reported_at.map_or_else(|| "never".into(), ago),
    }
}

#[derive(Template)]
#[template(path = "staff/servers.html")]
struct ServersPage {
    layout: Layout,
    servers: Vec<ServerRow>,
    pager: Pager,
}

#[get("/staff/servers")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<TableQuery>,
) -> Result<HttpResponse, AppError> {
    let window = Window::parse(&query, COLUMNS, false);
    let (sort, descending, offset, limit) = (
        window.sort.key,
        window.descending,
        window.offset(),
        window.limit_probe(),
    );
    let servers = db::run(&state.pool, move |conn| {
        staff_views::servers_page(conn, sort, descending, offset, limit).map_err(AppError::from)
    })
    .await?;
    let pager = window.pager("/staff/servers", "", servers.len(), COLUMNS);
    html(&ServersPage {
        layout: staff.layout(),
        servers: servers
            .into_iter()
            .take(PER_PAGE as usize)
            .map(server_row)
            .collect(),
        pager,
    })
}

struct QueuedRow {
    id: i64,
    kind: String,
    state: String,
    container_uid: Option<i64>,
    created: String,
}

struct HomeRow {
    uid: i64,
    name: String,
    home: String,
    images: String,
    quota: String,
    measured: String,
}

fn home_row(h: HomeUse, base_uid: u32) -> HomeRow {
    HomeRow {
        uid: Uid::of(base_uid, ContainerId(h.id)).get(),
        name: h.name,
        home: byte_size(Some(h.home_bytes)),
        images: byte_size(Some(h.images_bytes)),
        quota: byte_size(Some(i64::from(h.storage_mb).saturating_mul(1024 * 1024))),
        measured: ago(h.measured_at),
    }
}

#[derive(Template)]
#[template(path = "staff/server.html")]
struct ServerPage {
    layout: Layout,
    server: Server,
    rows: Vec<Row>,
    pager: Pager,
    pending: i64,
    running: i64,
    oldest_pending: Option<String>,
    queued: Vec<QueuedRow>,
    /// The agent's last report: when and which worker; `None` when nothing ever reported.
    heartbeat: Option<(String, String)>,
    homes: Vec<HomeRow>,
}

struct Loaded {
    server: Server,
    containers: Vec<ContainerListing>,
    queue: Queue,
    queued: Vec<Job>,
    heartbeat: Option<(String, chrono::DateTime<chrono::Utc>)>,
    homes: Vec<HomeUse>,
}

/// Jobs and homes the server page lists.
const QUEUED_SHOWN: i64 = 100;
const HOMES_SHOWN: i64 = 200;

#[get("/staff/servers/{id:\\d+}")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<TableQuery>,
) -> Result<HttpResponse, AppError> {
    let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
    let window = Window::parse(&query, CONTAINER_COLUMNS, false);
    let filter = ContainerFilter {
        server: Some(id),
        sort: window.sort.key,
        descending: window.descending,
        offset: window.offset(),
        limit: window.limit_probe(),
        ..ContainerFilter::default()
    };
    let loaded = db::run(&state.pool, move |conn| {
        let server = staff_views::server(conn, ServerId(id))?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>(Loaded {
            server,
            containers: staff_views::containers(conn, &filter)?,
            queue: staff_views::queue_of(conn, id)?,
            queued: staff_views::queued_jobs(conn, id, QUEUED_SHOWN)?,
            heartbeat: staff_views::heartbeat_of(conn, id)?,
            homes: staff_views::homes_of(conn, id, HOMES_SHOWN)?,
        })
    })
    .await?;
    let base_uid = state.config.base_uid;
    let pager = window.pager(
        &format!("/staff/servers/{id}"),
        "",
        loaded.containers.len(),
        CONTAINER_COLUMNS,
    );
    html(&ServerPage {
        layout: staff.layout(),
        server: loaded.server,
        rows: loaded
            .containers
            .into_iter()
            .take(PER_PAGE as usize)
            .map(|c| row(c, base_uid))
            .collect(),
        pager,
        pending: loaded.queue.pending,
        running: loaded.queue.running,
        oldest_pending: loaded.queue.oldest_pending.map(ago),
        queued: loaded
            .queued
            .into_iter()
            .map(|j| QueuedRow {
                id: j.id.0,
                kind: j.kind.to_string(),
                state: j.state,
                container_uid: j.container_id.map(|c| Uid::of(base_uid, c).get()),
                created: when(j.created_at),
            })
            .collect(),
        heartbeat: loaded
            .heartbeat
            .map(|(worker, at)| (format!("{} ({})", ago(at), when(at)), worker)),
        homes: loaded
            .homes
            .into_iter()
            .map(|h| home_row(h, base_uid))
            .collect(),
    })
}
