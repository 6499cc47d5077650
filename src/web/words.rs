//! The panel's words for what the API says in its field names: what a container booted, who
//! did something, and refusals and log lines rewritten without `custom_distro` and friends.
//! The API keeps its own wording; only pages use these.

use crate::db::queries::container_pages::LastBoot;

/// API phrases and the panel's words for them, longest first so that no shorter one eats a
/// longer one's start.
const PHRASES: [(&str, &str); 14] = [
    (
        "custom_distro set to null (default distro)",
        "boots its default distro",
    ),
    (
        "Set custom_distro to null first.",
        "Choose its default distro to boot first.",
    ),
    (
        "set custom_distro to null first",
        "boot its default distro first",
    ),
    (
        "set its custom_distros_storage to true first",
        "let it store custom distros first",
    ),
    (
        "turning custom_distros_storage off",
        "it stops storing custom distros",
    ),
    (
        "custom_distros_storage set to true",
        "now stores custom distros",
    ),
    (
        "custom_distros_storage set to false",
        "no longer stores custom distros",
    ),
    ("custom_distros_storage", "custom distros storage"),
    ("custom_distro set to", "boots the custom distro"),
    ("set distro first", "give it a default distro first"),
    ("distro set to", "default distro set to"),
    ("ssh_keys changed", "SSH keys changed"),
    ("reboot requested", "restart asked for"),
    (
        "choose one from GET /api/custom_distros/<uid>.",
        "choose another.",
    ),
];

/// `text` in the panel's words: no API field names, and "the container" for one container.
pub fn plain(text: &str) -> String {
    let mut out = text.to_owned();
    for (api, panel) in PHRASES {
        out = out.replace(api, panel);
    }
    out = out.replace("custom_distro", "custom distro");
    // "job 7 (unpack_image) failed" names the job's kind in words
    for kind in crate::db::models::job::JobKind::ALL {
        let named = format!("({kind})");
        if out.contains(&named) {
            out = out.replace(&named, &format!("({})", job_kind(kind.as_str())));
        }
    }
    singular_container(&out)
}

/// "used by the containers 'web' (30003);" names one container: "the container".
fn singular_container(text: &str) -> String {
    const MANY: &str = "the containers ";
    let Some(at) = text.find(MANY) else {
        return text.to_owned();
    };
    let rest = &text[at + MANY.len()..];
    let names = rest.split(';').next().unwrap_or(rest);
    if names.contains(", ") {
        return text.to_owned();
    }
    format!("{}the container {rest}", &text[..at])
}

/// A job's kind as a page names it: "unpack image", not `unpack_image`.
pub fn job_kind(kind: &str) -> String {
    match kind {
        "ensure_storage_dir" => "prepare the distros directory".into(),
        other => other.replace('_', " "),
    }
}

/// `n` and the noun in its number: "1 job", "2 jobs", "no jobs".
pub fn count(n: i64, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// Who made a log line: a person by name, else the platform (its workers' ids mean nothing
/// to a customer).
pub fn actor(name: &str, is_person: bool) -> String {
    if is_person {
        name.to_owned()
    } else {
        "the platform".into()
    }
}

/// What a container's last restart booted, in words: "custom distro “X”", "default distro
/// “Y”: fell back because …", or that it has not restarted since this was recorded.
pub fn booted(last: Option<&LastBoot>, default_distro: Option<&str>) -> String {
    let default = match default_distro {
        Some(name) => format!("default distro “{name}”"),
        None => "no distro".into(),
    };
    let custom = |name: Option<&String>| match name {
        Some(name) => format!("custom distro “{name}”"),
        None => "a custom distro deleted since".into(),
    };
    let Some(last) = last else {
        return "not recorded yet: no restart since".into();
    };
    let reason = || {
        let why = last
            .fallback_reason
            .as_deref()
            .unwrap_or("its check failed");
        why.lines().collect::<Vec<_>>().join("; ")
    };
    match last.kind.as_deref() {
        Some("custom") => custom(last.custom_name.as_ref()),
        Some("platform") => default,
        Some("none") => "no distro".into(),
        // a fallback recorded before the kind was: only its reason is known
        Some("fallback") | None => format!("{default}: fell back because {}", reason()),
        Some(other) => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ContainerId;

    #[test]
    fn job_kinds_are_words() {
        assert_eq!(job_kind("unpack_image"), "unpack image");
        assert_eq!(
            job_kind("ensure_storage_dir"),
            "prepare the distros directory"
        );
        assert_eq!(job_kind("rollback_image"), "rollback image");
        assert_eq!(job_kind("restart"), "restart");
        assert_eq!(
            plain("[distropanel] job 2 (unpack_image) failed: the check found errors"),
            "[distropanel] job 2 (unpack image) failed: the check found errors"
        );
    }

    #[test]
    fn page_words_have_no_api_field_names() {
        let refusal = "The container boots the custom distro 'img'; a storage container \
                       cannot. Set custom_distro to null first.";
        assert_eq!(
            plain(refusal),
            "The container boots the custom distro 'img'; a storage container cannot. \
             Choose its default distro to boot first."
        );
        assert_eq!(
            plain("custom_distro set to null (default distro), reboot requested"),
            "boots its default distro, restart asked for"
        );
        assert_eq!(
            plain("custom_distros_storage set to true"),
            "now stores custom distros"
        );
        let turned_off = plain(
            "The container still stores the custom distros 'a'; delete them before turning \
             custom_distros_storage off.",
        );
        assert!(
            !turned_off.contains("custom_distros_storage"),
            "{turned_off}"
        );
    }

    #[test]
    fn one_container_is_the_container_and_two_are_the_containers() {
        assert_eq!(
            plain("The custom distro 'x' is used by the containers 'web' (30003); map them"),
            "The custom distro 'x' is used by the container 'web' (30003); map them"
        );
        let two = "used by the containers 'web' (30003), 'db' (30004); map them";
        assert_eq!(plain(two), two);
        assert_eq!(count(0, "job", "jobs"), "no jobs");
        assert_eq!(count(1, "job", "jobs"), "1 job");
        assert_eq!(count(3, "job", "jobs"), "3 jobs");
    }

    #[test]
    fn what_booted_says_the_custom_distro_or_why_it_fell_back() {
        let last = |kind: &str, reason: Option<&str>| LastBoot {
            container: ContainerId(1),
            name: "web".into(),
            kind: Some(kind.into()),
            custom_name: Some("alpine".into()),
            fallback_reason: reason.map(Into::into),
        };
        assert_eq!(
            booted(Some(&last("custom", None)), Some("debian")),
            "custom distro “alpine”"
        );
        assert_eq!(
            booted(
                Some(&last("fallback", Some("a missing\nb missing"))),
                Some("debian")
            ),
            "default distro “debian”: fell back because a missing; b missing"
        );
        assert_eq!(
            booted(Some(&last("platform", None)), Some("debian")),
            "default distro “debian”"
        );
        assert!(booted(None, Some("debian")).starts_with("not recorded yet"));
        assert_eq!(actor("vm:29139:670f", false), "the platform");
        assert_eq!(actor("alice", true), "alice");
    }
}
