//! Validated values. Each has private fields and a `parse` constructor, so a value of the type
//! is proof that the rule holds; the schema checks the same rules again.

use std::fmt;

use serde::Serialize;

use crate::domain::ids::ContainerId;

/// Why a value was refused, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

/// A login name: starts with a letter or digit, then letters, digits, `.`, `_`, `@`, `-`; 1..64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);
string_value!(Username);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok_first = raw
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let ok_rest = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
        if raw.is_empty() || raw.len() > 64 || !ok_first || !ok_rest {
            return Err(invalid(
                "a username has 1 to 64 characters: letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// An e-mail address, checked only for shape: something, one `@`, something, no spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);
string_value!(Email);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        let mut parts = raw.split('@');
        let (local, domain, rest) = (parts.next(), parts.next(), parts.next());
        let shaped = matches!((local, domain, rest), (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty());
        if !shaped || raw.len() > 254 || raw.chars().any(char::is_whitespace) {
            return Err(invalid("an e-mail address looks like name@example.com"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A password a user chooses in the panel or through the API: at least 8 characters.
/// Staff provisioning on the command line may use [`Password::provisioned`] (any non-empty one).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(invalid(format!(
                "a password has at least {} characters",
                Self::MIN_CHARS
            )));
        }
        Self::provisioned(raw)
    }

    pub fn provisioned(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(invalid("the password is empty"));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(invalid(format!(
                "a password has at most {} bytes",
                Self::MAX_BYTES
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A display name (container, distro, custom distro): 1..255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);
string_value!(DisplayName);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let count = raw.chars().count();
        if count == 0 || count > 255 || has_control_chars(raw) || raw.trim().is_empty() {
            return Err(invalid("a name has 1 to 255 printable characters"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// The name of a distro's directory: `distros/<path>` for a custom distro, `/distros/<path>`
/// for a platform one. Letters, digits, `.`, `_`, `-`; 1..64; never `.` or `..`, so it always
/// names exactly one directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DistroPath(String);
string_value!(DistroPath);

impl DistroPath {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let charset_ok = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if raw.is_empty() || raw.len() > 64 || !charset_ok || raw == "." || raw == ".." {
            return Err(invalid(
                "a path has 1 to 64 characters: letters, digits, '.', '_' or '-', and is not '.' or '..'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A server's short name, used by `agent --server NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName(String);
string_value!(ServerName);

impl ServerName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok_first = raw
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let ok_rest = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if raw.is_empty() || raw.len() > 64 || !ok_first || !ok_rest {
            return Err(invalid(
                "a server name has 1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A server's network address (host name or IP), without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress(String);
string_value!(ServerAddress);

impl ServerAddress {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty()
            || raw.len() > 255
            || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "an address is a host name or an IP address, without spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A size in megabytes, strictly positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Megabytes(i32);

impl Megabytes {
    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        match i32::try_from(raw) {
            Ok(mb) if mb > 0 => Ok(Self(mb)),
            _ => Err(invalid(format!(
                "a size is a whole number of megabytes from 1 to {}",
                i32::MAX
            ))),
        }
    }
    pub fn get(self) -> i32 {
        self.0
    }
}

/// A container's uid: the base uid (30000 on uwsgi.it) plus the row id. The API names
/// containers by uid everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Uid(i64);

impl Uid {
    pub fn of(base_uid: u32, id: ContainerId) -> Self {
        Self(i64::from(base_uid) + i64::from(id.0))
    }

    /// The container id a uid names, if it names one at all.
    pub fn container_id(raw: i64, base_uid: u32) -> Option<ContainerId> {
        raw.checked_sub(i64::from(base_uid))
            .filter(|id| *id > 0)
            .and_then(|id| i32::try_from(id).ok())
            .map(ContainerId)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An alarm colour, `#rrggbb`. Upstream accepts it with or without the `#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);
string_value!(Color);

impl Color {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let hex = raw.strip_prefix('#').unwrap_or(raw);
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("a colour is six hexadecimal digits, like #ff0000"));
        }
        Ok(Self(format!("#{}", hex.to_ascii_lowercase())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distro_path_is_a_single_safe_directory_name() {
        for ok in ["ubuntu0001", "a", "my-distro_1.2", &"x".repeat(64)] {
            assert!(DistroPath::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../etc",
            "/abs",
            "sp ace",
            "é",
            &"x".repeat(65),
            "a\0b",
            "a\\b",
        ] {
            assert!(DistroPath::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names_refuse_control_characters_and_blank_text() {
        assert!(DisplayName::parse("My distro — ünïcode").is_ok());
        assert!(DisplayName::parse(&"n".repeat(255)).is_ok());
        assert!(DisplayName::parse(&"n".repeat(256)).is_err());
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("line\nbreak").is_err());
    }

    #[test]
    fn a_uid_is_the_base_plus_the_row_id_and_back() {
        assert_eq!(Uid::of(30000, ContainerId(1)).get(), 30001);
        assert_eq!(Uid::container_id(30001, 30000), Some(ContainerId(1)));
        assert_eq!(Uid::container_id(30000, 30000), None);
        assert_eq!(Uid::container_id(12, 30000), None);
        assert_eq!(Uid::container_id(i64::MAX, 30000), None);
    }

    #[test]
    fn colours_take_an_optional_hash_and_are_normalised() {
        assert_eq!(Color::parse("FF0000").unwrap().as_str(), "#ff0000");
        assert_eq!(Color::parse("#00ff00").unwrap().as_str(), "#00ff00");
        for bad in ["", "#fff", "red", "#gg0000", "#ff00000"] {
            assert!(Color::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn passwords_chosen_by_users_have_eight_characters_provisioned_ones_any() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("longenough").is_ok());
        assert!(Password::provisioned("x").is_ok());
        assert!(Password::provisioned("").is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-pass").unwrap()),
            "Password(..)"
        );
    }

    #[test]
    fn usernames_and_emails_have_a_plain_shape() {
        assert!(Username::parse("kratos").is_ok());
        assert!(Username::parse("a.b-c_d@e").is_ok());
        for bad in ["", "-x", "has space", "ü", &"u".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Email::parse("a@b.c").is_ok());
        for bad in ["", "a", "@b", "a@", "a@b@c", "a b@c"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn sizes_are_positive_megabytes() {
        assert_eq!(Megabytes::parse(64).unwrap().get(), 64);
        assert!(Megabytes::parse(0).is_err());
        assert!(Megabytes::parse(-1).is_err());
        assert!(Megabytes::parse(i64::from(i32::MAX) + 1).is_err());
    }
}
