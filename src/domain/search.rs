//! What the staff search box was given: a number (a container's uid or a customer's `#id`) or
//! a fragment of a name, an e-mail or a company, within the lengths the search serves.

/// Fragments shorter than this find nothing: the trigram indexes need three characters.
pub const MIN_FRAGMENT: usize = 3;
/// Longer searches are refused before they reach the database.
pub const MAX_SEARCH: usize = 200;

/// A search box's text, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// Nothing typed.
    Empty,
    /// Digits only: a container's uid (or a fragment of a name with digits, when no uid).
    Number(i64),
    /// `#12`: a customer's number.
    Customer(i32),
    /// Part of a uid-less name, e-mail, company, server or distro, as typed.
    Fragment(String),
    /// Too short to search for.
    TooShort,
    /// Longer than [`MAX_SEARCH`] characters.
    TooLong,
}

impl SearchTerm {
    pub fn parse(raw: &str) -> Self {
        let text = raw.trim();
        if text.is_empty() {
            return SearchTerm::Empty;
        }
        if text.chars().count() > MAX_SEARCH {
            return SearchTerm::TooLong;
        }
        if let Some(number) = text.strip_prefix('#')
            && let Ok(id) = number.trim().parse::<i32>()
            && id > 0
        {
            return SearchTerm::Customer(id);
        }
        if text.bytes().all(|b| b.is_ascii_digit())
            && let Ok(number) = text.parse::<i64>()
        {
            return SearchTerm::Number(number);
        }
        if text.chars().count() < MIN_FRAGMENT {
            return SearchTerm::TooShort;
        }
        SearchTerm::Fragment(text.to_owned())
    }

    /// The text a fragment search looks for: digits are also looked for in names.
    pub fn fragment(&self) -> Option<String> {
        match self {
            SearchTerm::Fragment(text) => Some(text.clone()),
            SearchTerm::Number(n) if n.to_string().len() >= MIN_FRAGMENT => Some(n.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_uids_hashes_are_customers_and_the_rest_are_fragments() {
        assert_eq!(SearchTerm::parse(" 30007 "), SearchTerm::Number(30007));
        assert_eq!(SearchTerm::parse("#12"), SearchTerm::Customer(12));
        assert_eq!(
            SearchTerm::parse("@example"),
            SearchTerm::Fragment("@example".into())
        );
        assert_eq!(
            SearchTerm::parse("#abc"),
            SearchTerm::Fragment("#abc".into())
        );
        assert_eq!(
            SearchTerm::Number(30007).fragment().as_deref(),
            Some("30007")
        );
        assert_eq!(SearchTerm::Number(7).fragment(), None);
    }

    #[test]
    fn empty_short_and_long_searches_are_told_apart() {
        assert_eq!(SearchTerm::parse("   "), SearchTerm::Empty);
        assert_eq!(SearchTerm::parse("ab"), SearchTerm::TooShort);
        assert_eq!(SearchTerm::parse("%"), SearchTerm::TooShort);
        assert_eq!(SearchTerm::parse(&"x".repeat(201)), SearchTerm::TooLong);
        assert_eq!(SearchTerm::parse(&"x".repeat(10_000)), SearchTerm::TooLong);
        assert_eq!(
            SearchTerm::parse(&"é".repeat(200)),
            SearchTerm::Fragment("é".repeat(200))
        );
        // a number too large for any uid is a fragment of a name
        assert_eq!(
            SearchTerm::parse("99999999999999999999"),
            SearchTerm::Fragment("99999999999999999999".into())
        );
    }
}
