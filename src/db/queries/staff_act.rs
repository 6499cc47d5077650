//! What staff acting on a customer's behalf look up first: whose container or custom distro
//! an id names, and the custom distros a storage container holds.

use diesel::prelude::*;

use crate::db::models::custom_distro::CustomDistro;
use crate::db::schema::{containers, custom_distros, customers};
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId};

/// The customer owning container `id`, and their company.
pub fn container_owner(
    conn: &mut PgConnection,
    id: ContainerId,
) -> QueryResult<Option<(CustomerId, String)>> {
    containers::table
        .inner_join(customers::table)
        .filter(containers::id.eq(id))
        .select((customers::id, customers::company))
        .first(conn)
        .optional()
}

/// The customer owning custom distro `id`, and their company.
pub fn custom_distro_owner(
    conn: &mut PgConnection,
    id: CustomDistroId,
) -> QueryResult<Option<(CustomerId, String)>> {
    custom_distros::table
        .inner_join(customers::table.on(customers::id.eq(custom_distros::customer_id)))
        .filter(custom_distros::id.eq(id))
        .select((customers::id, customers::company))
        .first(conn)
        .optional()
}

/// The custom distros stored in container `storage`, by name.
pub fn stored_in(conn: &mut PgConnection, storage: ContainerId) -> QueryResult<Vec<CustomDistro>> {
    custom_distros::table
        .filter(custom_distros::container_id.eq(storage))
        .order(custom_distros::name)
        .select(CustomDistro::as_select())
        .load(conn)
}
