use chrono::Utc;
use diesel::prelude::*;

use crate::db::schema::custom_distros;
use crate::domain::ids::CustomDistroId;

/// Records a newly installed image: ready, its size and digest, and its check report.
pub fn record_installed(
    conn: &mut PgConnection,
    id: CustomDistroId,
    bytes: i64,
    sha256: &str,
    report: serde_json::Value,
) -> QueryResult<usize> {
    let now = Utc::now();
    diesel::update(custom_distros::table.find(id))
        .set((
            custom_distros::image_state.eq("ready"),
            custom_distros::image_bytes.eq(bytes),
            custom_distros::image_sha256.eq(sha256),
            custom_distros::check_report.eq(report),
            custom_distros::checked_at.eq(now),
            custom_distros::updated_at.eq(now),
        ))
        .execute(conn)
}
