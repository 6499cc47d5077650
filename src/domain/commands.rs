//! Commands as the panel's pages and its API both send them, parsed once: a form and a JSON
//! body differ only in how their fields are read, never in what the fields may hold.

use crate::domain::fields::FieldErrors;
use crate::domain::image_source::{FetchUrl, HomeFile, Sha256Hex};

mod container;

pub use container::{ContainerFields, ContainerSettings, UpdateContainer, UpdateRefused};

/// Put a new image into a custom distro, from wherever its archive comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallImage {
    /// The request carries the archive; a digest, if given, must match it.
    Upload(Option<Sha256Hex>),
    /// An archive in the storage container's home, with the digest it must have, if known.
    Home(HomeFile, Option<Sha256Hex>),
    /// An archive the host downloads; its digest is required, as nothing else vouches for it.
    Url(FetchUrl, Sha256Hex),
}

/// The fields of an install request as sent: `None` is a field that was not sent at all.
/// Values are trimmed before they are parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageFields<'a> {
    pub file: Option<&'a str>,
    pub url: Option<&'a str>,
    pub sha256: Option<&'a str>,
}

impl InstallImage {
    /// The digest of an archive the request carries.
    pub fn upload(fields: ImageFields<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let expect = digest(fields.sha256, &mut errors);
        errors.finish()?;
        Ok(Self::Upload(expect))
    }

    /// `file` in the storage container's home, and its digest if known.
    pub fn from_home(fields: ImageFields<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        errors.require("file", fields.file);
        let file = fields
            .file
            .and_then(|raw| errors.check("file", HomeFile::parse(raw.trim())));
        let expect = digest(fields.sha256, &mut errors);
        errors.finish()?;
        match file {
            Some(file) => Ok(Self::Home(file, expect)),
            None => Err(missing("file")),
        }
    }

    /// `url` to download, and the digest the download must have.
    pub fn from_url(fields: ImageFields<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        errors.require("url", fields.url);
        errors.require("sha256", fields.sha256);
        let url = fields
            .url
            .and_then(|raw| errors.check("url", FetchUrl::parse(raw.trim())));
        let expect = digest(fields.sha256, &mut errors);
        errors.finish()?;
        match (url, expect) {
            (Some(url), Some(expect)) => Ok(Self::Url(url, expect)),
            (None, _) => Err(missing("url")),
            (_, None) => Err(missing("sha256")),
        }
    }
}

/// Whether an install is forced (swapped in even when its check finds errors), as a query
/// parameter or a form checkbox says it: `1`, `true`, `on` or `yes`; `0`, `false`, `off`,
/// `no` or nothing say no. Anything else is refused rather than guessed.
pub fn force_flag(raw: Option<&str>) -> Result<bool, FieldErrors> {
    match raw.map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false" | "off" | "no") => Ok(false),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some(_) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "force",
                "must be 1 or true to force, 0 or false (or nothing) not to",
            );
            Err(errors)
        }
    }
}

fn digest(raw: Option<&str>, errors: &mut FieldErrors) -> Option<Sha256Hex> {
    raw.and_then(|raw| errors.check("sha256", Sha256Hex::parse(raw.trim())))
}

/// Unreachable once every field has been checked; kept so that no parse can panic.
fn missing(field: &str) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add(field, "is required");
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(
        file: Option<&'a str>,
        url: Option<&'a str>,
        sha256: Option<&'a str>,
    ) -> ImageFields<'a> {
        ImageFields { file, url, sha256 }
    }

    fn refused(result: Result<InstallImage, FieldErrors>) -> Vec<String> {
        result
            .unwrap_err()
            .into_pairs()
            .into_iter()
            .map(|(field, why)| format!("{field}: {why}"))
            .collect()
    }

    #[test]
    fn force_is_said_plainly_or_refused() {
        for yes in ["1", "true", "on", " Yes "] {
            assert_eq!(force_flag(Some(yes)), Ok(true), "{yes}");
        }
        for no in [None, Some(""), Some("0"), Some("false"), Some("off")] {
            assert_eq!(force_flag(no), Ok(false), "{no:?}");
        }
        assert!(force_flag(Some("please")).is_err());
    }

    #[test]
    fn values_are_trimmed_before_they_are_parsed() {
        let digest = "AB".repeat(32);
        let padded = format!(" {digest}\n");
        let home = InstallImage::from_home(fields(Some(" images/a.tar "), None, Some(&padded)));
        assert_eq!(
            home.unwrap(),
            InstallImage::Home(
                HomeFile::parse("images/a.tar").unwrap(),
                Some(Sha256Hex::parse(&digest).unwrap())
            )
        );
        let url = InstallImage::from_url(fields(
            None,
            Some(" https://a.example/x.tar "),
            Some(&padded),
        ));
        assert!(
            matches!(url.unwrap(), InstallImage::Url(url, _) if url.as_str() == "https://a.example/x.tar")
        );
    }

    #[test]
    fn what_is_missing_is_named_before_what_is_malformed() {
        assert_eq!(
            refused(InstallImage::from_url(fields(
                None,
                Some("ftp://a/x"),
                None
            ))),
            [
                "sha256: is required",
                "url: only http and https addresses can be fetched"
            ]
        );
        assert_eq!(
            refused(InstallImage::from_home(fields(None, None, Some("xyz")))),
            [
                "file: is required",
                "sha256: a SHA-256 digest is 64 hexadecimal digits, as sha256sum prints it"
            ]
        );
    }

    #[test]
    fn an_empty_value_is_sent_and_refused_not_taken_for_a_missing_one() {
        let why = refused(InstallImage::from_home(fields(Some("  "), None, Some(""))));
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(
            why[0].starts_with("file: the file name is empty"),
            "{why:?}"
        );
        assert!(why[1].starts_with("sha256: a SHA-256 digest"), "{why:?}");
        assert_eq!(
            InstallImage::upload(fields(None, None, None)).unwrap(),
            InstallImage::Upload(None)
        );
        assert_eq!(
            refused(InstallImage::upload(fields(None, None, Some("1")))).len(),
            1
        );
    }
}
