//! Pictures rendered as PDF and HTML over HTTPS, read back with poppler's `pdftotext` and
//! drawn with `pdftoppm` (deploy/test installs poppler-utils): the TLP label at the top and
//! bottom of every page in each language, a reader's redactions kept in print, untrusted
//! text printed literally, the render in the access log with the hash in the footer.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::pictures::{Cast, cast, content, published};

const STRICT_VALUE: &str = "strict-only-marker.example";

/// Where the rendered files are kept for people to look at: `target/test-artefacts/render`.
fn artefacts() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("test-artefacts/render");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn poppler(tool: &str) -> Command {
    let found = Command::new(tool).arg("-v").output().is_ok();
    assert!(found, "{tool} not found: deploy/test installs the Debian package poppler-utils");
    Command::new(tool)
}

/// The text of each page of the PDF at `path`, laid out as printed.
fn pages(path: &Path) -> Vec<String> {
    pdftotext(path, &["-layout"])
}

/// The text of each page in the order it was written (a wrapped title stays in one piece).
fn pages_raw(path: &Path) -> Vec<String> {
    pdftotext(path, &["-raw"])
}

fn pdftotext(path: &Path, options: &[&str]) -> Vec<String> {
    let out = poppler("pdftotext").args(options).arg(path).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\x0c').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Runs of whitespace made one space, so that text wrapped in the layout compares.
fn squeezed(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A published `group_virt_ras` AMBER picture with details long enough for several pages
/// and two indicators: one AMBER, one AMBER+STRICT (which reaches `group_virt`, not R).
async fn long_picture(app: &TestApp, cast: &Cast, title: &str) -> (String, String) {
    let mut body = content("group_virt_ras", "AMBER");
    body["title"]["en"] = json!(title);
    let paragraph = "Posts claim that ballots were destroyed in the municipality; the claim is false and the \
                     election authority has said so. ";
    let details: String = (1..=40).map(|i| format!("## Finding {i}\n\n{}\n\n", paragraph.repeat(3))).collect();
    body["details"] = json!({"fi": details, "sv": details, "en": details});
    body["indicators"] = json!([
        {"type": "domain", "value": "ballots-destroyed.example", "tlp": "AMBER"},
        {"type": "domain", "value": STRICT_VALUE, "tlp": "AMBER+STRICT"}
    ]);
    let id = published(app, cast, &body).await;
    let reference = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.json::<Value>().await.unwrap()
        ["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, reference)
}

struct Rendered {
    path: PathBuf,
    hash: String,
    request_id: String,
}

async fn render(app: &TestApp, token: &str, id: &str, query: &str, name: &str) -> Rendered {
    let res = app.get(&format!("/api/v1/pictures/{id}/render?{query}"), Some(token)).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let hash = res.headers()["content-hash"].to_str().unwrap().to_owned();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let bytes = res.bytes().await.unwrap();
    let path = artefacts().join(name);
    std::fs::write(&path, &bytes).unwrap();
    Rendered { path, hash, request_id }
}

#[tokio::test]
async fn a_picture_renders_in_each_language_with_its_tlp_label_at_the_top_and_bottom_of_every_page() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, reference) = long_picture(&app, &cast, "Ballots destroyed: a false claim").await;
    for (lang, page_word, summary) in [
        ("fi", "Sivu", "Tekstiviestejä levitetään"),
        ("sv", "Sida", "Sms sprids"),
        ("en", "Page", "Text messages claim"),
    ] {
        let r =
            render(&app, &cast.b_reader, &id, &format!("format=pdf&lang={lang}"), &format!("picture-{lang}.pdf")).await;
        let pages = pages(&r.path);
        assert!(pages.len() >= 3, "{lang}: the long details take several pages, got {}", pages.len());
        let m = pages.len();
        for (i, page) in pages.iter().enumerate() {
            let lines: Vec<&str> = page.lines().filter(|l| !l.trim().is_empty()).collect();
            let top = lines.first().copied().unwrap_or_default();
            let bottom = lines.iter().rev().nth(1).copied().unwrap_or_default();
            for band in [top, bottom] {
                assert!(
                    band.trim_start().starts_with("TLP:AMBER+STRICT ") && band.contains(reference.as_str()),
                    "{lang} page {}: the label and the reference at the top and bottom:\n{page}",
                    i + 1
                );
            }
            assert!(
                page.contains(&format!("{page_word} {}", i + 1)) && page.contains(&m.to_string()),
                "{lang} page {}: page N of M:\n{page}",
                i + 1
            );
            assert!(page.contains(&r.hash), "{lang} page {}: the content hash in the footer", i + 1);
        }
        assert!(squeezed(&pages.concat()).contains(summary), "{lang}: the summary in that language");
    }
    // Page 1 drawn as an image, for people to look at.
    let png = artefacts().join("picture-en-page");
    let out = poppler("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
        .arg(artefacts().join("picture-en.pdf"))
        .arg(&png)
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    let drawn = std::fs::read_dir(artefacts()).unwrap().filter_map(Result::ok).any(|e| {
        e.file_name().to_string_lossy().starts_with("picture-en-page") && e.metadata().is_ok_and(|m| m.len() > 1000)
    });
    assert!(drawn, "pdftoppm drew page 1");
}

#[tokio::test]
async fn an_indicator_whose_tlp_does_not_reach_the_reader_is_not_in_the_text_of_their_pdf() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, _) = long_picture(&app, &cast, "Redaction in print").await;
    // B (a member) is reached by AMBER+STRICT; R (the RAS contact point) is not.
    let b = render(&app, &cast.b_reader, &id, "lang=en", "redaction-b.pdf").await;
    let r = render(&app, &cast.r_reader, &id, "lang=en", "redaction-r.pdf").await;
    let b_text = squeezed(&pages(&b.path).concat());
    let r_text = squeezed(&pages(&r.path).concat());
    assert!(b_text.contains(STRICT_VALUE), "B sees the stricter indicator");
    assert!(r_text.contains("ballots-destroyed.example"), "R sees the AMBER indicator");
    assert!(!r_text.contains(STRICT_VALUE) && !r_text.contains("strict-only"), "R's PDF holds the stricter value");
    assert!(r_text.contains("1 indicator(s) have a stricter TLP"), "R is told one was left out");
    assert_ne!(b.hash, r.hash, "different content, different hash");
    // The same holds for the HTML page.
    let res = app.get(&format!("/api/v1/pictures/{id}/render?format=html&lang=en"), Some(&cast.r_reader)).await;
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains(STRICT_VALUE));
}

#[tokio::test]
async fn typesetting_syntax_in_a_title_prints_literally() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let title = "#set page(width: 1cm) #panic(\"boom\") *bold* $x^2$ ] } <label> @ref";
    let mut body = content("group", "AMBER");
    body["title"]["en"] = json!(title);
    body["details"] = json!({"en": "```\n#import \"/etc/passwd\"\n```\n\n#read(\"/data.json\") `#eval(\"1\")`"});
    let id = published(&app, &cast, &body).await;
    let r = render(&app, &cast.b_reader, &id, "lang=en", "syntax.pdf").await;
    let text = squeezed(&pages_raw(&r.path).concat());
    assert!(text.contains(title), "the title as written:\n{text}");
    assert!(
        text.contains("#import \"/etc/passwd\"") && text.contains("#read(\"/data.json\")"),
        "details as written:\n{text}"
    );
    // And escaped in HTML.
    let res = app.get(&format!("/api/v1/pictures/{id}/render?format=html&lang=en"), Some(&cast.b_reader)).await;
    let page = res.text().await.unwrap();
    assert!(page.contains("&lt;label&gt;") && !page.contains("<label>"), "{page}");
}

#[tokio::test]
async fn the_html_page_is_escaped_scriptless_and_under_the_consoles_strict_policy() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut body = content("group", "AMBER");
    body["title"]["en"] = json!("<script>alert(1)</script><img src=x onerror=alert(2)>");
    body["details"] = json!({"en": "<script>alert(3)</script> [x](javascript:alert(4))"});
    let id = published(&app, &cast, &body).await;
    let res = app.get(&format!("/api/v1/pictures/{id}/render?format=html&lang=en"), Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let hash = res.headers()["content-hash"].to_str().unwrap().to_owned();
    let page = res.text().await.unwrap();
    assert!(!page.contains("<script") && !page.contains("<img") && !page.contains(" style="), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
    assert!(page.contains(&hash), "the footer carries the hash");
    assert_eq!(page.matches("TLP:AMBER").count(), 4, "title, both bands and the section's own label");
    // The stylesheet it links to is served.
    let css = app.get(sitrep_render::STYLESHEET, None).await;
    assert_eq!(css.status(), 200);
}

#[tokio::test]
async fn only_those_who_see_a_pictures_content_can_render_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    // A `group` picture: the RAS contact point is outside its audience.
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = app.get(&format!("/api/v1/pictures/{id}/render"), Some(&cast.r_reader)).await;
    assert_eq!(res.status(), 404);
    let res = app.get(&format!("/api/v1/pictures/{}/render", uuid::Uuid::now_v7()), Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}/render"), None).await.status(), 401);
    for bad in ["format=docx", "lang=de", "colour=red"] {
        let res = app.get(&format!("/api/v1/pictures/{id}/render?{bad}"), Some(&cast.b_reader)).await;
        assert_eq!(res.status(), if bad.starts_with("colour") { 400 } else { 422 }, "{bad}");
    }
}

#[tokio::test]
async fn a_render_is_in_the_access_log_with_the_hash_printed_in_its_footer() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, _) = long_picture(&app, &cast, "Logged render").await;
    let r = render(&app, &cast.r_reader, &id, "format=pdf&lang=sv", "logged.pdf").await;
    assert!(pages(&r.path)[0].contains(&r.hash));
    let records = app.audit_records(&r.request_id).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let rec = &records[0];
    assert_eq!(rec.action, "picture.render");
    assert_eq!(rec.object_type.as_deref(), Some("picture"));
    assert_eq!(rec.object_id.as_deref(), Some(id.as_str()));
    let reason = rec.reason.clone().unwrap_or_default();
    assert!(reason.contains(&format!("content:{}", r.hash)) && reason.contains("render:pdf lang:sv"), "{reason}");
    assert!(reason.contains("indicators_redacted:1"), "what was left out is logged: {reason}");
}

/// A report of two published `group_virt_ras` pictures (one with an AMBER+STRICT
/// indicator, one in the cyber domain), published with four eyes; B has acknowledged the
/// first picture. Returns the report's id and reference and the pictures' references.
async fn published_report(app: &TestApp, cast: &Cast) -> (String, String, Vec<String>) {
    let (first, first_ref) = long_picture(app, cast, "Ballots destroyed: a false claim").await;
    let mut body = content("group_virt_ras", "AMBER");
    body["primary_domain"] = json!("cyber");
    body["domains"] = json!(["cyber"]);
    body["disarm_techniques"] = json!([]);
    body["title"]["en"] = json!("Denial of service against the results service");
    let second = published(app, cast, &body).await;
    let second_ref = app
        .get(&format!("/api/v1/pictures/{second}"), Some(&cast.author))
        .await
        .json::<Value>()
        .await
        .unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = app
        .post_json(
            &format!("/api/v1/pictures/{first}/acknowledgements"),
            Some(&cast.b_reader),
            &json!({"kind": "received"}),
        )
        .await;
    assert_eq!(ack.status(), 201);
    let now = chrono::Utc::now();
    let report = json!({
        "original_lang": "en",
        "title": {"fi": "Yhteinen tilannekuva", "sv": "Gemensam lägesbild", "en": "Common situation picture"},
        "summary": {"fi": "Päivän tapahtumat", "sv": "Dagens händelser", "en": "The day's events"},
        "assessment": {"fi": "Arvio: **tilanne on hallinnassa**.", "sv": "Bedömning: läget är under kontroll.", "en": "Assessment: **the situation is under control**."},
        "window": {"from": (now - chrono::Duration::hours(3)).to_rfc3339(), "to": (now + chrono::Duration::hours(1)).to_rfc3339()},
        "pictures": [first, second],
        "tier": "group_virt_ras",
        "tlp": "AMBER"
    });
    let res = app.post_json("/api/v1/reports", Some(&cast.author), &report).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let r: Value = res.json().await.unwrap();
    let id = r["id"].as_str().unwrap().to_owned();
    let act = |token: &str, action: &str| {
        let url = app.url(&format!("/api/v1/reports/{id}/{action}"));
        let token = token.to_owned();
        async move { app.client.post(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(act(&cast.author, "submit").await, 200);
    assert_eq!(act(&cast.approver2, "approve").await, 200);
    assert_eq!(act(&cast.approver, "publish").await, 200);
    (id, r["reference"].as_str().unwrap().to_owned(), vec![first_ref, second_ref])
}

async fn render_report(app: &TestApp, token: &str, id: &str, query: &str, name: &str) -> Rendered {
    let res = app.get(&format!("/api/v1/reports/{id}/render?{query}"), Some(token)).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let hash = res.headers()["content-hash"].to_str().unwrap().to_owned();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let path = artefacts().join(name);
    std::fs::write(&path, res.bytes().await.unwrap()).unwrap();
    Rendered { path, hash, request_id }
}

#[tokio::test]
async fn a_report_renders_its_cover_table_charts_and_pictures_with_the_tlp_label_on_every_page() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, reference, pictures) = published_report(&app, &cast).await;
    for (lang, page_word, words) in [
        ("en", "Page", ["Assessment", "Information influence · Severity", "Acknowledgements"]),
        ("fi", "Sivu", ["Arvio", "Informaatiovaikuttaminen · Vakavuus", "Kuittaukset"]),
        ("sv", "Sida", ["Bedömning", "Informationspåverkan · Allvarlighet", "Kvitteringar"]),
    ] {
        let r = render_report(&app, &cast.author, &id, &format!("lang={lang}"), &format!("report-{lang}.pdf")).await;
        let pages = pages(&r.path);
        let m = pages.len();
        assert!(m >= 3, "{lang}: cover and pictures take several pages");
        for (i, page) in pages.iter().enumerate() {
            let lines: Vec<&str> = page.lines().filter(|l| !l.trim().is_empty()).collect();
            for band in [lines[0], lines[lines.len() - 2]] {
                assert!(
                    band.trim_start().starts_with("TLP:AMBER+STRICT ") && band.contains(reference.as_str()),
                    "{lang} page {}: the band:\n{page}",
                    i + 1
                );
            }
            assert!(
                page.contains(&format!("{page_word} {}", i + 1)) && page.contains(&r.hash),
                "{lang} page {}",
                i + 1
            );
        }
        let text = squeezed(&pages.concat());
        for p in &pictures {
            assert!(text.matches(p.as_str()).count() >= 2, "{lang}: {p} in the table and as a section");
        }
        for w in words {
            assert!(text.contains(w), "{lang}: {w:?} in\n{text}");
        }
    }
    let png = artefacts().join("report-en-page");
    let out = poppler("pdftoppm")
        .args(["-png", "-r", "80", "-f", "1", "-l", "1"])
        .arg(artefacts().join("report-en.pdf"))
        .arg(&png)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[tokio::test]
async fn a_reports_acknowledgement_chart_and_indicators_are_what_each_reader_may_know() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, _, _) = published_report(&app, &cast).await;
    // pdftotext keeps or drops the thin spaces around the slash: compare without them.
    let chart = |text: &str| text[text.find("Acknowledgements").expect("the chart")..].replace(" / ", "/");
    // The originator's organisation sees every recipient: B acknowledged one of two.
    let a = squeezed(&pages(&render_report(&app, &cast.author, &id, "lang=en", "report-a.pdf").await.path).concat());
    assert!(chart(&a).contains("ORG-B 1/2") && chart(&a).contains("ORG-V 0/2"), "{a}");
    // B sees its own organisation's row alone, and the stricter indicator.
    let b = squeezed(&pages(&render_report(&app, &cast.b_reader, &id, "lang=en", "report-b.pdf").await.path).concat());
    assert!(chart(&b).contains("ORG-B 1/2") && !b.contains("ORG-V"), "{b}");
    assert!(b.contains(STRICT_VALUE));
    // R (the RAS contact point) is in the report's audience but not the indicator's.
    let r = render_report(&app, &cast.r_reader, &id, "lang=en", "report-r.pdf").await;
    let r_text = squeezed(&pages(&r.path).concat());
    assert!(!r_text.contains(STRICT_VALUE) && r_text.contains("1 indicator(s) have a stricter TLP"), "{r_text}");
    assert!(!r_text.contains("ORG-B"), "R is not told who else acknowledged");
    let records = app.audit_records(&r.request_id).await;
    assert_eq!(records[0].action, "report.render");
    assert!(records[0].reason.as_deref().unwrap_or_default().contains(&format!("content:{}", r.hash)));
    // A draft report is its organisation's alone: rendering it elsewhere is 404, as reading it is.
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let draft = json!({
        "original_lang": "en",
        "title": {"en": "Draft"}, "summary": {"en": "Draft"}, "assessment": {"en": "Draft"},
        "pictures": [picture], "tier": "group", "tlp": "AMBER"
    });
    let res = app.post_json("/api/v1/reports", Some(&cast.author), &draft).await;
    assert_eq!(res.status(), 201);
    let draft_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/api/v1/reports/{draft_id}/render"), Some(&cast.b_reader)).await.status(), 404);
    assert_eq!(app.get(&format!("/api/v1/reports/{draft_id}/render"), Some(&cast.author)).await.status(), 200);
    // A `group` report does not reach the RAS contact point.
    assert_eq!(app.get(&format!("/api/v1/reports/{draft_id}/render"), Some(&cast.r_reader)).await.status(), 404);
}

#[tokio::test]
async fn the_band_carries_the_strictest_marking_printed_under_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    // A GREEN picture with an AMBER+STRICT indicator: a member sees the indicator, so its
    // pages are AMBER+STRICT; the RAS contact point does not, so its pages are GREEN.
    let mut body = content("group_virt_ras", "GREEN");
    body["indicators"] = json!([{"type": "domain", "value": STRICT_VALUE, "tlp": "AMBER+STRICT"}]);
    let id = published(&app, &cast, &body).await;
    let first_line =
        |path: &Path| pages(path)[0].lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_owned();
    let b = render(&app, &cast.b_reader, &id, "lang=en", "band-b.pdf").await;
    assert!(first_line(&b.path).starts_with("TLP:AMBER+STRICT "), "{}", first_line(&b.path));
    let r = render(&app, &cast.r_reader, &id, "lang=en", "band-r.pdf").await;
    assert!(first_line(&r.path).starts_with("TLP:GREEN "), "{}", first_line(&r.path));
    // A GREEN report of that picture: printed for a reader who sees the indicator, its
    // band is the indicator's.
    let report = json!({
        "original_lang": "en",
        "title": {"en": "Band"}, "summary": {"en": "Band"}, "assessment": {"en": "Band"},
        "pictures": [id], "tier": "group_virt_ras", "tlp": "GREEN"
    });
    let res = app.post_json("/api/v1/reports", Some(&cast.author), &report).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let rid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app.get(&format!("/api/v1/reports/{rid}/render?lang=en&format=html"), Some(&cast.author)).await;
    let page = res.text().await.unwrap();
    assert!(page.contains("<title>TLP:AMBER+STRICT Band</title>"), "{page}");
}
