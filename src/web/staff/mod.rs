//! Staff screens under `/staff`. Every handler takes the [`Staff`](crate::auth::guard::Staff)
//! extractor: a customer gets the 404 page, as if the screens did not exist. Every change to a
//! customer's data writes an audit entry in the same transaction.

pub mod act;
pub mod alarms;
pub mod audit;
pub mod containers;
pub mod customers;
pub mod distros;
pub mod filters;
pub mod home;
pub mod jobs;
pub mod members;
pub mod provision;
pub mod search;
pub mod servers;
pub mod set_password;
pub mod table;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home::show)
        .service(users::end_sessions)
        .service(jobs::list)
        .service(jobs::bulk_retry)
        .service(jobs::bulk_cancel)
        .service(jobs::show)
        .service(jobs::retry)
        .service(jobs::cancel)
        .service(containers::list)
        .service(distros::list)
        .service(alarms::list)
        .service(alarms::delete)
        .service(provision::customers::new_form)
        .service(provision::customers::create)
        .service(provision::customers::edit_form)
        .service(provision::customers::edit)
        .service(provision::customers::login_form)
        .service(provision::customers::add_login)
        .service(provision::customers::new_link)
        .service(provision::servers::new_form)
        .service(provision::servers::create)
        .service(provision::servers::rotate_token)
        .service(provision::containers::new_form)
        .service(provision::containers::create)
        .service(provision::containers::edit_form)
        .service(provision::containers::edit)
        .service(provision::containers::delete)
        .service(provision::distros::new_form)
        .service(provision::distros::create)
        .service(provision::distros::edit_form)
        .service(provision::distros::edit)
        .service(provision::distros::retire)
        .service(provision::distros::delete)
        .service(members::list)
        .service(members::add)
        .service(members::change_role)
        .service(set_password::show)
        .service(set_password::submit)
        .service(search::search)
        .service(customers::show)
        .service(containers::show)
        .service(servers::list)
        .service(servers::show)
        .service(distros::show)
        .service(audit::list)
        .service(audit::export);
    act::configure(cfg);
}
