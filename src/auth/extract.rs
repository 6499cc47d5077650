//! Reading who is calling from an actix request: the client's address, a bearer token, Basic
//! and uwsgi.it header credentials, and the signed-in session. Checking them is auth's core
//! ([`crate::auth::authenticate`]); `web` turns these into extractors.

use actix_session::SessionExt;
use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;

use crate::auth::authenticate::{ApiCredentials, forwarded_client};
use crate::auth::basic::{Credentials, could_be_username};
use crate::auth::csrf_middleware::basic_sent_by_another_site;
use crate::auth::session::SignedIn;

/// The reverse proxies whose `X-Forwarded-For` is believed, as app data.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<std::net::IpAddr>);

/// The client's address: the socket's peer, or, when the peer is a configured reverse proxy,
/// the address that proxy put in `X-Forwarded-For`. From anyone else the header is ignored:
/// they could send a fresh one with each guess and never reach the per-address limit.
pub fn client_address(request: &HttpRequest) -> String {
    let Some(peer) = request.peer_addr().map(|addr| addr.ip()) else {
        return "unknown".into();
    };
    let trusted = request
        .app_data::<actix_web::web::Data<TrustedProxies>>()
        .map(|proxies| proxies.0.as_slice())
        .unwrap_or_default();
    let forwarded = request
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    forwarded_client(peer, &forwarded, trusted).to_string()
}

/// Reads Basic or uwsgi.it header credentials. A Basic password may contain `:`: the
/// credentials split at the first colon only. `None` when neither is present or readable.
pub fn credentials(request: &HttpRequest) -> Option<Credentials> {
    let headers = request.headers();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        if !could_be_username(username) {
            return None;
        }
        return Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        });
    }
    let hex_header = |name: &str| -> Option<String> {
        let raw = headers.get(name)?.to_str().ok()?;
        String::from_utf8(hex::decode(raw.trim()).ok()?).ok()
    };
    let username = hex_header("X-uwsgi-it-username")?;
    if !could_be_username(&username) {
        return None;
    }
    Some(Credentials {
        username,
        password: hex_header("X-uwsgi-it-password")?,
    })
}

/// The token of an `Authorization: Bearer ...` header, if that is the scheme used.
pub fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Everything an API request presents to say who sends it.
pub fn api_credentials(request: &HttpRequest) -> ApiCredentials {
    ApiCredentials {
        bearer: bearer(request).map(str::to_owned),
        given: credentials(request),
        replayed_by_browser: basic_sent_by_another_site(request),
        address: client_address(request),
    }
}

/// The browser session's signed-in user, if any.
pub fn signed_in(request: &HttpRequest) -> Option<SignedIn> {
    SignedIn::read(&request.get_session())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn creds(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss:word");
        let request = TestRequest::default()
            .insert_header(("Authorization", format!("Basic {encoded}")))
            .to_http_request();
        assert_eq!(credentials(&request), Some(creds("alice", "pa:ss:word")));
    }

    #[test]
    fn uwsgi_it_headers_are_hex_decoded() {
        let request = TestRequest::default()
            .insert_header(("X-uwsgi-it-username", hex::encode("alice")))
            .insert_header(("X-uwsgi-it-password", hex::encode("s3cret:x")))
            .to_http_request();
        assert_eq!(credentials(&request), Some(creds("alice", "s3cret:x")));
        let not_hex = TestRequest::default()
            .insert_header(("X-uwsgi-it-username", "alice"))
            .insert_header(("X-uwsgi-it-password", "zz"))
            .to_http_request();
        assert_eq!(credentials(&not_hex), None);
    }
}
