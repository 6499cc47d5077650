//! `/staff/alarms`: every alarm on the platform, newest first, filterable by customer,
//! container and level, and deleting one, audited. Staff may delete platform (level 0) alarms
//! too.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::staff_views::{self, AlarmFilter, AlarmListing};
use crate::domain::ids::AlarmId;
use crate::ops;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, html};
use crate::web::staff::containers::{Choice, customer_menu, number, query_string};

const PAGE: i64 = 100;
const LEVELS: [i16; 5] = [0, 1, 2, 3, 4];

struct Row {
    id: i64,
    customer_id: i32,
    company: String,
    uid: i64,
    container: String,
    level: i16,
    color: String,
    msg: String,
    at: String,
}

#[derive(Template)]
#[template(path = "staff/alarms.html")]
struct AlarmsPage {
    layout: Layout,
    notice: Option<&'static str>,
    customers: Vec<Choice>,
    levels: Vec<Choice>,
    container: String,
    /// The filters and page as a query string, sent back by the delete forms.
    here: Filters,
    rows: Vec<Row>,
    previous: Option<String>,
    next: Option<String>,
}

/// The filters and page of the list, as the query string and the delete forms carry them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct Filters {
    customer: String,
    container: String,
    level: String,
    offset: String,
}

impl Filters {
    fn parsed(&self, base_uid: u32) -> Result<AlarmFilter, AppError> {
        let level: Option<i16> = number("level", &self.level)?;
        if level.is_some_and(|l| !LEVELS.contains(&l)) {
            return Err(AppError::BadRequest("The level is 0 to 4.".into()));
        }
        let uid: Option<i64> = number("container", &self.container)?;
        let offset: i64 = number("offset", &self.offset)?.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::BadRequest(
                "The offset cannot be negative.".into(),
            ));
        }
        Ok(AlarmFilter {
            customer: number("customer", &self.customer)?,
            // a uid no container has matches nothing
            container: uid.map(|uid| i32::try_from(uid - i64::from(base_uid)).unwrap_or(-1)),
            level,
            offset,
            limit: PAGE + 1,
        })
    }

    /// The query string for these filters at `offset`.
    fn at(&self, offset: i64) -> String {
        query_string(&[
            ("customer", self.customer.trim().to_owned()),
            ("container", self.container.trim().to_owned()),
            ("level", self.level.trim().to_owned()),
            (
                "offset",
                if offset > 0 {
                    offset.to_string()
                } else {
                    String::new()
                },
            ),
        ])
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    #[serde(flatten)]
    filters: Filters,
    done: String,
}

fn row(a: AlarmListing, base_uid: i64) -> Row {
    Row {
        id: a.id,
        customer_id: a.customer_id,
        company: a.company,
        uid: base_uid + i64::from(a.container_id),
        container: a.container,
        level: a.level,
        color: a.color,
        msg: a.msg,
        at: when(a.unix),
    }
}

#[get("/staff/alarms")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filters.parsed(state.config.base_uid)?;
    let lookup = filter.clone();
    let (customers, mut found) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_views::customer_choices(conn)?,
            staff_views::alarms(conn, &lookup)?,
        ))
    })
    .await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let base_uid = i64::from(state.config.base_uid);
    html(&AlarmsPage {
        layout: staff.layout(),
        notice: (query.done == "deleted").then_some("The alarm is deleted."),
        customers: customer_menu(customers, filter.customer),
        levels: LEVELS
            .iter()
            .map(|l| Choice {
                value: l.to_string(),
                label: l.to_string(),
                selected: filter.level == Some(*l),
            })
            .collect(),
        container: query.filters.container.trim().to_owned(),
        here: query.filters.clone(),
        rows: found.into_iter().map(|a| row(a, base_uid)).collect(),
        previous: (filter.offset > 0).then(|| query.filters.at((filter.offset - PAGE).max(0))),
        next: more.then(|| query.filters.at(filter.offset + PAGE)),
    })
}

/// `POST /staff/alarms/{id}/delete`: deletes one alarm, audited, and goes back to the list
/// as it was filtered.
#[post("/staff/alarms/{id}/delete")]
pub async fn delete(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    back: web::Form<Filters>,
) -> Result<HttpResponse, AppError> {
    let id = AlarmId(id.parse::<i64>().map_err(|_| AppError::NotFound)?);
    // only well-formed filters go back into the address
    let back = back.into_inner();
    let back = match back.parsed(state.config.base_uid) {
        Ok(filter) => back.at(filter.offset),
        Err(_) => String::new(),
    };
    ops::staff::delete_alarm(&state.pool, state.config.base_uid, staff, id).await?;
    let location = if back.is_empty() {
        "/staff/alarms?done=deleted".to_owned()
    } else {
        format!("/staff/alarms?{back}&done=deleted")
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}
