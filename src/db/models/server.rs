//! A row of `servers`, what an insert takes, and a server's mode.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::servers;
use crate::domain::ids::{CustomerId, ServerId};

/// How a container host gets its vassals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    /// A distropanel agent on the host prepares homes and writes the vassals (the supported way).
    Agent,
    /// No agent: the host fetches rendered vassals from `/private` and nothing prepares it.
    Pull,
}

impl ServerMode {
    pub fn from_pull(pull: bool) -> Self {
        if pull {
            ServerMode::Pull
        } else {
            ServerMode::Agent
        }
    }

    pub fn is_pull(self) -> bool {
        self == ServerMode::Pull
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServerMode::Agent => "agent",
            ServerMode::Pull => "pull",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = servers, check_for_backend(diesel::pg::Pg))]
pub struct Server {
    pub id: ServerId,
    pub name: String,
    pub address: String,
    pub memory_mb: Option<i32>,
    pub storage_mb: Option<i32>,
    pub customer_id: Option<CustomerId>,
    pub created_at: DateTime<Utc>,
    pub pull: bool,
}

impl Server {
    pub fn mode(&self) -> ServerMode {
        ServerMode::from_pull(self.pull)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = servers)]
pub struct NewServer<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub memory_mb: Option<i32>,
    pub storage_mb: Option<i32>,
    pub customer_id: Option<CustomerId>,
    pub pull: bool,
}
