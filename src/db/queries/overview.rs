//! Platform-wide listings for staff: every customer, server and container.

use diesel::prelude::*;

use crate::db::models::container::Container;
use crate::db::models::customer::Customer;
use crate::db::models::event::Event;
use crate::db::models::server::Server;
use crate::db::models::user::User;
use crate::db::schema::{containers, customers, events, servers, users};

pub fn customers_with_logins(conn: &mut PgConnection) -> QueryResult<Vec<(Customer, Vec<User>)>> {
    let all: Vec<Customer> = customers::table
        .order(customers::id)
        .select(Customer::as_select())
        .load(conn)?;
    let logins: Vec<User> = users::table
        .filter(users::customer_id.is_not_null())
        .order(users::id)
        .select(User::as_select())
        .load(conn)?;
    Ok(all
        .into_iter()
        .map(|customer| {
            let of_customer = logins
                .iter()
                .filter(|u| u.customer_id == Some(customer.id))
                .cloned()
                .collect();
            (customer, of_customer)
        })
        .collect())
}

pub fn staff_logins(conn: &mut PgConnection) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::role.eq("staff"))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

pub fn servers(conn: &mut PgConnection) -> QueryResult<Vec<Server>> {
    servers::table
        .order(servers::id)
        .select(Server::as_select())
        .load(conn)
}

/// Every container with its server's name and its customer's company.
pub fn containers(conn: &mut PgConnection) -> QueryResult<Vec<(Container, String, String)>> {
    containers::table
        .inner_join(servers::table)
        .inner_join(customers::table)
        .order(containers::id)
        .select((Container::as_select(), servers::name, customers::company))
        .load(conn)
}

/// The newest entries of the audit trail.
pub fn recent_audit(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<Event>> {
    events::table
        .filter(events::kind.eq("audit"))
        .order(events::id.desc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)
}
