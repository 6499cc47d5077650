//! Where a custom distro's image comes from, validated: an archive's digest, a file in the
//! storage container's home, an address to download from.

use std::fmt;

use crate::domain::values::Invalid;

/// A SHA-256 digest as 64 lowercase hexadecimal digits (uppercase is accepted and lowered).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.len() != 64 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Invalid(
                "a SHA-256 digest is 64 hexadecimal digits, as sha256sum prints it".into(),
            ));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The digest of bytes just hashed.
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file in a container's home, named relative to the home: `images/alpine.tar.gz`. Every
/// component is a plain name (no `.`, `..` or empty ones), so it always stays beneath the
/// home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeFile(Vec<String>);

impl HomeFile {
    const MAX_LEN: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let refuse = |why: &str| {
            Err(Invalid(format!(
                "{why}; name the file relative to the storage container's home, like images/alpine.tar.gz"
            )))
        };
        if raw.is_empty() {
            return refuse("the file name is empty");
        }
        if raw.len() > Self::MAX_LEN {
            return refuse("the file name is longer than 1024 bytes");
        }
        if raw.starts_with('/') {
            return refuse("the file name is absolute");
        }
        if raw.chars().any(char::is_control) {
            return refuse("the file name has control characters");
        }
        let parts: Vec<String> = raw.split('/').map(str::to_owned).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || p == "." || p == ".." || p.len() > 255)
        {
            return refuse(
                "every part of the file name must be a plain name (no '.', '..' or '//')",
            );
        }
        Ok(Self(parts))
    }

    /// The directories to walk through, then the file's own name.
    pub fn components(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for HomeFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// An `http` or `https` address to download an image from, without credentials in it (they
/// would be kept in the job and its log) and without a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchUrl(String);

impl FetchUrl {
    const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let refuse = |why: &str| Err(Invalid(why.to_owned()));
        if raw.len() > Self::MAX_LEN {
            return refuse("the address is longer than 2048 characters");
        }
        let raw = raw.trim();
        let Ok(mut url) = url::Url::parse(raw) else {
            return refuse(
                "the address is not a URL; give one like https://example.com/image.tar.gz",
            );
        };
        if !matches!(url.scheme(), "http" | "https") {
            return refuse("only http and https addresses can be fetched");
        }
        if !names_a_host(raw) || url.host_str().is_none_or(str::is_empty) {
            return refuse(
                "the address has no host; give one like https://example.com/image.tar.gz",
            );
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse(
                "the address carries a user name or password; use an address that needs none",
            );
        }
        url.set_fragment(None);
        Ok(Self(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `scheme://host...` as written. The URL standard reads `https:///a.tar` and `https:a.tar` as
/// if `a.tar` were the host; an address written that way is more likely a mistake than meant.
fn names_a_host(raw: &str) -> bool {
    raw.split_once(':')
        .and_then(|(_, rest)| rest.strip_prefix("//"))
        .is_some_and(|authority| !authority.is_empty() && !authority.starts_with(['/', '\\']))
}

impl fmt::Display for FetchUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_64_hex_digits_kept_lowercase() {
        let upper = "AB".repeat(32);
        assert_eq!(Sha256Hex::parse(&upper).unwrap().as_str(), "ab".repeat(32));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(Sha256Hex::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Sha256Hex::from_digest(&[0xff; 32]).as_str(),
            "ff".repeat(32)
        );
    }

    #[test]
    fn a_home_file_never_leaves_the_home() {
        let ok = HomeFile::parse("images/alpine.tar.gz").unwrap();
        assert_eq!(ok.components(), ["images", "alpine.tar.gz"]);
        assert_eq!(ok.to_string(), "images/alpine.tar.gz");
        assert!(HomeFile::parse(".hidden/x.tar").is_ok());
        for bad in [
            "",
            "/etc/shadow",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a/",
            ".",
            "a\0b",
            "a\nb",
            &"a".repeat(256),
            &"a/".repeat(600),
        ] {
            assert!(HomeFile::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_plain_http_addresses_are_fetched() {
        let ok = FetchUrl::parse("https://images.example.com/a.tar.gz?v=2#top").unwrap();
        assert_eq!(ok.as_str(), "https://images.example.com/a.tar.gz?v=2");
        assert!(FetchUrl::parse("http://127.0.0.1:8000/x.tar").is_ok());
        for bad in [
            "",
            "example.com/a.tar",
            "ftp://example.com/a.tar",
            "file:///etc/passwd",
            "https://user:pw@example.com/a.tar",
            "https:///a.tar",
            "https:a.tar",
            "http:\\\\example.com/a.tar",
            &format!("https://example.com/{}", "a".repeat(2048)),
        ] {
            assert!(FetchUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
