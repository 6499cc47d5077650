//! The OpenAPI 3 document of the API, served at `GET /api/openapi.json`. Its tests keep it in
//! step with [`super::endpoints`], the table the routes are registered from.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: the uwsgi.it word, a sentence for the user and, for 422, the bad fields.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `Forbidden`, `Unauthorized`, `Conflict`, `Bad request`, `Unprocessable entity`,
    /// `Method not allowed`, `Request entity too large`, `Requested Range Not Satisfiable`, ...
    pub error: String,
    pub reason: String,
    /// Field name → what is wrong with it.
    pub fields: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    /// `Ok`.
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedBody {
    /// `Created`.
    pub message: String,
    /// The id of what was created (a distropanel addition).
    pub id: i64,
}

struct Authentication;

impl Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "distropanel API",
        description = "uwsgi.it-compatible API for custom distros, containers and alarms. \
            Every path also answers with a trailing slash; OPTIONS answers the CORS preflight.",
    ),
    paths(
        super::me::show, super::me::update,
        super::containers::list, super::containers::show, super::containers::update,
        super::distros::list,
        super::custom_distros::list, super::custom_distros::usable, super::custom_distros::create,
        super::custom_distros::show, super::custom_distros::update, super::custom_distros::delete,
        super::images::upload, super::images::unpack, super::images::fetch, super::images::rollback,
        super::images::last_check, super::images::check_now,
        super::alarms::list, super::alarms::show, super::alarms::delete, super::alarms::raise,
        super::alarms::key,
        super::jobs::list, super::jobs::show, super::jobs::cancel,
        super::tokens::list, super::tokens::create, super::tokens::revoke,
        document,
    ),
    modifiers(&Authentication, &Aliases),
    security(("basic" = []), ("bearer" = [])),
)]
pub struct ApiDoc;

/// Routes that answer exactly like another one: documented by copying its operation.
const ALIASES: [(&str, &str); 2] = [
    ("/api/me/containers", "/api/containers"),
    ("/api/alarms/trigger/{uid}", "/api/alarms/raise/{uid}"),
];

struct Aliases;

impl Modify for Aliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (alias, original) in ALIASES {
            if let Some(item) = openapi.paths.paths.get(original).cloned() {
                let mut item = item;
                for operation in [
                    &mut item.get,
                    &mut item.post,
                    &mut item.delete,
                    &mut item.put,
                ]
                .into_iter()
                .flatten()
                {
                    operation.operation_id = operation
                        .operation_id
                        .as_ref()
                        .map(|id| format!("{id}_alias"));
                }
                openapi.paths.paths.insert(alias.to_owned(), item);
            }
        }
    }
}

#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapi", tag = "meta",
    security(()),
    responses((status = 200, description = "this document")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// `(path, methods)` of every operation the document describes.
pub fn documented() -> Vec<(String, Vec<String>)> {
    ApiDoc::openapi()
        .paths
        .paths
        .into_iter()
        .map(|(path, item)| {
            let mut methods = Vec::new();
            for (name, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
            ] {
                if op.is_some() {
                    methods.push(name.to_owned());
                }
            }
            (path, methods)
        })
        .collect()
}

/// `(path, methods)` of every registered route, as the document writes them.
pub fn registered() -> Vec<(String, Vec<String>)> {
    super::endpoints()
        .into_iter()
        .map(|e| {
            let mut methods: Vec<String> = e.methods().iter().map(ToString::to_string).collect();
            methods.sort_by_key(|m| {
                ["GET", "POST", "DELETE", "PUT", "PATCH"]
                    .iter()
                    .position(|x| x == m)
            });
            (format!("/api{}", e.path), methods)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_document_describes_exactly_the_registered_routes_and_methods() {
        let documented: BTreeMap<_, _> = documented().into_iter().collect();
        let registered: BTreeMap<_, _> = registered().into_iter().collect();
        assert_eq!(documented, registered);
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = ApiDoc::openapi();
        let mut ids: Vec<String> = doc
            .paths
            .paths
            .values()
            .flat_map(|item| [&item.get, &item.post, &item.delete, &item.put])
            .flatten()
            .filter_map(|op| op.operation_id.clone())
            .collect();
        let all = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all);
    }
}
