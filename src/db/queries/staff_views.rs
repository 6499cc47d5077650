//! Platform-wide listings behind the staff pages for containers, distros and alarms. Each page
//! is a fixed number of queries however many rows it shows: related names, counts and the
//! "unpacking" state come from joins and subqueries, never from a query per row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, SmallInt, Text, Timestamptz};

use crate::db::schema::{alarms, customers};
use crate::domain::ids::{AlarmId, CustomerId};

/// Escapes `%`, `_` and `\` so a search is for the text as typed.
pub fn like_pattern(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// Every customer as `(id, company)`, for the filter menus.
pub fn customer_choices(conn: &mut PgConnection) -> QueryResult<Vec<(CustomerId, String)>> {
    customers::table
        .order(customers::id)
        .select((customers::id, customers::company))
        .load(conn)
}

/// Which containers the staff containers page lists.
#[derive(Debug, Clone, Default)]
pub struct ContainerFilter {
    pub customer: Option<i32>,
    pub server: Option<i32>,
    /// Part of the name, as typed.
    pub name: Option<String>,
    /// Only containers with a smaller id (the "next page" cursor).
    pub before: Option<i32>,
    pub limit: i64,
}

#[derive(Debug, QueryableByName)]
pub struct ContainerListing {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Integer)]
    pub customer_id: i32,
    #[diesel(sql_type = Text)]
    pub company: String,
    #[diesel(sql_type = Text)]
    pub server: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub distro: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub custom_distro: Option<String>,
    /// The storage container holding the custom distro it boots.
    #[diesel(sql_type = Nullable<Integer>)]
    pub custom_storage_id: Option<i32>,
    #[diesel(sql_type = Bool)]
    pub storage: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub fallback_reason: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub pending_jobs: i64,
}

/// Containers newest first (by id), with their customer, server, distros and pending jobs.
pub fn containers(
    conn: &mut PgConnection,
    filter: &ContainerFilter,
) -> QueryResult<Vec<ContainerListing>> {
    diesel::sql_query(
        "SELECT c.id, c.name, c.customer_id, cu.company, s.name AS server, \
                d.name AS distro, cd.name AS custom_distro, cd.container_id AS custom_storage_id, \
                c.custom_distros_storage AS storage, c.fallback_reason, \
                (SELECT count(*) FROM jobs j WHERE j.container_id = c.id \
                   AND j.state IN ('queued', 'retrying', 'running')) AS pending_jobs \
         FROM containers c \
         JOIN customers cu ON cu.id = c.customer_id \
         JOIN servers s ON s.id = c.server_id \
         LEFT JOIN distros d ON d.id = c.distro_id \
         LEFT JOIN custom_distros cd ON cd.id = c.custom_distro_id \
         WHERE ($1::int4 IS NULL OR c.customer_id = $1) \
           AND ($2::int4 IS NULL OR c.server_id = $2) \
           AND ($3::text IS NULL OR c.name ILIKE $3) \
           AND ($4::int4 IS NULL OR c.id < $4) \
         ORDER BY c.id DESC LIMIT $5",
    )
    .bind::<Nullable<Integer>, _>(filter.customer)
    .bind::<Nullable<Integer>, _>(filter.server)
    .bind::<Nullable<Text>, _>(filter.name.as_deref().map(like_pattern))
    .bind::<Nullable<Integer>, _>(filter.before)
    .bind::<BigInt, _>(filter.limit)
    .load(conn)
}

#[derive(Debug, QueryableByName)]
pub struct PlatformDistroListing {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub path: String,
    #[diesel(sql_type = Text)]
    pub note: String,
    /// Containers with it as their default distro.
    #[diesel(sql_type = BigInt)]
    pub containers: i64,
}

pub fn platform_distros(conn: &mut PgConnection) -> QueryResult<Vec<PlatformDistroListing>> {
    diesel::sql_query(
        "SELECT d.id, d.name, d.path, d.note, \
                (SELECT count(*) FROM containers c WHERE c.distro_id = d.id) AS containers \
         FROM distros d ORDER BY d.name, d.id",
    )
    .load(conn)
}

#[derive(Debug, QueryableByName)]
pub struct CustomDistroListing {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Integer)]
    pub customer_id: i32,
    #[diesel(sql_type = Text)]
    pub company: String,
    #[diesel(sql_type = Integer)]
    pub storage_id: i32,
    #[diesel(sql_type = Text)]
    pub storage_name: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub path: String,
    #[diesel(sql_type = Text)]
    pub image_state: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub image_bytes: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub image_sha256: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub checked_at: Option<DateTime<Utc>>,
    /// An install or rollback of the image is queued or running.
    #[diesel(sql_type = Bool)]
    pub busy: bool,
    /// Ids and names of the containers booting it, in id order.
    #[diesel(sql_type = Array<Integer>)]
    pub booting_ids: Vec<i32>,
    #[diesel(sql_type = Array<Text>)]
    pub booting_names: Vec<String>,
}

/// Every custom distro (of one customer, if given), by customer then name.
pub fn custom_distros(
    conn: &mut PgConnection,
    customer: Option<i32>,
) -> QueryResult<Vec<CustomDistroListing>> {
    diesel::sql_query(
        "SELECT cd.id, cd.customer_id, cu.company, cd.container_id AS storage_id, \
                sc.name AS storage_name, cd.name, cd.path, cd.image_state, cd.image_bytes, \
                cd.image_sha256, cd.checked_at, \
                EXISTS (SELECT 1 FROM jobs j \
                   WHERE j.container_id = cd.container_id \
                     AND j.state IN ('queued', 'retrying', 'running') \
                     AND j.kind IN ('unpack_image', 'fetch_image', 'rollback_image') \
                     AND j.payload ->> 'distro' = cd.id::text) AS busy, \
                ARRAY(SELECT c.id FROM containers c WHERE c.custom_distro_id = cd.id \
                      ORDER BY c.id) AS booting_ids, \
                ARRAY(SELECT c.name FROM containers c WHERE c.custom_distro_id = cd.id \
                      ORDER BY c.id) AS booting_names \
         FROM custom_distros cd \
         JOIN customers cu ON cu.id = cd.customer_id \
         JOIN containers sc ON sc.id = cd.container_id \
         WHERE ($1::int4 IS NULL OR cd.customer_id = $1) \
         ORDER BY cd.customer_id, cd.name, cd.id",
    )
    .bind::<Nullable<Integer>, _>(customer)
    .load(conn)
}

/// Which alarms the staff alarms page lists.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    pub customer: Option<i32>,
    pub container: Option<i32>,
    pub level: Option<i16>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, QueryableByName)]
pub struct AlarmListing {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Integer)]
    pub container_id: i32,
    #[diesel(sql_type = Text)]
    pub container: String,
    #[diesel(sql_type = Integer)]
    pub customer_id: i32,
    #[diesel(sql_type = Text)]
    pub company: String,
    #[diesel(sql_type = Timestamptz)]
    pub unix: DateTime<Utc>,
    #[diesel(sql_type = SmallInt)]
    pub level: i16,
    #[diesel(sql_type = Text)]
    pub color: String,
    #[diesel(sql_type = Text)]
    pub msg: String,
}

/// Alarms newest first (by time, then id), with their container's name and customer.
pub fn alarms(conn: &mut PgConnection, filter: &AlarmFilter) -> QueryResult<Vec<AlarmListing>> {
    diesel::sql_query(
        "SELECT a.id, a.container_id, c.name AS container, a.customer_id, cu.company, \
                a.unix, a.level, a.color, a.msg \
         FROM alarms a \
         JOIN containers c ON c.id = a.container_id \
         JOIN customers cu ON cu.id = a.customer_id \
         WHERE ($1::int4 IS NULL OR a.customer_id = $1) \
           AND ($2::int4 IS NULL OR a.container_id = $2) \
           AND ($3::int2 IS NULL OR a.level = $3) \
         ORDER BY a.unix DESC, a.id DESC OFFSET $4 LIMIT $5",
    )
    .bind::<Nullable<Integer>, _>(filter.customer)
    .bind::<Nullable<Integer>, _>(filter.container)
    .bind::<Nullable<SmallInt>, _>(filter.level)
    .bind::<BigInt, _>(filter.offset)
    .bind::<BigInt, _>(filter.limit)
    .load(conn)
}

/// Deletes any alarm, whoever raised it; the deleted row, if there was one.
pub fn delete_alarm(
    conn: &mut PgConnection,
    id: AlarmId,
) -> QueryResult<Option<crate::db::models::alarm::Alarm>> {
    use crate::db::models::alarm::Alarm;
    diesel::delete(alarms::table.find(id))
        .returning(Alarm::as_returning())
        .get_result(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn a_search_matches_wildcards_literally() {
        assert_eq!(like_pattern("web"), "%web%");
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
