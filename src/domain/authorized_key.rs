//! One line of an `authorized_keys` file, as a customer gives it for their container: optional
//! sshd options, an OpenSSH public key, an optional comment. The options only shape the
//! customer's own access, so they are allowed; the key itself must parse as a public key of a
//! type sshd accepts, and the line must be one line of printable text.

use std::fmt;

use ssh_key::PublicKey;
use ssh_key::public::KeyData;

/// A line a customer may put in their `authorized_keys`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey(String);

/// Why a line is not an `authorized_keys` line we write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLineError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {} characters", AuthorizedKey::MAX_CHARS)]
    TooLong,
    #[error("holds a control character (a newline, a tab…); a key is one line of text")]
    ControlCharacter,
    #[error("has options before the key that sshd does not read: {0}")]
    Options(String),
    #[error("has options but no key after them")]
    NoKey,
    #[error(
        "starts with {0:?}, which is not a key type sshd accepts (ssh-ed25519, ssh-rsa, \
         ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, \
         sk-ecdsa-sha2-nistp256@openssh.com)"
    )]
    UnknownType(String),
    #[error("is a DSA key (ssh-dss), which OpenSSH no longer accepts")]
    Dsa,
    #[error("does not hold a valid {0} public key: its base64 body does not decode to one")]
    BadBody(String),
}

/// The key types sshd accepts in `authorized_keys`.
const KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Options that stand alone; sshd also reads each with a `no-` in front, but for the first two.
const FLAG_OPTIONS: [&str; 9] = [
    "restrict",
    "cert-authority",
    "agent-forwarding",
    "port-forwarding",
    "pty",
    "user-rc",
    "x11-forwarding",
    "touch-required",
    "verify-required",
];

/// Options that take a quoted value: `name="value"`.
const VALUE_OPTIONS: [&str; 8] = [
    "command",
    "environment",
    "expiry-time",
    "from",
    "permitlisten",
    "permitopen",
    "principals",
    "tunnel",
];

impl AuthorizedKey {
    pub const MAX_CHARS: usize = 16 * 1024;

    /// Parses one line; spaces around it are dropped.
    pub fn parse(raw: &str) -> Result<Self, KeyLineError> {
        let line = raw.trim_matches(' ');
        if line.is_empty() {
            return Err(KeyLineError::Empty);
        }
        if line.chars().count() > Self::MAX_CHARS {
            return Err(KeyLineError::TooLong);
        }
        if line.chars().any(char::is_control) {
            return Err(KeyLineError::ControlCharacter);
        }
        let (first, rest) = split_first_field(line)?;
        let key = if KEY_TYPES.contains(&first) || first == "ssh-dss" {
            line
        } else {
            check_options(first)?;
            let key = rest.trim_start_matches(' ');
            if key.is_empty() {
                return Err(KeyLineError::NoKey);
            }
            key
        };
        check_key(key)?;
        Ok(Self(line.to_owned()))
    }

    /// The line as given, without surrounding spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuthorizedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AuthorizedKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The first field and what follows it. As sshd reads it, the field ends at the first space
/// outside double quotes, and `\"` is not a quote.
fn split_first_field(line: &str) -> Result<(&str, &str), KeyLineError> {
    let mut quoted = false;
    let mut chars = line.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' if line[at + 1..].starts_with('"') => {
                chars.next();
            }
            '"' => quoted = !quoted,
            ' ' if !quoted => return Ok((&line[..at], &line[at..])),
            _ => {}
        }
    }
    if quoted {
        return Err(KeyLineError::Options("a quote is never closed".into()));
    }
    Ok((line, ""))
}

/// Checks a comma-separated option list: known names, values quoted where sshd wants them.
fn check_options(options: &str) -> Result<(), KeyLineError> {
    let looks_like_options = options.contains(['=', ',', '"']);
    let mut rest = options;
    loop {
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        let lower = name.to_ascii_lowercase();
        let flag = FLAG_OPTIONS.contains(&lower.as_str())
            || lower
                .strip_prefix("no-")
                .is_some_and(|plain| FLAG_OPTIONS[2..].contains(&plain));
        let valued = VALUE_OPTIONS.contains(&lower.as_str());
        if !flag && !valued {
            if !looks_like_options {
                return Err(KeyLineError::UnknownType(shorten(options)));
            }
            let shown = if name.is_empty() { after } else { name };
            return Err(KeyLineError::Options(format!(
                "{:?} is not an option sshd knows",
                shorten(shown)
            )));
        }
        rest = after;
        if valued {
            rest = rest.strip_prefix("=\"").ok_or_else(|| {
                KeyLineError::Options(format!("{name} takes a value in quotes: {name}=\"…\""))
            })?;
            rest = skip_quoted_value(rest)
                .ok_or_else(|| KeyLineError::Options(format!("the value of {name} never ends")))?;
        } else if rest.starts_with('=') {
            return Err(KeyLineError::Options(format!("{name} takes no value")));
        }
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None if rest.is_empty() => return Ok(()),
            None => {
                return Err(KeyLineError::Options(format!(
                    "options are separated by commas, found {:?}",
                    shorten(rest)
                )));
            }
        }
    }
}

/// What follows a quoted value's closing quote, or `None` when it has none.
fn skip_quoted_value(value: &str) -> Option<&str> {
    let mut chars = value.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' if value[at + 1..].starts_with('"') => {
                chars.next();
            }
            '"' => return Some(&value[at + 1..]),
            _ => {}
        }
    }
    None
}

/// Checks `<type> <base64 body> [comment]` as an OpenSSH public key of a type sshd accepts.
fn check_key(key: &str) -> Result<(), KeyLineError> {
    let key_type = key.split(' ').next().unwrap_or_default();
    if key_type == "ssh-dss" {
        return Err(KeyLineError::Dsa);
    }
    if !KEY_TYPES.contains(&key_type) {
        return Err(KeyLineError::UnknownType(shorten(key_type)));
    }
    let parsed =
        PublicKey::from_openssh(key).map_err(|_| KeyLineError::BadBody(key_type.to_owned()))?;
    match parsed.key_data() {
        KeyData::Dsa(_) => Err(KeyLineError::Dsa),
        KeyData::Other(_) => Err(KeyLineError::UnknownType(shorten(key_type))),
        _ if parsed.algorithm().as_str() == key_type => Ok(()),
        _ => Err(KeyLineError::BadBody(key_type.to_owned())),
    }
}

/// At most 40 characters of what the customer sent, for a message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX alice@laptop";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCqqKcDQzi+twvllbvvW2tYcgHKwvlWTQF0Rclj/Sdr91nEzsEguh3m+cgfD30wLscfx51h4F/9vOyWu4kl+Pbi5cJE0GpEAOVTgOzS6JUNpqNk+aDVo/VVAxtFO2XGB5k7mSokq8Ejfae1C2i4w+sedGW4ctIRpo4fJh4uwA+TRTfbbxWxuJmrbLz/3pDJrMdL+ub6LcgtwWMgIiTuyhTOi3GskOHzFveyRVpD2uf84nOLgNZQoGbgkSZzdxrjCauQM0lixSKGXNoSfeygjmYnTe/QlloFEx06cqOcUut84gRATfRmeL05xkTuiQCGVsClK5dI4Vtqd5qY2vm5eG01 alice@laptop";
    const ECDSA_256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLOs/TEQiw+v5zusRRzjLztQdW1XUAeVgaLwwXLJBYGzrkzlRU/0FmKuMfeBYLjeCAuJDZBRChQOu2UZY5fNbdc= alice@laptop";
    const ECDSA_384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBAxlVNdq7TfkwKazdkEDdQMp4gFTSCY+8fYioXDMlr1EZIsRRnArz+0io6F6Sy/Qe0U7jBwVOGuh7kmuZM6GYWPoBAD1bjOAOwCmal+pAMg+Tx9CdIvE+/Z7wdGMahn6Cg== alice@laptop";
    const ECDSA_521: &str = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHqweYpSNbQWR/CYHtKPwfrSmvuGPBazb+PM4JR8TCETPtKqJBukYQYV8SXiZprJQpUK+DyCHkEkPeRDPWkIcX6kQDvJPxwunH3yM2r9PaSDZqrYCjurHoV1Qr/ECxQyRDcpIbttGbFKSl6H+2mTH5xmICYuRvLNFN6npSXEZXujJjLgw== alice@laptop";
    const SK_ED25519: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com";
    const SK_ECDSA: &str = "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBIELQJ2DgvaX1yQlKFokfWM2suuaCFI2qp0eJodHyg6O4ifxc3XpRKd1OS8dNYQtE/YjdXSrA+AOnMF5ns2Nkx4AAAAEc3NoOg== user@example.com";
    const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBANw9iSUO2UYhFMssjUgW46URqv8bBrDgHeF8HLBOWBvKuXF2Rx2J/XyhgX48SOLMuv0hcPaejlyLarabnF9F2V4dkpPpZSJ+7luHmxEjNxwhsdtg8UteXAWkeCzrQ6MvRJZHcDBjYh56KGvslbFnJsGLXlI4PQCyl6awNImwYGilAAAAFQCJGBU3hZf+QtP9Jh/nbfNlhFu7hwAAAIBHObOQioQVRm3HsVb7mOy3FVKhcLoLO3qoG9gTkd4KeuehtFAC3+rckiX7xSCnE/5BBKdL7VP9WRXac2Nlr9Pwl3e7zPut96wrCHt/TZX6vkfXKkbpUIj5zSqfvyNrWKaYJkfzwAQwrXNS1Hol676Ud/DDEn2oatdEhkS3beWHXAAAAIBgQqaz/YYTRMshzMzYcZ4lqgvgmA55y6v0h39e8HH2A5dwNS6sPUw2jyna+le0dceNRJifFld1J+WYM0vmquSr11DDavgEidOSaXwfMvPPPJqLmbzdtT16N+Gij9U9STQTHPQcQ3xnNNHgQAStzZJbhLOVbDDDo5BO7LMUALDfSA== user@example.com";

    fn refused(line: &str) -> KeyLineError {
        AuthorizedKey::parse(line).expect_err(line)
    }

    #[test]
    fn keys_from_ssh_keygen_of_every_type_sshd_accepts_parse_as_given() {
        for line in [
            ED25519, RSA, ECDSA_256, ECDSA_384, ECDSA_521, SK_ED25519, SK_ECDSA,
        ] {
            assert_eq!(AuthorizedKey::parse(line).unwrap().as_str(), line);
        }
        let bare = ED25519.rsplit_once(' ').unwrap().0;
        assert_eq!(AuthorizedKey::parse(bare).unwrap().as_str(), bare);
        let spaced = format!("  {ED25519}  ");
        assert_eq!(AuthorizedKey::parse(&spaced).unwrap().as_str(), ED25519);
    }

    #[test]
    fn options_that_shape_the_customers_own_access_are_kept() {
        for options in [
            "no-pty",
            "restrict,pty",
            "NO-PORT-FORWARDING,no-agent-forwarding,no-X11-forwarding",
            r#"from="10.0.0.0/8,192.168.1.*""#,
            r#"command="echo hello, world",no-pty"#,
            r#"command="printf \"%s\" $(HOME) @(exec://id)""#,
            r#"environment="PATH=/bin",expiry-time="20300101",permitopen="localhost:80""#,
            "cert-authority",
        ] {
            let line = format!("{options} {ED25519}");
            assert_eq!(AuthorizedKey::parse(&line).unwrap().as_str(), line);
        }
    }

    #[test]
    fn options_sshd_would_not_read_are_refused() {
        for options in [
            "no-such-option",
            "no-pty,bogus",
            "command=true",
            r#"command="never closed"#,
            r#"no-pty="x""#,
            r#"from="a"x"#,
            ",no-pty",
            "no-restrict",
        ] {
            let line = format!("{options} {ED25519}");
            assert!(
                matches!(
                    refused(&line),
                    KeyLineError::Options(_) | KeyLineError::UnknownType(_)
                ),
                "{line}"
            );
        }
        assert_eq!(refused("no-pty"), KeyLineError::NoKey);
        assert_eq!(refused("no-pty   "), KeyLineError::NoKey);
    }

    #[test]
    fn a_bad_body_an_unknown_type_or_a_dsa_key_is_refused() {
        assert_eq!(
            refused("ssh-ed25519 AAAA alice@home"),
            KeyLineError::BadBody("ssh-ed25519".into())
        );
        let [kind, body, _comment] = ED25519.split(' ').collect::<Vec<_>>()[..] else {
            unreachable!()
        };
        let cut = &body[..40];
        assert!(matches!(
            refused(&format!("{kind} {cut}")),
            KeyLineError::BadBody(_)
        ));
        let rsa_body = RSA.split(' ').nth(1).unwrap();
        assert!(
            matches!(
                refused(&format!("ssh-ed25519 {rsa_body}")),
                KeyLineError::BadBody(_)
            ),
            "the body's own type must be the named one"
        );
        assert!(matches!(
            refused(&format!("{kind} {body}!! x")),
            KeyLineError::BadBody(_)
        ));
        assert!(matches!(
            refused("ssh-foo AAAAC3NzaC1lZDI1NTE5 x"),
            KeyLineError::UnknownType(_)
        ));
        let opaque = "name@example.com AAAAEG5hbWVAZXhhbXBsZS5jb20AAAAgiI8k7het/tAJHmfkhfuYRM/tYHLKwdBjkOQAX1AVtE8= c";
        assert!(matches!(
            refused(opaque),
            KeyLineError::UnknownType(_) | KeyLineError::Options(_)
        ));
        assert!(matches!(
            refused(&format!("no-pty {opaque}")),
            KeyLineError::UnknownType(_)
        ));
        assert_eq!(refused(DSA), KeyLineError::Dsa);
        assert_eq!(refused(&format!("no-pty {DSA}")), KeyLineError::Dsa);
    }

    #[test]
    fn empty_long_or_multi_line_text_is_refused() {
        assert_eq!(refused(""), KeyLineError::Empty);
        assert_eq!(refused("   "), KeyLineError::Empty);
        let long = format!("{ED25519} {}", "x".repeat(AuthorizedKey::MAX_CHARS));
        assert_eq!(refused(&long), KeyLineError::TooLong);
        for line in [
            format!("{ED25519}\n"),
            format!("{ED25519}\n[uwsgi]\nexec-as-root = id"),
            format!("{ED25519}\rx"),
            format!("no-pty\t{ED25519}"),
            format!("{ED25519} \u{0}"),
            format!("{ED25519} a\u{7f}b"),
        ] {
            assert_eq!(refused(&line), KeyLineError::ControlCharacter, "{line:?}");
        }
    }

    #[test]
    fn what_uwsgi_would_expand_in_a_vassal_is_refused_where_it_cannot_be_a_key() {
        for line in [
            "ssh-ed25519 AAAA @(exec://id -u)",
            "ssh-ed25519 @(exec://id -u)",
            "@(exec://id -u)",
            "@(/etc/shadow)",
            "$(HOME)",
            "%(x)",
            "%d",
            "ssh-ed25519 $(HOME)",
            "ssh-ed25519 AAAA\n[uwsgi]\nhook-asap = exec:id",
            "\n[uwsgi]",
        ] {
            assert!(AuthorizedKey::parse(line).is_err(), "{line:?}");
        }
    }

    #[test]
    fn messages_say_what_is_wrong_in_the_customers_words() {
        assert_eq!(
            refused("ssh-ed25519 AAAA x").to_string(),
            "does not hold a valid ssh-ed25519 public key: its base64 body does not decode to one"
        );
        assert!(
            refused("$(HOME)")
                .to_string()
                .starts_with("starts with \"$(HOME)\", which is not a key type")
        );
        assert_eq!(
            refused(&format!("{} x", "y".repeat(60))).to_string(),
            format!(
                "starts with \"{}…\", which is not a key type sshd accepts (ssh-ed25519, ssh-rsa, \
                 ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, \
                 sk-ecdsa-sha2-nistp256@openssh.com)",
                "y".repeat(40)
            )
        );
    }
}
