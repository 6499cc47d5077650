//! `/alarms`: the customer's alarms with the API's filters (container, level, class, range),
//! pages of them, level badges, the alarm's colour as a swatch, and delete. Opening the page
//! marks what it shows as seen, so the dashboard counts only alarms raised after.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::AppState;
use crate::auth::guard::Customer;
use crate::db;
use crate::db::models::alarm::Alarm;
use crate::db::queries::alarms::{self, AlarmFilter};
use crate::db::queries::{containers, dashboard};
use crate::domain::ids::{AlarmId, ContainerId};
use crate::domain::values::{Color, Uid};
use crate::web::api::alarms::Range;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, html};

const PER_PAGE: i64 = 25;

/// One alarm as the pages show it.
pub struct AlarmRow {
    pub id: i64,
    pub level: i16,
    pub level_name: &'static str,
    /// The alarm's own colour for its swatch; `None` when it is no colour.
    pub swatch: Option<String>,
    pub at: String,
    pub msg: String,
    pub container_uid: i64,
    pub class: String,
}

/// uwsgi.it's names of the alarm levels.
pub fn level_name(level: i16) -> &'static str {
    match level {
        0 => "system",
        1 => "user",
        2 => "exception",
        3 => "traceback",
        4 => "log",
        _ => "other",
    }
}

impl AlarmRow {
    pub fn of(alarm: Alarm, base_uid: u32) -> Self {
        AlarmRow {
            id: alarm.id.0,
            level: alarm.level,
            level_name: level_name(alarm.level),
            // only a checked colour reaches the `fill` attribute
            swatch: Color::parse(&alarm.color).ok().map(Color::into_inner),
            at: when(alarm.unix),
            msg: alarm.msg,
            container_uid: Uid::of(base_uid, alarm.container_id).get(),
            class: alarm.class.unwrap_or_default(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(delete);
}

/// The page's query: the API's filters, as strings so that a blank field means "any".
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct AlarmsQuery {
    container: String,
    level: String,
    class: String,
    /// `N` (the newest N) or `A-B` (items A to B of the newest-first list), as in the API.
    range: String,
    page: String,
    done: String,
}

impl AlarmsQuery {
    /// The filter, or `None` when a field names nothing that can match.
    fn filter(&self, base_uid: u32) -> AlarmFilter {
        AlarmFilter {
            container: self
                .container
                .parse::<u32>()
                .ok()
                .and_then(|uid| uid.checked_sub(base_uid))
                .and_then(|id| i32::try_from(id).ok())
                .map(ContainerId),
            level: self
                .level
                .parse::<i16>()
                .ok()
                .filter(|l| (0..=4).contains(l)),
            class: Some(self.class.trim().to_owned()).filter(|c| !c.is_empty()),
            ..AlarmFilter::default()
        }
    }

    /// Offset and limit: the range when given, else the page.
    fn window(&self) -> (i64, i64, i64) {
        let page = self.page.parse::<i64>().unwrap_or(1).max(1);
        match Range::parse(self.range.trim()) {
            Some(range) => (range.offset, range.limit.min(1000), 1),
            None => ((page - 1) * PER_PAGE, PER_PAGE, page),
        }
    }

    /// The query string of these filters on another page.
    fn link(&self, page: i64) -> String {
        let pairs = [
            ("container", self.container.as_str()),
            ("level", self.level.as_str()),
            ("class", self.class.as_str()),
            ("range", self.range.as_str()),
        ];
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            query.append_pair(name, value);
        }
        query.append_pair("page", &page.to_string());
        query.finish()
    }
}

struct ContainerChoice {
    uid: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "alarms.html")]
struct AlarmsPage {
    layout: Layout,
    alarms: Vec<AlarmRow>,
    containers: Vec<ContainerChoice>,
    levels: Vec<(i16, &'static str)>,
    query_container: String,
    query_level: String,
    query_class: String,
    query_range: String,
    showing: String,
    previous: Option<String>,
    next: Option<String>,
    /// The filters' query string, sent back by delete so it returns to the same list.
    back: String,
    notice: Option<&'static str>,
}

#[get("/alarms")]
async fn list(
    customer: Customer,
    state: web::Data<AppState>,
    query: web::Query<AlarmsQuery>,
) -> Result<HttpResponse, AppError> {
    let base_uid = state.config.base_uid;
    let query = query.into_inner();
    let filter = query.filter(base_uid);
    let (offset, limit, page) = query.window();
    let customer_id = customer.customer_id;
    let user = customer.session.user_id;
    let (rows, total, views, counts) = db::run(&state.pool, move |conn| {
        let rows = alarms::list(conn, customer_id, &filter, offset, Some(limit))?;
        let total = alarms::count(conn, customer_id, &filter)?;
        let views = containers::views_for_customer(conn, customer_id, None)?;
        let counts = dashboard::job_counts(conn, customer_id)?;
        dashboard::mark_alarms_seen(conn, user)?;
        Ok::<_, AppError>((rows, total, views, counts))
    })
    .await?;
    let shown = rows.len() as i64;
    let paged = query.range.is_empty();
    html(&AlarmsPage {
        layout: customer.layout().with_jobs(counts),
        alarms: rows
            .into_iter()
            .map(|a| AlarmRow::of(a, base_uid))
            .collect(),
        containers: views
            .into_iter()
            .map(|v| ContainerChoice {
                uid: Uid::of(base_uid, v.container.id).get(),
                name: v.container.name,
            })
            .collect(),
        levels: (0..=4).map(|l| (l, level_name(l))).collect(),
        showing: match shown {
            0 => "none".into(),
            n => format!("{} to {} of {total}", offset + 1, offset + n),
        },
        previous: (paged && page > 1).then(|| query.link(page - 1)),
        next: (paged && offset + shown < total).then(|| query.link(page + 1)),
        back: query.link(page),
        notice: (query.done == "deleted").then_some("The alarm was deleted."),
        query_container: query.container,
        query_level: query.level,
        query_class: query.class,
        query_range: query.range,
    })
}

#[derive(Debug, Deserialize)]
struct AlarmPath {
    alarm: AlarmId,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteForm {
    back: String,
}

#[post("/alarms/{alarm}/delete")]
async fn delete(
    customer: Customer,
    state: web::Data<AppState>,
    path: web::Path<AlarmPath>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let alarm = path.alarm;
    let customer_id = customer.customer_id;
    let deleted = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>(alarms::delete_for_customer(conn, customer_id, alarm)?)
    })
    .await?;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    // only the filters go back: parsed and written again, never passed through
    let back = web::Query::<AlarmsQuery>::from_query(&form.back)
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let page = back.window().2;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/alarms?{}&done=deleted", back.link(page)),
        ))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> AlarmsQuery {
        let raw = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        web::Query::<AlarmsQuery>::from_query(&raw)
            .unwrap()
            .into_inner()
    }

    #[test]
    fn a_page_or_a_range_chooses_which_alarms_are_shown() {
        assert_eq!(query(&[]).window(), (0, PER_PAGE, 1));
        assert_eq!(query(&[("page", "3")]).window(), (50, PER_PAGE, 3));
        assert_eq!(query(&[("page", "-2")]).window(), (0, PER_PAGE, 1));
        assert_eq!(query(&[("range", "10")]).window(), (0, 10, 1));
        assert_eq!(query(&[("range", "40-20")]).window(), (20, 20, 1));
        assert_eq!(query(&[("range", "x")]).window(), (0, PER_PAGE, 1));
    }

    #[test]
    fn filters_read_uids_levels_and_classes_and_ignore_what_matches_nothing() {
        let filter =
            query(&[("container", "30003"), ("level", "2"), ("class", " app ")]).filter(30000);
        assert_eq!(filter.container, Some(ContainerId(3)));
        assert_eq!(filter.level, Some(2));
        assert_eq!(filter.class.as_deref(), Some("app"));
        let none = query(&[("container", "12"), ("level", "9"), ("class", "")]).filter(30000);
        assert_eq!((none.container, none.level, none.class), (None, None, None));
        assert_eq!(
            query(&[("level", "1"), ("class", "a b")]).link(2),
            "level=1&class=a+b&page=2"
        );
    }
}
