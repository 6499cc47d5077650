//! Field-by-field checking of a request, so one refusal names every bad field at once.

/// What is wrong with each field, in the order they were checked: field name → why.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    /// One bad field.
    pub fn one(field: &str, why: impl std::fmt::Display) -> Self {
        let mut errors = Self::default();
        errors.add(field, why);
        errors
    }

    pub fn add(&mut self, field: &str, why: impl std::fmt::Display) {
        self.0.push((field.to_owned(), why.to_string()));
    }

    /// The value, or `None` after recording why it was refused.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(why) => {
                self.add(field, why);
                None
            }
        }
    }

    /// Records a field that was not sent at all.
    pub fn require(&mut self, field: &str, given: Option<&str>) {
        if given.is_none() {
            self.add(field, "is required");
        }
    }

    /// `Ok` when every field was fine; otherwise the errors themselves.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }
}

/// Free text stored as is (notes, channel settings): anything but NUL, which PostgreSQL
/// cannot store, up to `max` characters.
pub fn plain_text(raw: &str, max: usize) -> Result<String, String> {
    if raw.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    if raw.chars().count() > max {
        return Err(format!("has at most {max} characters"));
    }
    Ok(raw.to_owned())
}
