//! Staff provisioning: creating users, customers, servers, distros and containers. Each
//! function validates its input first, writes in one transaction, and returns the created
//! object as JSON; a refusal is one sentence and writes nothing.

use anyhow::{Context, anyhow, bail};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::auth::password;
use crate::db::models::container::{Container, NewContainer};
use crate::db::models::customer::NewCustomer;
use crate::db::models::distro::NewDistro;
use crate::db::models::server::{NewServer, Server, ServerMode};
use crate::db::models::user::{NewUser, Role, User};
use crate::db::queries::{containers, customers, distros, servers, users};
use crate::db::violated_constraint;
use crate::domain::ids::DistroId;
use crate::domain::staff_role::StaffRole;
use crate::domain::values::{
    DisplayName, DistroPath, Email, Megabytes, Password, ServerAddress, ServerName, Uid, Username,
};

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
    if spec.company.chars().count() > 255 || spec.company.chars().any(char::is_control) {
        bail!("--company: at most 255 printable characters");
    }
    if spec.vat.chars().count() > 64 || spec.vat.chars().any(char::is_control) {
        bail!("--vat: at most 64 printable characters");
    }
    let hash = password::hash(&password);
    conn.transaction(|conn| {
        let customer = customers::insert(conn, &NewCustomer { company: spec.company, vat: spec.vat })?;
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
    let name = field("name", ServerName::parse(name))?;
    let address = field("address", ServerAddress::parse(address))?;
    let memory = memory
        .map(Megabytes::parse)
        .transpose()
        .map_err(|w| anyhow!("--memory: {w}"))?;
    let storage = storage
        .map(Megabytes::parse)
        .transpose()
        .map_err(|w| anyhow!("--storage: {w}"))?;
    let new = NewServer {
        name: name.as_str(),
        address: address.as_str(),
        memory_mb: memory.map(Megabytes::get),
        storage_mb: storage.map(Megabytes::get),
        customer_id: None,
        pull: mode.is_pull(),
    };
    let server = servers::insert(conn, &new).map_err(|e| match violated_constraint(&e) {
        Some("servers_address_key") => explain(e, address.as_str()),
        _ => explain(e, name.as_str()),
    })?;
    Ok(server_json(&server))
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
    let name = field("name", DisplayName::parse(name))?;
    let path = field("path", DistroPath::parse(path))?;
    let distro = distros::insert(
        conn,
        &NewDistro {
            name: name.as_str(),
            path: path.as_str(),
            note,
        },
    )
    .map_err(|e| match violated_constraint(&e) {
        Some("distros_path_key") => explain(e, path.as_str()),
        _ => explain(e, name.as_str()),
    })?;
    Ok(json!({ "id": distro.id, "name": distro.name, "path": distro.path, "note": distro.note }))
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

pub fn add_container(
    conn: &mut PgConnection,
    base_uid: u32,
    spec: &ContainerSpec,
) -> anyhow::Result<Value> {
    let name = field("name", DisplayName::parse(spec.name))?;
    let memory = field("memory", Megabytes::parse(spec.memory))?;
    let storage = field("storage", Megabytes::parse(spec.storage))?;
    let container = conn.transaction(|conn| -> anyhow::Result<Container> {
        let user = users::by_username(conn, spec.customer)?
            .ok_or_else(|| anyhow!("no customer with the username '{}'", spec.customer))?;
        let customer_id = match (user.role(), user.customer_id) {
            (Role::Customer, Some(id)) => id,
            _ => bail!("'{}' is a staff user, not a customer", spec.customer),
        };
        let server = servers::by_name(conn, spec.server)?
            .ok_or_else(|| anyhow!("no server named '{}'", spec.server))?;
        let server = servers::lock(conn, server.id)?;
        if let Some(id) = spec.distro {
            distros::find(conn, DistroId(id))?.ok_or_else(|| anyhow!("no platform distro with the id {id}"))?;
        }
        let (used_memory, used_storage) = servers::allocated(conn, server.id)?;
        let full = |capacity: Option<i32>, used: i64, asked: Megabytes, what: &str| -> anyhow::Result<()> {
            match capacity {
                Some(cap) if used + i64::from(asked.get()) > i64::from(cap) => bail!(
                    "server '{}' is full: {used} of {cap} MB of {what} are taken, {} MB more do not fit",
                    server.name,
                    asked.get()
                ),
                _ => Ok(()),
            }
        };
        full(server.memory_mb, used_memory, memory, "memory")?;
        full(server.storage_mb, used_storage, storage, "storage")?;
        let container = containers::insert(
            conn,
            &NewContainer {
                name: name.as_str(),
                customer_id,
                server_id: server.id,
                distro_id: spec.distro.map(DistroId),
                custom_distros_storage: spec.storage_container,
                memory_mb: memory.get(),
                storage_mb: storage.get(),
                note: "",
            },
        )
        .context("creating the container")?;
        Ok(container)
    })?;
    Ok(container_json(&container, base_uid))
}
