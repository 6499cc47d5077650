//! The JSON API under `/api`, wire-compatible with uwsgi.it (`reference/uwsgi-it-api.md`).
//!
//! One module per resource; [`endpoints`] is the one table of routes, registered by
//! [`configure`] and compared with the OpenAPI document by its tests. Conventions kept for
//! every route here: with and without a trailing slash; CORS and `OPTIONS` preflight; 405 JSON
//! for a method a route lacks (before authentication, so it says nothing about ids); JSON for
//! unknown paths; a newline after the body for curl.

pub mod alarms;
pub(crate) mod containers;
mod custom_distros;
mod distros;
pub mod images;
pub mod input;
pub(crate) mod jobs;
pub mod me;
pub mod openapi;
mod tokens;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Handler, HttpResponse, Responder, Route, web};
use serde_json::json;

use crate::web::error::{ApiError, AppError};

/// One API path and the handlers of its methods.
pub struct Endpoint {
    pub path: &'static str,
    handlers: Vec<(Method, Route)>,
}

impl Endpoint {
    fn at(path: &'static str) -> Self {
        Self {
            path,
            handlers: Vec::new(),
        }
    }

    fn on<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::method(method.clone()).to(handler);
        self.handlers.push((method, route));
        self
    }

    fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::GET, handler)
    }

    fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::POST, handler)
    }

    fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::DELETE, handler)
    }

    fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::PUT, handler)
    }

    pub fn methods(&self) -> Vec<Method> {
        self.handlers.iter().map(|(m, _)| m.clone()).collect()
    }

    fn into_resource(self) -> actix_web::Resource {
        let trimmed = self.path.trim_end_matches('/');
        let mut resource = web::resource(vec![trimmed.to_owned(), format!("{trimmed}/")]);
        for (_, route) in self.handlers {
            resource = resource.route(route);
        }
        resource.default_service(web::to(method_not_allowed))
    }
}

/// Every route of the API, relative to `/api`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::at("/me").get(me::show).post(me::update),
        Endpoint::at("/me/containers").get(containers::list),
        Endpoint::at("/containers").get(containers::list),
        Endpoint::at("/containers/{uid}")
            .get(containers::show)
            .post(containers::update),
        Endpoint::at("/distros").get(distros::list),
        Endpoint::at("/custom_distros").get(custom_distros::list),
        Endpoint::at("/custom_distros/{uid}")
            .get(custom_distros::usable)
            .post(custom_distros::create),
        Endpoint::at("/custom_distro/{id}")
            .get(custom_distros::show)
            .post(custom_distros::update)
            .delete(custom_distros::delete),
        Endpoint::at("/custom_distro/{id}/image").put(images::upload),
        Endpoint::at("/custom_distro/{id}/unpack").post(images::unpack),
        Endpoint::at("/custom_distro/{id}/fetch").post(images::fetch),
        Endpoint::at("/custom_distro/{id}/rollback").post(images::rollback),
        Endpoint::at("/custom_distro/{id}/check")
            .get(images::last_check)
            .post(images::check_now),
        Endpoint::at("/alarms").get(alarms::list),
        Endpoint::at("/alarms/raise/{uid}").post(alarms::raise),
        Endpoint::at("/alarms/trigger/{uid}").post(alarms::raise),
        Endpoint::at("/alarms/{id}")
            .get(alarms::show)
            .delete(alarms::delete),
        Endpoint::at("/alarm_key/{uid}").get(alarms::key),
        Endpoint::at("/jobs").get(jobs::list),
        Endpoint::at("/jobs/{id}").get(jobs::show),
        Endpoint::at("/jobs/{id}/cancel").post(jobs::cancel),
        Endpoint::at("/tokens")
            .get(tokens::list)
            .post(tokens::create),
        Endpoint::at("/tokens/{id}").delete(tokens::revoke),
        Endpoint::at("/openapi.json").get(openapi::document),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope("/api")
        .wrap(from_fn(conventions))
        .default_service(web::to(unknown_path));
    for endpoint in endpoints() {
        scope = scope.service(endpoint.into_resource());
    }
    cfg.service(scope);
}

const ALLOWED_METHODS: &str = "GET,POST,PUT,DELETE,OPTIONS";
/// As upstream: scripts on other sites may send the uwsgi.it headers, never a browser's
/// remembered `Authorization` (the CSRF check refuses cross-site Basic for the same reason).
const ALLOWED_HEADERS: &str = "X-uwsgi-it-username,X-uwsgi-it-password,Content-Type";

/// CORS on every answer, the preflight for `OPTIONS`, and upstream's newline for curl.
async fn conventions(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if request.method() == Method::OPTIONS {
        let preflight = HttpResponse::Ok()
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish();
        let mut response = request.into_response(preflight);
        allow_any_origin(&mut response);
        return Ok(response);
    }
    let curl = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|agent| agent.starts_with("curl/"));
    // handlers and extractors turn their errors into responses, so an error here is actix's own
    let response = next.call(request).await?.map_into_boxed_body();
    let mut response = if curl {
        with_trailing_newline(response).await
    } else {
        response
    };
    allow_any_origin(&mut response);
    Ok(response)
}

fn allow_any_origin<B>(response: &mut ServiceResponse<B>) {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

async fn with_trailing_newline(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let body = match actix_web::body::to_bytes(body).await {
        Ok(bytes) if !bytes.ends_with(b"\n") => {
            let mut with_newline = bytes.to_vec();
            with_newline.push(b'\n');
            BoxBody::new(with_newline)
        }
        Ok(bytes) => BoxBody::new(bytes),
        Err(_) => BoxBody::new(()),
    };
    let mut head = head;
    head.headers_mut().remove(header::CONTENT_LENGTH);
    ServiceResponse::new(request, head.set_body(body))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError(AppError::MethodNotAllowed))
}

async fn unknown_path() -> HttpResponse {
    HttpResponse::build(StatusCode::NOT_FOUND).json(json!({
        "error": "Not found",
        "reason": "There is no such API address; GET /api/openapi.json lists them all.",
    }))
}

/// Success bodies upstream sends.
pub(crate) fn created(id: Option<i64>) -> HttpResponse {
    let mut body = json!({ "message": "Created" });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    HttpResponse::Created().json(body)
}

pub(crate) fn ok_message() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "message": "Ok" }))
}

/// Parses a path segment that names a container by uid. Anything that is not one of the
/// caller's uids answers like a missing one.
pub(crate) fn container_of_uid(
    raw: &str,
    base_uid: u32,
) -> Result<crate::domain::ids::ContainerId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .and_then(|uid| crate::domain::values::Uid::container_id(uid, base_uid))
        .ok_or(ApiError(AppError::NotFound))
}

/// Parses a path segment that names a row by id; garbage answers like a missing id.
pub(crate) fn id_segment<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse::<T>().map_err(|_| ApiError(AppError::NotFound))
}

/// Epoch seconds, as the API writes times.
pub(crate) fn epoch(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp()
}
