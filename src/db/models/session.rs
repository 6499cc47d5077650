//! A row of `sessions` as read back while live, and what an insert or rewrite takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::domain::ids::UserId;

/// A browser session as its owner sees it in the panel: never the key, only the public id.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct ActiveSession {
    pub public_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// What the session store writes: the state plus the columns drawn from it.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = sessions, treat_none_as_null = true)]
pub struct SessionWrite<'a> {
    pub key_hash: &'a str,
    pub user_id: Option<UserId>,
    pub public_id: Option<&'a str>,
    pub state: &'a serde_json::Value,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub last_seen: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
