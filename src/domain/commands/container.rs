//! A change to a customer's container, parsed once from the API's JSON body or a page's form.

use crate::domain::authorized_key::AuthorizedKey;
use crate::domain::fields::{FieldErrors, plain_text};
use crate::domain::ids::{CustomDistroId, DistroId};
use crate::domain::values::DisplayName;

const MAX_KEYS: usize = 100;
const MAX_TAGS: usize = 32;
const MAX_TAG_CHARS: usize = 64;

/// The fields of a container update as sent: `None` is a field that was not sent at all.
#[derive(Debug, Clone, Default)]
pub struct ContainerFields {
    pub name: Option<String>,
    pub note: Option<String>,
    pub quota_threshold: Option<i64>,
    pub alarm_freq: Option<i64>,
    pub nofollow: Option<bool>,
    pub custom_distros_storage: Option<bool>,
    pub ssh_keys: Option<Vec<String>>,
    pub distro: Option<i64>,
    /// `Some(None)`: back to the default distro.
    pub custom_distro: Option<Option<i64>>,
    pub tags: Option<Vec<String>>,
    pub reboot: bool,
    pub jid: Option<String>,
    pub jid_destinations: Option<String>,
    pub pushover_user: Option<String>,
    pub pushover_token: Option<String>,
    pub pushover_sound: Option<String>,
    pub pushbullet_token: Option<String>,
    pub slack_webhook: Option<String>,
}

/// The settings a container stores as they are, without a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSettings {
    pub name: Option<DisplayName>,
    pub note: Option<String>,
    /// Percent, 0..=100.
    pub quota_threshold: Option<i32>,
    /// Seconds, at least 60.
    pub alarm_freq: Option<i32>,
    pub nofollow: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub jid: Option<String>,
    pub jid_destinations: Option<String>,
    pub pushover_user: Option<String>,
    pub pushover_token: Option<String>,
    pub pushover_sound: Option<String>,
    pub pushbullet_token: Option<String>,
    pub slack_webhook: Option<String>,
}

/// A checked container update: every field left `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateContainer {
    pub settings: ContainerSettings,
    pub storage: Option<bool>,
    pub ssh_keys: Option<Vec<AuthorizedKey>>,
    pub distro: Option<DistroId>,
    /// `Some(None)`: back to the default distro.
    pub custom_distro: Option<Option<CustomDistroId>>,
    pub reboot: bool,
}

/// Why the fields are no update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateRefused {
    /// Fields that do not parse, each with why, in the order they were checked.
    Invalid(FieldErrors),
    /// A custom distro id that no distro can have: as unknown as any id not the caller's.
    NoSuchCustomDistro,
}

impl UpdateContainer {
    /// Checks every field, naming every bad one at once. An impossible custom distro id is
    /// answered before any bad field, as an unknown id would be.
    pub fn parse(sent: &ContainerFields) -> Result<Self, UpdateRefused> {
        let mut errors = FieldErrors::default();
        let mut settings = settings(sent, &mut errors);
        let ssh_keys = sent
            .ssh_keys
            .as_deref()
            .and_then(|lines| errors.check("ssh_keys", authorized_keys(lines)));
        settings.tags = sent
            .tags
            .as_deref()
            .and_then(|tags| errors.check("tags", checked_tags(tags)));
        let distro = sent.distro.and_then(|d| {
            let id = i32::try_from(d).ok().map(DistroId);
            errors.check("distro", id.ok_or("is the id of a platform distro"))
        });
        let custom_distro = custom_distro(sent.custom_distro)?;
        errors.finish().map_err(UpdateRefused::Invalid)?;
        Ok(Self {
            settings,
            storage: sent.custom_distros_storage,
            ssh_keys,
            distro,
            custom_distro,
            reboot: sent.reboot,
        })
    }
}

/// The stored-as-is settings but the tags, which are checked after the ssh keys.
fn settings(sent: &ContainerFields, errors: &mut FieldErrors) -> ContainerSettings {
    let name = sent
        .name
        .as_deref()
        .and_then(|raw| errors.check("name", DisplayName::parse(raw)));
    let note = text(errors, "note", &sent.note, 4096);
    let quota_threshold = sent.quota_threshold.and_then(|q| {
        let ok = i32::try_from(q).ok().filter(|q| (0..=100).contains(q));
        errors.check("quota_threshold", ok.ok_or("is a percentage from 0 to 100"))
    });
    let alarm_freq = sent.alarm_freq.and_then(|f| {
        let ok = i32::try_from(f).ok().filter(|f| *f >= 60);
        errors.check("alarm_freq", ok.ok_or("is at least 60 seconds"))
    });
    ContainerSettings {
        name,
        note,
        quota_threshold,
        alarm_freq,
        nofollow: sent.nofollow,
        tags: None,
        jid: channel(errors, "jid", &sent.jid),
        jid_destinations: channel(errors, "jid_destinations", &sent.jid_destinations),
        pushover_user: channel(errors, "pushover_user", &sent.pushover_user),
        pushover_token: channel(errors, "pushover_token", &sent.pushover_token),
        pushover_sound: channel(errors, "pushover_sound", &sent.pushover_sound),
        pushbullet_token: channel(errors, "pushbullet_token", &sent.pushbullet_token),
        slack_webhook: channel(errors, "slack_webhook", &sent.slack_webhook),
    }
}

fn text(errors: &mut FieldErrors, field: &str, raw: &Option<String>, max: usize) -> Option<String> {
    raw.as_deref()
        .and_then(|raw| errors.check(field, plain_text(raw, max)))
}

/// A notification channel's setting (address, token, webhook).
fn channel(errors: &mut FieldErrors, field: &str, raw: &Option<String>) -> Option<String> {
    text(errors, field, raw, 1024)
}

/// Every line parsed, or why each bad one was refused, by its index in the list.
fn authorized_keys(lines: &[String]) -> Result<Vec<AuthorizedKey>, String> {
    if lines.len() > MAX_KEYS {
        return Err(format!("has at most {MAX_KEYS} keys"));
    }
    let mut keys = Vec::with_capacity(lines.len());
    let mut refused = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        match AuthorizedKey::parse(line) {
            Ok(key) => keys.push(key),
            Err(why) => refused.push(format!("the key at index {index} {why}")),
        }
    }
    if refused.is_empty() {
        Ok(keys)
    } else {
        Err(refused.join("; "))
    }
}

fn checked_tags(tags: &[String]) -> Result<Vec<String>, String> {
    if tags.len() > MAX_TAGS {
        return Err(format!("has at most {MAX_TAGS} tags"));
    }
    let fits = |t: &String| {
        !t.is_empty()
            && t.chars().count() <= MAX_TAG_CHARS
            && !t.chars().any(char::is_control)
            && !t.contains(',')
    };
    if tags.iter().all(fits) {
        Ok(tags.to_vec())
    } else {
        Err(format!(
            "each tag has 1 to {MAX_TAG_CHARS} characters, no commas or control characters"
        ))
    }
}

fn custom_distro(
    sent: Option<Option<i64>>,
) -> Result<Option<Option<CustomDistroId>>, UpdateRefused> {
    match sent {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(id)) => i32::try_from(id)
            .map(|id| Some(Some(CustomDistroId(id))))
            .map_err(|_| UpdateRefused::NoSuchCustomDistro),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sent: ContainerFields) -> Vec<String> {
        match UpdateContainer::parse(&sent) {
            Err(UpdateRefused::Invalid(errors)) => errors
                .into_pairs()
                .into_iter()
                .map(|(field, _)| field)
                .collect(),
            other => panic!("not a field refusal: {other:?}"),
        }
    }

    #[test]
    fn nothing_sent_changes_nothing() {
        let parsed = UpdateContainer::parse(&ContainerFields::default()).unwrap();
        assert_eq!(parsed, UpdateContainer::default());
    }

    #[test]
    fn every_bad_field_is_named_in_the_order_checked() {
        let sent = ContainerFields {
            name: Some(String::new()),
            alarm_freq: Some(5),
            quota_threshold: Some(101),
            ssh_keys: Some(vec!["nonsense".into()]),
            tags: Some(vec!["a,b".into()]),
            distro: Some(i64::MAX),
            slack_webhook: Some("\0".into()),
            ..ContainerFields::default()
        };
        assert_eq!(
            refused(sent),
            [
                "name",
                "quota_threshold",
                "alarm_freq",
                "slack_webhook",
                "ssh_keys",
                "tags",
                "distro"
            ]
        );
    }

    #[test]
    fn an_impossible_custom_distro_is_unknown_before_any_bad_field() {
        let sent = ContainerFields {
            name: Some(String::new()),
            custom_distro: Some(Some(i64::from(i32::MAX) + 1)),
            ..ContainerFields::default()
        };
        assert_eq!(
            UpdateContainer::parse(&sent),
            Err(UpdateRefused::NoSuchCustomDistro)
        );
    }

    #[test]
    fn null_custom_distro_goes_back_to_the_default() {
        let sent = ContainerFields {
            custom_distro: Some(None),
            reboot: true,
            ..ContainerFields::default()
        };
        let parsed = UpdateContainer::parse(&sent).unwrap();
        assert_eq!(parsed.custom_distro, Some(None));
        assert!(parsed.reboot);
    }

    #[test]
    fn tags_are_limited_in_number_and_shape() {
        assert!(checked_tags(&["prod".into(), "eu".into()]).is_ok());
        assert!(checked_tags(&[String::new()]).is_err());
        assert!(checked_tags(&["x".repeat(65)]).is_err());
        assert!(checked_tags(&["a\tb".into()]).is_err());
        assert!(checked_tags(&vec!["t".to_owned(); 33]).is_err());
    }
}
