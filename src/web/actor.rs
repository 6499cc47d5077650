//! Who makes a change, as `ops` records it, read from the request that asks for it.

use actix_web::HttpRequest;

use crate::auth::extract::client_address;
use crate::auth::guard::{ApiCaller, Customer, Staff};
use crate::domain::ids::CustomerId;
use crate::ops::Actor;
use crate::web::error::ApiError;

impl Actor {
    /// An API caller; staff have no customer data to change.
    pub fn of_api(caller: &ApiCaller, request: &HttpRequest) -> Result<Self, ApiError> {
        Ok(Self {
            customer: caller.customer()?,
            user: caller.user_id,
            username: caller.username.clone(),
            address: client_address(request),
            staff: None,
        })
    }

    /// A customer signed in to the panel.
    pub fn of_page(customer: &Customer, request: &HttpRequest) -> Self {
        Self {
            customer: customer.customer_id,
            user: customer.session.user_id,
            username: customer.session.username.clone(),
            address: client_address(request),
            staff: None,
        }
    }
}

impl Actor {
    /// A member of staff acting for `customer` (known as `company`): the same rules as the
    /// customer's own changes, logged and audited as done by staff.
    pub fn of_staff(staff: &Staff, customer: CustomerId, company: String) -> Self {
        Actor::on_behalf(
            customer,
            company,
            (
                staff.session.user_id,
                staff.session.username.clone(),
                staff.role,
            ),
            staff.address.clone(),
        )
    }
}
