//! `GET /metrics` in the Prometheus text format, and the middleware counting requests.
//!
//! Request counts and latencies are kept in process; jobs, queues and the pool are read when
//! scraped. Only clients in `DISTROPANEL_METRICS_FROM` (the address resolved through trusted
//! proxies) or callers with a staff bearer token may read it; to anyone else it does not exist.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, get, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::AppState;
use crate::auth::authenticate;
use crate::auth::basic::CredentialCache;
use crate::auth::extract;
use crate::db;
use crate::db::models::user::Role;
use crate::db::queries::metrics::{JobCount, ServerQueue};
use crate::web::container_lists::ListsServed;
use crate::web::error::AppError;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The process's request metrics, shared by every HTTP worker as app data.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("distropanel");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latencies =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 12)));
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route template",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register_with_unit(
            "job_run_duration",
            "Time a job attempt ran, by kind and outcome",
            Unit::Seconds,
            crate::jobs::worker::JOB_RUN_SECONDS.clone(),
        );
        Self {
            registry,
            requests,
            latency,
        }
    }
}

/// The route template a request matched (`/api/containers/{id}`), never its raw path.
fn route_of(request: &HttpRequest) -> String {
    request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into())
}

/// Counts every answered request by route template and status, and times it.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let answered = next.call(request).await;
    let Some(metrics) = metrics else {
        return answered;
    };
    let (route, status) = match &answered {
        Ok(response) => (route_of(response.request()), response.status()),
        Err(error) => ("unmatched".into(), error.as_response_error().status_code()),
    };
    let route = RouteLabels { method, route };
    metrics
        .latency
        .get_or_create(&route)
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: route.method,
            route: route.route,
            status: status.as_u16(),
        })
        .inc();
    answered
}

/// Whether this caller may read the metrics: from an allowed address, or with a staff token.
async fn may_read(request: &HttpRequest, state: &AppState) -> bool {
    let address = extract::client_address(request).parse::<std::net::IpAddr>();
    if let Ok(address) = address
        && state
            .config
            .metrics_from
            .iter()
            .any(|n| n.contains(address))
    {
        return true;
    }
    let Some(cache) = request.app_data::<web::Data<CredentialCache>>() else {
        return false;
    };
    if extract::bearer(request).is_none() {
        return false;
    }
    let presented = extract::api_credentials(request);
    authenticate::api_caller(&state.pool, &state.login_gate, cache, presented)
        .await
        .is_ok_and(|caller| caller.role == Role::Staff)
}

#[get("/metrics")]
pub async fn scrape(
    request: HttpRequest,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, AppError> {
    if !may_read(&request, &state).await {
        return Err(AppError::NotFound);
    }
    let (jobs, queues, beats, uses) = db::run(&state.pool, |conn| {
        Ok::<_, AppError>((
            db::queries::metrics::job_counts(conn)?,
            db::queries::metrics::server_queues(conn)?,
            db::queries::host_reports::heartbeats(conn)?,
            db::queries::host_reports::all_uses(conn)?,
        ))
    })
    .await?;
    let mut now = scrape_time(&jobs, &queues, &state.pool.state());
    register_reports(&mut now, &beats, &uses, state.config.base_uid);
    register_lists(&mut now, state.container_lists.served());
    let mut text = String::new();
    encode_registry(&mut text, &metrics.registry)
        .and_then(|()| encode_registry(&mut text, &now))
        .and_then(|()| encode_eof(&mut text))
        .map_err(|e| AppError::internal(anyhow::anyhow!("encoding metrics: {e}")))?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: String,
}

/// The gauges read at scrape time: jobs, each server's queue, the database pool.
fn scrape_time(jobs: &[JobCount], queues: &[ServerQueue], pool: &diesel::r2d2::State) -> Registry {
    let mut registry = Registry::with_prefix("distropanel");
    let by_state = Family::<JobLabels, Gauge>::default();
    for job in jobs {
        by_state
            .get_or_create(&JobLabels {
                kind: job.kind.clone(),
                state: job.state.clone(),
            })
            .set(job.count);
    }
    registry.register("jobs", "Jobs by kind and state", by_state);
    let waiting = Family::<ServerLabels, Gauge>::default();
    let oldest = Family::<ServerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for queue in queues {
        let server = ServerLabels {
            server: queue.server.clone(),
        };
        waiting.get_or_create(&server).set(queue.waiting);
        oldest.get_or_create(&server).set(queue.oldest_seconds);
    }
    registry.register(
        "job_queue_depth",
        "Jobs waiting to run (queued or retrying), by server",
        waiting,
    );
    registry.register_with_unit(
        "job_queue_oldest_age",
        "How long the oldest waiting job of a server has waited",
        Unit::Seconds,
        oldest,
    );
    let gauge = |value: u32| {
        let g = Gauge::<i64>::default();
        g.set(i64::from(value));
        g
    };
    registry.register(
        "db_pool_connections",
        "Open database connections",
        gauge(pool.connections),
    );
    registry.register(
        "db_pool_idle_connections",
        "Idle database connections",
        gauge(pool.idle_connections),
    );
    registry
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListLabels {
    rows: &'static str,
}

/// How this node served the container lists: from kept rows or read afresh, and the rows kept.
fn register_lists(registry: &mut Registry, served: ListsServed) {
    let lists = Family::<ListLabels, Counter>::default();
    lists
        .get_or_create(&ListLabels { rows: "kept" })
        .inc_by(served.kept);
    lists
        .get_or_create(&ListLabels { rows: "read" })
        .inc_by(served.read);
    registry.register(
        "container_lists_served",
        "Container lists served by this node, from rows kept in memory or read afresh",
        lists,
    );
    let kept = Gauge::<i64>::default();
    kept.set(i64::try_from(served.rows_kept).unwrap_or(i64::MAX));
    registry.register(
        "container_list_rows_kept",
        "Container rows this node keeps in memory for the lists, over all customers",
        kept,
    );
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DiskLabels {
    container: String,
    kind: &'static str,
}

/// What the agents reported: how long ago each server's last report was (servers that never
/// reported are left out), and each container's measured disk use by kind (`home`, `images`).
fn register_reports(
    registry: &mut Registry,
    beats: &[db::queries::host_reports::Heartbeat],
    uses: &[(crate::domain::ids::ContainerId, i64, i64)],
    base_uid: u32,
) {
    let now = chrono::Utc::now();
    let age = Family::<ServerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for beat in beats {
        if let Some(at) = beat.reported_at {
            let seconds = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
            age.get_or_create(&ServerLabels {
                server: beat.server.clone(),
            })
            .set(seconds);
        }
    }
    registry.register_with_unit(
        "host_last_report_age",
        "How long ago each server's agent last reported",
        Unit::Seconds,
        age,
    );
    let disk = Family::<DiskLabels, Gauge>::default();
    for (container, home, images) in uses {
        let uid = crate::domain::values::Uid::of(base_uid, *container).to_string();
        for (kind, bytes) in [("home", *home), ("images", *images)] {
            disk.get_or_create(&DiskLabels {
                container: uid.clone(),
                kind,
            })
            .set(bytes);
        }
    }
    registry.register(
        "container_disk_bytes",
        "Each container's measured disk use in bytes, by kind (home, images)",
        disk,
    );
}
