//! argon2id password hashing with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
//! Hashing costs tens of milliseconds of CPU: async callers use the `*_off_worker` forms.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

use crate::domain::values::Password;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &Password) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// Verifies against a stored PHC string. An unparsable hash verifies nothing.
pub fn verify(candidate: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verified against when the user does not exist, so an unknown username costs the same time
/// as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash(&Password::provisioned("no such user, no such password").expect("non-empty"))
});

pub fn verify_or_dummy(candidate: &str, phc: Option<&str>) -> bool {
    match phc {
        Some(phc) => verify(candidate, phc),
        None => {
            let _ = verify(candidate, &DUMMY_HASH);
            false
        }
    }
}

pub async fn hash_off_worker(password: Password) -> String {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .expect("argon2 hashing does not panic")
}

/// Verifies on the blocking pool, holding `slot` (a verification slot) until it is done, even
/// if the caller stops waiting.
pub async fn verify_off_worker(
    candidate: String,
    phc: Option<String>,
    slot: impl Send + 'static,
) -> bool {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        verify_or_dummy(&candidate, phc.as_deref())
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let phc = hash(&Password::parse("correct horse").unwrap());
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct horsf", &phc));
        assert!(!verify("correct horse", "not a hash"));
        assert!(!verify_or_dummy("anything", None));
    }
}
