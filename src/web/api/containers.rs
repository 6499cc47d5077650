//! `/api/containers`: a customer's containers, their settings, and the changes that restart
//! them (storage toggle, distro, custom distro, ssh keys, reboot).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::guard::ApiCaller;
use crate::db;
use crate::db::queries::containers;
use crate::db::queries::containers::{ContainerView, ListedContainer};
use crate::domain::commands::{ContainerFields, UpdateContainer};
use crate::domain::ids::{ContainerId, CustomerId};
use crate::domain::values::Uid;
use crate::error::Error;
use crate::ops::{self, Actor};
use crate::web::api::input::{JsonBody, QueryMap, nullable, present};
use crate::web::api::{container_of_uid, epoch};

/// Kept here too: the other API modules turn the same constraints into refusals.
use crate::web::error::{ApiError, AppError};

/// A container in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerSummary {
    pub uid: i64,
    pub name: String,
    pub hostname: String,
    pub ip: String,
    /// Megabytes.
    pub memory: i32,
    /// Megabytes.
    pub storage: i32,
    pub uuid: uuid::Uuid,
    /// The default (fallback) platform distro.
    pub distro: Option<i32>,
    pub distro_name: Option<String>,
    pub custom_distro: Option<i32>,
    pub custom_distro_name: Option<String>,
    /// The server's name.
    pub server: String,
    pub server_address: String,
    pub tags: Vec<String>,
    /// Unfinished jobs (restarts and the like) of the container. A distropanel addition.
    pub pending_jobs: i64,
}

/// One container with every setting.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerDetail {
    #[serde(flatten)]
    pub summary: ContainerSummary,
    pub note: String,
    pub quota_threshold: i32,
    pub alarm_freq: i32,
    pub nofollow: bool,
    pub ssh_keys: Vec<String>,
    pub linked_to: Vec<i64>,
    pub custom_distros_storage: bool,
    pub jid: String,
    pub jid_destinations: String,
    pub pushover_user: String,
    pub pushover_token: String,
    pub pushover_sound: String,
    pub pushbullet_token: String,
    pub slack_webhook: String,
    /// Epoch seconds of the last restart request, or null.
    pub last_reboot: Option<i64>,
}

/// uwsgi.it's container hostname: the name with everything but letters, digits and `-`
/// replaced by `-`.
fn hostname(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// uwsgi.it's container address: 10.0.0.0/8 plus the id, after the gateway and the API.
fn ip(id: ContainerId) -> String {
    let offset = (i64::from(id.0) + 2) as u32 & 0x00ff_ffff;
    Ipv4Addr::from(0x0a00_0000 | offset).to_string()
}

fn summary(view: &ContainerView, base_uid: u32, pending: i64) -> ContainerSummary {
    let c = &view.container;
    ContainerSummary {
        uid: Uid::of(base_uid, c.id).get(),
        name: c.name.clone(),
        hostname: hostname(&c.name),
        ip: ip(c.id),
        memory: c.memory_mb,
        storage: c.storage_mb,
        uuid: c.uuid,
        distro: c.distro_id.map(|d| d.0),
        distro_name: view.distro_name.clone(),
        custom_distro: c.custom_distro_id.map(|d| d.0),
        custom_distro_name: view.custom_distro_name.clone(),
        server: view.server_name.clone(),
        server_address: view.server_address.clone(),
        tags: c.tags(),
        pending_jobs: pending,
    }
}

fn listed_summary(listed: &ListedContainer, pending: i64, base_uid: u32) -> ContainerSummary {
    ContainerSummary {
        uid: Uid::of(base_uid, listed.id).get(),
        hostname: hostname(&listed.name),
        ip: ip(listed.id),
        memory: listed.memory_mb,
        storage: listed.storage_mb,
        uuid: listed.uuid,
        distro: listed.distro_id.map(|d| d.0),
        custom_distro: listed.custom_distro_id.map(|d| d.0),
        tags: listed.tags(),
        name: listed.name.clone(),
        distro_name: listed.distro_name.clone(),
        custom_distro_name: listed.custom_distro_name.clone(),
        server: listed.server_name.clone(),
        server_address: listed.server_address.clone(),
        pending_jobs: pending,
    }
}

fn detail(view: ContainerView, base_uid: u32, pending: i64) -> ContainerDetail {
    let summary = summary(&view, base_uid, pending);
    let c = view.container;
    ContainerDetail {
        summary,
        ssh_keys: c.ssh_keys(),
        note: c.note,
        quota_threshold: c.quota_threshold,
        alarm_freq: c.alarm_freq,
        nofollow: c.nofollow,
        linked_to: Vec::new(),
        custom_distros_storage: c.custom_distros_storage,
        jid: c.jid,
        jid_destinations: c.jid_destinations,
        pushover_user: c.pushover_user,
        pushover_token: c.pushover_token,
        pushover_sound: c.pushover_sound,
        pushbullet_token: c.pushbullet_token,
        slack_webhook: c.slack_webhook,
        last_reboot: c.last_reboot.map(epoch),
    }
}

/// `?tags=a,b`: containers carrying any of the tags. A tag no container can carry (empty,
/// with control characters) matches nothing.
fn tags_filter(query: &QueryMap) -> Option<Vec<String>> {
    query.get("tags").map(|raw| {
        raw.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
            .map(str::to_owned)
            .collect()
    })
}

#[utoipa::path(get, path = "/api/containers", operation_id = "containers_list", tag = "containers",
    params(("tags" = Option<String>, Query, description = "comma-separated; containers with any of them")),
    responses((status = 200, body = Vec<ContainerSummary>)))]
pub async fn list(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let base_uid = state.config.base_uid;
    let tags = tags_filter(&query);
    let list = state
        .container_lists
        .of_customer(&state.pool, customer)
        .await?;
    let parts = list
        .rows
        .api_json(|listed| json_up_to_pending(listed, base_uid))?;
    let mut body =
        String::with_capacity(parts.iter().map(|part| part.len() + 24).sum::<usize>() + 2);
    body.push('[');
    for (listed, part) in list.rows.iter().zip(parts) {
        if tags
            .as_deref()
            .is_some_and(|tags| !listed.has_any_tag(tags))
        {
            continue;
        }
        if body.len() > 1 {
            body.push(',');
        }
        body.push_str(part);
        // writing to a String cannot fail
        let _ = write!(body, "{}}}", list.pending_jobs(listed.id));
    }
    body.push(']');
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body))
}

/// The tail of a [`ContainerSummary`]'s JSON when it has no pending job: `pending_jobs` is its
/// last field, so a list can be written from the rest, kept, and each row's count.
const NO_PENDING_TAIL: &str = "\"pending_jobs\":0}";

/// A row's JSON up to its pending job count.
fn json_up_to_pending(listed: &ListedContainer, base_uid: u32) -> Result<Box<str>, AppError> {
    let whole = serde_json::to_string(&listed_summary(listed, 0, base_uid))
        .map_err(|error| AppError::Internal(error.into()))?;
    match whole.strip_suffix(NO_PENDING_TAIL) {
        Some(head) => Ok(format!("{head}\"pending_jobs\":").into_boxed_str()),
        None => Err(AppError::Internal(anyhow::anyhow!(
            "a container's JSON does not end with its pending jobs"
        ))),
    }
}

fn load_detail(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: ContainerId,
    base_uid: u32,
) -> Result<ContainerDetail, AppError> {
    let (view, pending) = containers::view_with_pending_for_customer(conn, customer, id)?
        .ok_or(AppError::NotFound)?;
    Ok(detail(view, base_uid, pending))
}

#[utoipa::path(get, path = "/api/containers/{uid}", operation_id = "containers_show", tag = "containers",
    params(("uid" = i64, Path)),
    responses((status = 200, body = ContainerDetail), (status = 403, body = super::openapi::ErrorBody)))]
pub async fn show(
    caller: ApiCaller,
    state: web::Data<AppState>,
    uid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let base_uid = state.config.base_uid;
    let id = container_of_uid(&uid, base_uid)?;
    let shown = db::run(&state.pool, move |conn| {
        load_detail(conn, customer, id, base_uid)
    })
    .await?;
    Ok(HttpResponse::Ok().json(shown))
}

/// Any of these; the others stay as they are. Changing `custom_distros_storage`, `distro`,
/// `custom_distro` or `ssh_keys`, or sending `reboot`, restarts the container.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ContainerUpdate {
    pub name: Option<String>,
    pub note: Option<String>,
    /// 0..100 (percent).
    pub quota_threshold: Option<i64>,
    /// Seconds, at least 60.
    pub alarm_freq: Option<i64>,
    pub nofollow: Option<bool>,
    pub custom_distros_storage: Option<bool>,
    /// At most 100 `authorized_keys` lines, each: optional sshd options (`from="…"`,
    /// `command="…"`, `no-pty`…), an OpenSSH public key (ssh-ed25519, ssh-rsa,
    /// ecdsa-sha2-nistp256/384/521 or a security key type), an optional comment. A line that
    /// does not parse is refused with 422 naming its index, and nothing changes.
    pub ssh_keys: Option<Vec<String>>,
    /// A platform distro id: the default (fallback) distro.
    pub distro: Option<i64>,
    /// A custom distro id usable by the container, or null for the default distro.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub custom_distro: Option<Option<i64>>,
    pub tags: Option<Vec<String>>,
    /// Any value: restart the container.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub reboot: bool,
    pub jid: Option<String>,
    pub jid_destinations: Option<String>,
    pub pushover_user: Option<String>,
    pub pushover_token: Option<String>,
    pub pushover_sound: Option<String>,
    pub pushbullet_token: Option<String>,
    pub slack_webhook: Option<String>,
}

impl From<ContainerUpdate> for ContainerFields {
    fn from(body: ContainerUpdate) -> Self {
        ContainerFields {
            name: body.name,
            note: body.note,
            quota_threshold: body.quota_threshold,
            alarm_freq: body.alarm_freq,
            nofollow: body.nofollow,
            custom_distros_storage: body.custom_distros_storage,
            ssh_keys: body.ssh_keys,
            distro: body.distro,
            custom_distro: body.custom_distro,
            tags: body.tags,
            reboot: body.reboot,
            jid: body.jid,
            jid_destinations: body.jid_destinations,
            pushover_user: body.pushover_user,
            pushover_token: body.pushover_token,
            pushover_sound: body.pushover_sound,
            pushbullet_token: body.pushbullet_token,
            slack_webhook: body.slack_webhook,
        }
    }
}

#[utoipa::path(post, path = "/api/containers/{uid}", operation_id = "containers_update", tag = "containers",
    params(("uid" = i64, Path)), request_body = ContainerUpdate,
    responses((status = 200, body = ContainerDetail), (status = 400, body = super::openapi::ErrorBody),
        (status = 403, body = super::openapi::ErrorBody), (status = 409, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn update(
    request: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    uid: web::Path<String>,
    JsonBody(body): JsonBody<ContainerUpdate>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer()?;
    let base_uid = state.config.base_uid;
    let id = container_of_uid(&uid, base_uid)?;
    let command = UpdateContainer::parse(&body.into()).map_err(Error::from)?;
    let actor = Actor::of_api(&caller, &request)?;
    let updated = db::run(&state.pool, move |conn| {
        ops::containers::update(conn, &actor, id, command)?;
        load_detail(conn, customer, id, base_uid)
    })
    .await?;
    Ok(HttpResponse::Ok().json(updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_addresses_follow_uwsgi_it() {
        assert_eq!(hostname("my web_app.1"), "my-web-app-1");
        assert_eq!(ip(ContainerId(1)), "10.0.0.3");
        assert_eq!(ip(ContainerId(254)), "10.0.1.0");
    }
}
