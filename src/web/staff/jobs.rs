//! `/staff/jobs`: the host work queue, newest first, with retry and cancel, both audited.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::models::job::Job;
use crate::db::queries::jobs::{self, JobFilter};
use crate::domain::ids::JobId;
use crate::ops;
use crate::ops::staff::JobAction;
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, html};

const STATES: [&str; 6] = [
    "queued",
    "running",
    "retrying",
    "done",
    "failed",
    "cancelled",
];
const SHOWN: i64 = 200;

struct JobRow {
    id: i64,
    kind: String,
    uid: Option<i64>,
    state: String,
    attempts: i32,
    created: String,
    error: String,
    retryable: bool,
    cancellable: bool,
}

#[derive(Template)]
#[template(path = "staff/jobs.html")]
struct JobsPage {
    layout: Layout,
    notice: Option<&'static str>,
    state: String,
    states: [&'static str; 6],
    jobs: Vec<JobRow>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    state: String,
    done: String,
}

fn row(job: Job, base_uid: i64) -> JobRow {
    JobRow {
        id: job.id.0,
        uid: job.container_id.map(|c| base_uid + i64::from(c.0)),
        retryable: matches!(job.state.as_str(), "failed" | "cancelled"),
        cancellable: matches!(job.state.as_str(), "queued" | "retrying"),
        kind: job.kind.to_string(),
        state: job.state,
        attempts: job.attempts,
        created: when(job.created_at),
        error: job.error.unwrap_or_default(),
    }
}

#[get("/staff/jobs")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    // an unknown state filters nothing rather than everything
    let wanted = STATES
        .iter()
        .find(|s| **s == query.state)
        .map(|s| s.to_string());
    let filter = JobFilter {
        state: wanted.clone(),
        limit: SHOWN,
        ..Default::default()
    };
    let found = db::run(&state.pool, move |conn| {
        jobs::list(conn, &filter).map_err(AppError::from)
    })
    .await?;
    let base_uid = i64::from(state.config.base_uid);
    html(&JobsPage {
        layout: staff.layout(),
        notice: match query.done.as_str() {
            "retried" => Some("The job is queued again."),
            "cancelled" => Some("The job is cancelled."),
            _ => None,
        },
        state: wanted.unwrap_or_default(),
        states: STATES,
        jobs: found.into_iter().map(|j| row(j, base_uid)).collect(),
    })
}

async fn act(
    staff: Staff,
    state: web::Data<AppState>,
    id: &str,
    action: JobAction,
) -> Result<HttpResponse, AppError> {
    let id = JobId(id.parse::<i64>().map_err(|_| AppError::NotFound)?);
    ops::staff::act_on_job(&state.pool, staff, id, action).await?;
    let done = match action {
        JobAction::Retry => "retried",
        JobAction::Cancel => "cancelled",
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/staff/jobs?done={done}")))
        .finish())
}

/// `POST /staff/jobs/{id}/retry`: a failed or cancelled job runs again from its first attempt.
#[post("/staff/jobs/{id}/retry")]
pub async fn retry(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    act(staff, state, &id, JobAction::Retry).await
}

/// `POST /staff/jobs/{id}/cancel`: a job that has not started never will.
#[post("/staff/jobs/{id}/cancel")]
pub async fn cancel(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    act(staff, state, &id, JobAction::Cancel).await
}
