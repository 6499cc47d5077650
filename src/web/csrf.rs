//! Refuses, with the 403 page, a request that changes something without the CSRF token bound
//! to this browser; the checks are [`crate::auth::csrf_middleware::check`].

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::auth::csrf_middleware::check;
use crate::web::error::AppError;

/// The middleware: refuses with a 403 page before any handler runs.
pub async fn protect(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match check(&mut request).await {
        Ok(()) => next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body),
        Err(refused) => {
            tracing::info!(
                path = request.path(),
                "refused a request without a valid CSRF token"
            );
            Ok(request
                .error_response(AppError::from(refused))
                .map_into_right_body())
        }
    }
}
