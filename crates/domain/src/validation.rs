//! Field errors collected while parsing a request into domain types.

use std::fmt;

/// One rejected field: a JSON path, a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Invalid { field: field.into(), code, message: message.into() }
    }
}

/// Every field error of one request, so that a client sees all of them at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<Invalid>);

impl FieldErrors {
    pub fn push(&mut self, e: Invalid) {
        self.0.push(e);
    }

    /// Keeps the value of a successful parse, records the error of a failed one.
    pub fn take<T>(&mut self, r: Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was rejected.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<Invalid> for FieldErrors {
    fn from(e: Invalid) -> Self {
        FieldErrors(vec![e])
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.0.iter().map(|e| e.field.as_str()).collect();
        write!(f, "invalid fields: {}", fields.join(", "))
    }
}

impl std::error::Error for FieldErrors {}

/// Rejects control characters other than tab and newline (they break logs and
/// displays) and enforces a length in characters.
pub fn check_text(field: &str, value: &str, min: usize, max: usize, multiline: bool) -> Result<(), Invalid> {
    let len = value.chars().count();
    if len < min {
        return Err(if min == 1 {
            Invalid::new(field, "required", "must not be empty")
        } else {
            Invalid::new(field, "too_short", format!("must be at least {min} characters"))
        });
    }
    if len > max {
        return Err(Invalid::new(field, "too_long", format!("must be at most {max} characters")));
    }
    let bad = value.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')));
    if bad {
        return Err(Invalid::new(field, "control_character", "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_length_is_counted_in_characters() {
        assert!(check_text("t", "ääkköset", 1, 8, false).is_ok());
        assert_eq!(check_text("t", "ääkköset!", 1, 8, false).unwrap_err().code, "too_long");
        assert_eq!(check_text("t", "", 1, 8, false).unwrap_err().code, "required");
    }

    #[test]
    fn control_characters_are_refused_unless_multiline_whitespace() {
        assert_eq!(check_text("t", "a\u{0}b", 1, 8, false).unwrap_err().code, "control_character");
        assert_eq!(check_text("t", "a\nb", 1, 8, false).unwrap_err().code, "control_character");
        assert!(check_text("t", "a\nb\tc", 1, 8, true).is_ok());
    }
}
