//! Login throttling: after [`PER_USERNAME`] failures for one username, or [`PER_ADDRESS`] from
//! one address, within [`WINDOW`], every further attempt is refused (the right password too)
//! until the failure that reached the limit leaves the window. Form logins, Basic and header
//! authentication count together; the counts live in PostgreSQL.

use chrono::{DateTime, Duration, Utc};

use crate::db::queries::login_attempts::Failures;

pub const PER_USERNAME: i64 = 5;
pub const PER_ADDRESS: i64 = 20;
pub const WINDOW: Duration = Duration::minutes(15);

/// Usernames are recorded as typed, capped like the column.
pub const MAX_RECORDED_USERNAME: usize = 256;

/// Refused until the window has moved on: seconds to wait, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_secs: u64,
}

/// The start of the window that counts at `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - WINDOW
}

/// Whether an attempt at `now` is refused, and for how long.
pub fn verdict(failures: &Failures, now: DateTime<Utc>) -> Option<Locked> {
    let until = [
        failures.username_limit_reached_at,
        failures.address_limit_reached_at,
    ]
    .into_iter()
    .flatten()
    .map(|reached| reached + WINDOW)
    .max()?;
    let millis = (until - now).num_milliseconds();
    if millis <= 0 {
        return None;
    }
    Some(Locked {
        retry_after_secs: (millis as u64).div_ceil(1000).max(1),
    })
}

pub fn recorded_username(typed: &str) -> &str {
    match typed.char_indices().nth(MAX_RECORDED_USERNAME) {
        Some((cut, _)) => &typed[..cut],
        None => typed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn nothing_reached_means_not_locked() {
        assert_eq!(verdict(&Failures::default(), at(0)), None);
    }

    #[test]
    fn a_reached_limit_locks_until_it_leaves_the_window() {
        let failures = Failures {
            username_limit_reached_at: Some(at(0)),
            address_limit_reached_at: None,
        };
        assert_eq!(
            verdict(&failures, at(60)),
            Some(Locked {
                retry_after_secs: 14 * 60
            })
        );
        assert_eq!(verdict(&failures, at(15 * 60)), None);
    }

    #[test]
    fn the_later_of_two_reached_limits_decides() {
        let failures = Failures {
            username_limit_reached_at: Some(at(0)),
            address_limit_reached_at: Some(at(300)),
        };
        assert_eq!(
            verdict(&failures, at(300)).unwrap().retry_after_secs,
            15 * 60
        );
    }

    #[test]
    fn recorded_usernames_are_capped_on_a_character_boundary() {
        let long = "é".repeat(300);
        assert_eq!(recorded_username(&long).chars().count(), 256);
        assert_eq!(recorded_username("alice"), "alice");
    }
}
