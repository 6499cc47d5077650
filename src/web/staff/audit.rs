//! `GET /staff/audit`: the audit trail, filtered by member of staff, customer, action and
//! dates, sorted and paged by the database; `GET /staff/audit.csv`: the same entries as CSV,
//! with cells a spreadsheet would read as a formula defused.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::audit::{self, AuditEntry, AuditFilter, AuditSort};
use crate::db::queries::staff_views;
use crate::domain::values::Uid;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, html};
use crate::web::staff::containers::{Choice, customer_menu, number, query_string};
use crate::web::staff::table::{PER_PAGE, Pager, SortColumn, TableQuery, Window};

/// Rows one export holds at most; narrow the filters for more.
const EXPORT_ROWS: i64 = 100_000;

const COLUMNS: &[SortColumn<AuditSort>] = &[
    SortColumn {
        name: "at",
        label: "When",
        key: AuditSort::At,
    },
    SortColumn {
        name: "actor",
        label: "Who",
        key: AuditSort::Actor,
    },
    SortColumn {
        name: "action",
        label: "Action",
        key: AuditSort::Action,
    },
];

#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
struct AuditQuery {
    staff: String,
    customer: String,
    action: String,
    from: String,
    to: String,
    #[serde(flatten)]
    table: TableQuery,
}

/// A `YYYY-MM-DD` filter field as the start of that day (UTC); `end` gives the next day's
/// start, so the day itself is included.
fn day(field: &str, raw: &str, end: bool) -> Result<Option<DateTime<Utc>>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        AppError::BadRequest(format!("The {field} date must read like 2026-11-29."))
    })?;
    let date = if end {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(Some(
        date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
    ))
}

impl AuditQuery {
    fn filter(&self, window: &Window<AuditSort>) -> Result<AuditFilter, AppError> {
        let action = self.action.trim();
        Ok(AuditFilter {
            staff: number("staff", &self.staff)?,
            customer: number("customer", &self.customer)?,
            action: (!action.is_empty()).then(|| action.to_owned()),
            from: day("from", &self.from, false)?,
            until: day("to", &self.to, true)?,
            sort: window.sort.key,
            descending: window.descending,
            offset: window.offset(),
            limit: window.limit_probe(),
        })
    }

    fn filters(&self) -> String {
        query_string(&[
            ("staff", self.staff.trim().to_owned()),
            ("customer", self.customer.trim().to_owned()),
            ("action", self.action.trim().to_owned()),
            ("from", self.from.trim().to_owned()),
            ("to", self.to.trim().to_owned()),
        ])
    }
}

struct EntryRow {
    at: String,
    actor: String,
    customer: Option<(i32, String)>,
    container_uid: Option<i64>,
    action: String,
    target: String,
    outcome: String,
    detail: String,
    ip: String,
}

fn entry_row(e: AuditEntry, base_uid: u32) -> EntryRow {
    EntryRow {
        at: when(e.at),
        actor: e.actor,
        customer: e.customer_id.map(|id| (id, e.company.unwrap_or_default())),
        container_uid: e
            .container_id
            .map(|c| Uid::of(base_uid, crate::domain::ids::ContainerId(c)).get()),
        action: e.action,
        target: e.target,
        outcome: e.outcome,
        detail: e.detail,
        ip: e.ip.unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    layout: Layout,
    staff_members: Vec<Choice>,
    customers: Vec<Choice>,
    actions: Vec<Choice>,
    from: String,
    to: String,
    filtered: bool,
    csv: String,
    entries: Vec<EntryRow>,
    pager: Pager,
}

#[get("/staff/audit")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let window = Window::parse(&query.table, COLUMNS, true);
    let filter = query.filter(&window)?;
    let lookup = filter.clone();
    let (members, customers, actions, found) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            audit::staff_members(conn)?,
            staff_views::customer_choices(conn)?,
            audit::actions(conn)?,
            audit::entries(conn, &lookup)?,
        ))
    })
    .await?;
    let filters = query.filters();
    let pager = window.pager("/staff/audit", &filters, found.len(), COLUMNS);
    let base_uid = state.config.base_uid;
    let chosen_action = filter.action.clone().unwrap_or_default();
    html(&AuditPage {
        layout: staff.layout(),
        staff_members: members
            .into_iter()
            .map(|(id, name)| Choice {
                value: id.0.to_string(),
                selected: filter.staff == Some(id.0),
                label: name,
            })
            .collect(),
        customers: customer_menu(customers, filter.customer),
        actions: actions
            .into_iter()
            .map(|a| Choice {
                selected: a == chosen_action,
                value: a.clone(),
                label: a,
            })
            .collect(),
        from: query.from.trim().to_owned(),
        to: query.to.trim().to_owned(),
        filtered: !filters.is_empty(),
        csv: if filters.is_empty() {
            "/staff/audit.csv".into()
        } else {
            format!("/staff/audit.csv?{filters}")
        },
        entries: found
            .into_iter()
            .take(PER_PAGE as usize)
            .map(|e| entry_row(e, base_uid))
            .collect(),
        pager,
    })
}

#[get("/staff/audit.csv")]
pub async fn export(
    _staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let window = Window::parse(&query.table, COLUMNS, true);
    let filter = AuditFilter {
        offset: 0,
        limit: EXPORT_ROWS,
        ..query.filter(&window)?
    };
    let found = db::run(&state.pool, move |conn| {
        audit::entries(conn, &filter).map_err(AppError::from)
    })
    .await?;
    let base_uid = state.config.base_uid;
    let mut body = csv::record(&[
        "at",
        "staff",
        "customer",
        "company",
        "container",
        "action",
        "target",
        "outcome",
        "detail",
        "ip",
    ]);
    for e in found {
        body.push_str(&csv::record(&[
            &e.at.to_rfc3339(),
            &e.actor,
            &e.customer_id.map(|c| c.to_string()).unwrap_or_default(),
            e.company.as_deref().unwrap_or_default(),
            &e.container_id
                .map(|c| Uid::of(base_uid, crate::domain::ids::ContainerId(c)).to_string())
                .unwrap_or_default(),
            &e.action,
            &e.target,
            &e.outcome,
            &e.detail,
            e.ip.as_deref().unwrap_or_default(),
        ]));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"audit.csv\"",
        ))
        .body(body))
}

/// CSV as RFC 4180 has it, with cells a spreadsheet would run as a formula defused.
pub mod csv {
    /// A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`,
    /// so a spreadsheet shows it as text instead of evaluating it.
    pub fn defuse(cell: &str) -> String {
        match cell.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
            _ => cell.to_owned(),
        }
    }

    /// A cell quoted when it holds a comma, a quote or a line break; quotes doubled.
    pub fn quote(cell: &str) -> String {
        if cell.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", cell.replace('"', "\"\""))
        } else {
            cell.to_owned()
        }
    }

    /// One line: every cell defused and quoted, CRLF at the end.
    pub fn record(cells: &[&str]) -> String {
        let mut line = cells
            .iter()
            .map(|cell| quote(&defuse(cell)))
            .collect::<Vec<_>>()
            .join(",");
        line.push_str("\r\n");
        line
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn formula_cells_are_defused_and_others_left_alone() {
            assert_eq!(defuse("=1+2"), "'=1+2");
            assert_eq!(defuse("+49 30"), "'+49 30");
            assert_eq!(defuse("-2"), "'-2");
            assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
            assert_eq!(defuse("\tx"), "'\tx");
            assert_eq!(defuse("\rx"), "'\rx");
            assert_eq!(defuse("a=b"), "a=b");
            assert_eq!(defuse(""), "");
        }

        #[test]
        fn commas_quotes_and_line_breaks_are_quoted() {
            assert_eq!(quote("plain"), "plain");
            assert_eq!(quote("a,b"), "\"a,b\"");
            assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
            assert_eq!(quote("two\nlines"), "\"two\nlines\"");
            assert_eq!(
                record(&["=cmd|' /C calc'!A0", "a,b", "ok"]),
                "'=cmd|' /C calc'!A0,\"a,b\",ok\r\n"
            );
            assert_eq!(record(&["\r=1"]), "\"'\r=1\"\r\n");
        }
    }
}
