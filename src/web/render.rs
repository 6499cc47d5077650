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
    /// A member of staff who may provision and manage staff.
    pub is_admin: bool,
    /// The session's CSRF token, sent by forms and by htmx.
    pub csrf_token: String,
    /// The customer's running and recently failed jobs, for the top bar; pages that read
    /// them set it.
    pub jobs: Option<crate::db::queries::dashboard::JobCounts>,
}

impl Layout {
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The layout with the top bar's job counts.
    pub fn with_jobs(mut self, jobs: crate::db::queries::dashboard::JobCounts) -> Self {
        self.jobs = Some(jobs);
        self
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

/// How long ago `at` was, for people: `just now`, `3 min ago`, `2 h ago`, `4 days ago`.
pub fn ago(at: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - at).num_seconds().max(0);
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// A container's measured disk use against its quota: `1.2 GiB of 2.0 GiB, measured 3 min ago`.
pub fn disk_use(used: &crate::db::queries::host_reports::DiskUseRow, quota_mb: i32) -> String {
    format!(
        "{} of {}, measured {}",
        byte_size(Some(used.home_bytes.saturating_add(used.images_bytes))),
        byte_size(Some(i64::from(quota_mb).saturating_mul(1024 * 1024))),
        ago(used.measured_at)
    )
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
