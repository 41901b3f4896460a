//! What a rendered document holds: every text already in the reader's language and already
//! cut down to what the reader may see. The caller builds it; this crate only lays it out.
//! Nothing here is ever read as markup: in the PDF each text is a string value handed to
//! the typesetter, in HTML each text is escaped.

use serde::Serialize;

/// A Traffic Light Protocol 2.0 label, as FIRST words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Tlp {
    #[serde(rename = "TLP:RED")]
    Red,
    #[serde(rename = "TLP:AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "TLP:AMBER")]
    Amber,
    #[serde(rename = "TLP:GREEN")]
    Green,
    #[serde(rename = "TLP:CLEAR")]
    Clear,
}

impl Tlp {
    /// The label's words: `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Red => "TLP:RED",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Amber => "TLP:AMBER",
            Tlp::Green => "TLP:GREEN",
            Tlp::Clear => "TLP:CLEAR",
        }
    }

    /// The label's text colour on its black background, in FIRST's RGB values.
    pub fn rgb(self) -> (u8, u8, u8) {
        match self {
            Tlp::Red => (255, 43, 43),
            Tlp::AmberStrict | Tlp::Amber => (255, 192, 0),
            Tlp::Green => (51, 255, 0),
            Tlp::Clear => (255, 255, 255),
        }
    }
}

/// One document: a report, or a single picture.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// `fi`, `sv` or `en`: hyphenation and the words of the template.
    pub lang: String,
    pub title: String,
    /// The reference printed on every page (`SR-2026-0042`).
    pub reference: String,
    /// The strictest label of the whole document, at the top and bottom of every page.
    pub tlp: Tlp,
    /// The classification printed beside the label (the sharing tier in words).
    pub classification: String,
    /// When it was rendered, in the reader's time zone, already formatted.
    pub generated_at: String,
    /// The reader's organisation, printed in the footer.
    pub reader: String,
    /// A short hash of everything above and below, printed in the footer and written to
    /// the access log; filled in by `render`.
    pub hash: String,
    /// The texts of the template itself, in the document's language.
    pub labels: Labels,
    /// Facts of the cover (label, value): window, election and phase, author.
    pub cover_facts: Vec<Fact>,
    /// The cover's own text, such as a report's summary and assessment.
    pub cover: Vec<Block>,
    /// A table before the sections, such as the list of a report's pictures.
    pub overview: Option<Table>,
    pub charts: Vec<Chart>,
    pub sections: Vec<Section>,
}

/// The template's own words.
#[derive(Debug, Clone, Serialize)]
pub struct Labels {
    /// With `{n}` and `{m}`: "Page {n} of {m}".
    pub page: String,
    pub generated: String,
    pub reader: String,
    pub content_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// One picture in full, as the reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub reference: String,
    pub title: String,
    pub tlp: Tlp,
    pub facts: Vec<Fact>,
    /// Notes shown in a box: redactions, an exercise, an expired picture.
    pub notes: Vec<String>,
    pub body: Vec<Block>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A block of running text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Heading { level: u8, spans: Vec<Span> },
    Paragraph { spans: Vec<Span> },
    List { ordered: bool, items: Vec<Vec<Span>> },
    Quote { spans: Vec<Span> },
    Code { text: String },
}

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Span {
    pub text: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub strong: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub emph: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub code: bool,
}

impl Span {
    pub fn plain(text: impl Into<String>) -> Span {
        Span { text: text.into(), ..Span::default() }
    }
}

impl Block {
    /// A paragraph of plain text.
    pub fn text(text: impl Into<String>) -> Block {
        Block::Paragraph { spans: vec![Span::plain(text)] }
    }

    /// A heading of plain text.
    pub fn heading(level: u8, text: impl Into<String>) -> Block {
        Block::Heading { level, spans: vec![Span::plain(text)] }
    }
}

/// A chart the service draws.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Chart {
    /// One bar per category (a day or an hour), stacked by series (a domain and severity).
    Stacked { title: String, categories: Vec<String>, series: Vec<Series> },
    /// One bar per row: how many of `total` are done (acknowledgements per organisation).
    Progress { title: String, rows: Vec<Progress> },
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub label: String,
    /// The colour: 0–3 are the severities from low to critical, 4–7 other tones.
    pub tone: u8,
    /// One value per category.
    pub values: Vec<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub label: String,
    pub done: u32,
    pub total: u32,
}
