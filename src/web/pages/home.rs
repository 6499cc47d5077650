//! `GET /`: the home page, for visitors and signed-in users alike.

use actix_web::{HttpResponse, get};
use askama::Template;

use crate::auth::guard::SignedIn;
use crate::web::error::AppError;
use crate::web::render::{Layout, html};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

#[get("/")]
pub async fn show(signed_in: Option<SignedIn>) -> Result<HttpResponse, AppError> {
    html(&HomePage {
        layout: signed_in
            .map(|s| s.layout())
            .unwrap_or_else(Layout::anonymous),
    })
}
