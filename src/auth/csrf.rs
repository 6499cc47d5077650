//! Cross-site request forgery protection for everything a browser session can change.
//!
//! Every request with an unsafe method outside the machine APIs must present the token bound to
//! this browser: the signed-in session's token, or, before login, the token of the login
//! form's own cookie. It comes as the `X-CSRF-Token` header (htmx sends it from the base
//! layout), as the `csrf_token` field of a urlencoded form, or, for multipart forms, as the
//! `csrf_token` query parameter. An `Origin` that is not this site is refused outright.
//!
//! The JSON API (`/api`) and the hosts' private API (`/private`) never read the session
//! cookie, so a forged request there carries no authority; see
//! [`crate::auth::csrf_middleware::basic_sent_by_another_site`]
//! for the one credential a browser adds on its own.

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::error::Error;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";
/// Holds the login form's token for a browser that has no session yet.
pub const PRESESSION_COOKIE: &str = "distropanel_csrf";

/// 256 random bits, URL-safe.
pub fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Whether `path` is under the JSON API or the hosts' private API, which take no session.
pub fn is_machine_api(path: &str) -> bool {
    ["/api", "/private"]
        .iter()
        .any(|root| path == *root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/')))
}

/// What a request without the right token is told.
pub fn refusal() -> Error {
    Error::Forbidden(
        "This form is out of date or did not come from distropanel: reload the page and send it again."
            .into(),
    )
}

/// Whether the token presented is the one expected; never for an empty token.
pub fn same(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_apis_are_told_apart_from_pages_by_whole_segments() {
        assert!(is_machine_api("/api"));
        assert!(is_machine_api("/api/tokens"));
        assert!(is_machine_api("/private/containers/"));
        assert!(!is_machine_api("/apiary"));
        assert!(!is_machine_api("/settings/api"));
    }

    #[test]
    fn tokens_compare_whole_and_never_match_empty() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", ""));
    }
}
