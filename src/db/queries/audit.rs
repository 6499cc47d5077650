//! The audit trail: staff's entries in `events` (kind `audit`), filtered, sorted and paged for
//! the audit page and its CSV export, and pruned past the retention.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};

use crate::db::schema::{events, users};
use crate::domain::ids::UserId;

/// What the audit trail is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSort {
    At,
    Actor,
    Action,
}

impl AuditSort {
    fn sql(self) -> &'static str {
        match self {
            AuditSort::At => "e.at",
            AuditSort::Actor => "e.actor",
            AuditSort::Action => "e.action",
        }
    }
}

/// Which entries, in which order, which window.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub staff: Option<i32>,
    pub customer: Option<i32>,
    pub action: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    pub sort: AuditSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct AuditEntry {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub actor: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub customer_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub company: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub container_id: Option<i32>,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Text)]
    pub detail: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
}

pub fn entries(conn: &mut PgConnection, filter: &AuditFilter) -> QueryResult<Vec<AuditEntry>> {
    let dir = if filter.descending { "DESC" } else { "ASC" };
    diesel::sql_query(format!(
        "SELECT e.id, e.at, e.actor, e.customer_id, cu.company, e.container_id, e.action, \
                e.target, e.outcome, e.detail, e.ip \
         FROM events e LEFT JOIN customers cu ON cu.id = e.customer_id \
         WHERE e.kind = 'audit' \
           AND ($1::int4 IS NULL OR e.actor_user_id = $1) \
           AND ($2::int4 IS NULL OR e.customer_id = $2) \
           AND ($3::text IS NULL OR e.action = $3) \
           AND ($4::timestamptz IS NULL OR e.at >= $4) \
           AND ($5::timestamptz IS NULL OR e.at < $5) \
         ORDER BY {} {dir}, e.id {dir} OFFSET $6 LIMIT $7",
        filter.sort.sql()
    ))
    .bind::<Nullable<Integer>, _>(filter.staff)
    .bind::<Nullable<Integer>, _>(filter.customer)
    .bind::<Nullable<Text>, _>(filter.action.as_deref())
    .bind::<Nullable<Timestamptz>, _>(filter.from)
    .bind::<Nullable<Timestamptz>, _>(filter.until)
    .bind::<BigInt, _>(filter.offset)
    .bind::<BigInt, _>(filter.limit)
    .load(conn)
}

/// The actions the trail holds, for the filter menu.
pub fn actions(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    events::table
        .filter(events::kind.eq("audit"))
        .select(events::action)
        .distinct()
        .order(events::action)
        .load(conn)
}

/// Every member of staff as `(id, username)`, for the filter menu.
pub fn staff_members(conn: &mut PgConnection) -> QueryResult<Vec<(UserId, String)>> {
    users::table
        .filter(users::role.eq("staff"))
        .order(users::username)
        .select((users::id, users::username))
        .load(conn)
}

/// Deletes at most `batch` audit entries older than `before`; how many it deleted.
pub fn prune(conn: &mut PgConnection, before: DateTime<Utc>, batch: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM events WHERE id IN ( \
           SELECT id FROM events WHERE kind = 'audit' AND at < $1 LIMIT $2)",
    )
    .bind::<Timestamptz, _>(before)
    .bind::<BigInt, _>(batch)
    .execute(conn)
}
