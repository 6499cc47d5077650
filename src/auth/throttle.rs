//! Login throttling, keyed as OWASP suggests. Within [`WINDOW`], failures are counted per
//! (username, address), per address and per username across all addresses; at any limit,
//! further attempts are refused (the right password too) until the failure that reached it
//! leaves the window. An address the user logged in from within [`KNOWN_FOR`] is exempt from the
//! per-address and per-username limits, so a stranger can lock a user out only of addresses the
//! user never used. IPv6 addresses count by their /64. Form logins, Basic and header
//! authentication count together; the counts live in PostgreSQL.
//!
//! Password verification (argon2, 19 MiB each) is bounded: [`LoginGate`] runs at most its slots
//! at once with a short queue behind them, and refuses the rest as [`Busy`].

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LoginSettings;
use crate::db::queries::login_attempts::{Failures, Limits};

pub const WINDOW: Duration = Duration::minutes(15);
/// How long a successful login makes its address known for the user.
pub const KNOWN_FOR: Duration = Duration::days(30);

/// Usernames are recorded as typed, capped like the column.
pub const MAX_RECORDED_USERNAME: usize = 256;
/// Address keys are capped like the column.
const MAX_ADDRESS_KEY: usize = 64;

/// Seconds a caller refused for lack of a verification slot is asked to wait.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Refused until the window has moved on: seconds to wait, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_secs: u64,
}

/// Every verification slot is taken and the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// The start of the window that counts at `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - WINDOW
}

/// Whether an attempt at `now` is refused, and for how long.
pub fn verdict(failures: &Failures, now: DateTime<Utc>) -> Option<Locked> {
    let until = [
        failures.user_address_limit_reached_at,
        failures.address_limit_reached_at,
        failures.username_limit_reached_at,
    ]
    .into_iter()
    .flatten()
    .map(|reached| reached + WINDOW)
    .max()?;
    let millis = (until - now).num_milliseconds();
    Some(Locked {
        retry_after_secs: (millis.max(0) as u64).div_ceil(1000).max(1),
    })
}

pub fn recorded_username(typed: &str) -> &str {
    match typed.char_indices().nth(MAX_RECORDED_USERNAME) {
        Some((cut, _)) => &typed[..cut],
        None => typed,
    }
}

/// The key an address counts under: an IPv4 address itself (an IPv4-mapped IPv6 address
/// too), an IPv6 address its /64, since one subscriber usually holds a whole /64. Anything
/// unreadable counts as written, capped.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !(u128::MAX >> 64);
                format!("{}/64", Ipv6Addr::from(network))
            }
        },
        Err(_) => address.chars().take(MAX_ADDRESS_KEY).collect(),
    }
}

/// The limits and the bound on verifications, one per process.
pub struct LoginGate {
    pub limits: Limits,
    /// Verifications running or waiting.
    admitted: Arc<Semaphore>,
    /// Verifications running.
    running: Arc<Semaphore>,
}

/// A verification slot, held until dropped.
pub struct Slot {
    _admitted: OwnedSemaphorePermit,
    _running: OwnedSemaphorePermit,
}

impl LoginGate {
    pub fn new(settings: &LoginSettings) -> Self {
        let slots = settings.argon2_slots.max(1);
        Self {
            limits: Limits {
                per_user_address: settings.per_user_address.into(),
                per_address: settings.per_address.into(),
                per_username: settings.per_username.into(),
            },
            admitted: Arc::new(Semaphore::new(slots + settings.argon2_queue)),
            running: Arc::new(Semaphore::new(slots)),
        }
    }

    /// A slot for one verification: at once if one is free, after waiting in the queue if
    /// there is room in it, else [`Busy`].
    pub async fn slot(&self) -> Result<Slot, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        Ok(Slot {
            _admitted: admitted,
            _running: running,
        })
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
            user_address_limit_reached_at: Some(at(0)),
            ..Failures::default()
        };
        assert_eq!(
            verdict(&failures, at(60)),
            Some(Locked {
                retry_after_secs: 14 * 60
            })
        );
    }

    #[test]
    fn the_latest_of_the_reached_limits_decides() {
        let failures = Failures {
            user_address_limit_reached_at: Some(at(0)),
            address_limit_reached_at: Some(at(300)),
            username_limit_reached_at: Some(at(100)),
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

    #[test]
    fn ipv6_addresses_count_by_their_64_and_ipv4_by_themselves() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(address_key("2001:db8:1:2::7"), "2001:db8:1:2::/64");
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("198.51.100.7"), "198.51.100.7");
        assert_eq!(address_key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(address_key("not an address"), "not an address");
        assert_eq!(address_key(&"x".repeat(100)).len(), 64);
    }

    #[tokio::test]
    async fn beyond_the_slots_and_the_queue_a_verification_is_refused() {
        let gate = LoginGate::new(&LoginSettings {
            argon2_slots: 1,
            argon2_queue: 0,
            ..LoginSettings::default()
        });
        let held = gate.slot().await.unwrap();
        assert_eq!(gate.slot().await.err(), Some(Busy));
        drop(held);
        assert!(gate.slot().await.is_ok());
    }
}
