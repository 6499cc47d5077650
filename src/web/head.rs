//! `HEAD` answers as `GET` does, without the body: uptime checks and link checkers use it.
//! Routes are declared for `GET` only; this turns a `HEAD` into a `GET` before routing, and
//! the HTTP/1 encoder drops the body of an answer to a `HEAD` (it keeps `Content-Length`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// The middleware, innermost, so that logs and metrics still say `HEAD`.
pub async fn as_get(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if request.method() == Method::HEAD {
        request.head_mut().method = Method::GET;
    }
    next.call(request).await
}
