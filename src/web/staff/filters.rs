//! Filter fields of the staff consoles: numbers that may be left empty, menus, and the query
//! string that carries the filters into pager links and bulk forms.

use crate::web::error::AppError;

/// A filter field: empty means "any"; anything else must be a number.
pub fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("The {field} filter must be a number.")))
}

/// One option of a filter menu.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A menu of `(value, label)` pairs with `chosen` selected.
pub fn menu<V: ToString>(
    options: impl IntoIterator<Item = (V, String)>,
    chosen: &str,
) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| {
            let value = value.to_string();
            Choice {
                selected: value == chosen.trim(),
                value,
                label,
            }
        })
        .collect()
}

/// `key=value&…` of the non-empty pairs, encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if !value.trim().is_empty() {
            query.append_pair(key, value.trim());
        }
    }
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filters_are_any_and_garbage_is_refused() {
        assert_eq!(number::<i64>("age", " ").unwrap(), None);
        assert_eq!(number::<i64>("age", "15").unwrap(), Some(15));
        assert!(number::<i64>("age", "15 minutes").is_err());
        assert_eq!(
            query_string(&[("state", "failed"), ("kind", ""), ("q", "a&b")]),
            "state=failed&q=a%26b"
        );
    }
}
