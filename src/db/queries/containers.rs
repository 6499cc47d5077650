//! Containers: inserted, found, viewed and locked for their customer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::container::{Container, NewContainer};
use crate::db::schema::{containers, custom_distros, distros, servers};
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, DistroId};

pub fn insert(conn: &mut PgConnection, new: &NewContainer) -> QueryResult<Container> {
    diesel::insert_into(containers::table)
        .values(new)
        .returning(Container::as_returning())
        .get_result(conn)
}

/// A customer's container: someone else's id finds nothing, exactly like a missing one.
pub fn find_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<Option<Container>> {
    containers::table
        .filter(
            containers::id
                .eq(id)
                .and(containers::customer_id.eq(customer)),
        )
        .select(Container::as_select())
        .first(conn)
        .optional()
}

pub fn for_customer(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<Vec<Container>> {
    containers::table
        .filter(containers::customer_id.eq(customer))
        .order(containers::id)
        .select(Container::as_select())
        .load(conn)
}

pub fn by_customer_and_name(
    conn: &mut PgConnection,
    customer: CustomerId,
    name: &str,
) -> QueryResult<Option<Container>> {
    containers::table
        .filter(
            containers::customer_id
                .eq(customer)
                .and(containers::name.eq(name)),
        )
        .order(containers::id)
        .select(Container::as_select())
        .first(conn)
        .optional()
}

/// A container with the names the API shows beside its ids.
#[derive(Debug, Clone, Queryable)]
pub struct ContainerView {
    pub container: Container,
    pub server_name: String,
    pub server_address: String,
    pub distro_name: Option<String>,
    pub custom_distro_name: Option<String>,
}

type ViewColumns = (
    diesel::dsl::AsSelect<Container, diesel::pg::Pg>,
    servers::name,
    servers::address,
    diesel::dsl::Nullable<distros::name>,
    diesel::dsl::Nullable<custom_distros::name>,
);

fn view_columns() -> ViewColumns {
    (
        Container::as_select(),
        servers::name,
        servers::address,
        distros::name.nullable(),
        custom_distros::name.nullable(),
    )
}

/// The customer's containers with their names, oldest first; with `tags`, only those carrying
/// at least one of them. One statement however many containers there are.
pub fn views_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    tags: Option<&[String]>,
) -> QueryResult<Vec<ContainerView>> {
    let mut query = containers::table
        .inner_join(servers::table)
        .left_join(distros::table)
        .left_join(
            custom_distros::table.on(custom_distros::id
                .nullable()
                .eq(containers::custom_distro_id)),
        )
        .filter(containers::customer_id.eq(customer))
        .select(view_columns())
        .order(containers::id)
        .into_boxed();
    if let Some(tags) = tags {
        let wanted: Vec<Option<String>> = tags.iter().cloned().map(Some).collect();
        query = query.filter(containers::tags.overlaps_with(wanted));
    }
    query.load(conn)
}

/// A container as its customer's lists show it (the page and the API): only the columns they
/// show, with why its last restart fell back to the default distro (if it did) and what its
/// last restart booted. Its pending jobs are read apart, since lists of these are kept: the
/// triggers of `list_changes` must notice a change to every column read here.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = containers, check_for_backend(diesel::pg::Pg))]
pub struct ListedContainer {
    pub id: ContainerId,
    pub name: String,
    pub memory_mb: i32,
    pub storage_mb: i32,
    pub uuid: uuid::Uuid,
    pub distro_id: Option<DistroId>,
    pub custom_distro_id: Option<CustomDistroId>,
    pub custom_distros_storage: bool,
    pub tags: Vec<Option<String>>,
    #[diesel(select_expression = servers::name)]
    pub server_name: String,
    #[diesel(select_expression = servers::address)]
    pub server_address: String,
    #[diesel(select_expression = distros::name.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<distros::name>)]
    pub distro_name: Option<String>,
    #[diesel(select_expression = custom_distros::name.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<custom_distros::name>)]
    pub custom_distro_name: Option<String>,
    pub fallback_reason: Option<String>,
    /// What its last recorded restart booted: `none`, `platform`, `custom` or `fallback`.
    pub booted_kind: Option<String>,
    /// The custom distro that restart booted or fell back from, unless deleted since.
    #[diesel(select_expression = BootedCustomName)]
    #[diesel(select_expression_type = BootedCustomName)]
    pub booted_custom_name: Option<String>,
}

impl ListedContainer {
    /// The schema forbids NULL elements, so flattening loses nothing.
    pub fn tags(&self) -> Vec<String> {
        self.tags.iter().flatten().cloned().collect()
    }

    /// Whether it has any of `wanted`, as SQL's `tags && wanted` finds it.
    pub fn has_any_tag(&self, wanted: &[String]) -> bool {
        self.tags.iter().flatten().any(|tag| wanted.contains(tag))
    }
}

super::fixed_sql_expression!(
    /// The pending jobs of the row's container, counted on the partial index of pending jobs.
    pub PendingJobs: diesel::sql_types::BigInt,
    on containers::id,
    "(SELECT count(*) FROM jobs WHERE jobs.container_id = containers.id \
       AND jobs.state IN ('queued', 'running', 'retrying'))"
);

super::fixed_sql_expression!(
    /// The name of the custom distro the row's container last booted or fell back from.
    pub BootedCustomName: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    on containers::booted_custom_distro_id,
    "(SELECT b.name FROM custom_distros b WHERE b.id = containers.booted_custom_distro_id)"
);

/// The customer's containers as the lists show them, oldest first. Its type is static, so the
/// statement is prepared once per connection (a boxed query would be planned on every run).
#[diesel::dsl::auto_type(no_type_alias)]
fn listed_query(customer: CustomerId) -> _ {
    let columns: diesel::dsl::AsSelect<ListedContainer, diesel::pg::Pg> =
        ListedContainer::as_select();
    containers::table
        .inner_join(servers::table)
        .left_join(distros::table)
        .left_join(
            custom_distros::table.on(custom_distros::id
                .nullable()
                .eq(containers::custom_distro_id)),
        )
        .filter(containers::customer_id.eq(customer))
        .select(columns)
        .order(containers::id)
}

/// As [`views_for_customer`], with each container's fallback, pending jobs and last boot: everything
/// the lists show, in one statement however many containers there are. With `tags`, only those
/// carrying at least one of them; each of the two shapes is prepared once per connection.
pub fn listed_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<Vec<ListedContainer>> {
    listed_query(customer).load(conn)
}

/// The customer's container `id` with its server and distros beside it, or nothing.
#[diesel::dsl::auto_type(no_type_alias)]
fn one_viewed(customer: CustomerId, id: ContainerId) -> _ {
    let of_customer: diesel::dsl::And<
        diesel::dsl::Eq<containers::id, ContainerId>,
        diesel::dsl::Eq<containers::customer_id, CustomerId>,
    > = containers::id
        .eq(id)
        .and(containers::customer_id.eq(customer));
    containers::table
        .inner_join(servers::table)
        .left_join(distros::table)
        .left_join(
            custom_distros::table.on(custom_distros::id
                .nullable()
                .eq(containers::custom_distro_id)),
        )
        .filter(of_customer)
}

pub fn view_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<Option<ContainerView>> {
    one_viewed(customer, id)
        .select(view_columns())
        .first(conn)
        .optional()
}

/// As [`view_for_customer`], with how many of the container's jobs are pending, in the same
/// statement.
pub fn view_with_pending_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<Option<(ContainerView, i64)>> {
    // a nested select (the view's tuple, then the count) does not load into a nested tuple
    // when the view holds a `Selectable`, so its columns are spread out here
    let (container, server, address, distro, custom) = view_columns();
    one_viewed(customer, id)
        .select((container, server, address, distro, custom, PendingJobs))
        .first::<(
            Container,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
        )>(conn)
        .optional()
        .map(|row| {
            row.map(
                |(container, server_name, server_address, distro, custom, pending)| {
                    let view = ContainerView {
                        container,
                        server_name,
                        server_address,
                        distro_name: distro,
                        custom_distro_name: custom,
                    };
                    (view, pending)
                },
            )
        })
}

/// The customer's container, locked until the transaction ends.
pub fn lock_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<Option<Container>> {
    containers::table
        .filter(
            containers::id
                .eq(id)
                .and(containers::customer_id.eq(customer)),
        )
        .select(Container::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// The customer's container, locked against concurrent changes of its row (not against
/// readers or key references), so the alarms of one container are capped one raise at a time.
pub fn lock_row_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<Option<Container>> {
    containers::table
        .filter(
            containers::id
                .eq(id)
                .and(containers::customer_id.eq(customer)),
        )
        .select(Container::as_select())
        .for_no_key_update()
        .first(conn)
        .optional()
}

/// The container whose alarm key is `key`, locked as [`lock_row_for_customer`] does.
pub fn lock_row_by_alarm_key(
    conn: &mut PgConnection,
    id: ContainerId,
    key: uuid::Uuid,
) -> QueryResult<Option<Container>> {
    containers::table
        .filter(containers::id.eq(id).and(containers::alarm_key.eq(key)))
        .select(Container::as_select())
        .for_no_key_update()
        .first(conn)
        .optional()
}

pub fn exists_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        containers::table.filter(
            containers::id
                .eq(id)
                .and(containers::customer_id.eq(customer)),
        ),
    ))
    .get_result(conn)
}

pub fn ids_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<Vec<ContainerId>> {
    containers::table
        .filter(containers::customer_id.eq(customer))
        .order(containers::id)
        .select(containers::id)
        .load(conn)
}

/// The containers that boot custom distro `distro`, by id.
pub fn booting(
    conn: &mut PgConnection,
    distro: CustomDistroId,
) -> QueryResult<Vec<(ContainerId, String)>> {
    containers::table
        .filter(containers::custom_distro_id.eq(distro))
        .order(containers::id)
        .select((containers::id, containers::name))
        .load(conn)
}

/// Fields of a container a customer changes; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = containers)]
pub struct ContainerChangeset {
    pub name: Option<String>,
    pub note: Option<String>,
    pub quota_threshold: Option<i32>,
    pub alarm_freq: Option<i32>,
    pub nofollow: Option<bool>,
    pub custom_distros_storage: Option<bool>,
    pub ssh_keys: Option<Vec<Option<String>>>,
    pub ssh_keys_changed_at: Option<DateTime<Utc>>,
    pub tags: Option<Vec<Option<String>>>,
    pub distro_id: Option<Option<DistroId>>,
    pub custom_distro_id: Option<Option<CustomDistroId>>,
    pub jid: Option<String>,
    pub jid_destinations: Option<String>,
    pub pushover_user: Option<String>,
    pub pushover_token: Option<String>,
    pub pushover_sound: Option<String>,
    pub pushbullet_token: Option<String>,
    pub slack_webhook: Option<String>,
    pub last_reboot: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub fn update(
    conn: &mut PgConnection,
    id: ContainerId,
    changes: &ContainerChangeset,
) -> QueryResult<usize> {
    diesel::update(containers::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Gives the customer's container a new alarm key; `None` when it is not theirs.
pub fn renew_alarm_key(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
) -> QueryResult<Option<uuid::Uuid>> {
    diesel::update(
        containers::table.filter(
            containers::id
                .eq(id)
                .and(containers::customer_id.eq(customer)),
        ),
    )
    .set(containers::alarm_key.eq(uuid::Uuid::new_v4()))
    .returning(containers::alarm_key.assume_not_null())
    .get_result(conn)
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containers_detail_counts_the_same_pending_states_as_the_top_bar() {
        let query = one_viewed(CustomerId(1), ContainerId(1)).select(PendingJobs);
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
        assert!(
            sql.contains(crate::db::queries::api_jobs::IS_PENDING_SQL),
            "{sql}"
        );
    }
}
