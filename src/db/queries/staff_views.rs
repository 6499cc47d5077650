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

/// What a staff table of containers is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainerSort {
    /// Its id, so its uid: newest first by default.
    #[default]
    Uid,
    Name,
    Customer,
    Server,
}

impl ContainerSort {
    fn sql(self) -> &'static str {
        match self {
            ContainerSort::Uid => "c.id",
            ContainerSort::Name => "c.name",
            ContainerSort::Customer => "cu.company",
            ContainerSort::Server => "s.name",
        }
    }
}

/// `ASC` or `DESC`, never text from a request.
fn direction(descending: bool) -> &'static str {
    if descending { "DESC" } else { "ASC" }
}

/// Which containers a staff page lists, and which window of them.
#[derive(Debug, Clone, Default)]
pub struct ContainerFilter {
    pub customer: Option<i32>,
    pub server: Option<i32>,
    /// Those with this platform distro as their default.
    pub distro: Option<i32>,
    /// Part of the name, as typed.
    pub name: Option<String>,
    pub sort: ContainerSort,
    pub descending: bool,
    pub offset: i64,
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
    #[diesel(sql_type = Integer)]
    pub server_id: i32,
    #[diesel(sql_type = Text)]
    pub server: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub distro_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub distro: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub custom_distro_id: Option<i32>,
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

/// Containers in the filter's order (ties by id), with their customer, server, distros and
/// pending jobs.
pub fn containers(
    conn: &mut PgConnection,
    filter: &ContainerFilter,
) -> QueryResult<Vec<ContainerListing>> {
    let dir = direction(filter.descending);
    diesel::sql_query(format!(
        "SELECT c.id, c.name, c.customer_id, cu.company, c.server_id, s.name AS server, \
                c.distro_id, d.name AS distro, c.custom_distro_id, cd.name AS custom_distro, \
                cd.container_id AS custom_storage_id, \
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
           AND ($4::int4 IS NULL OR c.distro_id = $4) \
         ORDER BY {} {dir}, c.id {dir} OFFSET $5 LIMIT $6",
        filter.sort.sql()
    ))
    .bind::<Nullable<Integer>, _>(filter.customer)
    .bind::<Nullable<Integer>, _>(filter.server)
    .bind::<Nullable<Text>, _>(filter.name.as_deref().map(like_pattern))
    .bind::<Nullable<Integer>, _>(filter.distro)
    .bind::<BigInt, _>(filter.offset)
    .bind::<BigInt, _>(filter.limit)
    .load(conn)
}

/// What the staff customers table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    Id,
    Company,
    Containers,
    Created,
}

impl CustomerSort {
    fn sql(self) -> &'static str {
        match self {
            CustomerSort::Id => "cu.id",
            CustomerSort::Company => "cu.company",
            CustomerSort::Containers => "containers",
            CustomerSort::Created => "cu.created_at",
        }
    }
}

#[derive(Debug, QueryableByName)]
pub struct CustomerListing {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub company: String,
    #[diesel(sql_type = Text)]
    pub vat: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub containers: i64,
    /// Its logins' usernames, in id order.
    #[diesel(sql_type = Array<Text>)]
    pub logins: Vec<String>,
}

/// One window of the customers, in the order asked (ties by id).
pub fn customers_page(
    conn: &mut PgConnection,
    sort: CustomerSort,
    descending: bool,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<CustomerListing>> {
    let dir = direction(descending);
    diesel::sql_query(format!(
        "SELECT cu.id, cu.company, cu.vat, cu.created_at, \
                (SELECT count(*) FROM containers c WHERE c.customer_id = cu.id) AS containers, \
                ARRAY(SELECT u.username FROM users u WHERE u.customer_id = cu.id \
                      ORDER BY u.id) AS logins \
         FROM customers cu ORDER BY {} {dir}, cu.id {dir} OFFSET $1 LIMIT $2",
        sort.sql()
    ))
    .bind::<BigInt, _>(offset)
    .bind::<BigInt, _>(limit)
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

/// A window of the platform distros by name: `limit` rows from `offset`.
pub fn platform_distros(
    conn: &mut PgConnection,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<PlatformDistroListing>> {
    diesel::sql_query(
        "SELECT d.id, d.name, d.path, d.note, \
                (SELECT count(*) FROM containers c WHERE c.distro_id = d.id) AS containers \
         FROM distros d ORDER BY d.name, d.id OFFSET $1 LIMIT $2",
    )
    .bind::<BigInt, _>(offset)
    .bind::<BigInt, _>(limit)
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

/// What the staff custom distros table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomDistroSort {
    Customer,
    Name,
    State,
}

impl CustomDistroSort {
    fn sql(self) -> &'static str {
        match self {
            CustomDistroSort::Customer => "cu.company",
            CustomDistroSort::Name => "cd.name",
            CustomDistroSort::State => "cd.image_state",
        }
    }
}

/// Which window of the custom distros, in which order.
#[derive(Debug, Clone, Copy)]
pub struct CustomDistroWindow {
    pub sort: CustomDistroSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

impl CustomDistroWindow {
    /// Every one, by customer then name.
    pub fn all() -> Self {
        Self {
            sort: CustomDistroSort::Customer,
            descending: false,
            offset: 0,
            limit: i64::MAX,
        }
    }
}

/// The custom distros (of one customer, if given) in the window's order (ties by id).
pub fn custom_distros(
    conn: &mut PgConnection,
    customer: Option<i32>,
    window: CustomDistroWindow,
) -> QueryResult<Vec<CustomDistroListing>> {
    let dir = direction(window.descending);
    diesel::sql_query(format!(
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
         ORDER BY {} {dir}, cd.name {dir}, cd.id {dir} OFFSET $2 LIMIT $3",
        window.sort.sql()
    ))
    .bind::<Nullable<Integer>, _>(customer)
    .bind::<BigInt, _>(window.offset)
    .bind::<BigInt, _>(window.limit)
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

/// One customer, if there is one with this id.
pub fn customer(
    conn: &mut PgConnection,
    id: CustomerId,
) -> QueryResult<Option<crate::db::models::customer::Customer>> {
    use crate::db::models::customer::Customer;
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

/// The customer's logins, in id order.
pub fn logins_of(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<Vec<crate::db::models::user::User>> {
    use crate::db::models::user::User;
    use crate::db::schema::users;
    users::table
        .filter(users::customer_id.eq(customer))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

/// An API token as staff see it: whose, its name and use, never its secret or hash.
#[derive(Debug, QueryableByName)]
pub struct TokenListing {
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Bool)]
    pub read_only: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The API tokens of the customer's logins, newest first.
pub fn tokens_of(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<Vec<TokenListing>> {
    diesel::sql_query(
        "SELECT u.username, t.name, t.read_only, t.created_at, t.last_used_at, t.revoked_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE u.customer_id = $1 ORDER BY t.id DESC LIMIT 200",
    )
    .bind::<Integer, _>(customer.0)
    .load(conn)
}

/// A live session as staff see it: whose, from where, since when; never its key.
#[derive(Debug, QueryableByName)]
pub struct SessionListing {
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_agent: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub last_seen: DateTime<Utc>,
}

/// The unexpired sessions of the customer's logins, most recently seen first.
pub fn sessions_of(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<Vec<SessionListing>> {
    diesel::sql_query(
        "SELECT u.username, s.ip, s.user_agent, s.created_at, s.last_seen \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE u.customer_id = $1 AND s.expires_at > now() \
         ORDER BY s.last_seen DESC LIMIT 200",
    )
    .bind::<Integer, _>(customer.0)
    .load(conn)
}

/// The newest audit entries about the customer.
pub fn audit_about(
    conn: &mut PgConnection,
    customer: CustomerId,
    limit: i64,
) -> QueryResult<Vec<crate::db::models::event::Event>> {
    use crate::db::models::event::Event;
    use crate::db::schema::events;
    events::table
        .filter(events::kind.eq("audit"))
        .filter(events::customer_id.eq(customer))
        .order(events::id.desc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)
}

/// The customer's newest jobs, any state.
pub fn jobs_of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    limit: i64,
) -> QueryResult<Vec<crate::db::models::job::Job>> {
    crate::db::queries::api_jobs::for_customer(conn, customer, None, limit)
}

/// Whose container this is and where it runs.
pub fn container_owner(
    conn: &mut PgConnection,
    id: crate::domain::ids::ContainerId,
) -> QueryResult<Option<(CustomerId, crate::domain::ids::ServerId)>> {
    use crate::db::schema::containers;
    containers::table
        .find(id)
        .select((containers::customer_id, containers::server_id))
        .first(conn)
        .optional()
}

/// One server, if there is one with this id.
pub fn server(
    conn: &mut PgConnection,
    id: crate::domain::ids::ServerId,
) -> QueryResult<Option<crate::db::models::server::Server>> {
    use crate::db::models::server::Server;
    use crate::db::schema::servers;
    servers::table
        .find(id)
        .select(Server::as_select())
        .first(conn)
        .optional()
}

/// What a server's job queue holds.
#[derive(Debug, Clone, QueryableByName)]
pub struct Queue {
    /// Queued or waiting to retry.
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub running: i64,
    /// When the oldest pending job was queued.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest_pending: Option<DateTime<Utc>>,
}

pub fn queue_of(conn: &mut PgConnection, server: i32) -> QueryResult<Queue> {
    diesel::sql_query(
        "SELECT count(*) FILTER (WHERE state IN ('queued', 'retrying')) AS pending, \
                count(*) FILTER (WHERE state = 'running') AS running, \
                min(created_at) FILTER (WHERE state IN ('queued', 'retrying')) AS oldest_pending \
         FROM jobs WHERE server_id = $1 AND state IN ('queued', 'retrying', 'running')",
    )
    .bind::<Integer, _>(server)
    .get_result(conn)
}

/// The server's pending and running jobs, oldest first.
pub fn queued_jobs(
    conn: &mut PgConnection,
    server: i32,
    limit: i64,
) -> QueryResult<Vec<crate::db::models::job::Job>> {
    use crate::db::models::job::Job;
    use crate::db::schema::jobs;
    jobs::table
        .filter(jobs::server_id.eq(server))
        .filter(jobs::state.eq_any(["queued", "retrying", "running"]))
        .order(jobs::id)
        .limit(limit)
        .select(Job::as_select())
        .load(conn)
}

/// The worker's last report for a server: who and when.
pub fn heartbeat_of(
    conn: &mut PgConnection,
    server: i32,
) -> QueryResult<Option<(String, DateTime<Utc>)>> {
    use crate::db::schema::host_reports;
    host_reports::table
        .find(server)
        .select((host_reports::worker, host_reports::reported_at))
        .first(conn)
        .optional()
}

/// A home's measured disk use on a server.
#[derive(Debug, QueryableByName)]
pub struct HomeUse {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Integer)]
    pub storage_mb: i32,
    #[diesel(sql_type = BigInt)]
    pub home_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub images_bytes: i64,
    #[diesel(sql_type = Timestamptz)]
    pub measured_at: DateTime<Utc>,
}

/// The measured homes of a server's containers, largest first.
pub fn homes_of(conn: &mut PgConnection, server: i32, limit: i64) -> QueryResult<Vec<HomeUse>> {
    diesel::sql_query(
        "SELECT c.id, c.name, c.storage_mb, u.home_bytes, u.images_bytes, u.measured_at \
         FROM container_disk_use u JOIN containers c ON c.id = u.container_id \
         WHERE c.server_id = $1 \
         ORDER BY u.home_bytes + u.images_bytes DESC, c.id LIMIT $2",
    )
    .bind::<Integer, _>(server)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// What the staff servers table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSort {
    Name,
    Containers,
    Pending,
    Reported,
}

impl ServerSort {
    fn sql(self) -> &'static str {
        match self {
            ServerSort::Name => "s.name",
            ServerSort::Containers => "containers",
            ServerSort::Pending => "pending",
            ServerSort::Reported => "reported_at",
        }
    }
}

#[derive(Debug, QueryableByName)]
pub struct ServerListing {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub address: String,
    #[diesel(sql_type = Bool)]
    pub pull: bool,
    #[diesel(sql_type = BigInt)]
    pub containers: i64,
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub reported_at: Option<DateTime<Utc>>,
}

/// One window of the servers with their containers, unfinished jobs and last report.
pub fn servers_page(
    conn: &mut PgConnection,
    sort: ServerSort,
    descending: bool,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<ServerListing>> {
    let dir = direction(descending);
    // a server that never reported sorts as the oldest report
    let nulls = if descending {
        "NULLS LAST"
    } else {
        "NULLS FIRST"
    };
    diesel::sql_query(format!(
        "SELECT s.id, s.name, s.address, s.pull, \
                (SELECT count(*) FROM containers c WHERE c.server_id = s.id) AS containers, \
                (SELECT count(*) FROM jobs j WHERE j.server_id = s.id \
                   AND j.state IN ('queued', 'retrying', 'running')) AS pending, \
                r.reported_at \
         FROM servers s LEFT JOIN host_reports r ON r.server_id = s.id \
         ORDER BY {} {dir} {nulls}, s.id {dir} OFFSET $1 LIMIT $2",
        sort.sql()
    ))
    .bind::<BigInt, _>(offset)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// One platform distro, if there is one with this id.
pub fn platform_distro(
    conn: &mut PgConnection,
    id: crate::domain::ids::DistroId,
) -> QueryResult<Option<crate::db::models::distro::Distro>> {
    use crate::db::models::distro::Distro;
    use crate::db::schema::distros;
    distros::table
        .find(id)
        .select(Distro::as_select())
        .first(conn)
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
