//! The reference that `scripts/bench-pages` measures the list pages against: the least an
//! actix + askama + diesel page over the same rows can do. One query (a customer's containers
//! with their server's name), one template, no authentication, no layout, no session.
//!
//! Not a product route: it runs on its own. `DATABASE_URL`, `REFERENCE_BIND` (an address on
//! this machine), `REFERENCE_CUSTOMER` (the customer whose containers it lists) and
//! `DISTROPANEL_DB_POOL` (connections, 16 by default) configure it.

use actix_web::{App, HttpResponse, HttpServer, get, web};
use askama::Template;
use diesel::prelude::*;
use distropanel::db::schema::{containers, servers};

#[derive(Template)]
#[template(
    ext = "html",
    source = "<!DOCTYPE html><html><head><title>Containers</title></head><body><table>\
<thead><tr><th>Name</th><th>Server</th><th>Memory</th></tr></thead><tbody>\
{% for row in rows %}<tr><td>{{ row.0 }}</td><td>{{ row.1 }}</td><td>{{ row.2 }} MiB</td></tr>{% endfor %}\
</tbody></table></body></html>"
)]
struct Page {
    rows: Vec<(String, String, i32)>,
}

struct Reference {
    pool: distropanel::db::PgPool,
    customer: i32,
}

#[get("/")]
async fn page(state: web::Data<Reference>) -> actix_web::Result<HttpResponse> {
    let customer = state.customer;
    let rows = distropanel::db::run(&state.pool, move |conn| {
        containers::table
            .inner_join(servers::table)
            .filter(containers::customer_id.eq(customer))
            .order(containers::id)
            .select((containers::name, servers::name, containers::memory_mb))
            .load::<(String, String, i32)>(conn)
            .map_err(distropanel::error::Error::from)
    })
    .await
    .map_err(actix_web::error::ErrorInternalServerError)?;
    let body = Page { rows }
        .render()
        .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let size = std::env::var("DISTROPANEL_DB_POOL")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let pool = distropanel::db::pool(&setting("DATABASE_URL"), size).expect("a database pool");
    let state = web::Data::new(Reference {
        pool,
        customer: setting("REFERENCE_CUSTOMER")
            .parse()
            .expect("a customer id"),
    });
    HttpServer::new(move || App::new().app_data(state.clone()).service(page))
        .bind(setting("REFERENCE_BIND"))?
        .run()
        .await
}
