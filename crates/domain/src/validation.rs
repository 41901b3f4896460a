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

/// The bounds of one kind of text, as [`check_text`] applies them: a length in characters
/// and whether line breaks (and tabs) are allowed. The checks and the OpenAPI document
/// both read them from the named constants beside each check, so that a generated client
/// is told what the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub min: usize,
    pub max: usize,
    pub multiline: bool,
}

impl TextRule {
    /// One line of `min` to `max` characters.
    pub const fn line(min: usize, max: usize) -> TextRule {
        TextRule { min, max, multiline: false }
    }

    /// Text of `min` to `max` characters that may hold line breaks and tabs.
    pub const fn lines(min: usize, max: usize) -> TextRule {
        TextRule { min, max, multiline: true }
    }

    pub fn check(self, field: &str, value: &str) -> Result<(), Invalid> {
        check_text(field, value, self.min, self.max, self.multiline)
    }

    /// A regular expression (ECMA-262 and Python alike) of the characters [`check_text`]
    /// refuses: control characters (but for a tab and a line feed in multi-line text),
    /// the Unicode line and paragraph separators in one line, and every character of the
    /// Basic Multilingual Plane that [`hidden_character`] refuses; and, when the text is
    /// required, at least one character that is not white space. What it cannot say
    /// (Unicode normalisation form C, the emoji sequences that may hold a joiner, hidden
    /// characters outside that plane) stays in prose.
    pub fn pattern(self) -> String {
        let refused = if self.multiline { MULTILINE_REFUSED } else { LINE_REFUSED };
        if self.min == 0 {
            format!("^[^{refused}]*$")
        } else {
            format!(r"^[^{refused}]*[^{refused}\s\u2800][^{refused}]*$")
        }
    }
}

/// The characters of the Basic Multilingual Plane that are default-ignorable or control
/// the direction of text (see [`hidden_character`]), as regular-expression ranges.
macro_rules! hidden_bmp {
    () => {
        r"\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8"
    };
}
/// Control characters and separators of lines, then the hidden characters.
const LINE_REFUSED: &str = concat!(r"\u0000-\u001F\u007F-\u009F\u2028\u2029", hidden_bmp!());
/// Control characters but tab and line feed, then the hidden characters.
const MULTILINE_REFUSED: &str = concat!(r"\u0000-\u0008\u000B-\u001F\u007F-\u009F", hidden_bmp!());

/// Checks a human-readable text: a length in characters, no control characters (tab and
/// newline only in multi-line text), nothing that hides or reorders what a reader sees
/// ([`hidden_character`]), Unicode normalisation form C (so that equal-looking text is
/// equal, for search and for people), and, when something is required, a visible
/// character.
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
    let line_break = |c: char| c == '\u{2028}' || c == '\u{2029}';
    let bad = value
        .chars()
        .any(|c| (c.is_control() && !(multiline && (c == '\n' || c == '\t'))) || (!multiline && line_break(c)));
    if bad {
        return Err(Invalid::new(field, "control_character", "must not contain control characters"));
    }
    check_visible(field, value)?;
    if !unicode_normalization::is_nfc(value) {
        return Err(Invalid::new(field, "not_normalised", "must be in Unicode normalisation form C (NFC)"));
    }
    if min > 0 && value.chars().all(|c| c.is_whitespace() || c == '\u{2800}') {
        return Err(Invalid::new(field, "required", "must contain a visible character"));
    }
    Ok(())
}

/// Refuses the characters of [`hidden_character`], naming the first.
pub fn check_visible(field: &str, value: &str) -> Result<(), Invalid> {
    match hidden_character(value) {
        None => Ok(()),
        Some((c, Hidden::Bidi)) => Err(Invalid::new(
            field,
            "bidi_control",
            format!("must not contain bidirectional control characters (U+{:04X})", u32::from(c)),
        )),
        Some((c, Hidden::Invisible)) => Err(Invalid::new(
            field,
            "invisible_character",
            format!("must not contain invisible characters (U+{:04X})", u32::from(c)),
        )),
    }
}

/// Why a character is refused in displayed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// A Bidi_Control character: embeddings, overrides, isolates and marks change the
    /// order in which the text around them is shown ("Trojan Source").
    Bidi,
    /// A Default_Ignorable_Code_Point: drawn as nothing (zero-width space and joiners,
    /// word joiner, soft hyphen, Hangul fillers, tags, variation selectors...), so that two
    /// texts that look the same differ, or a name looks empty.
    Invisible,
}

/// The first character of `value` that hides or reorders text, if any. The emoji
/// sequences that need an invisible character are allowed: a presentation selector
/// (U+FE0E, U+FE0F) after a pictograph or before a keycap mark (U+20E3), and a zero-width
/// joiner between two pictographs (the first may carry a skin tone or a selector).
pub fn hidden_character(value: &str) -> Option<(char, Hidden)> {
    use icu_properties::CodePointSetData;
    use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint, EmojiModifier, ExtendedPictographic};
    let bidi = CodePointSetData::new::<BidiControl>();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let pictograph = CodePointSetData::new::<ExtendedPictographic>();
    let modifier = CodePointSetData::new::<EmojiModifier>();
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if bidi.contains(c) {
            return Some((c, Hidden::Bidi));
        }
        if !ignorable.contains(c) {
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let allowed = match c {
            '\u{FE0E}' | '\u{FE0F}' => prev.is_some_and(|p| pictograph.contains(p)) || next == Some('\u{20E3}'),
            '\u{200D}' => {
                prev.is_some_and(|p| pictograph.contains(p) || modifier.contains(p) || p == '\u{FE0F}')
                    && next.is_some_and(|n| pictograph.contains(n))
            }
            _ => false,
        };
        if !allowed {
            return Some((c, Hidden::Invisible));
        }
    }
    None
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
        assert_eq!(check_text("t", "a\u{2028}b", 1, 8, false).unwrap_err().code, "control_character");
        assert!(check_text("t", "a\u{2029}b", 1, 8, true).is_ok());
    }

    #[test]
    fn bidi_controls_and_invisible_characters_are_refused_naming_the_field() {
        for (text, code) in [
            ("invoice\u{202E}fdp.exe", "bidi_control"),
            ("\u{2066}admin\u{2069}", "bidi_control"),
            ("abc\u{200F}", "bidi_control"),
            ("ad\u{200B}min", "invisible_character"),
            ("ad\u{200C}min", "invisible_character"),
            ("ad\u{200D}min", "invisible_character"),
            ("ad\u{2060}min", "invisible_character"),
            ("\u{FEFF}admin", "invisible_character"),
            ("soft\u{AD}hyphen", "invisible_character"),
            ("\u{3164}", "invisible_character"),
            ("a\u{FE0F}", "invisible_character"),
            ("tag\u{E0041}", "invisible_character"),
        ] {
            let e = check_text("title.en", text, 1, 64, true).unwrap_err();
            assert_eq!((e.field.as_str(), e.code), ("title.en", code), "{text:?}");
        }
    }

    #[test]
    fn emoji_sequences_and_ordinary_scripts_are_kept() {
        for text in [
            "⚠️ Vaalit 2027",
            "👩🏽\u{200D}💻 analyst",
            "🏳️\u{200D}🌈",
            "1\u{FE0F}\u{20E3}",
            "Ääkköset ja Åland",
            "Пример дезинформации",
            "مثال",
            "例子",
        ] {
            assert!(check_text("t", text, 1, 64, false).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn text_must_be_nfc_and_visible() {
        assert_eq!(check_text("t", "a\u{308}", 1, 8, false).unwrap_err().code, "not_normalised");
        assert!(check_text("t", "\u{E4}", 1, 8, false).is_ok());
        assert_eq!(check_text("t", " \u{3000}\u{2800}", 1, 8, false).unwrap_err().code, "required");
        assert!(check_text("t", " ", 0, 8, false).is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Characters that hide or reorder text, from each kind the rule names.
        const HIDDEN: [char; 12] = [
            '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{2060}',
            '\u{FEFF}', '\u{AD}', '\u{115F}',
        ];

        proptest! {
            #[test]
            fn a_hidden_character_anywhere_is_refused(
                text in "[a-zA-Z0-9 äöåÄÖÅ.,:;!?-]{0,40}",
                at in any::<prop::sample::Index>(),
                which in 0..HIDDEN.len(),
            ) {
                let mut chars: Vec<char> = text.chars().collect();
                let i = at.index(chars.len() + 1);
                chars.insert(i, HIDDEN[which]);
                let spoofed: String = chars.into_iter().collect();
                let e = check_text("name", &spoofed, 1, 64, true).unwrap_err();
                prop_assert_eq!(e.field.as_str(), "name");
                prop_assert!(["bidi_control", "invisible_character"].contains(&e.code), "{}", e.code);
            }

            #[test]
            fn text_that_passes_holds_no_reordering_or_zero_width_character(
                text in "[a-z \u{E4}a\u{308}\u{200B}-\u{200F}\u{202A}-\u{202E}\u{2060}-\u{2069}\u{FE0F}\u{FEFF}\u{1F469}\u{1F4BB}\u{26A0}]{0,24}"
            ) {
                if check_text("t", &text, 0, 64, true).is_ok() {
                    let nfc: String = unicode_normalization::UnicodeNormalization::nfc(text.as_str()).collect();
                    prop_assert_eq!(&nfc, &text);
                    let never = |c: char| {
                        matches!(c, '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
                            | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
                    };
                    prop_assert!(!text.chars().any(never), "{:?}", text);
                    let chars: Vec<char> = text.chars().collect();
                    for (i, &c) in chars.iter().enumerate() {
                        if c == '\u{200D}' {
                            // Only inside an emoji sequence: a pictograph on each side.
                            prop_assert!(i > 0 && i + 1 < chars.len(), "{:?}", text);
                            prop_assert!(chars[i + 1] as u32 >= 0x2600, "{:?}", text);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod pattern_tests {
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    use super::*;

    const RULES: [TextRule; 4] =
        [TextRule::line(1, 40), TextRule::lines(1, 40), TextRule::line(0, 40), TextRule::lines(0, 40)];

    /// Every character of the Basic Multilingual Plane that the check refuses on its own
    /// is outside the pattern: a generated client never sends one.
    #[test]
    fn the_pattern_refuses_every_character_the_check_refuses_in_the_basic_plane() {
        for rule in RULES {
            let pattern = regex::Regex::new(&rule.pattern()).unwrap();
            for c in (0u32..=0xFFFF).filter_map(char::from_u32) {
                let text = format!("a{c}a");
                if rule.check("t", &text).is_err() && unicode_normalization::is_nfc(&text) {
                    assert!(!pattern.is_match(&text), "{rule:?} lets U+{:04X} through", u32::from(c));
                }
            }
            if rule.min > 0 {
                assert!(!pattern.is_match(" \u{2800}\t"), "{rule:?}: white space only");
            }
        }
    }

    proptest! {
        /// Whatever the pattern and the length allow, in normalisation form C and in the
        /// Basic Multilingual Plane (the pattern names no character beyond it), the check
        /// accepts.
        #[test]
        fn the_check_accepts_what_the_pattern_and_the_length_allow(
            rule in prop::sample::select(RULES.to_vec()),
            raw in "\\PC{0,60}",
        ) {
            let bmp: String = raw.chars().filter(|c| u32::from(*c) <= 0xFFFF).collect();
            let text: String = bmp.nfc().collect();
            let pattern = regex::Regex::new(&rule.pattern()).unwrap();
            let len = text.chars().count();
            if pattern.is_match(&text) && (rule.min..=rule.max).contains(&len) {
                prop_assert!(rule.check("t", &text).is_ok(), "{:?} refuses {:?}", rule, text);
            }
        }

        /// Whatever the pattern draws, in normalisation form C and in the Basic Multilingual
        /// Plane (the pattern names no character beyond it: an astral hidden character such
        /// as a tag, U+E0000, passes the pattern and is refused by the check), the check
        /// accepts.
        #[test]
        fn strings_drawn_from_the_pattern_pass_the_check(
            (rule, raw) in prop::sample::select(RULES.to_vec())
                .prop_flat_map(|r| (Just(r), proptest::string::string_regex(r.pattern().trim_start_matches('^').trim_end_matches('$')).unwrap())),
        ) {
            // Each astral character as a plain letter: the length and "not only white
            // space" stay as the pattern drew them.
            let bmp: String = raw.chars().map(|c| if u32::from(c) > 0xFFFF { 'x' } else { c }).collect();
            let text: String = bmp.nfc().collect();
            if (rule.min..=rule.max).contains(&text.chars().count()) {
                prop_assert!(rule.check("t", &text).is_ok(), "{:?} refuses {:?}", rule, text);
            }
        }
    }
}
