//! `GET /staff/distros`: the platform distros with how many containers fall back to each, and
//! every customer's custom distros with their image and the containers booting them.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::staff_views::{self, CustomDistroListing, PlatformDistroListing};
use crate::web::error::AppError;
use crate::web::pages::settings::when;
use crate::web::render::{Layout, byte_size, html};
use crate::web::staff::containers::{Choice, customer_menu, number};

struct CustomRow {
    customer_id: i32,
    company: String,
    storage_uid: i64,
    storage_name: String,
    name: String,
    path: String,
    state: String,
    size: String,
    sha256: String,
    checked: String,
    booting: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "staff/distros.html")]
struct DistrosPage {
    layout: Layout,
    customers: Vec<Choice>,
    platform: Vec<PlatformDistroListing>,
    custom: Vec<CustomRow>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ListQuery {
    customer: String,
}

fn custom_row(d: CustomDistroListing, base_uid: i64) -> CustomRow {
    CustomRow {
        customer_id: d.customer_id,
        company: d.company,
        storage_uid: base_uid + i64::from(d.storage_id),
        storage_name: d.storage_name,
        name: d.name,
        path: d.path,
        // the stored state says what the last install or check left; a queued or running
        // install says more
        state: if d.busy {
            "unpacking".into()
        } else {
            d.image_state
        },
        size: byte_size(d.image_bytes),
        sha256: d
            .image_sha256
            .map(|s| s.chars().take(12).collect())
            .unwrap_or_default(),
        checked: d.checked_at.map(when).unwrap_or_else(|| "never".into()),
        booting: d
            .booting_ids
            .into_iter()
            .map(|id| base_uid + i64::from(id))
            .zip(d.booting_names)
            .collect(),
    }
}

#[get("/staff/distros")]
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let customer: Option<i32> = number("customer", &query.customer)?;
    let (customers, platform, custom) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            staff_views::customer_choices(conn)?,
            staff_views::platform_distros(conn)?,
            staff_views::custom_distros(conn, customer)?,
        ))
    })
    .await?;
    let base_uid = i64::from(state.config.base_uid);
    html(&DistrosPage {
        layout: staff.layout(),
        customers: customer_menu(customers, customer),
        platform,
        custom: custom
            .into_iter()
            .map(|d| custom_row(d, base_uid))
            .collect(),
    })
}
