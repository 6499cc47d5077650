//! `/api/alarms` and `/api/alarm_key`: alarms raised by containers (or by the platform, level
//! 0), at most `max_alarms` kept per container, listed newest first.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::models::alarm::Alarm;
use crate::db::queries::alarms::{self, AlarmFilter};
use crate::db::queries::containers;
use crate::domain::ids::AlarmId;
use crate::domain::values::{Color, Uid};
use crate::ops::alarms::{self as alarms_ops, RaisedAlarm, Raiser};
use crate::web::api::input::{FieldErrors, QueryMap, RawBody, plain_text};
use crate::web::api::{container_of_uid, created, epoch, id_segment, ok_message};
use crate::web::error::{ApiError, AppError};

#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmView {
    pub id: i64,
    /// Uid of the container.
    pub container: i64,
    /// 0 system, 1 user, 2 exception, 3 traceback, 4 log.
    pub level: i16,
    /// `#rrggbb`.
    pub color: String,
    pub class: Option<String>,
    pub vassal: Option<String>,
    pub line: Option<i32>,
    pub filename: Option<String>,
    pub func: Option<String>,
    /// Epoch seconds.
    pub unix: i64,
    pub msg: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmsWithTotal {
    pub total: i64,
    pub alarms: Vec<AlarmView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmKey {
    pub message: String,
    pub alarm_key: uuid::Uuid,
}

fn view(alarm: Alarm, base_uid: u32) -> AlarmView {
    AlarmView {
        id: alarm.id.0,
        container: Uid::of(base_uid, alarm.container_id).get(),
        level: alarm.level,
        color: alarm.color,
        class: alarm.class,
        vassal: alarm.vassal,
        line: alarm.line,
        filename: alarm.filename,
        func: alarm.func,
        unix: epoch(alarm.unix),
        msg: alarm.msg,
    }
}

/// A `range` parameter: a slice of the newest-first list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub offset: i64,
    pub limit: i64,
    /// `A-B` with `A > B`: the same items, oldest first.
    pub reversed: bool,
}

impl Range {
    /// `N` is the newest N; `A-B` items A (included) to B (excluded), reversed when A > B.
    /// Numbers compare as numbers (upstream compared strings).
    pub fn parse(raw: &str) -> Option<Self> {
        let number = |s: &str| -> Option<i64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(
                s.parse::<u64>()
                    .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            )
        };
        let (from, to) = match raw.split_once('-') {
            Some((from, to)) => (number(from)?, number(to)?),
            None => (0, number(raw)?),
        };
        Some(Self {
            offset: from.min(to),
            limit: from.max(to) - from.min(to),
            reversed: from > to,
        })
    }
}

fn range_not_satisfiable() -> HttpResponse {
    HttpResponse::RangeNotSatisfiable().json(serde_json::json!({
        "error": "Requested Range Not Satisfiable",
        "reason": "range is N (the newest N) or A-B (items A to B of the newest-first list), \
                   with whole numbers.",
    }))
}

fn text_filter(query: &QueryMap, name: &str, errors: &mut FieldErrors) -> Option<String> {
    query
        .get(name)
        .and_then(|raw| errors.check(name, plain_text(raw, 1024)))
}

fn parse_filter(query: &QueryMap, base_uid: u32) -> Result<AlarmFilter, ApiError> {
    let mut errors = FieldErrors::default();
    let container = query
        .get("container")
        .map(|raw| container_of_uid(raw, base_uid))
        .transpose()?;
    let filter = AlarmFilter {
        container,
        level: query.get("level").and_then(|raw| {
            let level = raw.parse::<i16>().ok().filter(|l| (0..=4).contains(l));
            errors.check("level", level.ok_or("is a level from 0 to 4"))
        }),
        line: query.get("line").and_then(|raw| {
            errors.check("line", raw.parse::<i32>().map_err(|_| "is a line number"))
        }),
        color: query.get("color").and_then(|raw| {
            errors
                .check("color", Color::parse(raw))
                .map(Color::into_inner)
        }),
        vassal: text_filter(query, "vassal", &mut errors),
        class: text_filter(query, "class", &mut errors),
        filename: text_filter(query, "filename", &mut errors),
        func: text_filter(query, "func", &mut errors),
    };
    errors.finish()?;
    Ok(filter)
}

#[utoipa::path(get, path = "/api/alarms", operation_id = "alarms_list", tag = "alarms",
    params(
        ("container" = Option<i64>, Query, description = "a container uid"),
        ("level" = Option<i16>, Query), ("line" = Option<i32>, Query),
        ("color" = Option<String>, Query, description = "rrggbb, with or without #"),
        ("vassal" = Option<String>, Query), ("class" = Option<String>, Query),
        ("filename" = Option<String>, Query), ("func" = Option<String>, Query),
        ("with_total" = Option<String>, Query, description = "present: answer {total, alarms}"),
        ("range" = Option<String>, Query, description = "N, or A-B (B excluded; reversed when A > B)"),
    ),
    responses((status = 200, body = Vec<AlarmView>), (status = 403, body = super::openapi::ErrorBody),
        (status = 416, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)))]
pub async fn list(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let base_uid = state.config.base_uid;
    let range = match query.get("range").map(Range::parse) {
        Some(None) => return Ok(range_not_satisfiable()),
        Some(Some(range)) => Some(range),
        None => None,
    };
    let filter = parse_filter(&query, base_uid)?;
    let with_total = query.has("with_total");
    let (found, total) = db::run(&state.pool, move |conn| {
        if let Some(container) = filter.container
            && !containers::exists_for_customer(conn, customer, container)?
        {
            return Err(AppError::NotFound);
        }
        let (offset, limit) = range.map_or((0, None), |r| (r.offset, Some(r.limit)));
        if !with_total {
            return Ok((alarms::list(conn, customer, &filter, offset, limit)?, None));
        }
        // the list and its total from one snapshot: hosts add alarms while we read
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run(|conn| {
                let found = alarms::list(conn, customer, &filter, offset, limit)?;
                let total = alarms::count(conn, customer, &filter)?;
                Ok::<_, AppError>((found, Some(total)))
            })
    })
    .await?;
    let mut views: Vec<AlarmView> = found.into_iter().map(|a| view(a, base_uid)).collect();
    if range.is_some_and(|r| r.reversed) {
        views.reverse();
    }
    Ok(match total {
        Some(total) => HttpResponse::Ok().json(AlarmsWithTotal {
            total,
            alarms: views,
        }),
        None => HttpResponse::Ok().json(views),
    })
}

#[utoipa::path(get, path = "/api/alarms/{id}", operation_id = "alarms_show", tag = "alarms",
    params(("id" = i64, Path)),
    responses((status = 200, body = AlarmView), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn show(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = AlarmId(id_segment(&id)?);
    let alarm = db::run(&state.pool, move |conn| {
        alarms::find_for_customer(conn, customer, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(alarm, state.config.base_uid)))
}

#[utoipa::path(delete, path = "/api/alarms/{id}", operation_id = "alarms_delete", tag = "alarms",
    params(("id" = i64, Path)),
    responses((status = 200, body = super::openapi::MessageBody), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn delete(
    caller: ApiCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let id = AlarmId(id_segment(&id)?);
    alarms_ops::delete(&state.pool, customer, id).await?;
    Ok(ok_message())
}

/// The alarm message: the request body, as text that is not empty.
fn message(body: &[u8]) -> Result<&str, ApiError> {
    let msg = std::str::from_utf8(body).map_err(|_| {
        AppError::BadRequest("The alarm message (the request body) is not UTF-8 text.".into())
    })?;
    if msg.is_empty() {
        return Err(ApiError(AppError::BadRequest(
            "The alarm message is the request body, and it is empty.".into(),
        )));
    }
    Ok(msg)
}

/// `level`: 1 (user) unless given; 0 belongs to the platform.
fn raised_level(query: &QueryMap, errors: &mut FieldErrors) -> Option<i16> {
    let Some(raw) = query.get("level") else {
        return Some(1);
    };
    let level = match raw.parse::<i16>() {
        Ok(0) => Err("level 0 is reserved for the platform; use 1 to 4"),
        Ok(l @ 1..=4) => Ok(l),
        _ => Err("is a level from 1 (user) to 4 (log)"),
    };
    errors.check("level", level)
}

/// `color`: white unless given.
fn raised_color(query: &QueryMap, errors: &mut FieldErrors) -> Option<String> {
    query
        .get("color")
        .map_or(Some("#ffffff".to_owned()), |raw| {
            errors
                .check("color", Color::parse(raw))
                .map(Color::into_inner)
        })
}

/// `unix`: epoch seconds within years 0 to 9999, now unless given.
fn raised_at(query: &QueryMap, errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
    let Some(raw) = query.get("unix") else {
        return Some(Utc::now());
    };
    let at = raw
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .filter(|at| (0..=9999).contains(&chrono::Datelike::year(at)));
    errors.check("unix", at.ok_or("is a time in epoch seconds"))
}

/// The alarm `POST /api/alarms/raise/{uid}` describes, naming every bad field at once.
fn parse_raise(query: &QueryMap, body: &[u8]) -> Result<RaisedAlarm, ApiError> {
    let msg = message(body)?;
    let mut errors = FieldErrors::default();
    let msg = errors.check("msg", plain_text(msg, super::input::BODY_LIMIT));
    let level = raised_level(query, &mut errors);
    let color = raised_color(query, &mut errors);
    let line = query
        .get("line")
        .and_then(|raw| errors.check("line", raw.parse::<i32>().map_err(|_| "is a line number")));
    let unix = raised_at(query, &mut errors);
    let func = text_filter(query, "func", &mut errors);
    let filename = text_filter(query, "filename", &mut errors);
    let class = text_filter(query, "class", &mut errors);
    let vassal = text_filter(query, "vassal", &mut errors);
    errors.finish()?;
    Ok(RaisedAlarm {
        msg: msg.expect("checked"),
        level: level.expect("checked"),
        color: color.expect("checked"),
        line,
        unix: unix.expect("checked"),
        func,
        filename,
        class,
        vassal,
    })
}

#[utoipa::path(post, path = "/api/alarms/raise/{uid}", operation_id = "alarms_raise", tag = "alarms",
    params(("uid" = i64, Path),
        ("key" = Option<String>, Query, description = "the container's alarm key: no other authentication needed"),
        ("level" = Option<i16>, Query, description = "1 to 4 (default 1)"),
        ("color" = Option<String>, Query), ("class" = Option<String>, Query), ("vassal" = Option<String>, Query),
        ("line" = Option<i32>, Query), ("func" = Option<String>, Query), ("filename" = Option<String>, Query),
        ("unix" = Option<i64>, Query, description = "epoch seconds (default now)")),
    request_body(content = String, content_type = "text/plain", description = "the message"),
    responses((status = 201, body = super::openapi::CreatedBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn raise(
    request: HttpRequest,
    state: web::Data<AppState>,
    uid: web::Path<String>,
    query: QueryMap,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let key = match query.get("key") {
        Some(raw) => Some(uuid::Uuid::parse_str(raw).map_err(|_| ApiError(AppError::NotFound))?),
        None => None,
    };
    let raiser = match key {
        Some(key) => Raiser::Key(key),
        None => Raiser::Customer(ApiCaller::extract(&request).await?.customer()?),
    };
    let id = container_of_uid(&uid, state.config.base_uid)?;
    let alarm = parse_raise(&query, &body)?;
    let raised = alarms_ops::raise(&state.pool, state.config.max_alarms, raiser, id, alarm).await?;
    Ok(created(Some(raised.id.0)))
}

#[utoipa::path(get, path = "/api/alarm_key/{uid}", operation_id = "alarm_key", tag = "alarms",
    params(("uid" = i64, Path)),
    responses((status = 200, body = AlarmKey), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn key(
    caller: ApiCaller,
    state: web::Data<AppState>,
    uid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // a GET, but it renews the key: the old one stops working
    caller.may_change()?;
    let customer = caller.customer()?;
    let id = container_of_uid(&uid, state.config.base_uid)?;
    let key = alarms_ops::renew_key(&state.pool, customer, id).await?;
    Ok(HttpResponse::Ok().json(AlarmKey {
        message: "Ok".into(),
        alarm_key: key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_numeric_slices_of_the_newest_first_list() {
        let r = |offset, limit, reversed| {
            Some(Range {
                offset,
                limit,
                reversed,
            })
        };
        assert_eq!(Range::parse("5"), r(0, 5, false));
        assert_eq!(Range::parse("2-7"), r(2, 5, false));
        assert_eq!(Range::parse("10-2"), r(2, 8, true));
        assert_eq!(Range::parse("9-10"), r(9, 1, false), "numbers, not strings");
        assert_eq!(Range::parse("3-3"), r(3, 0, false));
        assert_eq!(Range::parse("99999999999999999999"), r(0, i64::MAX, false));
        for bad in ["", "-", "a", "1-", "-1", "1-2-3", "1.5", " 1", "+1", "1-x"] {
            assert_eq!(Range::parse(bad), None, "{bad:?}");
        }
    }
}
