//! Provisioning by admin staff and the command line: customers and their logins (with one-time
//! set-password links), servers and their private-API tokens, containers, platform distros and
//! staff roles. Every function checks the rules of `domain::provision`, writes in one
//! transaction with its audit entry, and refuses with a sentence naming what blocks it.

use std::sync::LazyLock;

use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};

use crate::auth::guard::Staff;
use crate::auth::password;
use crate::auth::token;
use crate::db::models::container::{Container, NewContainer};
use crate::db::models::customer::{Customer, NewCustomer};
use crate::db::models::distro::{Distro, NewDistro};
use crate::db::models::event::NewEvent;
use crate::db::models::server::{NewServer, Server, ServerMode};
use crate::db::models::user::{NewUser, Role, User};
use crate::db::queries::provision::{self as q, ContainerEdit};
use crate::db::queries::{customers, distros, events, jobs, servers, sessions, users};
use crate::db::violated_constraint;
use crate::domain::fields::FieldErrors;
use crate::domain::ids::{ContainerId, CustomerId, DistroId, ServerId, UserId};
use crate::domain::policy::{self, ContainerChange, ContainerFacts};
use crate::domain::provision::{self as rules, ContainerBlockers, LINK_LIFETIME, LinkRefusal};
use crate::domain::staff_role::StaffRole;
use crate::domain::values::{
    DisplayName, DistroPath, Email, Megabytes, Password, ServerAddress, ServerName, Uid, Username,
};
use crate::error::Error;

/// Who provisions: a member of staff from the pages, or the command line on a server.
#[derive(Debug, Clone)]
pub enum By {
    Staff(Staff),
    /// The command line's changes to what exists (links, tokens, deletes, retirements).
    CommandLine,
    /// The command line's `add` commands and the demo's setup: their JSON line is their
    /// record, and they write no audit entry.
    Setup,
}

impl By {
    fn entry<'a>(
        &'a self,
        customer: Option<CustomerId>,
        container: Option<ContainerId>,
        action: &'a str,
        target: &'a str,
        detail: &'a str,
    ) -> NewEvent<'a> {
        match self {
            By::Staff(staff) => staff.audit(customer, container, action, target, detail),
            By::CommandLine | By::Setup => NewEvent {
                kind: "audit",
                actor: "command line",
                customer_id: customer,
                container_id: container,
                action,
                target,
                outcome: "ok",
                detail,
                ..Default::default()
            },
        }
    }

    fn audit(
        &self,
        conn: &mut PgConnection,
        customer: Option<CustomerId>,
        container: Option<ContainerId>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), Error> {
        if matches!(self, By::Setup) {
            return Ok(());
        }
        events::insert(
            conn,
            &self.entry(customer, container, action, target, detail),
        )?;
        Ok(())
    }

    fn user(&self) -> Option<UserId> {
        match self {
            By::Staff(staff) => Some(staff.session.user_id),
            By::CommandLine | By::Setup => None,
        }
    }
}

/// Turns a uniqueness or shape rule PostgreSQL enforced into a refused field.
fn clash(error: diesel::result::Error) -> Error {
    let (field, why) = match violated_constraint(&error) {
        Some("users_username_key") => ("username", "is already taken"),
        Some("servers_name_key") => ("name", "a server with this name already exists"),
        Some("servers_address_key") => ("address", "a server with this address already exists"),
        Some("distros_name_key") => ("name", "a distro with this name already exists"),
        Some("distros_path_key") => ("path", "a distro with this path already exists"),
        Some("custom_distros_storage_fkey") => (
            "storage",
            "it stores custom distros: delete them before it stops storing",
        ),
        Some("containers_storage_no_custom_distro") => (
            "storage",
            "it is mapped onto a custom distro: a storage container cannot be",
        ),
        Some("containers_custom_distro_needs_fallback") => (
            "distro",
            "it is mapped onto a custom distro, which needs a default distro to fall back to",
        ),
        _ => return Error::from(error),
    };
    Error::invalid(field, why)
}

fn done(errors: FieldErrors) -> Result<(), Error> {
    errors.finish().map_err(Error::Invalid)
}

/// A one-time set-password link's secret, as it goes into the URL.
pub struct LinkSecret(String);

impl LinkSecret {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The path of the page that takes it.
    pub fn path(&self) -> String {
        format!("/set-password/{}", self.0)
    }
}

/// The hash a login made without a password starts with: of a random secret nobody ever
/// sees, so no password logs in until one is set through the link.
static UNUSABLE_HASH: LazyLock<String> = LazyLock::new(|| {
    let secret = LinkSecret::generate();
    password::hash(&Password::provisioned(secret.expose()).expect("a random secret is non-empty"))
});

/// A new login, made by staff: what the user gets shown once.
pub struct NewLogin {
    pub user: User,
    pub link: LinkSecret,
    pub expires_at: DateTime<Utc>,
}

fn issue_link_in(
    conn: &mut PgConnection,
    by: &By,
    user: &User,
    action: &str,
) -> Result<(LinkSecret, DateTime<Utc>), Error> {
    let link = LinkSecret::generate();
    let expires_at = Utc::now() + LINK_LIFETIME;
    q::replace_link(
        conn,
        user.id,
        &token::digest(link.expose()),
        by.user(),
        expires_at,
    )?;
    let detail = format!("link expires {}", expires_at.format("%Y-%m-%d %H:%M UTC"));
    by.audit(
        conn,
        user.customer_id,
        None,
        action,
        &user.username,
        &detail,
    )?;
    Ok((link, expires_at))
}

fn insert_login(
    conn: &mut PgConnection,
    by: &By,
    username: &Username,
    email: &Email,
    customer: Option<CustomerId>,
    staff_role: Option<StaffRole>,
    action: &str,
) -> Result<NewLogin, Error> {
    let user = users::insert(
        conn,
        &NewUser {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &UNUSABLE_HASH,
            role: if customer.is_some() {
                Role::Customer.as_str()
            } else {
                Role::Staff.as_str()
            },
            customer_id: customer,
            staff_role: staff_role.map(StaffRole::as_str),
        },
    )
    .map_err(clash)?;
    let (link, expires_at) = issue_link_in(conn, by, &user, action)?;
    Ok(NewLogin {
        user,
        link,
        expires_at,
    })
}

/// What a customer form holds.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub company: String,
    pub vat: String,
}

fn check_customer(fields: &CustomerFields, errors: &mut FieldErrors) -> Option<(String, String)> {
    let company = errors.check("company", rules::company(&fields.company));
    let vat = errors.check("vat", rules::vat(&fields.vat));
    company.zip(vat)
}

/// Creates a customer with its first login; the login gets a one-time set-password link.
pub fn create_customer(
    conn: &mut PgConnection,
    by: &By,
    fields: &CustomerFields,
    username: &str,
    email: &str,
) -> Result<(Customer, NewLogin), Error> {
    let mut errors = FieldErrors::default();
    let checked = check_customer(fields, &mut errors);
    let username = errors.check("username", Username::parse(username.trim()));
    let email = errors.check("email", Email::parse(email.trim()));
    done(errors)?;
    let ((company, vat), username, email) = (checked.unwrap(), username.unwrap(), email.unwrap());
    LazyLock::force(&UNUSABLE_HASH);
    conn.transaction(|conn| {
        let customer = customers::insert(
            conn,
            &NewCustomer {
                company: &company,
                vat: &vat,
            },
        )?;
        let detail = format!("company '{company}', VAT '{vat}'");
        by.audit(
            conn,
            Some(customer.id),
            None,
            "create customer",
            &format!("customer {}", customer.id),
            &detail,
        )?;
        let login = insert_login(
            conn,
            by,
            &username,
            &email,
            Some(customer.id),
            None,
            "create login",
        )?;
        Ok((customer, login))
    })
}

/// Changes a customer's company and VAT number, and the e-mail of its logins (user id → e-mail).
pub fn edit_customer(
    conn: &mut PgConnection,
    by: &By,
    id: CustomerId,
    fields: &CustomerFields,
    emails: &[(UserId, String)],
) -> Result<Customer, Error> {
    let mut errors = FieldErrors::default();
    let checked = check_customer(fields, &mut errors);
    let emails: Vec<(UserId, Option<Email>)> = emails
        .iter()
        .map(|(user, raw)| {
            (
                *user,
                errors.check(&format!("email.{user}"), Email::parse(raw.trim())),
            )
        })
        .collect();
    done(errors)?;
    let (company, vat) = checked.unwrap();
    conn.transaction(|conn| {
        let before = customers::find(conn, id)?.ok_or(Error::NotFound)?;
        let customer = q::update_customer(conn, id, &company, &vat)?.ok_or(Error::NotFound)?;
        let logins = q::logins_of(conn, id)?;
        let mut changed = Vec::new();
        if before.company != company {
            changed.push(format!("company '{}' → '{company}'", before.company));
        }
        if before.vat != vat {
            changed.push(format!("VAT '{}' → '{vat}'", before.vat));
        }
        for (user, email) in emails {
            let email = email.expect("checked above");
            let login = logins
                .iter()
                .find(|l| l.id == user)
                .ok_or(Error::NotFound)?;
            if login.email != email.as_str() {
                q::set_email(conn, user, email.as_str())?;
                changed.push(format!(
                    "e-mail of {} '{}' → '{email}'",
                    login.username, login.email
                ));
            }
        }
        let detail = if changed.is_empty() {
            "nothing changed".to_owned()
        } else {
            changed.join("; ")
        };
        by.audit(
            conn,
            Some(id),
            None,
            "edit customer",
            &format!("customer {id}"),
            &detail,
        )?;
        Ok(customer)
    })
}

/// Adds a login to a customer; it gets a one-time set-password link.
pub fn add_login(
    conn: &mut PgConnection,
    by: &By,
    customer: CustomerId,
    username: &str,
    email: &str,
) -> Result<NewLogin, Error> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(username.trim()));
    let email = errors.check("email", Email::parse(email.trim()));
    done(errors)?;
    LazyLock::force(&UNUSABLE_HASH);
    conn.transaction(|conn| {
        customers::find(conn, customer)?.ok_or(Error::NotFound)?;
        insert_login(
            conn,
            by,
            &username.unwrap(),
            &email.unwrap(),
            Some(customer),
            None,
            "create login",
        )
    })
}

/// Adds a member of staff; they get a one-time set-password link.
pub fn add_member(
    conn: &mut PgConnection,
    by: &By,
    username: &str,
    email: &str,
    role: &str,
) -> Result<NewLogin, Error> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(username.trim()));
    let email = errors.check("email", Email::parse(email.trim()));
    let role = errors.check("role", role.parse::<StaffRole>());
    done(errors)?;
    LazyLock::force(&UNUSABLE_HASH);
    conn.transaction(|conn| {
        insert_login(
            conn,
            by,
            &username.unwrap(),
            &email.unwrap(),
            None,
            role,
            "create staff member",
        )
    })
}

/// A new one-time link for an existing login (a password reset); earlier unused links stop
/// working. The current password keeps working until the link is used.
pub fn reset_link(
    conn: &mut PgConnection,
    by: &By,
    user: UserId,
) -> Result<(User, LinkSecret, DateTime<Utc>), Error> {
    conn.transaction(|conn| {
        let user = users::find(conn, user)?.ok_or(Error::NotFound)?;
        let (link, expires_at) = issue_link_in(conn, by, &user, "issue set-password link")?;
        Ok((user, link, expires_at))
    })
}

/// The login a link would set the password of, or why it does not work.
pub fn link_holder(
    conn: &mut PgConnection,
    secret: &str,
) -> Result<Result<User, LinkRefusal>, Error> {
    let Some(link) = q::link(conn, &token::digest(secret), false)? else {
        return Ok(Err(LinkRefusal::Unknown));
    };
    if let Some(refusal) = rules::link_refusal(link.expires_at, link.used_at, Utc::now()) {
        return Ok(Err(refusal));
    }
    let user = users::find(conn, link.user_id)?.ok_or(Error::NotFound)?;
    Ok(Ok(user))
}

/// Sets the password a link was made for (`hash` of a checked [`Password`]), once: the link
/// is spent, and the login's sessions end. A used or expired link changes nothing.
pub fn use_link(
    conn: &mut PgConnection,
    secret: &str,
    hash: &str,
    address: &str,
) -> Result<Result<User, LinkRefusal>, Error> {
    conn.transaction(|conn| {
        let Some(link) = q::link(conn, &token::digest(secret), true)? else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        let now = Utc::now();
        if let Some(refusal) = rules::link_refusal(link.expires_at, link.used_at, now) {
            return Ok(Err(refusal));
        }
        let user = users::find(conn, link.user_id)?.ok_or(Error::NotFound)?;
        users::change_password(conn, user.id, hash, now)?;
        q::mark_link_used(conn, link.id, now)?;
        let ended = sessions::end_all_for_user_except(conn, user.id, None)?;
        let detail = format!("{ended} session(s) ended");
        events::insert(
            conn,
            &NewEvent {
                kind: "audit",
                actor_user_id: Some(user.id),
                actor: &user.username,
                customer_id: user.customer_id,
                action: "set password through link",
                target: &user.username,
                outcome: "ok",
                detail: &detail,
                ip: Some(address),
                ..Default::default()
            },
        )?;
        Ok(Ok(user))
    })
}

/// What a server form holds.
#[derive(Debug, Clone)]
pub struct ServerFields {
    pub name: String,
    pub address: String,
    pub memory: Option<i64>,
    pub storage: Option<i64>,
    pub mode: ServerMode,
}

fn new_server_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Creates a server; a `pull` one gets its private-API token, returned once.
pub fn create_server(
    conn: &mut PgConnection,
    by: &By,
    fields: &ServerFields,
) -> Result<(Server, Option<String>), Error> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", ServerName::parse(fields.name.trim()));
    let address = errors.check("address", ServerAddress::parse(fields.address.trim()));
    let memory = fields
        .memory
        .map(|mb| errors.check("memory", Megabytes::parse(mb)))
        .unwrap_or(None);
    let storage = fields
        .storage
        .map(|mb| errors.check("storage", Megabytes::parse(mb)))
        .unwrap_or(None);
    done(errors)?;
    let (name, address) = (name.unwrap(), address.unwrap());
    conn.transaction(|conn| {
        let server = servers::insert(
            conn,
            &NewServer {
                name: name.as_str(),
                address: address.as_str(),
                memory_mb: memory.map(Megabytes::get),
                storage_mb: storage.map(Megabytes::get),
                customer_id: None,
                pull: fields.mode.is_pull(),
            },
        )
        .map_err(clash)?;
        let token = if fields.mode.is_pull() {
            let token = new_server_token();
            q::set_server_token(conn, server.id, &token::digest(&token))?;
            Some(token)
        } else {
            None
        };
        let detail = format!(
            "address {}, mode {}",
            server.address,
            server.mode().as_str()
        );
        by.audit(conn, None, None, "create server", &server.name, &detail)?;
        Ok((server, token))
    })
}

/// Gives a server a new private-API token (the old one stops working); returned once.
pub fn rotate_server_token(
    conn: &mut PgConnection,
    by: &By,
    id: ServerId,
) -> Result<(Server, String), Error> {
    let token = new_server_token();
    conn.transaction(|conn| {
        let server =
            q::set_server_token(conn, id, &token::digest(&token))?.ok_or(Error::NotFound)?;
        by.audit(
            conn,
            None,
            None,
            "rotate server token",
            &server.name,
            "the previous token stopped working",
        )?;
        Ok((server, token))
    })
}

/// Finds a server by name, for the command line.
pub fn server_named(conn: &mut PgConnection, name: &str) -> Result<Server, Error> {
    servers::by_name(conn, name)?
        .ok_or_else(|| Error::invalid("server", format!("there is no server named '{name}'")))
}

/// What a container form holds.
#[derive(Debug, Clone)]
pub struct ContainerFields {
    pub name: String,
    pub memory: i64,
    pub storage: i64,
    pub distro: Option<DistroId>,
    pub storage_container: bool,
}

struct CheckedContainer {
    name: DisplayName,
    memory: Megabytes,
    storage: Megabytes,
}

fn check_container(fields: &ContainerFields) -> Result<CheckedContainer, Error> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", DisplayName::parse(fields.name.trim()));
    let memory = errors.check("memory", Megabytes::parse(fields.memory));
    let storage = errors.check("storage", Megabytes::parse(fields.storage));
    done(errors)?;
    Ok(CheckedContainer {
        name: name.unwrap(),
        memory: memory.unwrap(),
        storage: storage.unwrap(),
    })
}

/// Refuses a platform distro that does not exist, or is retired and not the current one.
fn check_distro_choice(
    conn: &mut PgConnection,
    chosen: Option<DistroId>,
    current: Option<DistroId>,
) -> Result<(), Error> {
    let Some(id) = chosen else { return Ok(()) };
    let distro = distros::find(conn, id)?
        .ok_or_else(|| Error::invalid("distro", format!("there is no platform distro {id}")))?;
    match rules::distro_choice_refusal(
        &distro.name,
        distro.retired_at.is_some(),
        current == Some(id),
    ) {
        Some(why) => Err(Error::invalid("distro", why)),
        None => Ok(()),
    }
}

/// Refuses what does not fit in the server's memory or storage; `freed` is what the container
/// being edited holds already.
fn check_capacity(
    conn: &mut PgConnection,
    server: &Server,
    asked: (i32, i32),
    freed: (i32, i32),
) -> Result<(), Error> {
    let (used_memory, used_storage) = servers::allocated(conn, server.id)?;
    let mut errors = FieldErrors::default();
    let mut fits = |field: &str, capacity: Option<i32>, used: i64, asked: i32, freed: i32| {
        if let Some(cap) = capacity
            && used - i64::from(freed) + i64::from(asked) > i64::from(cap)
        {
            errors.add(
                field,
                format!(
                    "server '{}' is full: {} of {cap} MB are taken by other containers, {asked} MB more do not fit",
                    server.name,
                    used - i64::from(freed)
                ),
            );
        }
    };
    fits("memory", server.memory_mb, used_memory, asked.0, freed.0);
    fits("storage", server.storage_mb, used_storage, asked.1, freed.1);
    done(errors)
}

/// Creates a container for a customer on a server.
pub fn create_container(
    conn: &mut PgConnection,
    by: &By,
    customer: CustomerId,
    server: ServerId,
    fields: &ContainerFields,
) -> Result<Container, Error> {
    let checked = check_container(fields)?;
    conn.transaction(|conn| {
        customers::find(conn, customer)?
            .ok_or_else(|| Error::invalid("customer", "there is no such customer"))?;
        let server = servers::lock(conn, server)
            .map_err(|_| Error::invalid("server", "there is no such server"))?;
        check_distro_choice(conn, fields.distro, None)?;
        check_capacity(
            conn,
            &server,
            (checked.memory.get(), checked.storage.get()),
            (0, 0),
        )?;
        let container = crate::db::queries::containers::insert(
            conn,
            &NewContainer {
                name: checked.name.as_str(),
                customer_id: customer,
                server_id: server.id,
                distro_id: fields.distro,
                custom_distros_storage: fields.storage_container,
                memory_mb: checked.memory.get(),
                storage_mb: checked.storage.get(),
                note: "",
            },
        )?;
        let detail = format!(
            "on server '{}', {} MB memory, {} MB storage",
            server.name, container.memory_mb, container.storage_mb
        );
        by.audit(
            conn,
            Some(customer),
            Some(container.id),
            "create container",
            &container.name,
            &detail,
        )?;
        Ok(container)
    })
}

/// Changes a container's name, memory, storage quota, custom-distros storage and default
/// distro, under the same rules as the customer's changes; a change the host must see
/// restarts it.
pub fn edit_container(
    conn: &mut PgConnection,
    by: &By,
    id: ContainerId,
    fields: &ContainerFields,
) -> Result<Container, Error> {
    let checked = check_container(fields)?;
    conn.transaction(|conn| {
        let before = q::lock_container(conn, id)?.ok_or(Error::NotFound)?;
        let server = servers::lock(conn, before.server_id)?;
        check_distro_choice(conn, fields.distro, before.distro_id)?;
        check_capacity(
            conn,
            &server,
            (checked.memory.get(), checked.storage.get()),
            (before.memory_mb, before.storage_mb),
        )?;
        let stored = if before.custom_distros_storage && !fields.storage_container {
            q::stored_in(conn, id)?
        } else {
            Vec::new()
        };
        let mut facts = ContainerFacts::from(&before);
        if let Some((_, name)) = &mut facts.custom_distro {
            *name = q::mapped_onto(conn, &before)?.unwrap_or_default();
        }
        let effects = policy::plan_container_change(
            &facts,
            &stored,
            &ContainerChange {
                storage: Some(fields.storage_container),
                default_distro: fields.distro,
                custom_distro: None,
                ssh_keys_changed: false,
                reboot: false,
            },
        )?;
        let now = Utc::now();
        let after = q::edit_container(
            conn,
            id,
            &ContainerEdit {
                name: checked.name.into_inner(),
                memory_mb: checked.memory.get(),
                storage_mb: checked.storage.get(),
                custom_distros_storage: fields.storage_container,
                distro_id: fields.distro,
                updated_at: now,
            },
        )
        .map_err(clash)?;
        let mut changed = Vec::new();
        let mut note = |what: &str, from: String, to: String| {
            if from != to {
                changed.push(format!("{what} {from} → {to}"));
            }
        };
        note("name", before.name.clone(), after.name.clone());
        note(
            "memory",
            format!("{} MB", before.memory_mb),
            format!("{} MB", after.memory_mb),
        );
        note(
            "storage",
            format!("{} MB", before.storage_mb),
            format!("{} MB", after.storage_mb),
        );
        note(
            "custom distros storage",
            before.custom_distros_storage.to_string(),
            after.custom_distros_storage.to_string(),
        );
        let distro_text = |d: Option<DistroId>| d.map_or("none".to_owned(), |d| d.to_string());
        note(
            "default distro",
            distro_text(before.distro_id),
            distro_text(after.distro_id),
        );
        let restart = effects.restart
            || before.memory_mb != after.memory_mb
            || before.storage_mb != after.storage_mb;
        if effects.ensure_storage_dir {
            jobs::enqueue(conn, &crate::jobs::ensure_storage_dir(&after))?;
        }
        if restart {
            jobs::enqueue(conn, &crate::jobs::restart(&after))?;
            changed.push("restart queued".into());
        }
        let detail = if changed.is_empty() {
            "nothing changed".to_owned()
        } else {
            changed.join("; ")
        };
        by.audit(
            conn,
            Some(after.customer_id),
            Some(id),
            "edit container",
            &after.name,
            &detail,
        )?;
        Ok(after)
    })
}

/// What keeps the container from being deleted now.
pub fn container_blockers(
    conn: &mut PgConnection,
    container: &Container,
) -> Result<ContainerBlockers, Error> {
    Ok(ContainerBlockers {
        stored: q::stored_in(conn, container.id)?,
        mapped_onto: q::mapped_onto(conn, container)?,
        pending_jobs: q::pending_jobs(conn, container.id)?,
    })
}

/// Deletes a container, unless it stores custom distros, is mapped onto one, or has pending
/// jobs: the refusal names each. Its home on the host is left for the host's admin.
pub fn delete_container(
    conn: &mut PgConnection,
    by: &By,
    base_uid: u32,
    id: ContainerId,
) -> Result<Container, Error> {
    conn.transaction(|conn| {
        let container = q::lock_container(conn, id)?.ok_or(Error::NotFound)?;
        if let Some(why) = container_blockers(conn, &container)?.refusal(&container.name) {
            return Err(Error::Conflict(why));
        }
        q::delete_container(conn, id)?;
        let detail = format!(
            "uid {}, server {}",
            Uid::of(base_uid, id).get(),
            container.server_id
        );
        by.audit(
            conn,
            Some(container.customer_id),
            None,
            "delete container",
            &container.name,
            &detail,
        )?;
        Ok(container)
    })
}

/// What a platform distro form holds.
#[derive(Debug, Clone, Default)]
pub struct DistroFields {
    pub name: String,
    pub path: String,
    pub note: String,
}

fn check_note(errors: &mut FieldErrors, note: &str) -> Option<String> {
    errors.check("note", crate::domain::fields::plain_text(note, 1000))
}

pub fn create_distro(
    conn: &mut PgConnection,
    by: &By,
    fields: &DistroFields,
) -> Result<Distro, Error> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", DisplayName::parse(fields.name.trim()));
    let path = errors.check("path", DistroPath::parse(fields.path.trim()));
    let note = check_note(&mut errors, &fields.note);
    done(errors)?;
    let (name, path, note) = (name.unwrap(), path.unwrap(), note.unwrap());
    conn.transaction(|conn| {
        let distro = distros::insert(
            conn,
            &NewDistro {
                name: name.as_str(),
                path: path.as_str(),
                note: &note,
            },
        )
        .map_err(clash)?;
        let detail = format!("path {}", distro.path);
        by.audit(conn, None, None, "create distro", &distro.name, &detail)?;
        Ok(distro)
    })
}

/// Renames a platform distro or changes its note; its path (a directory on every host) stays.
pub fn edit_distro(
    conn: &mut PgConnection,
    by: &By,
    id: DistroId,
    fields: &DistroFields,
) -> Result<Distro, Error> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", DisplayName::parse(fields.name.trim()));
    let note = check_note(&mut errors, &fields.note);
    done(errors)?;
    let (name, note) = (name.unwrap(), note.unwrap());
    conn.transaction(|conn| {
        let before = q::lock_distro(conn, id)?.ok_or(Error::NotFound)?;
        let distro = q::edit_distro(conn, id, name.as_str(), &note)
            .map_err(clash)?
            .ok_or(Error::NotFound)?;
        let detail = if before.name != distro.name {
            format!("renamed from '{}'", before.name)
        } else {
            "note changed".to_owned()
        };
        by.audit(conn, None, None, "edit distro", &distro.name, &detail)?;
        Ok(distro)
    })
}

/// Retires a platform distro (no longer offered for new choices; containers that have it
/// keep it), or brings it back when `retire` is false.
pub fn retire_distro(
    conn: &mut PgConnection,
    by: &By,
    id: DistroId,
    retire: bool,
) -> Result<Distro, Error> {
    conn.transaction(|conn| {
        let distro = q::lock_distro(conn, id)?.ok_or(Error::NotFound)?;
        let at = if retire {
            Some(distro.retired_at.unwrap_or_else(Utc::now))
        } else {
            None
        };
        q::set_retired(conn, id, at)?;
        let action = if retire {
            "retire distro"
        } else {
            "restore distro"
        };
        by.audit(conn, None, None, action, &distro.name, "")?;
        Ok(Distro {
            retired_at: at,
            ..distro
        })
    })
}

/// The containers (uid, name) whose default distro it is.
pub fn distro_users(
    conn: &mut PgConnection,
    base_uid: u32,
    id: DistroId,
) -> Result<Vec<(i64, String)>, Error> {
    Ok(q::distro_users(conn, id)?
        .into_iter()
        .map(|(id, name)| (Uid::of(base_uid, id).get(), name))
        .collect())
}

/// Deletes a platform distro no container uses; the refusal names the containers that do.
pub fn delete_distro(
    conn: &mut PgConnection,
    by: &By,
    base_uid: u32,
    id: DistroId,
) -> Result<Distro, Error> {
    conn.transaction(|conn| {
        let distro = q::lock_distro(conn, id)?.ok_or(Error::NotFound)?;
        let users = distro_users(conn, base_uid, id)?;
        if let Some(why) = rules::distro_delete_refusal(&distro.name, &users) {
            return Err(Error::Conflict(why));
        }
        q::delete_distro(conn, id)?;
        let detail = format!("path {}", distro.path);
        by.audit(conn, None, None, "delete distro", &distro.name, &detail)?;
        Ok(distro)
    })
}

/// Changes a member's role, refusing to demote the last admin; the member's sessions end, so
/// the new role applies from their next login.
pub fn change_role(
    conn: &mut PgConnection,
    by: &By,
    member: UserId,
    role: &str,
) -> Result<(User, StaffRole), Error> {
    let wanted = role
        .parse::<StaffRole>()
        .map_err(|why| Error::invalid("role", why))?;
    conn.transaction(|conn| {
        let admins = q::lock_admins(conn)?;
        let user = users::find(conn, member)?.ok_or(Error::NotFound)?;
        let current = user.staff_role().ok_or(Error::NotFound)?;
        if let Some(why) =
            rules::role_change_refusal(&user.username, current, wanted, admins.len() as i64)
        {
            return Err(Error::Conflict(why));
        }
        q::set_staff_role(conn, member, wanted.as_str())?;
        let ended = sessions::end_all_for_user_except(conn, member, None)?;
        let detail = format!("{current} → {wanted}; {ended} session(s) ended");
        by.audit(
            conn,
            None,
            None,
            "change staff role",
            &user.username,
            &detail,
        )?;
        Ok((user, wanted))
    })
}
