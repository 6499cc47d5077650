//! A row of `api_tokens` and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::api_tokens;
use crate::domain::ids::{ApiTokenId, UserId};

/// A bearer token's row: its secret is never stored, only the SHA-256 of it.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Reads only: anything that changes state is refused to it.
    pub read_only: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken<'a> {
    pub user_id: UserId,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub read_only: bool,
}
