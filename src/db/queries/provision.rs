//! What provisioning reads and writes beyond the plain inserts: one-time set-password links,
//! customer and login edits, server tokens by id, a container's blockers, a platform distro's
//! users, and staff roles.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::container::Container;
use crate::db::models::customer::Customer;
use crate::db::models::distro::Distro;
use crate::db::models::server::Server;
use crate::db::models::user::User;
use crate::db::schema::{
    containers, custom_distros, customers, distros, jobs, password_links, servers, users,
};
use crate::domain::ids::{ContainerId, CustomerId, DistroId, ServerId, UserId};

/// A stored set-password link.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = password_links, check_for_backend(diesel::pg::Pg))]
pub struct PasswordLink {
    pub id: i32,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// Stores a new link for `user`; links of that user not yet used stop working.
pub fn replace_link(
    conn: &mut PgConnection,
    user: UserId,
    token_hash: &str,
    created_by: Option<UserId>,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::delete(
        password_links::table
            .filter(password_links::user_id.eq(user))
            .filter(password_links::used_at.is_null()),
    )
    .execute(conn)?;
    diesel::insert_into(password_links::table)
        .values((
            password_links::user_id.eq(user),
            password_links::token_hash.eq(token_hash),
            password_links::created_by.eq(created_by),
            password_links::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The link with this token hash, locked when `lock`.
pub fn link(
    conn: &mut PgConnection,
    token_hash: &str,
    lock: bool,
) -> QueryResult<Option<PasswordLink>> {
    let query = password_links::table
        .filter(password_links::token_hash.eq(token_hash))
        .select(PasswordLink::as_select());
    if lock {
        query.for_update().first(conn).optional()
    } else {
        query.first(conn).optional()
    }
}

pub fn mark_link_used(conn: &mut PgConnection, id: i32, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(password_links::table.find(id))
        .set(password_links::used_at.eq(now))
        .execute(conn)
}

pub fn update_customer(
    conn: &mut PgConnection,
    id: CustomerId,
    company: &str,
    vat: &str,
) -> QueryResult<Option<Customer>> {
    diesel::update(customers::table.find(id))
        .set((customers::company.eq(company), customers::vat.eq(vat)))
        .returning(Customer::as_returning())
        .get_result(conn)
        .optional()
}

pub fn logins_of(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::customer_id.eq(customer))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

pub fn set_email(conn: &mut PgConnection, user: UserId, email: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user))
        .set(users::email.eq(email))
        .execute(conn)
}

pub fn customers_by_company(conn: &mut PgConnection) -> QueryResult<Vec<Customer>> {
    customers::table
        .order((customers::company, customers::id))
        .select(Customer::as_select())
        .load(conn)
}

pub fn all_servers(conn: &mut PgConnection) -> QueryResult<Vec<Server>> {
    servers::table
        .order(servers::name)
        .select(Server::as_select())
        .load(conn)
}

pub fn server(conn: &mut PgConnection, id: ServerId) -> QueryResult<Option<Server>> {
    servers::table
        .find(id)
        .select(Server::as_select())
        .first(conn)
        .optional()
}

pub fn set_server_token(
    conn: &mut PgConnection,
    id: ServerId,
    token_hash: &str,
) -> QueryResult<Option<Server>> {
    diesel::update(servers::table.find(id))
        .set(servers::token_hash.eq(token_hash))
        .returning(Server::as_returning())
        .get_result(conn)
        .optional()
}

pub fn container(conn: &mut PgConnection, id: ContainerId) -> QueryResult<Option<Container>> {
    containers::table
        .find(id)
        .select(Container::as_select())
        .first(conn)
        .optional()
}

pub fn lock_container(conn: &mut PgConnection, id: ContainerId) -> QueryResult<Option<Container>> {
    containers::table
        .find(id)
        .select(Container::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// The names of the custom distros stored in the container.
pub fn stored_in(conn: &mut PgConnection, id: ContainerId) -> QueryResult<Vec<String>> {
    custom_distros::table
        .filter(custom_distros::container_id.eq(id))
        .order(custom_distros::name)
        .select(custom_distros::name)
        .load(conn)
}

/// The name of the custom distro the container is mapped onto.
pub fn mapped_onto(conn: &mut PgConnection, container: &Container) -> QueryResult<Option<String>> {
    match container.custom_distro_id {
        None => Ok(None),
        Some(id) => custom_distros::table
            .find(id)
            .select(custom_distros::name)
            .first(conn)
            .optional(),
    }
}

/// The container's queued, running and retrying jobs: (id, kind).
pub fn pending_jobs(conn: &mut PgConnection, id: ContainerId) -> QueryResult<Vec<(i64, String)>> {
    jobs::table
        .filter(jobs::container_id.eq(id))
        .filter(jobs::state.eq_any(["queued", "running", "retrying"]))
        .order(jobs::id)
        .select((jobs::id, jobs::kind))
        .load::<(crate::domain::ids::JobId, String)>(conn)
        .map(|rows| rows.into_iter().map(|(id, kind)| (id.0, kind)).collect())
}

/// The container's own columns staff edit.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = containers, treat_none_as_null = true)]
pub struct ContainerEdit {
    pub name: String,
    pub memory_mb: i32,
    pub storage_mb: i32,
    pub custom_distros_storage: bool,
    pub distro_id: Option<DistroId>,
    pub updated_at: DateTime<Utc>,
}

pub fn edit_container(
    conn: &mut PgConnection,
    id: ContainerId,
    edit: &ContainerEdit,
) -> QueryResult<Container> {
    diesel::update(containers::table.find(id))
        .set(edit)
        .returning(Container::as_returning())
        .get_result(conn)
}

pub fn delete_container(conn: &mut PgConnection, id: ContainerId) -> QueryResult<usize> {
    diesel::delete(containers::table.find(id)).execute(conn)
}

/// Every platform distro, retired ones too, by name.
pub fn distros_by_name(conn: &mut PgConnection) -> QueryResult<Vec<Distro>> {
    distros::table
        .order((distros::name, distros::id))
        .select(Distro::as_select())
        .load(conn)
}

pub fn lock_distro(conn: &mut PgConnection, id: DistroId) -> QueryResult<Option<Distro>> {
    distros::table
        .find(id)
        .select(Distro::as_select())
        .for_update()
        .first(conn)
        .optional()
}

pub fn edit_distro(
    conn: &mut PgConnection,
    id: DistroId,
    name: &str,
    note: &str,
) -> QueryResult<Option<Distro>> {
    diesel::update(distros::table.find(id))
        .set((distros::name.eq(name), distros::note.eq(note)))
        .returning(Distro::as_returning())
        .get_result(conn)
        .optional()
}

pub fn set_retired(
    conn: &mut PgConnection,
    id: DistroId,
    retired_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    diesel::update(distros::table.find(id))
        .set(distros::retired_at.eq(retired_at))
        .execute(conn)
}

pub fn delete_distro(conn: &mut PgConnection, id: DistroId) -> QueryResult<usize> {
    diesel::delete(distros::table.find(id)).execute(conn)
}

/// The containers whose default distro it is: (id, name), by id.
pub fn distro_users(
    conn: &mut PgConnection,
    id: DistroId,
) -> QueryResult<Vec<(ContainerId, String)>> {
    containers::table
        .filter(containers::distro_id.eq(id))
        .order(containers::id)
        .select((containers::id, containers::name))
        .load(conn)
}

/// Every member of staff, by username.
pub fn staff_members(conn: &mut PgConnection) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::role.eq("staff"))
        .order(users::username)
        .select(User::as_select())
        .load(conn)
}

/// The admins, locked, so two demotions cannot each leave the other as the last admin.
pub fn lock_admins(conn: &mut PgConnection) -> QueryResult<Vec<UserId>> {
    users::table
        .filter(users::role.eq("staff"))
        .filter(users::staff_role.eq("admin"))
        .order(users::id)
        .select(users::id)
        .for_update()
        .load(conn)
}

pub fn set_staff_role(conn: &mut PgConnection, user: UserId, role: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user).filter(users::role.eq("staff")))
        .set(users::staff_role.eq(role))
        .execute(conn)
}
