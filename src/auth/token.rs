//! Bearer tokens: `dpt_` followed by 43 URL-safe characters (256 random bits). Only the SHA-256
//! of a token is stored; the secret is shown once, when it is made. 256 random bits need no
//! slow hash: nobody can guess one, and the digest cannot be turned back into it.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::values::Invalid;

pub const PREFIX: &str = "dpt_";

/// A token as the user receives it.
pub struct Secret(String);

impl Secret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        Self(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

/// What the database keeps: lowercase hex SHA-256.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token's name: 1..100 printable characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        let count = name.chars().count();
        if count == 0 || count > 100 || name.chars().any(char::is_control) {
            return Err(Invalid(
                "a token name has 1 to 100 printable characters".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_prefixed_long_and_stored_only_as_its_digest() {
        let secret = Secret::generate();
        assert!(secret.expose().starts_with(PREFIX));
        assert_eq!(secret.expose().len(), PREFIX.len() + 43);
        let stored = secret.digest();
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains(&secret.expose()[PREFIX.len()..]));
        assert_ne!(stored, Secret::generate().digest());
    }

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(
            TokenName::parse("  deploy bot ").unwrap().as_str(),
            "deploy bot"
        );
        assert!(TokenName::parse("   ").is_err());
        assert!(TokenName::parse(&"x".repeat(101)).is_err());
        assert!(TokenName::parse("tab\there").is_err());
    }
}
