//! What a use case (`ops`), an authentication (`auth`) or housekeeping (`jobs`) can answer
//! when it does not succeed: one closed set of cases, with no wording for any audience.
//! `web` alone turns an [`Error`] into an HTML page, an htmx fragment or a uwsgi.it JSON body.
//!
//! - A missing id and someone else's id are one case, [`Error::NotFound`].
//! - [`Error::Internal`] carries the cause for the log; it is never shown.
//! - `db/` returns `QueryResult`: an unmapped database error is `Internal`, an unreachable
//!   database `Unavailable`, and a panic in a database task `Internal` again.

use std::fmt;

use crate::db::Unavailable;
use crate::db::models::job::Job;
use crate::domain::fields::FieldErrors;
use crate::domain::refusal::{Race, Refusal};

#[derive(Debug)]
pub enum Error {
    /// The domain's rules refuse it, naming what blocks it.
    Refused(Refusal),
    /// A rule PostgreSQL enforced against a change made meanwhile.
    Raced(Race),
    /// Readable, but fields are invalid.
    Invalid(FieldErrors),
    /// Not there, or not the caller's.
    NotFound,
    /// Clashes with what is stored; the sentence says what and what to do.
    Conflict(String),
    /// Another job is pending where only one may be; the sentence says what to do, and the
    /// pending job is shown.
    JobPending {
        reason: String,
        job: Box<Job>,
    },
    /// Over a quota on the shared parts; the sentence names it and says what to do.
    OverQuota(String),
    /// Over a size limit; the sentence says which and what to do.
    TooLarge(String),
    /// The body could not be read at all (it broke off).
    Unreadable(String),
    /// The body is of a kind that is not taken (an upload that is no archive); the sentence
    /// says what was expected.
    Unsupported(String),
    /// No credentials, or wrong ones.
    Unauthorized,
    /// Authenticated, but never allowed; the sentence says why.
    Forbidden(String),
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// Too much of a bounded kind of work (password checks) is under way; try again shortly.
    Busy {
        retry_after_secs: u64,
    },
    /// The database cannot be reached.
    Unavailable,
    Internal(anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        Error::Invalid(FieldErrors::one(field, why))
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Error::Internal(error.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused(refusal) => write!(f, "refused: {refusal}"),
            Error::Raced(race) => write!(f, "raced: {race:?}"),
            Error::Invalid(fields) => write!(f, "invalid: {fields:?}"),
            Error::NotFound => f.write_str("not found"),
            Error::Conflict(why) => write!(f, "conflict: {why}"),
            Error::JobPending { reason, job } => write!(f, "job {} pending: {reason}", job.id),
            Error::OverQuota(why) => write!(f, "over quota: {why}"),
            Error::TooLarge(why) => write!(f, "too large: {why}"),
            Error::Unreadable(why) => write!(f, "unreadable: {why}"),
            Error::Unsupported(why) => write!(f, "unsupported: {why}"),
            Error::Unauthorized => f.write_str("unauthorized"),
            Error::Forbidden(why) => write!(f, "forbidden: {why}"),
            Error::TooManyRequests { retry_after_secs } => {
                write!(f, "too many requests; retry after {retry_after_secs}s")
            }
            Error::Busy { retry_after_secs } => {
                write!(f, "busy; retry after {retry_after_secs}s")
            }
            Error::Unavailable => f.write_str("database unavailable"),
            Error::Internal(cause) => write!(f, "internal error: {cause:#}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        Error::Refused(refusal)
    }
}

impl From<FieldErrors> for Error {
    fn from(fields: FieldErrors) -> Self {
        Error::Invalid(fields)
    }
}

impl From<Unavailable> for Error {
    fn from(unavailable: Unavailable) -> Self {
        match unavailable {
            panicked @ Unavailable::Panicked(_) => Error::Internal(panicked.into()),
            Unavailable::Pool(_)
            | Unavailable::Down
            | Unavailable::Lost
            | Unavailable::Cancelled(_) => Error::Unavailable,
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Error::Internal(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_database_task_is_an_internal_error_not_an_outage() {
        let died = tokio::task::spawn_blocking(|| panic!("a bug in a query"))
            .await
            .unwrap_err();
        let error = Error::from(Unavailable::of_task(died));
        assert!(matches!(error, Error::Internal(_)), "{error:?}");
        assert!(format!("{error}").contains("panicked"), "{error}");
    }

    #[test]
    fn an_unreachable_database_is_unavailable() {
        let error = Error::from(Unavailable::Cancelled("shutting down".into()));
        assert!(matches!(error, Error::Unavailable));
    }
}
