//! The actix side of CSRF protection: reading the token a request presents (header, urlencoded
//! field or, for multipart forms, their first field) and telling requests from other sites
//! apart.
//! The rules and the token itself are in [`crate::auth::csrf`]; `web` renders the refusal.

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::dev::ServiceRequest;
use actix_web::error::PayloadError;
use actix_web::http::{Method, header};
use actix_web::{HttpMessage, HttpRequest, web};
use std::pin::Pin;

use futures_util::{Stream, StreamExt};

use crate::auth::csrf::{
    FIELD, FirstField, HEADER, PRESESSION_COOKIE, first_field, is_machine_api, refusal, same,
};
use crate::auth::session::SignedIn;
use crate::error::Error;

const MAX_FORM_BYTES: usize = 64 * 1024;
/// The most of a multipart body read to find the token in its first field.
const MAX_FIRST_FIELD_BYTES: usize = 4 * 1024;

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
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
        return first_multipart_field(request).await;
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

/// The token in the first field of a multipart body, read as far as needed; what was read is
/// put back in front of the rest, which still streams.
async fn first_multipart_field(request: &mut ServiceRequest) -> Option<String> {
    let boundary = request
        .mime_type()
        .ok()??
        .get_param("boundary")?
        .as_str()
        .to_owned();
    let mut payload = request.take_payload();
    let mut head = web::BytesMut::new();
    let token = loop {
        match first_field(&head, &boundary) {
            FirstField::Token(token) => break Some(token),
            FirstField::Other => break None,
            FirstField::NeedMore if head.len() > MAX_FIRST_FIELD_BYTES => break None,
            FirstField::NeedMore => match payload.next().await {
                Some(Ok(piece)) => head.extend_from_slice(&piece),
                _ => break None,
            },
        }
    };
    let read = futures_util::stream::once(std::future::ready(Ok(head.freeze())));
    let stream: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
        Box::pin(read.chain(payload));
    request.set_payload(Payload::from(stream));
    token
}

/// Whether the request may go on: safe, for a machine API, or carrying the right token.
pub async fn check(request: &mut ServiceRequest) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

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
    fn a_form_field_is_read_from_urlencoded_text() {
        assert_eq!(field_of("a=1&csrf_token=x%2By&b=2").as_deref(), Some("x+y"));
        assert_eq!(field_of("a=1"), None);
    }
}
