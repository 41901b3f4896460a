//! Printed documents (docs/reports.md): what a reader is given when a picture is rendered as
//! PDF or HTML. Built only from the view the reader already has (`view`), so whatever is
//! redacted in the JSON is absent here too. The words of the template come from the
//! console's catalogues, so a document speaks the same words as the screen.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};
use sitrep_domain::charts::{self, AckState, Counted};
use sitrep_render::{
    Block, Chart, Document, Fact, Format, Labels, Progress, Rendered, Section, Series, Table, markdown,
};
use sitrep_types::{
    Election, Lang, LocalizedText, Picture, PictureContent, Report, ReportPicture, Severity, Status, Tlp,
};
use tokio::sync::Semaphore;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

/// `format` of a render: `pdf` (the default) or `html`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    #[default]
    Pdf,
    Html,
}

impl DocumentFormat {
    pub fn render(self) -> Format {
        match self {
            DocumentFormat::Pdf => Format::Pdf,
            DocumentFormat::Html => Format::Html,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "pdf",
            DocumentFormat::Html => "html",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RenderQuery {
    /// `pdf` (default) or `html`.
    pub format: Option<DocumentFormat>,
    /// `fi`, `sv` or `en`: the language of the texts and of the template; a text missing in
    /// it is printed in the picture's original language, with a note. Default: the picture's
    /// original language.
    pub lang: Option<Lang>,
}

fn parse(catalogue: &str) -> Map<String, Value> {
    serde_json::from_str(catalogue).unwrap_or_default()
}

static FI: LazyLock<Map<String, Value>> = LazyLock::new(|| parse(include_str!("../console/messages-fi.json")));
static SV: LazyLock<Map<String, Value>> = LazyLock::new(|| parse(include_str!("../console/messages-sv.json")));
static EN: LazyLock<Map<String, Value>> = LazyLock::new(|| parse(include_str!("../console/messages-en.json")));

/// The interface's words in one language.
pub struct Words {
    lang: Lang,
    map: &'static Map<String, Value>,
}

impl Words {
    pub fn new(lang: Lang) -> Words {
        let map = match lang {
            Lang::Fi => &*FI,
            Lang::Sv => &*SV,
            Lang::En => &*EN,
        };
        Words { lang, map }
    }

    /// The text of `key`; the English one if this language lacks it, the key itself if
    /// no catalogue has it (a test keeps all three complete).
    pub fn get(&self, key: &str) -> String {
        self.map.get(key).or_else(|| EN.get(key)).and_then(Value::as_str).unwrap_or(key).to_owned()
    }

    /// A wire word (`high`, `information_influence`) in this language.
    pub fn value(&self, word: &str) -> String {
        let key = format!("value.{word}");
        self.map.get(&key).or_else(|| EN.get(&key)).and_then(Value::as_str).unwrap_or(word).to_owned()
    }

    fn labels(&self) -> Labels {
        Labels {
            page: self.get("document.page"),
            generated: self.get("document.generated"),
            reader: self.get("document.reader"),
            content_hash: self.get("document.content_hash"),
        }
    }
}

fn in_lang(t: &LocalizedText, lang: Lang) -> Option<&String> {
    match lang {
        Lang::Fi => t.fi.as_ref(),
        Lang::Sv => t.sv.as_ref(),
        Lang::En => t.en.as_ref(),
    }
}

/// `t` in `lang`, else in `original`, else in any language; and whether it fell back.
fn text(t: &LocalizedText, lang: Lang, original: Lang) -> (String, bool) {
    if let Some(s) = in_lang(t, lang) {
        return (s.clone(), false);
    }
    let other = in_lang(t, original).or(t.en.as_ref()).or(t.fi.as_ref()).or(t.sv.as_ref());
    (other.cloned().unwrap_or_default(), true)
}

fn tlp(t: Tlp) -> sitrep_render::Tlp {
    match t {
        Tlp::Red => sitrep_render::Tlp::Red,
        Tlp::AmberStrict => sitrep_render::Tlp::AmberStrict,
        Tlp::Amber => sitrep_render::Tlp::Amber,
        Tlp::Green => sitrep_render::Tlp::Green,
        Tlp::Clear => sitrep_render::Tlp::Clear,
    }
}

/// The strictest of `tlps` (CLEAR when there are none).
fn strictest(tlps: impl IntoIterator<Item = Tlp>) -> Tlp {
    tlps.into_iter().max_by_key(|t| sitrep_domain::visibility::tlp_rank(*t)).unwrap_or(Tlp::Clear)
}

/// Every marking a picture's content shows: its own TLP and those of the indicators and
/// attachments in it (the reader's view: those beyond their reach are already gone).
fn markings(c: &PictureContent) -> impl Iterator<Item = Tlp> + '_ {
    std::iter::once(c.tlp).chain(c.indicators.iter().map(|i| i.tlp)).chain(c.attachments.iter().map(|a| a.tlp))
}

/// A time as the console shows it: in the deployment's time zone, to the minute.
pub fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

fn fact(label: String, value: impl Into<String>) -> Fact {
    Fact { label, value: value.into() }
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

/// What a section shows of a picture, from a picture or a report's included picture, as
/// the reader already sees it.
pub struct Shown<'a> {
    pub reference: &'a str,
    pub revision: i32,
    pub status: Status,
    pub originator: &'a str,
    pub severity: Severity,
    pub expired: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub redacted_indicators: u32,
    pub redacted_attachments: u32,
    pub content: &'a PictureContent,
}

impl<'a> From<&'a Picture> for Shown<'a> {
    fn from(p: &'a Picture) -> Shown<'a> {
        Shown {
            reference: &p.reference,
            revision: p.revision,
            status: p.status,
            originator: &p.originator.code,
            severity: p.severity,
            expired: p.expired,
            updated_at: Some(p.updated_at),
            published_at: p.published_at,
            redacted_indicators: p.redacted_indicators,
            redacted_attachments: p.redacted_attachments,
            content: &p.content,
        }
    }
}

/// The picture `p` (already as the reader sees it) as a section of a document.
pub fn picture_section(w: &Words, p: &Shown<'_>, tz: Tz) -> Section {
    let c = p.content;
    let lang = w.lang;
    let original = c.original_lang;
    let mut fell_back = false;
    let mut pick = |t: &LocalizedText| {
        let (s, fb) = text(t, lang, original);
        fell_back |= fb;
        s
    };
    let title = pick(&c.title);
    let summary = pick(&c.summary);
    let details = c.details.as_ref().map(&mut pick);

    let mut facts = vec![
        fact(w.get("admin.col.originator"), p.originator),
        fact(w.get("picture.status"), w.value(p.status.as_str())),
        fact(w.get("picture.kind"), w.value(c.kind.as_str())),
        fact(w.get("picture.severity"), w.value(p.severity.as_str())),
        fact(w.get("picture.urgency"), w.value(c.urgency.as_str())),
        fact(w.get("picture.primary_domain"), w.value(c.primary_domain.as_str())),
        fact(w.get("picture.domains"), c.domains.iter().map(|d| w.value(d.as_str())).collect::<Vec<_>>().join(", ")),
        fact(
            w.get("picture.admiralty"),
            format!("{}{}", c.source_reliability.as_str(), c.information_credibility.as_str()),
        ),
        fact(w.get("picture.tier"), w.value(c.tier.as_str())),
        fact(w.get("picture.classification"), w.value(c.classification.as_str())),
        fact(
            w.get("picture.revision_n").replace("{revision}", &p.revision.to_string()),
            p.updated_at.map(|t| local_time(t, tz)).unwrap_or_default(),
        ),
    ];
    if let Some(phase) = c.election_phase {
        facts.push(fact(w.get("picture.election_phase"), w.value(phase.as_str())));
    }
    if let Some(at) = p.published_at {
        facts.push(fact(w.get("document.published"), local_time(at, tz)));
    }
    if !c.disarm_techniques.is_empty() {
        facts.push(fact(w.get("picture.disarm_techniques"), c.disarm_techniques.join(", ")));
    }
    if !c.attack_techniques.is_empty() {
        facts.push(fact(w.get("picture.attack_techniques"), c.attack_techniques.join(", ")));
    }

    let mut notes = Vec::new();
    if c.is_exercise {
        notes.push(w.get("badge.exercise"));
    }
    if p.expired {
        notes.push(w.get("badge.expired"));
    }
    if p.redacted_indicators > 0 {
        notes.push(w.get("picture.redacted").replace("{n}", &p.redacted_indicators.to_string()));
    }
    if p.redacted_attachments > 0 {
        notes.push(w.get("document.attachments_redacted").replace("{n}", &p.redacted_attachments.to_string()));
    }

    let mut body = vec![Block::heading(2, w.get("picture.summary")), Block::text(summary)];
    if let Some(details) = details {
        body.push(Block::heading(2, w.get("picture.details")));
        body.extend(markdown::blocks(&details));
    }

    let mut tables = Vec::new();
    if !c.indicators.is_empty() {
        tables.push(Table {
            caption: w.get("picture.indicators"),
            header: vec![
                w.get("picture.ind_type"),
                w.get("picture.ind_value"),
                w.get("picture.ind_platform"),
                "TLP".into(),
            ],
            rows: c
                .indicators
                .iter()
                .map(|i| {
                    vec![
                        w.value(i.type_.as_str()),
                        i.value.clone(),
                        i.platform.map(|p| w.value(p.as_str())).unwrap_or_default(),
                        format!("TLP:{}", i.tlp.as_str()),
                    ]
                })
                .collect(),
        });
    }
    if !c.attachments.is_empty() {
        tables.push(Table {
            caption: w.get("document.attachments"),
            header: vec![
                w.get("document.file"),
                w.get("picture.ind_type"),
                w.get("document.size"),
                "SHA-256".into(),
                "TLP".into(),
            ],
            rows: c
                .attachments
                .iter()
                .map(|a| {
                    vec![
                        a.file_name.clone(),
                        a.media_type.clone(),
                        size(a.size),
                        a.sha256.clone(),
                        format!("TLP:{}", a.tlp.as_str()),
                    ]
                })
                .collect(),
        });
    }
    if !c.sources.is_empty() {
        tables.push(Table {
            caption: w.get("picture.sources"),
            header: vec![w.get("editor.source_type"), w.get("document.description"), w.get("picture.admiralty")],
            rows: c
                .sources
                .iter()
                .map(|s| {
                    let description = match &s.url {
                        Some(url) => format!("{} ({url})", s.description),
                        None => s.description.clone(),
                    };
                    vec![
                        w.value(s.source_type.as_str()),
                        description,
                        format!("{}{}", s.reliability.as_str(), s.credibility.as_str()),
                    ]
                })
                .collect(),
        });
    }
    if !c.recommended_actions.is_empty() {
        let rows = c.recommended_actions.iter().map(|a| vec![w.value(a.audience.as_str()), pick(&a.text)]).collect();
        tables.push(Table {
            caption: w.get("picture.recommended"),
            header: vec![w.get("editor.audience"), w.get("document.action")],
            rows,
        });
    }
    if fell_back {
        notes.push(
            w.get("picture.fallback")
                .replace("{wanted}", &w.value(lang.as_str()))
                .replace("{shown}", &w.value(original.as_str())),
        );
    }

    Section { reference: p.reference.to_owned(), title, tlp: tlp(c.tlp), facts, notes, body, tables }
}

impl<'a> From<&'a ReportPicture> for Shown<'a> {
    fn from(p: &'a ReportPicture) -> Shown<'a> {
        Shown {
            reference: &p.reference,
            revision: p.revision,
            status: p.status,
            originator: &p.originator.code,
            severity: p.severity,
            expired: p.expired,
            updated_at: None,
            published_at: p.published_at,
            redacted_indicators: p.redacted_indicators,
            redacted_attachments: p.redacted_attachments,
            content: &p.content,
        }
    }
}

/// What a report's cover and charts need beyond the report itself, all of it already cut
/// to what the reader may know.
pub struct ReportExtras {
    /// The report's election, if it names one.
    pub election: Option<Election>,
    /// Per included picture the reader may know the acknowledgements of: the recipient
    /// organisations and whether each has acknowledged.
    pub acknowledgements: Vec<AckState>,
    /// Organisation codes by id, for the acknowledgement chart.
    pub organisations: HashMap<Uuid, String>,
}

/// A severity's colour in a chart.
fn tone(s: Severity) -> u8 {
    match s {
        Severity::Low => 0,
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Critical => 3,
    }
}

/// The time zone of `name` (`console.time_zone`), UTC when it does not parse.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The report `r` (as the reader sees it) as a document for a reader of `reader_org`.
pub fn report_document(w: &Words, r: &Report, extras: &ReportExtras, reader_org: &str, tz: Tz) -> Document {
    let c = &r.content;
    let lang = w.lang;
    let (title, _) = text(&c.title, lang, c.original_lang);
    let (summary, summary_fell_back) = text(&c.summary, lang, c.original_lang);
    let (assessment, assessment_fell_back) = text(&c.assessment, lang, c.original_lang);

    let mut cover_facts = Vec::new();
    let window_end = c.window.map_or_else(Utc::now, |win| win.to);
    if let Some(win) = c.window {
        cover_facts
            .push(fact(w.get("report.window"), format!("{} – {}", local_time(win.from, tz), local_time(win.to, tz))));
    }
    if let Some(e) = &extras.election {
        let mut line = format!("{} ({})", e.name_en, e.code);
        if let Some(phases) = &e.phases {
            let phase = sitrep_domain::election::phase_on(phases, window_end.with_timezone(&tz).date_naive());
            line = format!("{line} · {}", w.value(phase.as_str()));
        }
        cover_facts.push(fact(w.get("picture.election"), line));
    }
    cover_facts.push(fact(w.get("admin.col.originator"), r.originator.code.clone()));
    cover_facts.push(fact(w.get("picture.status"), w.value(r.status.as_str())));
    if let Some(at) = r.published_at {
        cover_facts.push(fact(w.get("document.published"), local_time(at, tz)));
    }
    cover_facts.push(fact(w.get("report.pictures"), r.included.len().to_string()));

    let mut cover = vec![Block::heading(2, w.get("picture.summary")), Block::text(summary)];
    cover.push(Block::heading(2, w.get("picture.assessment")));
    cover.extend(markdown::blocks(&assessment));
    if summary_fell_back || assessment_fell_back {
        cover.push(Block::text(
            w.get("picture.fallback")
                .replace("{wanted}", &w.value(lang.as_str()))
                .replace("{shown}", &w.value(c.original_lang.as_str())),
        ));
    }

    let overview = Table {
        caption: w.get("report.pictures"),
        header: vec![
            w.get("admin.col.reference"),
            w.get("admin.col.title"),
            w.get("admin.col.originator"),
            w.get("picture.severity"),
            w.get("picture.urgency"),
            w.get("picture.status"),
            "TLP".into(),
        ],
        rows: r
            .included
            .iter()
            .map(|p| {
                vec![
                    p.reference.clone(),
                    text(&p.content.title, lang, p.content.original_lang).0,
                    p.originator.code.clone(),
                    w.value(p.severity.as_str()),
                    w.value(p.content.urgency.as_str()),
                    w.value(p.status.as_str()),
                    format!("TLP:{}", p.content.tlp.as_str()),
                ]
            })
            .collect(),
    };

    let mut charts = Vec::new();
    let (from, to) = match c.window {
        Some(win) => (win.from, win.to),
        None => {
            let times: Vec<DateTime<Utc>> = r.included.iter().filter_map(|p| p.published_at).collect();
            let from = times.iter().min().copied().unwrap_or_else(Utc::now);
            let to = times.iter().max().copied().unwrap_or(from) + chrono::Duration::seconds(1);
            (from, to)
        }
    };
    let buckets = charts::buckets(from, to, tz);
    let counted: Vec<Counted> = r
        .included
        .iter()
        .filter_map(|p| {
            p.published_at.map(|at| Counted {
                published_at: at,
                domains: p.content.domains.clone(),
                severity: p.severity,
            })
        })
        .collect();
    for (domain, by_severity) in charts::by_domain_and_severity(&counted, &buckets, tz) {
        charts.push(Chart::Stacked {
            title: format!("{} · {}", w.value(domain.as_str()), w.get("picture.severity")),
            categories: buckets.labels(tz),
            series: by_severity
                .into_iter()
                .map(|(severity, values)| Series { label: w.value(severity.as_str()), tone: tone(severity), values })
                .collect(),
        });
    }
    let progress = charts::ack_progress(&extras.acknowledgements);
    if !progress.is_empty() {
        let mut rows: Vec<Progress> = progress
            .into_iter()
            .map(|(org, (done, total))| Progress {
                label: extras.organisations.get(&org).cloned().unwrap_or_else(|| org.to_string()),
                done,
                total,
            })
            .collect();
        rows.sort_by(|a, b| a.label.cmp(&b.label));
        charts.push(Chart::Progress { title: w.get("picture.acks"), rows });
    }

    let strictest_class = r.included.iter().map(|p| p.content.classification).max();
    let classification = match strictest_class {
        Some(cl) => format!("{} · {}", w.value(cl.as_str()), w.value(c.tier.as_str())),
        None => w.value(c.tier.as_str()),
    };
    Document {
        lang: lang.as_str().to_owned(),
        title,
        reference: r.reference.clone(),
        // The band carries the strictest marking printed under it: a picture or an
        // indicator made stricter since the report was published raises it.
        tlp: tlp(strictest(std::iter::once(c.tlp).chain(r.included.iter().flat_map(|p| markings(&p.content))))),
        classification,
        generated_at: local_time(Utc::now(), tz),
        reader: reader_org.to_owned(),
        hash: String::new(),
        labels: w.labels(),
        cover_facts,
        cover,
        overview: Some(overview),
        charts,
        sections: r.included.iter().map(|p| picture_section(w, &Shown::from(p), tz)).collect(),
    }
}

/// A document of the single picture `p` for a reader of `reader_org`.
pub fn picture_document(w: &Words, p: &Picture, reader_org: &str, tz: Tz) -> Document {
    let section = picture_section(w, &Shown::from(p), tz);
    let c = &p.content;
    Document {
        lang: w.lang.as_str().to_owned(),
        title: section.title.clone(),
        reference: p.reference.clone(),
        // The strictest marking printed: an indicator stricter than its picture raises it.
        tlp: tlp(strictest(markings(c))),
        classification: format!("{} · {}", w.value(c.classification.as_str()), w.value(c.tier.as_str())),
        generated_at: local_time(Utc::now(), tz),
        reader: reader_org.to_owned(),
        hash: String::new(),
        labels: w.labels(),
        cover_facts: Vec::new(),
        cover: Vec::new(),
        overview: None,
        charts: Vec::new(),
        sections: vec![section],
    }
}

/// The access-log reason of a render: format, language, the content hash printed in the
/// footer, and what was left out for the reader, if anything.
pub fn render_reason(format: DocumentFormat, lang: Lang, hash: &str, left_out: Option<String>) -> String {
    let what = format!("render:{} lang:{} content:{hash}", format.as_str(), lang.as_str());
    match left_out {
        Some(left_out) => format!("{what} {left_out}"),
        None => what,
    }
}

/// The answer carrying `rendered`: its media type, the content hash, an inline file name
/// after `reference`, and for HTML the console's Content-Security-Policy.
pub fn respond(format: DocumentFormat, reference: &str, rendered: Rendered) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let file_name = format!("{reference}.{}", format.as_str());
    let disposition = sitrep_domain::attachment::content_disposition(&file_name).replacen("attachment", "inline", 1);
    let mut res = actix_web::HttpResponse::Ok();
    res.content_type(format.render().content_type())
        .insert_header(("Content-Hash", rendered.hash))
        .insert_header((header::CONTENT_DISPOSITION, disposition));
    if format == DocumentFormat::Html {
        res.insert_header((header::CONTENT_SECURITY_POLICY, crate::meta::CSP_APP));
    }
    res.body(rendered.bytes)
}

/// At most as many renders at once as the machine has cores: typesetting is CPU work, and
/// a burst of renders must not starve every other request.
static RENDERS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))));

/// How long a render waits for a slot before the answer is `503` with `Retry-After`.
const RENDER_WAIT: Duration = Duration::from_secs(20);

/// The largest document typeset, as the JSON of its content: a report of 50 pictures of
/// ordinary size is well under 1 MiB; one of 200 pictures filled to every limit is not
/// laid out (`422 document_too_large`).
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// `doc` rendered in `format`, off the async runtime and within the render limit. The
/// slot is held by the typesetting itself, so a request that goes away does not free it
/// while its document is still being laid out.
pub async fn render(doc: Document, format: DocumentFormat) -> Result<Rendered, ApiError> {
    let prepared = sitrep_render::prepare(doc).map_err(|e| ApiError::Internal(e.into()))?;
    if prepared.size() > MAX_DOCUMENT_BYTES {
        return Err(ApiError::invalid(
            "document",
            "document_too_large",
            "The document is too large to lay out: include fewer pictures.",
        ));
    }
    let permit = tokio::time::timeout(RENDER_WAIT, RENDERS.clone().acquire_owned())
        .await
        .map_err(|_| ApiError::Unavailable { code: "render_busy", retry_after_secs: 10 })?
        .map_err(|e| ApiError::Internal(e.into()))?;
    let rendered = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        prepared.render(format.render())
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    rendered.map_err(|e| ApiError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(body: Vec<Block>) -> Document {
        Document {
            lang: "en".into(),
            title: "T".into(),
            reference: "VTY-2026-0001".into(),
            tlp: sitrep_render::Tlp::Amber,
            classification: String::new(),
            generated_at: String::new(),
            reader: String::new(),
            hash: String::new(),
            labels: Words::new(Lang::En).labels(),
            cover_facts: Vec::new(),
            cover: body,
            overview: None,
            charts: Vec::new(),
            sections: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_document_over_the_limit_is_refused_before_it_is_laid_out() {
        let huge = document(vec![Block::text("x".repeat(MAX_DOCUMENT_BYTES))]);
        match render(huge, DocumentFormat::Pdf).await {
            Err(ApiError::Invalid(errors)) => assert!(format!("{errors:?}").contains("document_too_large")),
            other => panic!("not refused: {:?}", other.map(|r| r.hash)),
        }
        let small = render(document(vec![Block::text("x")]), DocumentFormat::Pdf).await.expect("render");
        assert!(small.bytes.starts_with(b"%PDF-"));
    }

    #[test]
    fn the_band_is_the_strictest_marking() {
        assert_eq!(strictest([Tlp::Green, Tlp::AmberStrict, Tlp::Amber]), Tlp::AmberStrict);
        assert_eq!(strictest([]), Tlp::Clear);
    }
}
