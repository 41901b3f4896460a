//! A picture's details are Markdown. For a printed document they become blocks of styled
//! text: headings, paragraphs, lists, quotes and code. Raw HTML stays text, a link keeps
//! its text followed by its address (paper cannot be clicked), an image is its alt text,
//! and a list inside a list is flattened into its parent. Nothing of the source is ever
//! handed to the typesetter as markup.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::model::{Block, Span};

#[derive(Default)]
struct Style {
    strong: u32,
    emph: u32,
}

/// The blocks of `markdown`.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut style = Style::default();
    // The open list, if any: ordered or not, and its items so far.
    let mut list: Option<(bool, Vec<Vec<Span>>)> = None;
    let mut list_depth = 0u32;
    let mut heading: Option<u8> = None;
    let mut quote = 0u32;
    let mut code: Option<String> = None;
    let mut link: Vec<String> = Vec::new();

    let push = |spans: &mut Vec<Span>, text: &str, style: &Style, code: bool| {
        if text.is_empty() {
            return;
        }
        let span = Span { text: text.to_owned(), strong: style.strong > 0, emph: style.emph > 0, code };
        match spans.last_mut() {
            Some(last) if last.strong == span.strong && last.emph == span.emph && last.code == span.code => {
                last.text.push_str(&span.text)
            }
            _ => spans.push(span),
        }
    };

    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading = Some(level as u8),
            Event::End(TagEnd::Heading(_)) => {
                let level = heading.take().unwrap_or(1);
                out.push(Block::Heading { level, spans: std::mem::take(&mut spans) });
            }
            Event::Start(Tag::List(first)) => {
                list_depth += 1;
                if list_depth == 1 {
                    list = Some((first.is_some(), Vec::new()));
                } else {
                    finish_item(&mut list, &mut spans);
                }
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    finish_item(&mut list, &mut spans);
                    if let Some((ordered, items)) = list.take()
                        && !items.is_empty()
                    {
                        out.push(Block::List { ordered, items });
                    }
                }
            }
            Event::End(TagEnd::Item) => finish_item(&mut list, &mut spans),
            Event::Start(Tag::BlockQuote(_)) => quote += 1,
            Event::End(TagEnd::BlockQuote(_)) => {
                quote = quote.saturating_sub(1);
                if !spans.is_empty() {
                    out.push(Block::Quote { spans: std::mem::take(&mut spans) });
                }
            }
            Event::Start(Tag::CodeBlock(_)) => code = Some(String::new()),
            Event::End(TagEnd::CodeBlock) => {
                if let Some(text) = code.take() {
                    out.push(Block::Code { text: text.trim_end_matches('\n').to_owned() });
                }
            }
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::TableRow) | Event::End(TagEnd::TableHead) => {
                if list.is_some() {
                    // A paragraph inside a list item belongs to the item.
                    push(&mut spans, " ", &style, false);
                } else if quote > 0 {
                    push(&mut spans, " ", &style, false);
                } else if !spans.is_empty() {
                    out.push(Block::Paragraph { spans: std::mem::take(&mut spans) });
                }
            }
            Event::End(TagEnd::TableCell) => push(&mut spans, " | ", &style, false),
            Event::Start(Tag::Strong) => style.strong += 1,
            Event::End(TagEnd::Strong) => style.strong = style.strong.saturating_sub(1),
            Event::Start(Tag::Emphasis) => style.emph += 1,
            Event::End(TagEnd::Emphasis) => style.emph = style.emph.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. }) => link.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link.pop() {
                    let shown = spans.last().is_some_and(|s| s.text.ends_with(url.as_str()));
                    if !url.is_empty() && !shown {
                        push(&mut spans, &format!(" ({url})"), &Style::default(), false);
                    }
                }
            }
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => match code.as_mut() {
                Some(buffer) => buffer.push_str(&text),
                None => push(&mut spans, &text, &style, false),
            },
            Event::Code(text) => push(&mut spans, &text, &style, true),
            Event::SoftBreak | Event::HardBreak => match code.as_mut() {
                Some(buffer) => buffer.push('\n'),
                None => push(&mut spans, " ", &style, false),
            },
            Event::Rule => {}
            Event::TaskListMarker(done) => push(&mut spans, if done { "[x] " } else { "[ ] " }, &style, false),
            Event::FootnoteReference(label) => push(&mut spans, &format!("[{label}]"), &style, false),
            _ => {}
        }
    }
    if !spans.is_empty() {
        out.push(Block::Paragraph { spans });
    }
    out
}

fn finish_item(list: &mut Option<(bool, Vec<Vec<Span>>)>, spans: &mut Vec<Span>) {
    if let Some((_, items)) = list.as_mut() {
        let mut item = std::mem::take(spans);
        if let Some(last) = item.last_mut() {
            let trimmed = last.text.trim_end().len();
            last.text.truncate(trimmed);
        }
        item.retain(|s| !s.text.is_empty());
        if !item.is_empty() {
            items.push(item);
        }
    }
}

/// All the text of `blocks`, in order, for tests and the content hash.
pub fn plain_text(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut spans = |spans: &[Span]| {
        for s in spans {
            out.push_str(&s.text);
        }
        out.push('\n');
    };
    for b in blocks {
        match b {
            Block::Heading { spans: s, .. } | Block::Paragraph { spans: s } | Block::Quote { spans: s } => spans(s),
            Block::List { items, .. } => items.iter().for_each(|i| spans(i)),
            Block::Code { text } => spans(&[Span::plain(text.clone())]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_styles_become_blocks() {
        let b = blocks("# Findings\n\nA **bold** and *soft* claim with `code`.\n");
        assert_eq!(b[0], Block::heading(1, "Findings"));
        let Block::Paragraph { spans } = &b[1] else { panic!("not a paragraph: {b:?}") };
        assert!(spans.iter().any(|s| s.strong && s.text == "bold"));
        assert!(spans.iter().any(|s| s.emph && s.text == "soft"));
        assert!(spans.iter().any(|s| s.code && s.text == "code"));
    }

    #[test]
    fn nested_lists_are_flattened_into_one_list() {
        let b = blocks("- one\n  - one a\n- two\n\n1. first\n");
        assert_eq!(b.len(), 2, "{b:?}");
        let Block::List { ordered: false, items } = &b[0] else { panic!("{b:?}") };
        let texts: Vec<String> = items.iter().map(|i| i.iter().map(|s| s.text.as_str()).collect()).collect();
        assert_eq!(texts, ["one", "one a", "two"]);
        assert!(matches!(&b[1], Block::List { ordered: true, .. }));
    }

    #[test]
    fn raw_html_and_links_stay_text() {
        let b = blocks("<script>alert(1)</script>\n\nSee [the post](https://example.test/p).\n");
        let text = plain_text(&b);
        assert!(text.contains("<script>alert(1)</script>"), "{text}");
        assert!(text.contains("the post (https://example.test/p)"), "{text}");
    }

    #[test]
    fn code_blocks_keep_their_lines() {
        let b = blocks("```\nline 1\n#set page(width: 1pt)\n```\n");
        assert_eq!(b, vec![Block::Code { text: "line 1\n#set page(width: 1pt)".into() }]);
    }

    proptest::proptest! {
        /// Whatever the Markdown, its words survive: every letter of the input is
        /// found, in order, in the text of the blocks (markup characters may go).
        #[test]
        fn no_words_are_lost(input in "[a-zA-Z *_#`>\\-\\[\\]()\n]{0,200}") {
            // A fenced code block's info string names its language: it is not text.
            proptest::prop_assume!(!input.contains("```"));
            let text = plain_text(&blocks(&input));
            let mut out = text.chars().filter(|c| c.is_alphanumeric());
            for c in input.chars().filter(|c| c.is_alphanumeric()) {
                proptest::prop_assert!(out.any(|o| o == c), "lost {c:?} of {input:?} in {text:?}");
            }
        }
    }
}
