use diesel::prelude::*;

use crate::db::models::container::{Container, NewContainer};
use crate::db::schema::containers;
use crate::domain::ids::{ContainerId, CustomerId};

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
