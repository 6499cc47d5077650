//! Staff screens under `/staff`. Every handler takes the [`Staff`](crate::auth::guard::Staff)
//! extractor: a customer gets the 404 page, as if the screens did not exist. Every change to a
//! customer's data writes an audit entry in the same transaction.

pub mod alarms;
pub mod audit;
pub mod containers;
pub mod customers;
pub mod distros;
pub mod home;
pub mod jobs;
pub mod search;
pub mod servers;
pub mod table;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home::show)
        .service(users::end_sessions)
        .service(jobs::list)
        .service(jobs::retry)
        .service(jobs::cancel)
        .service(containers::list)
        .service(distros::list)
        .service(alarms::list)
        .service(alarms::delete)
        .service(search::search)
        .service(customers::show)
        .service(containers::show)
        .service(servers::list)
        .service(servers::show)
        .service(distros::show)
        .service(audit::list)
        .service(audit::export);
}
