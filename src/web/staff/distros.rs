//! `GET /staff/distros`: the platform distros with how many containers fall back to each, and
//! every customer's custom distros (sorted and paged by the database) with their image and the
//! containers booting them; `GET /staff/distros/{id}`: a platform distro and its containers.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::distro::Distro;
use crate::db::queries::staff_views::{
    self, ContainerFilter, CustomDistroListing, CustomDistroSort, CustomDistroWindow,
    PlatformDistroListing,
};
use crate::domain::ids::DistroId;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, byte_size, html};
use crate::web::staff::containers::{
    COLUMNS as CONTAINER_COLUMNS, Choice, Row, customer_menu, number, query_string, row,
};
use crate::web::staff::table::{PER_PAGE, Pager, SortColumn, TableQuery, Window};

struct CustomRow {
    id: i32,
    customer_id: i32,
    company: String,
    storage_uid: i64,
    storage_name: String,
    name: String,
    path: String,
    state: String,
    size: String,
    sha256: String,
    checked: String,
    booting: Vec<(i64, String)>,
}

const COLUMNS: &[SortColumn<CustomDistroSort>] = &[
    SortColumn {
        name: "customer",
        label: "Customer",
        key: CustomDistroSort::Customer,
    },
    SortColumn {
        name: "name",
        label: "Name",
        key: CustomDistroSort::Name,
    },
    SortColumn {
        name: "state",
        label: "Image",
        key: CustomDistroSort::State,
    },
];

#[derive(Template)]
#[template(path = "staff/distros.html")]
struct DistrosPage {
    layout: Layout,
    customers: Vec<Choice>,
    platform: Vec<PlatformDistroListing>,
    /// The platform distros page by themselves: `platform_page=N` next to the other filters.
    platform_previous: Option<String>,
    platform_next: Option<String>,
    custom: Vec<CustomRow>,
    pager: Pager,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    customer: String,
    platform_page: String,
    #[serde(flatten)]
    table: TableQuery,
}

fn custom_row(d: CustomDistroListing, base_uid: u32) -> CustomRow {
    let uid = |id: i32| i64::from(base_uid) + i64::from(id);
    CustomRow {
        id: d.id,
        customer_id: d.customer_id,
        company: d.company,
        storage_uid: uid(d.storage_id),
        storage_name: d.storage_name,
        name: d.name,
        path: d.path,
        // the stored state says what the last install or check left; a queued or running
        // install says more
        state: if d.busy {
            "unpacking".into()
        } else {
            d.image_state
        },
        size: byte_size(d.image_bytes),
        sha256: d
            .image_sha256
            .map(|s| s.chars().take(12).collect())
            .unwrap_or_default(),
        checked: d.checked_at.map(when).unwrap_or_else(|| "never".into()),
        booting: d
            .booting_ids
            .into_iter()
            .map(uid)
            .zip(d.booting_names)
            .collect(),
    }
}

#[get("/staff/distros")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let customer: Option<i32> = number("customer", &query.customer)?;
    let window = Window::parse(&query.table, COLUMNS, false);
    let custom_window = CustomDistroWindow {
        sort: window.sort.key,
        descending: window.descending,
        offset: window.offset(),
        limit: window.limit_probe(),
    };
    let platform_page = query
        .platform_page
        .trim()
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let platform_offset = (platform_page - 1) * PER_PAGE;
    let (customers, mut platform, custom) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_views::customer_choices(conn)?,
            staff_views::platform_distros(conn, platform_offset, PER_PAGE + 1)?,
            staff_views::custom_distros(conn, customer, custom_window)?,
        ))
    })
    .await?;
    let filters = query_string(&[("customer", query.customer.trim().to_owned())]);
    let pager = window.pager("/staff/distros", &filters, custom.len(), COLUMNS);
    let platform_link = |page: i64| {
        let pairs = [
            ("customer", query.customer.trim().to_owned()),
            ("sort", query.table.sort.trim().to_owned()),
            ("dir", query.table.dir.trim().to_owned()),
            ("page", query.table.page.trim().to_owned()),
            ("platform_page", page.to_string()),
        ];
        format!("/staff/distros?{}#platform-distros", query_string(&pairs))
    };
    let platform_next =
        (platform.len() as i64 > PER_PAGE).then(|| platform_link(platform_page + 1));
    let platform_previous = (platform_page > 1).then(|| platform_link(platform_page - 1));
    platform.truncate(PER_PAGE as usize);
    let base_uid = state.config.base_uid;
    html(&DistrosPage {
        layout: staff.layout(),
        customers: customer_menu(customers, customer),
        platform,
        platform_previous,
        platform_next,
        custom: custom
            .into_iter()
            .take(PER_PAGE as usize)
            .map(|d| custom_row(d, base_uid))
            .collect(),
        pager,
    })
}

#[derive(Template)]
#[template(path = "staff/distro.html")]
struct DistroPage {
    layout: Layout,
    distro: Distro,
    added: String,
    rows: Vec<Row>,
    pager: Pager,
}

#[get("/staff/distros/{id:\\d+}")]
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<TableQuery>,
) -> Result<HttpResponse, AppError> {
    let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
    let window = Window::parse(&query, CONTAINER_COLUMNS, false);
    let filter = ContainerFilter {
        distro: Some(id),
        sort: window.sort.key,
        descending: window.descending,
        offset: window.offset(),
        limit: window.limit_probe(),
        ..ContainerFilter::default()
    };
    let (distro, containers) = db::run(&state.pool, move |conn| {
        let distro = staff_views::platform_distro(conn, DistroId(id))?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((distro, staff_views::containers(conn, &filter)?))
    })
    .await?;
    let pager = window.pager(
        &format!("/staff/distros/{id}"),
        "",
        containers.len(),
        CONTAINER_COLUMNS,
    );
    let base_uid = state.config.base_uid;
    html(&DistroPage {
        layout: staff.layout(),
        added: when(distro.created_at),
        distro,
        rows: containers
            .into_iter()
            .take(PER_PAGE as usize)
            .map(|c| row(c, base_uid))
            .collect(),
        pager,
    })
}
