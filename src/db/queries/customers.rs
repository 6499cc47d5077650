//! Customers: inserted, found, and their profile updated.

use diesel::prelude::*;

use crate::db::models::customer::{Customer, NewCustomer};
use crate::db::schema::{customers, servers, users};
use crate::domain::ids::{CustomerId, UserId};

pub fn insert(conn: &mut PgConnection, new: &NewCustomer) -> QueryResult<Customer> {
    diesel::insert_into(customers::table)
        .values(new)
        .returning(Customer::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: CustomerId) -> QueryResult<Option<Customer>> {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

/// The customer, with the e-mail address of the calling login.
pub fn with_login_email(
    conn: &mut PgConnection,
    customer: CustomerId,
    user: UserId,
) -> QueryResult<Option<(Customer, String)>> {
    customers::table
        .inner_join(users::table)
        .filter(customers::id.eq(customer).and(users::id.eq(user)))
        .select((Customer::as_select(), users::email))
        .first(conn)
        .optional()
}

/// Addresses of the servers the customer owns.
pub fn server_addresses(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<Vec<String>> {
    servers::table
        .filter(servers::customer_id.eq(customer))
        .order(servers::id)
        .select(servers::address)
        .load(conn)
}

/// What a customer may change about themselves through `POST /api/me`.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub company: Option<String>,
    pub vat: Option<String>,
    pub email: Option<String>,
}

/// Applies the changes to the customer and to the calling login. A new password is not one of
/// them: `users::change_password` stores it.
pub fn update_profile(
    conn: &mut PgConnection,
    customer: CustomerId,
    user: UserId,
    changes: &ProfileChanges,
) -> QueryResult<()> {
    if changes.company.is_some() || changes.vat.is_some() {
        diesel::update(customers::table.find(customer))
            .set((
                changes.company.as_ref().map(|c| customers::company.eq(c)),
                changes.vat.as_ref().map(|v| customers::vat.eq(v)),
            ))
            .execute(conn)?;
    }
    if let Some(email) = &changes.email {
        let login = users::table.filter(users::id.eq(user).and(users::customer_id.eq(customer)));
        diesel::update(login)
            .set(users::email.eq(email))
            .execute(conn)?;
    }
    Ok(())
}
