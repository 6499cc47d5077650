//! Custom distros: inserted, found and locked for their customer, updated and deleted.

use chrono::Utc;
use diesel::prelude::*;

use crate::db::models::custom_distro::{CustomDistro, NewCustomDistro};
use crate::db::schema::custom_distros;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId, ServerId};

pub fn insert(conn: &mut PgConnection, new: &NewCustomDistro) -> QueryResult<CustomDistro> {
    diesel::insert_into(custom_distros::table)
        .values(new)
        .returning(CustomDistro::as_returning())
        .get_result(conn)
}

/// Every custom distro of the customer, oldest first.
pub fn for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<Vec<CustomDistro>> {
    custom_distros::table
        .filter(custom_distros::customer_id.eq(customer))
        .order(custom_distros::id)
        .select(CustomDistro::as_select())
        .load(conn)
}

/// The customer's custom distros stored on `server`: the candidates the rules choose the
/// usable ones of a container from.
pub fn on_server_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    server: ServerId,
) -> QueryResult<Vec<CustomDistro>> {
    custom_distros::table
        .filter(
            custom_distros::customer_id
                .eq(customer)
                .and(custom_distros::server_id.eq(server)),
        )
        .order(custom_distros::id)
        .select(CustomDistro::as_select())
        .load(conn)
}

/// A customer's custom distro: someone else's id finds nothing, exactly like a missing one.
pub fn find_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: CustomDistroId,
) -> QueryResult<Option<CustomDistro>> {
    custom_distros::table
        .filter(
            custom_distros::id
                .eq(id)
                .and(custom_distros::customer_id.eq(customer)),
        )
        .select(CustomDistro::as_select())
        .first(conn)
        .optional()
}

/// As [`find_for_customer`], locked until the transaction ends: no container can map it
/// meanwhile (mapping takes a key-share lock on the row through the foreign key).
pub fn lock_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: CustomDistroId,
) -> QueryResult<Option<CustomDistro>> {
    custom_distros::table
        .filter(
            custom_distros::id
                .eq(id)
                .and(custom_distros::customer_id.eq(customer)),
        )
        .select(CustomDistro::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Names of the distros stored in a storage container.
pub fn names_in(conn: &mut PgConnection, storage: ContainerId) -> QueryResult<Vec<String>> {
    custom_distros::table
        .filter(custom_distros::container_id.eq(storage))
        .order(custom_distros::id)
        .select(custom_distros::name)
        .load(conn)
}

/// Fields of a custom distro a customer changes; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = custom_distros)]
pub struct CustomDistroChangeset {
    pub name: Option<String>,
    pub path: Option<String>,
    pub note: Option<String>,
}

pub fn update(
    conn: &mut PgConnection,
    id: CustomDistroId,
    changes: &CustomDistroChangeset,
) -> QueryResult<CustomDistro> {
    diesel::update(custom_distros::table.find(id))
        .set((changes, custom_distros::updated_at.eq(Utc::now())))
        .returning(CustomDistro::as_returning())
        .get_result(conn)
}

pub fn delete(conn: &mut PgConnection, id: CustomDistroId) -> QueryResult<usize> {
    diesel::delete(custom_distros::table.find(id)).execute(conn)
}

/// A custom distro by id, whoever owns it (for the host's jobs, never for a request).
pub fn find(conn: &mut PgConnection, id: CustomDistroId) -> QueryResult<Option<CustomDistro>> {
    custom_distros::table
        .find(id)
        .select(CustomDistro::as_select())
        .first(conn)
        .optional()
}
