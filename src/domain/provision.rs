//! The rules of provisioning: what a customer's company and VAT number may hold, what blocks
//! deleting a container or a platform distro, when a one-time set-password link still works,
//! and that staff always keep an admin. Each refusal is one sentence naming what blocks it.

use chrono::{DateTime, Duration, Utc};

use crate::domain::staff_role::StaffRole;
use crate::domain::values::Invalid;

/// How long a set-password link works after it is made.
pub const LINK_LIFETIME: Duration = Duration::hours(24);

/// A customer's company name: up to 255 printable characters, may be empty.
pub fn company(raw: &str) -> Result<String, Invalid> {
    printable(raw, 255, "a company name")
}

/// A customer's VAT number: up to 64 printable characters, may be empty.
pub fn vat(raw: &str) -> Result<String, Invalid> {
    printable(raw, 64, "a VAT number")
}

fn printable(raw: &str, max: usize, what: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > max || trimmed.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "{what} has at most {max} printable characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// What keeps a container from being deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContainerBlockers {
    /// The custom distros stored in it (by name).
    pub stored: Vec<String>,
    /// The custom distro it is mapped onto (boots), by name.
    pub mapped_onto: Option<String>,
    /// Its queued, running or retrying jobs: (id, kind).
    pub pending_jobs: Vec<(i64, String)>,
}

impl ContainerBlockers {
    /// Why the container may not be deleted, naming every blocker; `None` when it may.
    pub fn refusal(&self, container: &str) -> Option<String> {
        let mut reasons = Vec::new();
        if !self.stored.is_empty() {
            reasons.push(format!(
                "it stores the custom distro(s) {} (delete them first)",
                quoted(&self.stored)
            ));
        }
        if let Some(name) = &self.mapped_onto {
            reasons.push(format!(
                "it is mapped onto the custom distro '{name}' (boot its default distro first)"
            ));
        }
        if !self.pending_jobs.is_empty() {
            let jobs: Vec<String> = self
                .pending_jobs
                .iter()
                .map(|(id, kind)| format!("#{id} ({kind})"))
                .collect();
            reasons.push(format!(
                "it has pending job(s) {} (wait for them or cancel them)",
                jobs.join(", ")
            ));
        }
        (!reasons.is_empty()).then(|| {
            format!(
                "The container '{container}' cannot be deleted: {}.",
                reasons.join("; ")
            )
        })
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a platform distro may not be deleted: the containers (uid, name) that use it as their
/// default; `None` when none does.
pub fn distro_delete_refusal(distro: &str, used_by: &[(i64, String)]) -> Option<String> {
    if used_by.is_empty() {
        return None;
    }
    let names: Vec<String> = used_by
        .iter()
        .map(|(uid, name)| format!("{uid} '{name}'"))
        .collect();
    Some(format!(
        "The distro '{distro}' cannot be deleted: it is the default distro of the container(s) {}. \
         Retire it instead, or choose another default for them first.",
        names.join(", ")
    ))
}

/// Whether a platform distro may be chosen as a container's default: a retired one only by a
/// container that has it already.
pub fn distro_choice_refusal(distro: &str, retired: bool, already_chosen: bool) -> Option<String> {
    (retired && !already_chosen).then(|| {
        format!("the distro '{distro}' is retired: it can no longer be chosen; choose another")
    })
}

/// Refuses a role change that would leave no admin: `admins` counts the admins now.
pub fn role_change_refusal(
    member: &str,
    current: StaffRole,
    wanted: StaffRole,
    admins: i64,
) -> Option<String> {
    (current == StaffRole::Admin && wanted != StaffRole::Admin && admins <= 1).then(|| {
        format!(
            "'{member}' is the last admin: make another member admin first, so that someone can \
             still manage staff."
        )
    })
}

/// Why a set-password link does not work (any more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No such link (mistyped, or replaced by a newer one).
    Unknown,
    /// It was used already.
    Used,
    /// Its 24 hours are over.
    Expired,
}

impl LinkRefusal {
    pub fn sentence(self) -> &'static str {
        match self {
            LinkRefusal::Unknown => {
                "This link does not work: it is mistyped, or a newer link replaced it. Ask \
                 support for a new one."
            }
            LinkRefusal::Used => {
                "This link was used already: each link sets a password once. Log in with the \
                 password you chose, or ask support for a new link."
            }
            LinkRefusal::Expired => {
                "This link has expired: links work for 24 hours. Ask support for a new one."
            }
        }
    }
}

/// Whether a stored link works at `now`.
pub fn link_refusal(
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<LinkRefusal> {
    if used_at.is_some() {
        Some(LinkRefusal::Used)
    } else if now >= expires_at {
        Some(LinkRefusal::Expired)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_and_vat_are_trimmed_and_bounded() {
        assert_eq!(company("  ACME  ").unwrap(), "ACME");
        assert_eq!(company("").unwrap(), "");
        assert!(company(&"x".repeat(256)).is_err());
        assert!(company("a\u{7}b").is_err());
        assert_eq!(vat("IT123").unwrap(), "IT123");
        assert!(vat(&"1".repeat(65)).is_err());
    }

    #[test]
    fn a_container_without_blockers_may_go_and_each_blocker_is_named() {
        assert_eq!(ContainerBlockers::default().refusal("web"), None);
        let blockers = ContainerBlockers {
            stored: vec!["alpine".into(), "arch".into()],
            mapped_onto: Some("mine".into()),
            pending_jobs: vec![(7, "restart".into())],
        };
        let refusal = blockers.refusal("web").unwrap();
        assert!(refusal.contains("'web'"), "{refusal}");
        assert!(refusal.contains("'alpine', 'arch'"), "{refusal}");
        assert!(
            refusal.contains("mapped onto the custom distro 'mine'"),
            "{refusal}"
        );
        assert!(refusal.contains("#7 (restart)"), "{refusal}");
        let only_jobs = ContainerBlockers {
            pending_jobs: vec![(1, "restart".into())],
            ..Default::default()
        };
        let refusal = only_jobs.refusal("web").unwrap();
        assert!(!refusal.contains("stores"), "{refusal}");
        assert!(!refusal.contains("mapped"), "{refusal}");
    }

    #[test]
    fn a_distro_in_use_names_its_containers() {
        assert_eq!(distro_delete_refusal("Debian", &[]), None);
        let refusal =
            distro_delete_refusal("Debian", &[(30001, "web".into()), (30002, "db".into())])
                .unwrap();
        assert!(refusal.contains("30001 'web', 30002 'db'"), "{refusal}");
    }

    #[test]
    fn a_retired_distro_is_kept_but_not_newly_chosen() {
        assert!(distro_choice_refusal("Old", true, false).is_some());
        assert_eq!(distro_choice_refusal("Old", true, true), None);
        assert_eq!(distro_choice_refusal("New", false, false), None);
    }

    #[test]
    fn the_last_admin_cannot_be_demoted() {
        use StaffRole::*;
        assert!(role_change_refusal("root", Admin, Support, 1).is_some());
        assert_eq!(role_change_refusal("root", Admin, Support, 2), None);
        assert_eq!(role_change_refusal("root", Admin, Admin, 1), None);
        assert_eq!(role_change_refusal("help", Support, Admin, 1), None);
    }

    #[test]
    fn a_link_works_once_and_until_it_expires() {
        let now = Utc::now();
        let expires = now + LINK_LIFETIME;
        assert_eq!(link_refusal(expires, None, now), None);
        assert_eq!(
            link_refusal(expires, Some(now), now),
            Some(LinkRefusal::Used)
        );
        assert_eq!(
            link_refusal(expires, None, expires),
            Some(LinkRefusal::Expired)
        );
        assert_eq!(
            link_refusal(now - Duration::seconds(1), Some(now), now),
            Some(LinkRefusal::Used)
        );
    }
}
