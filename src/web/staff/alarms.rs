//! `/staff/alarms`: every alarm on the platform with the API's filters (container, level,
//! class, range) and by customer and server, level badges, sorted and paged by the database;
//! and deleting one, audited. Staff may delete platform (level 0) alarms too.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::staff_alarms::{self, AlarmListing, AlarmSort, StaffAlarmFilter};
use crate::db::queries::staff_jobs;
use crate::domain::ids::{AlarmId, ContainerId, CustomerId, ServerId};
use crate::domain::values::{Color, Uid};
use crate::ops;
use crate::web::api::alarms::Range;
use crate::web::error::AppError;
use crate::web::pages::alarms::level_name;
use crate::web::pages::settings::when;
use crate::web::render::Layout;
use crate::web::staff::filters::{Choice, menu, number, query_string};
use crate::web::staff::table::{PER_PAGE, Pager, SortColumn, TableQuery, Window};

const LEVELS: [i16; 5] = [0, 1, 2, 3, 4];

const COLUMNS: &[SortColumn<AlarmSort>] = &[
    SortColumn {
        name: "when",
        label: "When",
        key: AlarmSort::When,
    },
    SortColumn {
        name: "customer",
        label: "Customer",
        key: AlarmSort::Customer,
    },
    SortColumn {
        name: "container",
        label: "Container",
        key: AlarmSort::Container,
    },
    SortColumn {
        name: "level",
        label: "Level",
        key: AlarmSort::Level,
    },
];

/// One alarm as the console shows it; `_alarm_level.html` reads `level`, `level_name` and
/// `swatch`.
struct Row {
    id: i64,
    customer_id: i32,
    company: String,
    uid: i64,
    container: String,
    server: String,
    level: i16,
    level_name: &'static str,
    swatch: Option<String>,
    class: String,
    msg: String,
    at: String,
}

fn row(listing: AlarmListing, base_uid: u32) -> Row {
    let a = listing.alarm;
    Row {
        id: a.id.0,
        customer_id: a.customer_id.0,
        company: listing.company,
        uid: Uid::of(base_uid, a.container_id).get(),
        container: listing.container,
        server: listing.server,
        level: a.level,
        level_name: level_name(a.level),
        swatch: Color::parse(&a.color).ok().map(Color::into_inner),
        class: a.class.unwrap_or_default(),
        msg: a.msg,
        at: when(a.unix),
    }
}

/// The filters, as the query string and the delete forms carry them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Filters {
    customer: String,
    server: String,
    container: String,
    level: String,
    class: String,
    /// `N` (the newest N) or `A-B` (items A to B of the newest-first list), as in the API.
    range: String,
}

impl Filters {
    fn parsed(&self, base_uid: u32) -> Result<(StaffAlarmFilter, Option<Range>), AppError> {
        let level: Option<i16> = number("level", &self.level)?;
        if level.is_some_and(|l| !LEVELS.contains(&l)) {
            return Err(AppError::BadRequest("The level is 0 to 4.".into()));
        }
        let uid: Option<i64> = number("container", &self.container)?;
        let range = match self.range.trim() {
            "" => None,
            raw => Some(Range::parse(raw).ok_or_else(|| {
                AppError::BadRequest(
                    "The range is N (the newest N) or A-B (items A to B, newest first).".into(),
                )
            })?),
        };
        let class = self.class.trim();
        Ok((
            StaffAlarmFilter {
                customer: number::<i32>("customer", &self.customer)?.map(CustomerId),
                server: number::<i32>("server", &self.server)?.map(ServerId),
                // a uid no container has matches nothing
                container: uid
                    .map(|uid| ContainerId(i32::try_from(uid - i64::from(base_uid)).unwrap_or(-1))),
                level,
                class: (!class.is_empty()).then(|| class.to_owned()),
            },
            range,
        ))
    }

    fn query(&self) -> String {
        query_string(&[
            ("customer", &self.customer),
            ("server", &self.server),
            ("container", &self.container),
            ("level", &self.level),
            ("class", &self.class),
            ("range", &self.range),
        ])
    }
}

#[derive(Template)]
#[template(path = "staff/alarms.html")]
struct AlarmsPage {
    layout: Layout,
    notice: Option<&'static str>,
    filters: Filters,
    filtered: bool,
    customers: Vec<Choice>,
    servers: Vec<Choice>,
    levels: Vec<Choice>,
    rows: Vec<Row>,
    pager: Pager,
    /// The table's page and order, sent back by the delete forms.
    table: TableQuery,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    #[serde(flatten)]
    filters: Filters,
    #[serde(flatten)]
    table: TableQuery,
    done: String,
}

/// Offset and limit of a page within the range, when one is given.
fn slice(window: &Window<AlarmSort>, range: Option<Range>) -> (i64, i64) {
    match range {
        None => (window.offset(), window.limit_probe()),
        Some(range) => {
            let left = (range.limit - window.offset()).max(0);
            (
                range.offset.saturating_add(window.offset()),
                left.min(window.limit_probe()),
            )
        }
    }
}

#[get("/staff/alarms")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let (filter, range) = query.filters.parsed(state.config.base_uid)?;
    let window = Window::parse(&query.table, COLUMNS, true);
    let sort = (window.sort.key, window.descending);
    let (offset, limit) = slice(&window, range);
    let (found, customers, servers) = db::run(&state.pool, move |conn| {
        let found = if limit > 0 {
            staff_alarms::list(conn, &filter, sort, offset, limit)?
        } else {
            Vec::new()
        };
        Ok::<_, AppError>((
            found,
            staff_jobs::customer_choices(conn)?,
            staff_jobs::server_choices(conn)?,
        ))
    })
    .await?;
    let filters = query.filters.clone();
    let pager = window.pager("/staff/alarms", &filters.query(), found.len(), COLUMNS);
    let base_uid = state.config.base_uid;
    let page = AlarmsPage {
        layout: staff.layout(),
        notice: (query.done == "deleted").then_some("The alarm is deleted."),
        filtered: !filters.query().is_empty(),
        customers: menu(
            customers
                .into_iter()
                .map(|(id, company)| (id.0, format!("#{id} {company}"))),
            &filters.customer,
        ),
        servers: menu(
            servers.into_iter().map(|(id, name)| (id.0, name)),
            &filters.server,
        ),
        levels: menu(
            LEVELS
                .iter()
                .map(|l| (l, format!("{l} ({})", level_name(*l)))),
            &filters.level,
        ),
        rows: found
            .into_iter()
            .take(PER_PAGE as usize)
            .map(|a| row(a, base_uid))
            .collect(),
        filters,
        pager,
        table: query.table.clone(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    #[serde(flatten)]
    filters: Filters,
    #[serde(flatten)]
    table: TableQuery,
}

/// `POST /staff/alarms/{id}/delete`: deletes one alarm, audited, and goes back to the list
/// as it was filtered, sorted and paged.
#[post("/staff/alarms/{id}/delete")]
pub async fn delete(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    back: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let id = AlarmId(id.parse::<i64>().map_err(|_| AppError::NotFound)?);
    let back = back.into_inner();
    // only well-formed filters go back into the address
    let filters = match back.filters.parsed(state.config.base_uid) {
        Ok(_) => back.filters.query(),
        Err(_) => String::new(),
    };
    // the page and order go back as they came, when they name a column and a direction
    let table = &back.table;
    let known = COLUMNS.iter().find(|c| c.name == table.sort.trim());
    let dir = table.dir.trim();
    let page = table.page.trim().parse::<i64>().ok().filter(|p| *p > 1);
    let order = query_string(&[
        ("sort", known.map(|c| c.name).unwrap_or_default()),
        (
            "dir",
            if known.is_some() && matches!(dir, "asc" | "desc") {
                dir
            } else {
                ""
            },
        ),
        ("page", &page.map(|p| p.to_string()).unwrap_or_default()),
        ("done", "deleted"),
    ]);
    ops::staff::delete_alarm(&state.pool, state.config.base_uid, staff, id).await?;
    let location = if filters.is_empty() {
        format!("/staff/alarms?{order}")
    } else {
        format!("/staff/alarms?{filters}&{order}")
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}
