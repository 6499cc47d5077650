use actix_web::{HttpResponse, get};
use askama::Template;

use crate::web::error::AppError;
use crate::web::render::{Layout, html};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

#[get("/")]
pub async fn show() -> Result<HttpResponse, AppError> {
    html(&HomePage {
        layout: Layout::anonymous(),
    })
}
