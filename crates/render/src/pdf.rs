//! The PDF: typst used as a library. The world it compiles in has exactly two files, the
//! template compiled into the binary and `/data.json` holding the document, and the fonts
//! bundled with typst (Libertinus Serif for text, DejaVu Sans Mono for references and
//! code). It reads nothing from the disk or the network.

use std::sync::LazyLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

use crate::RenderError;

const TEMPLATE: &str = include_str!("template.typ");

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::builder().build()));

static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts().flat_map(|data| Font::iter(Bytes::new(data))).collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

fn file_id(path: &str) -> Result<FileId, RenderError> {
    let vpath = VirtualPath::new(path).map_err(|e| RenderError::Typeset(format!("{e:?}")))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

struct DocumentWorld {
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl World for DocumentWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() { Ok(self.main.clone()) } else { Err(FileError::AccessDenied) }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id { Ok(self.data.clone()) } else { Err(FileError::AccessDenied) }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    /// The template never asks for today's date: the caller prints its own time.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

/// The pages of the document whose JSON is `data`.
fn layout(data: Vec<u8>) -> Result<PagedDocument, RenderError> {
    let world = DocumentWorld {
        main: Source::new(file_id("/main.typ")?, TEMPLATE.to_owned()),
        data_id: file_id("/data.json")?,
        data: Bytes::new(data),
    };
    typst::compile::<PagedDocument>(&world).output.map_err(|errors| {
        RenderError::Typeset(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
    })
}

/// The PDF of the document whose JSON is `data`.
pub fn compile(data: Vec<u8>) -> Result<Vec<u8>, RenderError> {
    let document = layout(data)?;
    let pdf = typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default()).map_err(|errors| {
        RenderError::Typeset(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; "))
    });
    // Each render is a different document: keep typst's memo cache from growing.
    typst::comemo::evict(2);
    pdf
}

#[cfg(test)]
mod tests {
    use typst::layout::{Frame, FrameItem};

    use super::*;
    use crate::{Block, markdown, normalise, tests::sample};

    fn text_of(frame: &Frame, out: &mut String) {
        for (_, item) in frame.items() {
            match item {
                FrameItem::Group(g) => text_of(&g.frame, out),
                FrameItem::Text(t) => out.push_str(&t.text),
                _ => {}
            }
        }
    }

    /// All the text typst laid out, page after page, without whitespace.
    fn laid_out(doc: &crate::Document) -> String {
        let mut doc = doc.clone();
        normalise(&mut doc);
        let pages = layout(serde_json::to_vec(&doc).expect("json")).expect("layout");
        let mut out = String::new();
        for page in pages.pages() {
            text_of(&page.frame, &mut out);
        }
        out.split_whitespace().collect()
    }

    fn squeezed(s: &str) -> String {
        s.split_whitespace().collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(24)
        ))]
        /// Whatever a member writes, typst's own syntax included, it is laid out as the text
        /// it is: the title appears character for character, and a body of Markdown never
        /// makes typesetting fail.
        #[test]
        fn untrusted_text_is_laid_out_as_written(
            title in "[a-zA-Z0-9 #*_$\\[\\]{}()<>@=+/\\\\\"'~`;:,.-]{1,140}",
            details in "[a-zA-Z0-9 #*_$\\[\\]{}()<>@=+/\\\\\"'~`;:,.\n-]{0,400}",
        ) {
            let mut doc = sample(&title);
            doc.sections[0].title = title.clone();
            doc.sections[0].body = markdown::blocks(&details);
            doc.sections[0].body.push(Block::text("end-of-body"));
            let text = laid_out(&doc);
            // On the cover and in the section's heading.
            proptest::prop_assert!(text.matches(&squeezed(&title)).count() >= 2, "title {title:?} not twice in {text:?}");
            proptest::prop_assert!(text.contains("end-of-body"));
        }
    }
}
