//! The staff search: customers (by company, a login's username or e-mail), containers,
//! servers and distros whose name holds a fragment. Every `ILIKE '%…%'` here is served by a
//! trigram index (migration `staff_search`); the best matches come first by similarity.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::db::queries::staff_views::like_pattern;

/// Matches shown per kind of thing; one more is read to know there are more.
pub const SHOWN: i64 = 10;

#[derive(Debug, Clone, QueryableByName)]
pub struct FoundCustomer {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub company: String,
    /// The login that matched, `username <e-mail>`, when the company did not.
    #[diesel(sql_type = Nullable<Text>)]
    pub login: Option<String>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct FoundContainer {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Integer)]
    pub customer_id: i32,
    #[diesel(sql_type = Text)]
    pub company: String,
    #[diesel(sql_type = Text)]
    pub server: String,
}

/// A server, platform distro or custom distro: its id and name, and for a custom distro
/// whose it is.
#[derive(Debug, Clone, QueryableByName)]
pub struct FoundNamed {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub owner: Option<String>,
}

/// Everything a fragment matched, each kind at most [`SHOWN`] + 1 rows.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub customers: Vec<FoundCustomer>,
    pub containers: Vec<FoundContainer>,
    pub servers: Vec<FoundNamed>,
    pub distros: Vec<FoundNamed>,
    pub custom_distros: Vec<FoundNamed>,
}

impl Found {
    pub fn total(&self) -> usize {
        self.customers.len()
            + self.containers.len()
            + self.servers.len()
            + self.distros.len()
            + self.custom_distros.len()
    }
}

/// Everything whose name, company, username or e-mail holds `fragment` (wildcards taken
/// literally), best matches first.
pub fn fragment(conn: &mut PgConnection, fragment: &str) -> QueryResult<Found> {
    let pattern = like_pattern(fragment);
    let limit = SHOWN + 1;
    // a customer matched by its company and by a login is listed once, by its best match
    let customers = diesel::sql_query(
        "SELECT id, company, login FROM ( \
           SELECT DISTINCT ON (id) id, company, login, score FROM ( \
             SELECT cu.id, cu.company, NULL::text AS login, similarity(cu.company, $2) AS score \
             FROM customers cu WHERE cu.company ILIKE $1 \
             UNION ALL \
             SELECT cu.id, cu.company, u.username || ' <' || u.email || '>', \
                    greatest(similarity(u.username, $2), similarity(u.email, $2)) \
             FROM users u JOIN customers cu ON cu.id = u.customer_id \
             WHERE u.username ILIKE $1 OR u.email ILIKE $1 \
           ) m ORDER BY id, score DESC \
         ) best ORDER BY score DESC, id LIMIT $3",
    )
    .bind::<Text, _>(&pattern)
    .bind::<Text, _>(fragment)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let containers = diesel::sql_query(
        "SELECT c.id, c.name, c.customer_id, cu.company, s.name AS server \
         FROM containers c \
         JOIN customers cu ON cu.id = c.customer_id \
         JOIN servers s ON s.id = c.server_id \
         WHERE c.name ILIKE $1 \
         ORDER BY similarity(c.name, $2) DESC, c.id LIMIT $3",
    )
    .bind::<Text, _>(&pattern)
    .bind::<Text, _>(fragment)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let servers = diesel::sql_query(
        "SELECT id, name, NULL::text AS owner FROM servers WHERE name ILIKE $1 \
         ORDER BY similarity(name, $2) DESC, id LIMIT $3",
    )
    .bind::<Text, _>(&pattern)
    .bind::<Text, _>(fragment)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let distros = diesel::sql_query(
        "SELECT id, name, NULL::text AS owner FROM distros WHERE name ILIKE $1 \
         ORDER BY similarity(name, $2) DESC, id LIMIT $3",
    )
    .bind::<Text, _>(&pattern)
    .bind::<Text, _>(fragment)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let custom_distros = diesel::sql_query(
        "SELECT cd.id, cd.name, cu.company AS owner FROM custom_distros cd \
         JOIN customers cu ON cu.id = cd.customer_id WHERE cd.name ILIKE $1 \
         ORDER BY similarity(cd.name, $2) DESC, cd.id LIMIT $3",
    )
    .bind::<Text, _>(&pattern)
    .bind::<Text, _>(fragment)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(Found {
        customers,
        containers,
        servers,
        distros,
        custom_distros,
    })
}

/// Whether a container with this id exists.
pub fn container_exists(conn: &mut PgConnection, id: i32) -> QueryResult<bool> {
    use crate::db::schema::containers;
    diesel::select(diesel::dsl::exists(containers::table.find(id))).get_result(conn)
}

/// Whether a customer with this id exists.
pub fn customer_exists(conn: &mut PgConnection, id: i32) -> QueryResult<bool> {
    use crate::db::schema::customers;
    diesel::select(diesel::dsl::exists(customers::table.find(id))).get_result(conn)
}
