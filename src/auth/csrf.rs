//! Cross-site request forgery protection for everything a browser session can change.
//!
//! Every request with an unsafe method outside the machine APIs must present the token bound to
//! this browser: the signed-in session's token, or, before login, the token of the login
//! form's own cookie. It comes as the `X-CSRF-Token` header (htmx sends it from the base
//! layout), as the `csrf_token` field of a urlencoded form, or, for multipart forms, as the
//! `csrf_token` query parameter. An `Origin` that is not this site is refused outright.
//!
//! The JSON API (`/api`) and the hosts' private API (`/private`) never read the session
//! cookie, so a forged request there carries no authority; see [`basic_sent_by_another_site`]
//! for the one credential a browser adds on its own.

use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::auth::session::SignedIn;
use crate::web::error::AppError;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";
/// Holds the login form's token for a browser that has no session yet.
pub const PRESESSION_COOKIE: &str = "distropanel_csrf";
const MAX_FORM_BYTES: usize = 64 * 1024;

/// 256 random bits, URL-safe.
pub fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_machine_api(path: &str) -> bool {
    ["/api", "/private"]
        .iter()
        .any(|root| path == *root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/')))
}

/// Whether the request says it comes from another site: an `Origin` naming another host, or
/// `Sec-Fetch-Site: cross-site`.
pub fn from_another_site(request: &HttpRequest) -> bool {
    let headers = request.headers();
    if headers
        .get("Sec-Fetch-Site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !authority.eq_ignore_ascii_case(request.connection_info().host())
}

/// An unsafe API request from another site carrying Basic credentials: only a browser replaying
/// credentials it cached from a login prompt sends that (the API's CORS policy does not let a
/// page set `Authorization` itself).
pub fn basic_sent_by_another_site(request: &HttpRequest) -> bool {
    !is_safe(request.method())
        && request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "))
        && from_another_site(request)
}

fn refusal() -> AppError {
    AppError::Forbidden(
        "This form is out of date or did not come from distropanel: reload the page and send it again."
            .into(),
    )
}

fn same(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

fn field_of(urlencoded: &str) -> Option<String> {
    web::Query::<Vec<(String, String)>>::from_query(urlencoded)
        .ok()?
        .into_inner()
        .into_iter()
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value)
}

/// The token the request presents; reads (and puts back) a urlencoded body when needed.
async fn presented(request: &mut ServiceRequest) -> Option<String> {
    if let Some(value) = request.headers().get(HEADER) {
        return value.to_str().ok().map(str::to_owned);
    }
    let content_type = request.content_type().to_ascii_lowercase();
    if content_type == "multipart/form-data" {
        return field_of(request.query_string());
    }
    if content_type != "application/x-www-form-urlencoded" {
        return None;
    }
    let body = match request.extract::<web::Bytes>().await {
        Ok(body) if body.len() <= MAX_FORM_BYTES => body,
        _ => return None,
    };
    let token = std::str::from_utf8(&body).ok().and_then(field_of);
    request.set_payload(actix_web::dev::Payload::from(body));
    token
}

async fn check(request: &mut ServiceRequest) -> Result<(), AppError> {
    if is_safe(request.method()) || is_machine_api(request.path()) {
        return Ok(());
    }
    if from_another_site(request.request()) {
        return Err(refusal());
    }
    let expected = SignedIn::csrf_token(&request.get_session()).or_else(|| {
        request
            .cookie(PRESESSION_COOKIE)
            .map(|c| c.value().to_owned())
    });
    let Some(expected) = expected else {
        return Err(refusal());
    };
    match presented(request).await {
        Some(given) if same(&expected, &given) => Ok(()),
        _ => Err(refusal()),
    }
}

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
            Ok(request.error_response(refused).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_machine_apis_are_told_apart_from_pages_by_whole_segments() {
        assert!(is_machine_api("/api"));
        assert!(is_machine_api("/api/tokens"));
        assert!(is_machine_api("/private/containers/"));
        assert!(!is_machine_api("/apiary"));
        assert!(!is_machine_api("/settings/api"));
    }

    #[test]
    fn another_sites_origin_is_recognised() {
        let same_host = TestRequest::post()
            .insert_header(("Host", "panel.example"))
            .insert_header(("Origin", "https://panel.example"))
            .to_http_request();
        assert!(!from_another_site(&same_host));
        let other = TestRequest::post()
            .insert_header(("Host", "panel.example"))
            .insert_header(("Origin", "https://evil.example"))
            .to_http_request();
        assert!(from_another_site(&other));
        let opaque = TestRequest::post()
            .insert_header(("Host", "panel.example"))
            .insert_header(("Origin", "null"))
            .to_http_request();
        assert!(from_another_site(&opaque));
        let fetch_metadata = TestRequest::post()
            .insert_header(("Sec-Fetch-Site", "cross-site"))
            .to_http_request();
        assert!(from_another_site(&fetch_metadata));
        let no_origin = TestRequest::post().to_http_request();
        assert!(!from_another_site(&no_origin));
    }

    #[test]
    fn tokens_compare_whole_and_never_match_empty() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", ""));
        assert_eq!(field_of("a=1&csrf_token=x%2By&b=2").as_deref(), Some("x+y"));
        assert_eq!(field_of("a=1"), None);
    }
}
