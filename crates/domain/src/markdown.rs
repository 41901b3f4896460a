//! Markdown in a picture's details, rendered to HTML that is safe to put into a page.
//!
//! Authors write details in Markdown (CommonMark with tables and strikethrough). Raw HTML
//! in the text is never passed on: it is shown as the text it is. The rendered HTML then
//! goes through an allow-list sanitiser, so only plain formatting elements remain, links
//! keep only `http`, `https` and `mailto` addresses and get `rel="noopener noreferrer"`,
//! and images are dropped (a picture never makes a reader's browser fetch from elsewhere).

use std::collections::HashSet;

use pulldown_cmark::{Event, Options, Parser, html};

/// The HTML of `markdown`, sanitised (see the module's documentation).
pub fn render(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is shown as text, escaped by the HTML writer.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    sanitiser().clean(&unsafe_html).to_string()
}

fn sanitiser() -> ammonia::Builder<'static> {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "hr",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into_iter()
    .collect();
    let mut b = ammonia::Builder::empty();
    b.tags(tags)
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("ol", ["start"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        .url_relative(ammonia::UrlRelative::Deny)
        .strip_comments(true);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn markdown_formatting_is_rendered() {
        let html = render("**Tärkeää**: katso *ohje*\n\n- yksi\n- kaksi");
        assert!(html.contains("<strong>Tärkeää</strong>"), "{html}");
        assert!(html.contains("<em>ohje</em>"), "{html}");
        assert!(html.contains("<li>yksi</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_never_as_markup() {
        let html = render("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)> <b>bold</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn links_get_rel_noopener_and_only_safe_schemes_survive() {
        let html = render("[ohje](https://vaalit.fi/ohje) [x](javascript:alert(1)) [y](/relative)");
        assert!(html.contains(r#"<a href="https://vaalit.fi/ohje" rel="noopener noreferrer">ohje</a>"#), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("href=\"/relative\""), "{html}");
    }

    #[test]
    fn images_are_dropped() {
        let html = render("![kuva](https://example.org/track.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("track.png"), "{html}");
    }

    /// Every element and attribute in `html`, by a small scanner of its own.
    fn elements(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            let end = rest[i..].find('>').map(|j| i + j).unwrap_or(rest.len());
            out.push(rest[i + 1..end].to_owned());
            rest = &rest[end.min(rest.len())..];
            if rest.is_empty() {
                break;
            }
            rest = &rest[1..];
        }
        out
    }

    proptest! {
        /// Whatever an author writes, the result has only allowed elements, no event
        /// handler or style attribute, and every link is `rel="noopener noreferrer"`.
        #[test]
        fn no_input_yields_markup_outside_the_allow_list(
            parts in prop::collection::vec(prop_oneof![
                Just("<script>".to_owned()), Just("</script>".to_owned()), Just("<img src=x onerror=y>".to_owned()),
                Just("<a href=\"javascript:x\">".to_owned()), Just("[l](https://a.fi)".to_owned()),
                Just("[l](javascript:alert(1))".to_owned()), Just("![i](https://a.fi/i.png)".to_owned()),
                Just("<div style=\"x\" onclick=\"y\">".to_owned()), Just("**b**".to_owned()), Just("\n\n".to_owned()),
                Just("`code <b>`".to_owned()), Just("<!-- c -->".to_owned()), Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_owned()),
                "[ -~åäö]{0,12}",
            ], 0..12)
        ) {
            let input: String = parts.concat();
            let html = render(&input);
            let allowed = ["p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
                "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"];
            for el in elements(&html) {
                let name = el.trim_start_matches('/').split([' ', '/']).next().unwrap_or("").to_owned();
                prop_assert!(allowed.contains(&name.as_str()), "element {el} in {html}");
                let lower = el.to_lowercase();
                prop_assert!(!lower.contains(" on") && !lower.contains("style=") && !lower.contains("src="), "attribute in {el}");
                if name == "a" && !el.starts_with('/') {
                    prop_assert!(el.contains("rel=\"noopener noreferrer\""), "link without rel: {el}");
                    prop_assert!(!lower.contains("javascript:"), "script link: {el}");
                }
            }
        }
    }
}
