//! The HTML: the same content as the PDF, as one printable page. Every text is escaped;
//! the page has no script and no inline style, so it stands under the console's strict
//! Content-Security-Policy, and takes its look from the console's `report.css`. When
//! printed, the TLP band is repeated at the top and bottom of every sheet.

use std::fmt::Write;

use crate::model::{Block, Chart, Document, Fact, Section, Span, Table, Tlp};

/// The stylesheet the page links to, served with the console.
pub const STYLESHEET: &str = "/app/report.css";

/// `text` with HTML's special characters escaped, for text and attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn tlp_class(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Red => "tlp-red",
        Tlp::AmberStrict | Tlp::Amber => "tlp-amber",
        Tlp::Green => "tlp-green",
        Tlp::Clear => "tlp-clear",
    }
}

fn label(tlp: Tlp) -> String {
    format!("<span class=\"tlp {}\">{}</span>", tlp_class(tlp), escape(tlp.label()))
}

fn band(d: &Document, class: &str) -> String {
    format!(
        "<div class=\"band {class}\">{}<span class=\"classification\">{}</span><span class=\"reference\">{}</span></div>",
        label(d.tlp),
        escape(&d.classification),
        escape(&d.reference)
    )
}

fn spans(out: &mut String, spans: &[Span]) {
    for s in spans {
        let mut t = escape(&s.text);
        if s.code {
            t = format!("<code>{t}</code>");
        }
        if s.emph {
            t = format!("<em>{t}</em>");
        }
        if s.strong {
            t = format!("<strong>{t}</strong>");
        }
        out.push_str(&t);
    }
}

fn blocks(out: &mut String, blocks: &[Block]) {
    for b in blocks {
        match b {
            Block::Heading { level, spans: s } => {
                let h = (level + 2).min(6);
                let _ = write!(out, "<h{h}>");
                spans(out, s);
                let _ = write!(out, "</h{h}>");
            }
            Block::Paragraph { spans: s } => {
                out.push_str("<p>");
                spans(out, s);
                out.push_str("</p>");
            }
            Block::Quote { spans: s } => {
                out.push_str("<blockquote>");
                spans(out, s);
                out.push_str("</blockquote>");
            }
            Block::Code { text } => {
                let _ = write!(out, "<pre><code>{}</code></pre>", escape(text));
            }
            Block::List { ordered, items } => {
                let tag = if *ordered { "ol" } else { "ul" };
                let _ = write!(out, "<{tag}>");
                for item in items {
                    out.push_str("<li>");
                    spans(out, item);
                    out.push_str("</li>");
                }
                let _ = write!(out, "</{tag}>");
            }
        }
    }
}

fn facts(out: &mut String, facts: &[Fact]) {
    if facts.is_empty() {
        return;
    }
    out.push_str("<dl class=\"facts\">");
    for f in facts {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(&f.label), escape(&f.value));
    }
    out.push_str("</dl>");
}

fn table(out: &mut String, t: &Table) {
    if t.header.is_empty() {
        return;
    }
    out.push_str("<table>");
    if !t.caption.is_empty() {
        let _ = write!(out, "<caption>{}</caption>", escape(&t.caption));
    }
    out.push_str("<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// A chart as a table of its figures with bars drawn by CSS classes (no inline style):
/// each bar's length is one of twenty steps, `w0` to `w20`.
fn chart(out: &mut String, c: &Chart) {
    match c {
        Chart::Stacked { title, categories, series } => {
            let _ = write!(
                out,
                "<figure class=\"chart\"><figcaption>{}</figcaption><table><thead><tr><th></th>",
                escape(title)
            );
            for s in series {
                let _ = write!(out, "<th scope=\"col\">{}</th>", escape(&s.label));
            }
            out.push_str("</tr></thead><tbody>");
            for (i, cat) in categories.iter().enumerate() {
                let _ = write!(out, "<tr><th scope=\"row\">{}</th>", escape(cat));
                for s in series {
                    let _ = write!(out, "<td>{}</td>", s.values.get(i).copied().unwrap_or(0));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table></figure>");
        }
        Chart::Progress { title, rows } => {
            let _ = write!(out, "<figure class=\"chart\"><figcaption>{}</figcaption><table><tbody>", escape(title));
            for r in rows {
                let step = if r.total == 0 { 0 } else { u64::from(r.done.min(r.total)) * 20 / u64::from(r.total) };
                let _ = write!(
                    out,
                    "<tr><th scope=\"row\">{}</th><td class=\"bar\"><span class=\"fill w{step}\"></span></td><td>{} / {}</td></tr>",
                    escape(&r.label),
                    r.done,
                    r.total
                );
            }
            out.push_str("</tbody></table></figure>");
        }
    }
}

fn section(out: &mut String, s: &Section) {
    let _ = write!(
        out,
        "<section class=\"picture\"><h2><span class=\"reference\">{}</span> {} {}</h2>",
        escape(&s.reference),
        escape(&s.title),
        label(s.tlp)
    );
    facts(out, &s.facts);
    for n in &s.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(n));
    }
    blocks(out, &s.body);
    for t in &s.tables {
        table(out, t);
    }
    out.push_str("</section>");
}

/// The page of `d`.
pub fn page(d: &Document) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{} {}</title>\
         <link rel=\"stylesheet\" href=\"{STYLESHEET}\"></head><body class=\"report\">",
        escape(&d.lang),
        escape(d.tlp.label()),
        escape(&d.title)
    );
    out.push_str(&band(d, "top"));
    out.push_str("<main>");
    let cover = !d.cover.is_empty() || !d.cover_facts.is_empty() || d.overview.is_some() || !d.charts.is_empty();
    if cover {
        let _ = write!(out, "<h1>{}</h1>", escape(&d.title));
    }
    facts(&mut out, &d.cover_facts);
    blocks(&mut out, &d.cover);
    if let Some(t) = &d.overview {
        table(&mut out, t);
    }
    for c in &d.charts {
        chart(&mut out, c);
    }
    for s in &d.sections {
        section(&mut out, s);
    }
    let _ = write!(
        out,
        "</main><footer>{}<p class=\"colophon\">{} {} · {} {} · {} {}</p></footer></body></html>",
        band(d, "bottom"),
        escape(&d.labels.generated),
        escape(&d.generated_at),
        escape(&d.labels.reader),
        escape(&d.reader),
        escape(&d.labels.content_hash),
        escape(&d.hash)
    );
    out
}
