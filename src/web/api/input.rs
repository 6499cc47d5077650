//! Reading requests the way uwsgi.it clients send them: JSON bodies without a Content-Type,
//! raw alarm messages, and query strings. Every failure is a 4xx `ApiError`, never a 500.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use serde::Deserialize as _;
use serde::de::DeserializeOwned;

pub use crate::domain::fields::{FieldErrors, plain_text};
use crate::web::error::{ApiError, AppError};

/// Largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The request body, at most [`BODY_LIMIT`] bytes, whatever `Content-Type` says.
pub struct RawBody(pub Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let stream = actix_web::body::BodyStream::new(payload.take());
        Box::pin(async move {
            if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
                return Err(ApiError(too_large()));
            }
            match actix_web::body::to_bytes_limited(stream, BODY_LIMIT).await {
                Ok(Ok(bytes)) => Ok(RawBody(bytes)),
                Ok(Err(_)) => Err(ApiError(AppError::BadRequest(
                    "The request body ended before its declared length; send it whole.".into(),
                ))),
                Err(_) => Err(ApiError(too_large())),
            }
        })
    }
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "The request body is larger than the {} KiB the API reads; send less.",
        BODY_LIMIT / 1024
    ))
}

/// A JSON body read as `T`. An empty body, malformed JSON or a field of the wrong type is a
/// 400; what the fields mean is checked later, when `T` becomes a command (422).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = RawBody::from_request(request, payload);
        Box::pin(async move {
            let RawBody(bytes) = raw.await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError(AppError::BadRequest(
                    "The request has no body; send a JSON object.".into(),
                )));
            }
            serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
                ApiError(AppError::BadRequest(format!(
                    "The body is not the JSON object this address takes: {e}."
                )))
            })
        })
    }
}

/// Query parameters by name; a repeated name keeps its last value, as upstream does.
pub struct QueryMap(pub HashMap<String, String>);

impl QueryMap {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

impl FromRequest for QueryMap {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
            .map(|pairs| QueryMap(pairs.into_inner().into_iter().collect()))
            .map_err(|_| {
                ApiError(AppError::BadRequest(
                    "The query string is not valid URL encoding.".into(),
                ))
            });
        std::future::ready(parsed)
    }
}

/// One-line text (tags, filter values): 1..`max` characters, no control characters.
pub fn one_line(raw: &str, max: usize) -> Result<String, String> {
    if raw.is_empty() || raw.chars().count() > max || raw.chars().any(char::is_control) {
        return Err(format!(
            "has 1 to {max} characters and no control characters"
        ));
    }
    Ok(raw.to_owned())
}

/// Deserializes to `true` whenever the field is present, whatever its value (even `null`).
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Tells a field sent as `null` (`Some(None)`) from a missing one (`None`).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
