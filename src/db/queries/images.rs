//! What the panel knows of a custom distro's image: its state, size, digest and last check.
//!
//! `image_state` says what the last install, rollback or check left: `none`, `ready` or
//! `broken`. Whether an install is under way is read from the job queue ([`busy`]), so a job
//! that fails or is cancelled can never leave a distro stuck as "unpacking".

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer};

use crate::db::models::custom_distro::CustomDistro;
use crate::db::queries::custom_distros as distros;
use crate::db::schema::custom_distros;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId};

/// The state an image is in after a check that found `has_errors` (or could not find it).
pub fn state_after_check(exists: bool, has_errors: bool) -> &'static str {
    match (exists, has_errors) {
        (false, _) => "none",
        (true, true) => "broken",
        (true, false) => "ready",
    }
}

/// Records a newly installed image and its check; the image it replaced becomes the
/// previous one, which a rollback brings back.
pub fn record_installed(
    conn: &mut PgConnection,
    id: CustomDistroId,
    bytes: i64,
    sha256: &str,
    report: serde_json::Value,
    state: &str,
) -> QueryResult<usize> {
    let now = Utc::now();
    diesel::update(custom_distros::table.find(id))
        .set((
            custom_distros::previous_bytes.eq(custom_distros::image_bytes),
            custom_distros::previous_sha256.eq(custom_distros::image_sha256),
            custom_distros::image_state.eq(state),
            custom_distros::image_bytes.eq(bytes),
            custom_distros::image_sha256.eq(sha256),
            custom_distros::check_report.eq(report),
            custom_distros::checked_at.eq(now),
            custom_distros::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Records a rollback: the previous image and the current one trade places.
pub fn record_rolled_back(
    conn: &mut PgConnection,
    id: CustomDistroId,
    report: serde_json::Value,
    state: &str,
) -> QueryResult<usize> {
    let now = Utc::now();
    diesel::update(custom_distros::table.find(id))
        .set((
            custom_distros::previous_bytes.eq(custom_distros::image_bytes),
            custom_distros::previous_sha256.eq(custom_distros::image_sha256),
            custom_distros::image_bytes.eq(custom_distros::previous_bytes),
            custom_distros::image_sha256.eq(custom_distros::previous_sha256),
            custom_distros::image_state.eq(state),
            custom_distros::check_report.eq(report),
            custom_distros::checked_at.eq(now),
            custom_distros::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Records a check of the image as it is.
pub fn record_check(
    conn: &mut PgConnection,
    id: CustomDistroId,
    report: serde_json::Value,
    state: &str,
) -> QueryResult<usize> {
    let now = Utc::now();
    diesel::update(custom_distros::table.find(id))
        .set((
            custom_distros::image_state.eq(state),
            custom_distros::check_report.eq(report),
            custom_distros::checked_at.eq(now),
            custom_distros::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The image jobs that change what `distros/<path>` holds.
pub const INSTALL_KINDS: [&str; 3] = ["unpack_image", "fetch_image", "rollback_image"];

/// Whether an install or rollback of the distro is queued or running. Image jobs run on the
/// storage container, so the pending-jobs index of that container finds them.
pub fn busy(
    conn: &mut PgConnection,
    storage: ContainerId,
    id: CustomDistroId,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Busy {
        #[diesel(sql_type = Bool)]
        busy: bool,
    }
    let found: Busy = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM jobs \
             WHERE container_id = $1 AND state IN ('queued', 'retrying', 'running') \
               AND kind IN ('unpack_image', 'fetch_image', 'rollback_image') \
               AND payload ->> 'distro' = $2::text) AS busy",
    )
    .bind::<Integer, _>(storage.0)
    .bind::<Integer, _>(id.0)
    .get_result(conn)?;
    Ok(found.busy)
}

/// What a distro's image is: its stored state, or `unpacking` while an install is pending.
pub fn state_of(conn: &mut PgConnection, distro: &CustomDistro) -> QueryResult<String> {
    Ok(if busy(conn, distro.container_id, distro.id)? {
        "unpacking".into()
    } else {
        distro.image_state.clone()
    })
}

/// A customer's custom distro with its image state, or `None` if it is not theirs.
pub fn find_with_state(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: CustomDistroId,
) -> QueryResult<Option<(CustomDistro, String)>> {
    let Some(distro) = distros::find_for_customer(conn, customer, id)? else {
        return Ok(None);
    };
    let state = state_of(conn, &distro)?;
    Ok(Some((distro, state)))
}

/// The customer's distros with an install or rollback pending, in one query (for lists).
pub fn busy_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<std::collections::HashSet<CustomDistroId>> {
    #[derive(QueryableByName)]
    struct Busy {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    let rows: Vec<Busy> = diesel::sql_query(
        "SELECT DISTINCT (payload ->> 'distro')::int AS id FROM jobs \
         WHERE customer_id = $1 AND state IN ('queued', 'retrying', 'running') \
           AND kind IN ('unpack_image', 'fetch_image', 'rollback_image')",
    )
    .bind::<Integer, _>(customer.0)
    .load(conn)?;
    Ok(rows.into_iter().map(|b| CustomDistroId(b.id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_names_the_state_of_the_image() {
        assert_eq!(state_after_check(false, false), "none");
        assert_eq!(state_after_check(false, true), "none");
        assert_eq!(state_after_check(true, true), "broken");
        assert_eq!(state_after_check(true, false), "ready");
    }
}
