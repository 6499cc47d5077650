use diesel::prelude::*;

use crate::db::models::customer::{Customer, NewCustomer};
use crate::db::schema::customers;
use crate::domain::ids::CustomerId;

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
