//! `GET /staff/search?q=`: the top bar's search. One match lands on its page (303); several
//! are listed by kind; none, or a search too short or too long, is said on the page.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::AppState;
use crate::auth::guard::Staff;
use crate::db;
use crate::db::queries::staff_search::{self, Found, SHOWN};
use crate::domain::search::{MAX_SEARCH, MIN_FRAGMENT, SearchTerm};
use crate::domain::values::Uid;
use crate::web::error::AppError;
use crate::web::render::{Layout, html};

/// One match: where it leads, what it is called, and a word on whose it is.
struct Hit {
    href: String,
    label: String,
    detail: String,
}

/// The matches of one kind, and whether there were more than shown.
struct Group {
    title: &'static str,
    hits: Vec<Hit>,
    more: bool,
}

#[derive(Template)]
#[template(path = "staff/search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    problem: Option<String>,
    groups: Vec<Group>,
    searched: bool,
    min: usize,
    max: usize,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct SearchQuery {
    q: String,
}

fn group(title: &'static str, mut hits: Vec<Hit>) -> Group {
    let more = hits.len() as i64 > SHOWN;
    hits.truncate(SHOWN as usize);
    Group { title, hits, more }
}

fn groups(found: Found, base_uid: u32) -> Vec<Group> {
    let uid = |id: i32| Uid::of(base_uid, crate::domain::ids::ContainerId(id));
    vec![
        group(
            "Customers",
            found
                .customers
                .into_iter()
                .map(|c| Hit {
                    href: format!("/staff/customers/{}", c.id),
                    label: format!("#{} {}", c.id, c.company),
                    detail: c.login.unwrap_or_default(),
                })
                .collect(),
        ),
        group(
            "Containers",
            found
                .containers
                .into_iter()
                .map(|c| Hit {
                    href: format!("/staff/containers/{}", uid(c.id)),
                    label: format!("{} {}", uid(c.id), c.name),
                    detail: format!("#{} {} on {}", c.customer_id, c.company, c.server),
                })
                .collect(),
        ),
        group(
            "Servers",
            found
                .servers
                .into_iter()
                .map(|s| Hit {
                    href: format!("/staff/servers/{}", s.id),
                    label: s.name,
                    detail: String::new(),
                })
                .collect(),
        ),
        group(
            "Platform distros",
            found
                .distros
                .into_iter()
                .map(|d| Hit {
                    href: format!("/staff/distros/{}", d.id),
                    label: d.name,
                    detail: String::new(),
                })
                .collect(),
        ),
        group(
            "Custom distros",
            found
                .custom_distros
                .into_iter()
                .map(|d| Hit {
                    href: format!("/staff/custom-distros/{}", d.id),
                    label: d.name,
                    detail: d.owner.unwrap_or_default(),
                })
                .collect(),
        ),
    ]
    .into_iter()
    .filter(|g| !g.hits.is_empty())
    .collect()
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// What one search found before it is shown: a page to land on, or matches to list.
enum Outcome {
    Land(String),
    List(Found),
}

/// The page a uid or a `#N` names, when it names something.
fn landing(
    conn: &mut diesel::PgConnection,
    term: &SearchTerm,
    base_uid: u32,
) -> diesel::QueryResult<Option<String>> {
    Ok(match *term {
        SearchTerm::Customer(id) => {
            staff_search::customer_exists(conn, id)?.then(|| format!("/staff/customers/{id}"))
        }
        SearchTerm::Number(n) => match Uid::container_id(n, base_uid) {
            Some(id) => staff_search::container_exists(conn, id.0)?
                .then(|| format!("/staff/containers/{n}")),
            None => None,
        },
        _ => None,
    })
}

#[get("/staff/search")]
pub async fn search(
    staff: Staff,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let term = SearchTerm::parse(&query.q);
    let base_uid = state.config.base_uid;
    let problem = match term {
        SearchTerm::Empty => None,
        SearchTerm::TooShort => Some(format!(
            "Type at least {MIN_FRAGMENT} characters, or a container's uid, or #N for customer N."
        )),
        SearchTerm::TooLong => Some(format!(
            "That search is too long: at most {MAX_SEARCH} characters."
        )),
        _ => None,
    };
    let mut page = SearchPage {
        layout: staff.layout(),
        q: match term {
            SearchTerm::TooLong => String::new(),
            _ => query.q.trim().to_owned(),
        },
        searched: false,
        problem,
        groups: Vec::new(),
        min: MIN_FRAGMENT,
        max: MAX_SEARCH,
    };
    let lookup = term.clone();
    let outcome = match term {
        SearchTerm::Empty | SearchTerm::TooShort | SearchTerm::TooLong => None,
        _ => Some(
            db::run(&state.pool, move |conn| {
                if let Some(to) = landing(conn, &lookup, base_uid)? {
                    return Ok(Outcome::Land(to));
                }
                let found = match lookup.fragment() {
                    Some(fragment) => staff_search::fragment(conn, &fragment)?,
                    None => Found::default(),
                };
                Ok::<_, AppError>(Outcome::List(found))
            })
            .await?,
        ),
    };
    match outcome {
        Some(Outcome::Land(to)) => Ok(see_other(&to)),
        Some(Outcome::List(found)) => {
            if found.total() == 1 {
                let only = groups(found, base_uid);
                if let Some(hit) = only.first().and_then(|g| g.hits.first()) {
                    return Ok(see_other(&hit.href));
                }
                return html(&page);
            }
            page.searched = true;
            page.groups = groups(found, base_uid);
            html(&page)
        }
        None => html(&page),
    }
}
