//! Documents for people: a report or a single picture laid out as a PDF (typst used as a
//! library) or as a printable HTML page, with the TLP label at the top and bottom of every
//! page (docs/reports.md). The caller decides what the reader may see and builds a
//! [`Document`]; this crate only lays it out, and never reads a text as markup.

mod html;
pub mod markdown;
pub mod model;
mod pdf;

use sha2::{Digest, Sha256};

pub use html::{STYLESHEET, escape};
pub use model::*;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("typesetting failed: {0}")]
    Typeset(String),
    #[error("the document could not be serialised: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Html,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// One rendering: its bytes and the content hash printed in its footer.
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub hash: String,
}

/// Every table row as wide as its header, every chart series as long as its categories.
fn normalise(doc: &mut Document) {
    let fit = |t: &mut Table| {
        let width = t.header.len();
        for row in &mut t.rows {
            row.resize(width, String::new());
        }
    };
    doc.overview.iter_mut().for_each(fit);
    doc.sections.iter_mut().flat_map(|s| s.tables.iter_mut()).for_each(fit);
    for c in &mut doc.charts {
        if let Chart::Stacked { categories, series, .. } = c {
            series.iter_mut().for_each(|s| s.values.resize(categories.len(), 0));
        }
    }
}

/// A document ready to be laid out: normalised, its content hash in place, and the size of
/// its content as JSON (for the caller's limit, checked before any typesetting).
pub struct Prepared {
    doc: Document,
    size: usize,
}

/// `doc` prepared: the content hash is the first 16 hex digits of the SHA-256 of the
/// document's JSON without the hash, so the same content gives the same hash in PDF and
/// HTML.
pub fn prepare(mut doc: Document) -> Result<Prepared, RenderError> {
    normalise(&mut doc);
    doc.hash.clear();
    let json = serde_json::to_vec(&doc)?;
    doc.hash = hex::encode(&Sha256::digest(&json)[..8]);
    Ok(Prepared { doc, size: json.len() })
}

impl Prepared {
    /// Bytes of the content as JSON.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Laid out in `format`. Typesetting is CPU work of up to a few hundred milliseconds:
    /// call it off the async runtime.
    pub fn render(self, format: Format) -> Result<Rendered, RenderError> {
        let bytes = match format {
            Format::Pdf => pdf::compile(serde_json::to_vec(&self.doc)?)?,
            Format::Html => html::page(&self.doc).into_bytes(),
        };
        Ok(Rendered { bytes, hash: self.doc.hash })
    }
}

/// `doc` laid out in `format` (`prepare`, then `Prepared::render`).
pub fn render(doc: Document, format: Format) -> Result<Rendered, RenderError> {
    prepare(doc)?.render(format)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(title: &str) -> Document {
        Document {
            lang: "en".into(),
            title: title.into(),
            reference: "SR-2026-0001".into(),
            tlp: Tlp::Amber,
            classification: "Cooperation group".into(),
            generated_at: "2026-12-05 18:00 EET".into(),
            reader: "NCSC-FI".into(),
            hash: String::new(),
            labels: Labels {
                page: "Page {n} of {m}".into(),
                generated: "Generated".into(),
                reader: "for".into(),
                content_hash: "content".into(),
            },
            cover_facts: vec![Fact { label: "Window".into(), value: "1–5 Dec 2026".into() }],
            cover: vec![Block::text("The assessment.")],
            overview: Some(Table {
                caption: "Pictures".into(),
                header: vec!["Reference".into(), "Title".into()],
                rows: vec![vec!["SP-2026-0001".into()]],
            }),
            charts: vec![
                Chart::Stacked {
                    title: "By day".into(),
                    categories: vec!["1 Dec".into(), "2 Dec".into()],
                    series: vec![Series { label: "cyber".into(), tone: 4, values: vec![1] }],
                },
                Chart::Progress {
                    title: "Acknowledged".into(),
                    rows: vec![Progress { label: "POLICE".into(), done: 1, total: 3 }],
                },
            ],
            sections: vec![Section {
                reference: "SP-2026-0001".into(),
                title: "A picture".into(),
                tlp: Tlp::Green,
                facts: vec![],
                notes: vec!["One indicator is not shown.".into()],
                body: markdown::blocks("Some **text**."),
                tables: vec![],
            }],
        }
    }

    #[test]
    fn a_document_renders_as_a_pdf() {
        let r = render(sample("Weekly picture"), Format::Pdf).expect("render");
        assert!(r.bytes.starts_with(b"%PDF-"), "not a PDF");
        assert_eq!(r.hash.len(), 16);
        if let Ok(path) = std::env::var("SITREP_RENDER_SAMPLE") {
            std::fs::write(path, &r.bytes).expect("write the sample");
        }
    }

    #[test]
    fn typesetting_syntax_in_a_title_is_a_title_not_markup() {
        // Were the title parsed as markup, the page set-up would fail or change.
        let title = "#set page(width: 1pt) #panic(\"x\") $x^2$ *bold* ] } // no";
        let r = render(sample(title), Format::Pdf).expect("render");
        assert!(r.bytes.starts_with(b"%PDF-"));
    }

    #[test]
    fn the_same_document_has_the_same_hash_in_both_formats() {
        let pdf = render(sample("Same"), Format::Pdf).expect("pdf");
        let html = render(sample("Same"), Format::Html).expect("html");
        assert_eq!(pdf.hash, html.hash);
        assert_ne!(pdf.hash, render(sample("Other"), Format::Html).expect("html").hash);
    }

    #[test]
    fn html_escapes_every_text_and_has_no_script_or_inline_style() {
        let r = render(sample("<script>alert(1)</script>\" onload=\"x"), Format::Html).expect("html");
        let page = String::from_utf8(r.bytes).expect("utf-8");
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains(" style="), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x"), "{page}");
        assert_eq!(page.matches("TLP:AMBER").count(), 3, "title, top and bottom bands");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Whatever the text, escaping leaves no character that opens markup in HTML.
        #[test]
        fn escaped_text_opens_no_tag_or_attribute(s in "\\PC{0,64}") {
            let e = escape(&s);
            proptest::prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        }
    }
}
