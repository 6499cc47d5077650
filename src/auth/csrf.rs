//! Cross-site request forgery protection for everything a browser session can change.
//!
//! Every request with an unsafe method outside the machine APIs must present the token bound to
//! this browser: the signed-in session's token, or, before login, the token of the login
//! form's own cookie. It comes as the `X-CSRF-Token` header (htmx sends it from the base
//! layout), as the `csrf_token` field of a urlencoded form, or, for multipart forms, as their
//! first field, `csrf_token`, read before any later field (an upload) reaches the handler; never
//! in the address, where history and logs would keep it. An `Origin` that is not this site is
//! refused outright.
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

/// What the start of a multipart body shows of its first field.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstField {
    /// The first field is the token, with this value.
    Token(String),
    /// The first field is another one, or the body is no multipart form.
    Other,
    /// Not enough of the body yet to tell.
    NeedMore,
}

/// Reads the token from `head`, the start of a multipart body framed by `boundary`, if its
/// first field is [`FIELD`].
pub fn first_field(head: &[u8], boundary: &str) -> FirstField {
    let opening = format!("--{boundary}\r\n");
    if head.len() < opening.len() {
        return match opening.as_bytes().starts_with(head) {
            true => FirstField::NeedMore,
            false => FirstField::Other,
        };
    }
    let Some(rest) = head.strip_prefix(opening.as_bytes()) else {
        return FirstField::Other;
    };
    let Some(end_of_headers) = find(rest, b"\r\n\r\n") else {
        return FirstField::NeedMore;
    };
    let headers = String::from_utf8_lossy(&rest[..end_of_headers]);
    if field_name(&headers).as_deref() != Some(FIELD) {
        return FirstField::Other;
    }
    let value = &rest[end_of_headers + 4..];
    let closing = format!("\r\n--{boundary}");
    match find(value, closing.as_bytes()) {
        Some(end) => match std::str::from_utf8(&value[..end]) {
            Ok(token) => FirstField::Token(token.to_owned()),
            Err(_) => FirstField::Other,
        },
        None => FirstField::NeedMore,
    }
}

/// The `name` of a part, from its `Content-Disposition` header.
fn field_name(headers: &str) -> Option<String> {
    let disposition = headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    disposition.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "--b0\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n\
                        tok-1\r\n--b0\r\nContent-Disposition: form-data; name=\"archive\"; \
                        filename=\"a.tar\"\r\n\r\nDATA\r\n--b0--\r\n";

    #[test]
    fn the_token_is_read_from_the_first_multipart_field_once_it_has_all_arrived() {
        assert_eq!(
            first_field(FORM.as_bytes(), "b0"),
            FirstField::Token("tok-1".into())
        );
        for cut in [0, 3, 20, 58, 64] {
            assert_eq!(
                first_field(&FORM.as_bytes()[..cut], "b0"),
                FirstField::NeedMore,
                "{cut}"
            );
        }
    }

    #[test]
    fn a_token_that_is_not_the_first_field_or_another_framing_is_not_read() {
        let archive_first = "--b0\r\nContent-Disposition: form-data; name=\"archive\"; \
                             filename=\"csrf_token\"\r\n\r\nDATA\r\n--b0--\r\n";
        assert_eq!(
            first_field(archive_first.as_bytes(), "b0"),
            FirstField::Other
        );
        assert_eq!(first_field(FORM.as_bytes(), "b1"), FirstField::Other);
        assert_eq!(first_field(b"csrf_token=x", "b0"), FirstField::Other);
        let prefixed =
            "--b0\r\nContent-Disposition: form-data; name=\"x_csrf_token\"\r\n\r\nt\r\n--b0";
        assert_eq!(first_field(prefixed.as_bytes(), "b0"), FirstField::Other);
    }

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
