//! Rendering askama templates into responses, and what every page's layout needs.

use actix_web::HttpResponse;
use askama::Template;

use crate::web::error::AppError;

/// What the base layout shows around every page.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The logged-in user's name, if any.
    pub username: Option<String>,
    pub is_staff: bool,
    /// The session's CSRF token, sent by forms and by htmx.
    pub csrf_token: String,
}

impl Layout {
    pub fn anonymous() -> Self {
        Self::default()
    }
}

pub fn html<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// A size for people: `—` when unknown, else B, KiB, MiB or GiB.
pub fn byte_size(bytes: Option<i64>) -> String {
    match bytes {
        None => "—".into(),
        Some(b) if b < 1024 => format!("{b} B"),
        Some(b) if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        Some(b) if b < 1024 * 1024 * 1024 => format!("{:.1} MiB", b as f64 / 1048576.0),
        Some(b) => format!("{:.1} GiB", b as f64 / 1073741824.0),
    }
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    #[test]
    fn sizes_read_in_the_largest_unit_below_them() {
        assert_eq!(byte_size(None), "—");
        assert_eq!(byte_size(Some(512)), "512 B");
        assert_eq!(byte_size(Some(1536)), "1.5 KiB");
        assert_eq!(byte_size(Some(1982543)), "1.9 MiB");
        assert_eq!(byte_size(Some(3 << 30)), "3.0 GiB");
    }
}
