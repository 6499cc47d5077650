//! Staff provisioning: creating users, customers, servers, distros and containers. Each
//! function validates its input first, writes in one transaction, and returns the created
//! object as JSON; a refusal is one sentence and writes nothing.

use anyhow::{anyhow, bail};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::auth::password;
use crate::db::models::container::Container;
use crate::db::models::customer::NewCustomer;
use crate::db::models::distro::Distro;
use crate::db::models::server::{Server, ServerMode};
use crate::db::models::user::{NewUser, Role, User};
use crate::db::queries::{customers, servers, users};
use crate::db::violated_constraint;
use crate::domain::ids::{CustomerId, DistroId};
use crate::domain::provision as provision_rules;
use crate::domain::staff_role::StaffRole;
use crate::domain::values::{Email, Password, Uid, Username};
use crate::error::Error;
use crate::ops::provision::{self, By};

/// Turns a constraint PostgreSQL enforced into a sentence; other errors pass through.
fn explain(error: diesel::result::Error, what: &str) -> anyhow::Error {
    let sentence = match violated_constraint(&error) {
        Some("users_username_key") => format!("the username '{what}' is already taken"),
        Some("servers_name_key") => format!("a server named '{what}' already exists"),
        Some("servers_address_key") => format!("a server with the address '{what}' already exists"),
        Some("distros_name_key") => format!("a distro named '{what}' already exists"),
        Some("distros_path_key") => format!("a distro with the path '{what}' already exists"),
        _ => return anyhow::Error::new(error).context("writing to the database"),
    };
    anyhow!(sentence)
}

fn field<T>(name: &str, parsed: Result<T, crate::domain::values::Invalid>) -> anyhow::Result<T> {
    parsed.map_err(|why| anyhow!("--{name}: {why}"))
}

fn user_json(user: &User) -> Value {
    let mut json =
        json!({ "id": user.id, "username": user.username, "email": user.email, "role": user.role });
    if let Some(staff_role) = user.staff_role() {
        json["staff_role"] = json!(staff_role);
    }
    json
}

pub fn add_staff(
    conn: &mut PgConnection,
    username: &str,
    email: &str,
    password: &str,
    staff_role: StaffRole,
) -> anyhow::Result<Value> {
    let username = field("username", Username::parse(username))?;
    let email = field("email", Email::parse(email))?;
    let password = field("password", Password::provisioned(password))?;
    let hash = password::hash(&password);
    let user = users::insert(
        conn,
        &NewUser {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &hash,
            role: Role::Staff.as_str(),
            customer_id: None,
            staff_role: Some(staff_role.as_str()),
        },
    )
    .map_err(|e| explain(e, username.as_str()))?;
    Ok(user_json(&user))
}

pub struct CustomerSpec<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub company: &'a str,
    pub vat: &'a str,
}

pub fn add_customer(conn: &mut PgConnection, spec: &CustomerSpec) -> anyhow::Result<Value> {
    let username = field("username", Username::parse(spec.username))?;
    let email = field("email", Email::parse(spec.email))?;
    let password = field("password", Password::provisioned(spec.password))?;
    let company = field("company", provision_rules::company(spec.company))?;
    let vat = field("vat", provision_rules::vat(spec.vat))?;
    let hash = password::hash(&password);
    conn.transaction(|conn| {
        let customer = customers::insert(conn, &NewCustomer { company: &company, vat: &vat })?;
        let user = users::insert(
            conn,
            &NewUser {
                username: username.as_str(),
                email: email.as_str(),
                password_hash: &hash,
                role: Role::Customer.as_str(),
                customer_id: Some(customer.id),
                staff_role: None,
            },
        )?;
        Ok::<_, diesel::result::Error>((customer, user))
    })
    .map(|(customer, user)| {
        let mut out = user_json(&user);
        out["customer"] = json!({
            "id": customer.id, "uuid": customer.uuid, "company": customer.company, "vat": customer.vat,
        });
        out
    })
    .map_err(|e| explain(e, username.as_str()))
}

pub fn add_server(
    conn: &mut PgConnection,
    name: &str,
    address: &str,
    memory: Option<i64>,
    storage: Option<i64>,
    mode: ServerMode,
) -> anyhow::Result<Value> {
    let fields = provision::ServerFields {
        name: name.to_owned(),
        address: address.to_owned(),
        memory,
        storage,
        mode,
    };
    let (server, token) = provision::create_server(conn, &By::Setup, &fields).map_err(worded)?;
    let mut json = server_json(&server);
    if let Some(token) = token {
        json["token"] = json!(token);
    }
    Ok(json)
}

/// Switches a server between running an agent and pulling its vassals from `/private`.
pub fn set_server_mode(
    conn: &mut PgConnection,
    name: &str,
    mode: ServerMode,
) -> anyhow::Result<Value> {
    let server =
        servers::set_mode(conn, name, mode)?.ok_or_else(|| anyhow!("no server named '{name}'"))?;
    Ok(server_json(&server))
}

fn server_json(server: &Server) -> Value {
    json!({
        "id": server.id, "name": server.name, "address": server.address,
        "memory": server.memory_mb, "storage": server.storage_mb, "mode": server.mode(),
    })
}

pub fn add_distro(
    conn: &mut PgConnection,
    name: &str,
    path: &str,
    note: &str,
) -> anyhow::Result<Value> {
    let fields = provision::DistroFields {
        name: name.to_owned(),
        path: path.to_owned(),
        note: note.to_owned(),
    };
    let distro = provision::create_distro(conn, &By::Setup, &fields).map_err(worded)?;
    Ok(distro_json(&distro))
}

fn distro_json(distro: &Distro) -> Value {
    json!({
        "id": distro.id, "name": distro.name, "path": distro.path, "note": distro.note,
        "retired": distro.retired_at.is_some(),
    })
}

pub struct ContainerSpec<'a> {
    pub customer: &'a str,
    pub server: &'a str,
    pub name: &'a str,
    pub memory: i64,
    pub storage: i64,
    pub distro: Option<i32>,
    pub storage_container: bool,
}

pub fn container_json(container: &Container, base_uid: u32) -> Value {
    json!({
        "uid": Uid::of(base_uid, container.id),
        "id": container.id,
        "name": container.name,
        "customer": container.customer_id,
        "server": container.server_id,
        "distro": container.distro_id,
        "custom_distros_storage": container.custom_distros_storage,
        "memory": container.memory_mb,
        "storage": container.storage_mb,
        "uuid": container.uuid,
    })
}

/// The customer a login belongs to, by the login's username.
fn customer_of(conn: &mut PgConnection, username: &str) -> anyhow::Result<CustomerId> {
    let user = users::by_username(conn, username)?
        .ok_or_else(|| anyhow!("no customer with the username '{username}'"))?;
    match (user.role(), user.customer_id) {
        (Role::Customer, Some(id)) => Ok(id),
        _ => bail!("'{username}' is a staff user, not a customer"),
    }
}

pub fn add_container(
    conn: &mut PgConnection,
    base_uid: u32,
    spec: &ContainerSpec,
) -> anyhow::Result<Value> {
    let customer = customer_of(conn, spec.customer)?;
    let server = provision::server_named(conn, spec.server).map_err(worded)?;
    let fields = provision::ContainerFields {
        name: spec.name.to_owned(),
        memory: spec.memory,
        storage: spec.storage,
        distro: spec.distro.map(DistroId),
        storage_container: spec.storage_container,
    };
    let container = provision::create_container(conn, &By::Setup, customer, server.id, &fields)
        .map_err(worded)?;
    Ok(container_json(&container, base_uid))
}

/// A refusal of `ops` as the command line says it: each bad field as its flag.
pub fn worded(error: Error) -> anyhow::Error {
    match error {
        Error::Invalid(fields) => anyhow!(
            "{}",
            fields
                .into_pairs()
                .into_iter()
                .map(|(field, why)| format!("--{field}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Error::Refused(refusal) => anyhow!("{}", refusal.reason()),
        Error::Conflict(why) => anyhow!("{why}"),
        Error::NotFound => anyhow!("there is no such thing"),
        other => anyhow!("{other}"),
    }
}

/// A new one-time set-password link for a login (customer or staff); the old password keeps
/// working until it is used.
pub fn new_link(conn: &mut PgConnection, username: &str) -> anyhow::Result<Value> {
    let user = users::by_username(conn, username)?
        .ok_or_else(|| anyhow!("no login with the username '{username}'"))?;
    let (user, link, expires_at) =
        provision::reset_link(conn, &By::CommandLine, user.id).map_err(worded)?;
    Ok(json!({
        "username": user.username,
        "path": link.path(),
        "expires_at": expires_at.to_rfc3339(),
    }))
}

/// Gives a server a new private-API token; prints it once.
pub fn rotate_token(conn: &mut PgConnection, name: &str) -> anyhow::Result<Value> {
    let server = provision::server_named(conn, name)
        .map_err(|_| anyhow!("there is no server named '{name}'"))?;
    let (server, token) =
        provision::rotate_server_token(conn, &By::CommandLine, server.id).map_err(worded)?;
    Ok(json!({ "server": server.name, "token": token }))
}

pub fn delete_container(conn: &mut PgConnection, base_uid: u32, uid: i64) -> anyhow::Result<Value> {
    let id = Uid::container_id(uid, base_uid)
        .ok_or_else(|| anyhow!("no container has the uid {uid}"))?;
    let container =
        provision::delete_container(conn, &By::CommandLine, base_uid, id).map_err(|e| match e {
            Error::NotFound => anyhow!("no container has the uid {uid}"),
            other => worded(other),
        })?;
    Ok(json!({ "deleted": container_json(&container, base_uid) }))
}

pub fn retire_distro(conn: &mut PgConnection, id: i32, retire: bool) -> anyhow::Result<Value> {
    let distro = provision::retire_distro(conn, &By::CommandLine, DistroId(id), retire).map_err(
        |e| match e {
            Error::NotFound => anyhow!("no platform distro with the id {id}"),
            other => worded(other),
        },
    )?;
    Ok(distro_json(&distro))
}

pub fn delete_distro(conn: &mut PgConnection, base_uid: u32, id: i32) -> anyhow::Result<Value> {
    let distro =
        provision::delete_distro(conn, &By::CommandLine, base_uid, DistroId(id)).map_err(|e| {
            match e {
                Error::NotFound => anyhow!("no platform distro with the id {id}"),
                other => worded(other),
            }
        })?;
    Ok(json!({ "deleted": distro_json(&distro) }))
}

/// Changes a member of staff's role (never leaving no admin); their sessions end.
pub fn set_staff_role(
    conn: &mut PgConnection,
    username: &str,
    role: StaffRole,
) -> anyhow::Result<Value> {
    let user = users::by_username(conn, username)?
        .ok_or_else(|| anyhow!("no login with the username '{username}'"))?;
    let (user, role) = provision::change_role(conn, &By::CommandLine, user.id, role.as_str())
        .map_err(|e| match e {
            Error::NotFound => anyhow!("'{username}' is not a member of staff"),
            other => worded(other),
        })?;
    Ok(json!({ "id": user.id, "username": user.username, "staff_role": role }))
}
