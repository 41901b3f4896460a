//! The text of notification messages in Finnish, Swedish and English: a subject, a plain
//! text part and an HTML part of the same words. No images, no remote content, no
//! tracking: the only link is the console's. Title and summary appear only when the
//! picture's TLP allows them in a message (`text_may_be_mailed`: CLEAR and GREEN).

use chrono::{DateTime, Utc};
use sitrep_domain::notify::{MailedEvent, text_may_be_mailed};
use sitrep_types::{Lang, LocalizedText, Tlp, Urgency};

/// What a message about an event says.
#[derive(Debug, Clone)]
pub struct EventMail<'a> {
    pub lang: Lang,
    pub event: MailedEvent,
    pub reference: &'a str,
    pub urgency: Urgency,
    pub tlp: Tlp,
    pub deadline: Option<DateTime<Utc>>,
    pub originator: &'a LocalizedText,
    pub title: &'a LocalizedText,
    pub summary: &'a LocalizedText,
    pub is_exercise: bool,
    pub link: String,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The text in `lang`, else in any language (Finnish, Swedish, English).
fn pick(t: &LocalizedText, lang: Lang) -> Option<&str> {
    let first = match lang {
        Lang::Fi => &t.fi,
        Lang::Sv => &t.sv,
        Lang::En => &t.en,
    };
    first.as_deref().or(t.fi.as_deref()).or(t.sv.as_deref()).or(t.en.as_deref())
}

struct Words {
    published: &'static str,
    revised: &'static str,
    withdrawn: &'static str,
    urgency: [&'static str; 3],
    urgency_label: &'static str,
    reference: &'static str,
    originator: &'static str,
    deadline: &'static str,
    exercise: &'static str,
    open: &'static str,
    restricted: &'static str,
    footer: &'static str,
    confirm_subject: &'static str,
    confirm_body: &'static str,
    token: &'static str,
}

fn urgency_word(w: &Words, u: Urgency) -> &'static str {
    w.urgency[match u {
        Urgency::Routine => 0,
        Urgency::Priority => 1,
        Urgency::Immediate => 2,
    }]
}

fn words(lang: Lang) -> &'static Words {
    const FI: Words = Words {
        published: "Uusi tilannekuva",
        revised: "Päivitetty tilannekuva",
        withdrawn: "Peruttu tilannekuva",
        urgency: ["rutiini", "kiireellinen", "välitön"],
        urgency_label: "Kiireellisyys",
        reference: "Viite",
        originator: "Lähettäjä",
        deadline: "Kuittaus viimeistään",
        exercise: "HARJOITUS",
        open: "Avaa Sitrepissä",
        restricted: "Sisältö on luettavissa vain Sitrepissä (TLP-luokitus ei salli sitä sähköpostissa).",
        footer: "Sitrep lähetti tämän, koska olet tilannut ilmoitukset tai osoite on organisaatiosi päivystysosoite. Asetukset: Sitrep › Ilmoitukset.",
        confirm_subject: "Vahvista sähköpostiosoitteesi Sitrepissä",
        confirm_body: "Vahvista, että tähän osoitteeseen saa lähettää Sitrepin ilmoituksia. Linkki ja tunniste ovat voimassa 48 tuntia ja toimivat kerran. Jos et pyytänyt tätä, voit jättää viestin huomiotta.",
        token: "Tunniste",
    };
    const SV: Words = Words {
        published: "Ny lägesbild",
        revised: "Uppdaterad lägesbild",
        withdrawn: "Återkallad lägesbild",
        urgency: ["rutin", "brådskande", "omedelbar"],
        urgency_label: "Brådska",
        reference: "Referens",
        originator: "Avsändare",
        deadline: "Kvittera senast",
        exercise: "ÖVNING",
        open: "Öppna i Sitrep",
        restricted: "Innehållet kan bara läsas i Sitrep (TLP-märkningen tillåter det inte i e-post).",
        footer: "Sitrep skickade detta eftersom du beställt aviseringar eller adressen är din organisations jouradress. Inställningar: Sitrep › Aviseringar.",
        confirm_subject: "Bekräfta din e-postadress i Sitrep",
        confirm_body: "Bekräfta att Sitreps aviseringar får skickas till denna adress. Länken och koden gäller i 48 timmar och fungerar en gång. Om du inte begärt detta kan du bortse från meddelandet.",
        token: "Kod",
    };
    const EN: Words = Words {
        published: "New situation picture",
        revised: "Updated situation picture",
        withdrawn: "Withdrawn situation picture",
        urgency: ["routine", "priority", "immediate"],
        urgency_label: "Urgency",
        reference: "Reference",
        originator: "From",
        deadline: "Acknowledge by",
        exercise: "EXERCISE",
        open: "Open in Sitrep",
        restricted: "The content can be read in Sitrep only (its TLP does not allow it in e-mail).",
        footer: "Sitrep sent this because you asked for notifications or the address is your organisation's duty address. Settings: Sitrep › Notifications.",
        confirm_subject: "Confirm your e-mail address in Sitrep",
        confirm_body: "Confirm that Sitrep's notifications may be sent to this address. The link and the token work once, for 48 hours. If you did not ask for this, ignore this message.",
        token: "Token",
    };
    match lang {
        Lang::Fi => &FI,
        Lang::Sv => &SV,
        Lang::En => &EN,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

fn html_page(lang: Lang, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body>\n{body}</body></html>\n",
        lang.as_str()
    )
}

/// The message about an event.
pub fn event(m: &EventMail<'_>) -> Rendered {
    let w = words(m.lang);
    let what = match m.event {
        MailedEvent::Published => w.published,
        MailedEvent::Revised => w.revised,
        MailedEvent::Withdrawn => w.withdrawn,
    };
    let urgency = urgency_word(w, m.urgency);
    let originator = pick(m.originator, m.lang).unwrap_or("");
    let tlp = format!("TLP:{}", m.tlp.as_str());
    let exercise = if m.is_exercise { format!("[{}] ", w.exercise) } else { String::new() };
    let text_allowed = text_may_be_mailed(m.tlp);
    let title = if text_allowed { pick(m.title, m.lang) } else { None };
    let summary = if text_allowed { pick(m.summary, m.lang) } else { None };
    let subject = match title {
        Some(t) => format!("{exercise}[{tlp}] {what}, {urgency}: {} {t}", m.reference),
        None => format!("{exercise}[{tlp}] {what}, {urgency}: {} ({originator})", m.reference),
    };
    let deadline = m.deadline.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string());

    let mut fields: Vec<(&str, String)> = vec![
        (w.reference, m.reference.to_owned()),
        (w.urgency_label, urgency.to_owned()),
        ("TLP", m.tlp.as_str().to_owned()),
        (w.originator, originator.to_owned()),
    ];
    if let Some(d) = &deadline {
        fields.push((w.deadline, d.clone()));
    }

    let mut text = format!("{tlp}\n\n{exercise}{what}\n\n");
    for (k, v) in &fields {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push('\n');
    match (title, summary) {
        (None, None) => text.push_str(&format!("{}\n\n", w.restricted)),
        (t, s) => {
            if let Some(t) = t {
                text.push_str(&format!("{t}\n\n"));
            }
            if let Some(s) = s {
                text.push_str(&format!("{s}\n\n"));
            }
        }
    }
    text.push_str(&format!("{}: {}\n\n-- \n{}\n{tlp}\n", w.open, m.link, w.footer));

    let mut html =
        format!("<p><strong>{}</strong></p>\n<h1>{}{}</h1>\n<table>\n", escape(&tlp), escape(&exercise), escape(what));
    for (k, v) in &fields {
        html.push_str(&format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>\n", escape(k), escape(v)));
    }
    html.push_str("</table>\n");
    match (title, summary) {
        (None, None) => html.push_str(&format!("<p>{}</p>\n", escape(w.restricted))),
        (t, s) => {
            if let Some(t) = t {
                html.push_str(&format!("<h2>{}</h2>\n", escape(t)));
            }
            if let Some(s) = s {
                html.push_str(&format!("<p>{}</p>\n", escape(s)));
            }
        }
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n<hr>\n<p><small>{}</small></p>\n<p><strong>{}</strong></p>\n",
        escape(&m.link),
        escape(w.open),
        escape(w.footer),
        escape(&tlp)
    ));
    Rendered { subject, text, html: html_page(m.lang, &html) }
}

/// What a reminder or an overdue report says: reference, TLP, originator, deadline and
/// the console's link; the title only where the TLP allows it in a message. The overdue
/// report names the silent organisations.
#[derive(Debug, Clone)]
pub struct OverdueMail<'a> {
    pub lang: Lang,
    pub reference: &'a str,
    pub tlp: Tlp,
    pub deadline: DateTime<Utc>,
    pub originator: &'a LocalizedText,
    pub title: &'a LocalizedText,
    pub is_exercise: bool,
    pub link: String,
    /// `None`: a reminder to the silent organisation; `Some`: the report to the
    /// secretariat, with the codes of the organisations still silent.
    pub silent: Option<&'a [String]>,
}

/// A reminder to a silent organisation, or the secretariat's overdue report.
pub fn overdue(m: &OverdueMail<'_>) -> Rendered {
    let w = words(m.lang);
    let (reminder, report, silent_label, ask) = match m.lang {
        Lang::Fi => (
            "Kuittaus myöhässä",
            "Kuittaukset myöhässä",
            "Kuittaamatta",
            "Organisaatiosi ei ole kuitannut tätä tilannekuvaa määräaikaan mennessä. Kuittaa se Sitrepissä.",
        ),
        Lang::Sv => (
            "Kvittering försenad",
            "Kvitteringar försenade",
            "Inte kvitterat",
            "Din organisation har inte kvitterat den här lägesbilden före tidsfristen. Kvittera den i Sitrep.",
        ),
        Lang::En => (
            "Acknowledgement overdue",
            "Acknowledgements overdue",
            "Not acknowledged by",
            "Your organisation has not acknowledged this situation picture by its deadline. Acknowledge it in Sitrep.",
        ),
    };
    let what = if m.silent.is_some() { report } else { reminder };
    let tlp = format!("TLP:{}", m.tlp.as_str());
    let exercise = if m.is_exercise { format!("[{}] ", w.exercise) } else { String::new() };
    let originator = pick(m.originator, m.lang).unwrap_or("");
    let title = if text_may_be_mailed(m.tlp) { pick(m.title, m.lang) } else { None };
    let subject = match title {
        Some(t) => format!("{exercise}[{tlp}] {what}: {} {t}", m.reference),
        None => format!("{exercise}[{tlp}] {what}: {} ({originator})", m.reference),
    };
    let mut fields: Vec<(&str, String)> = vec![
        (w.reference, m.reference.to_owned()),
        ("TLP", m.tlp.as_str().to_owned()),
        (w.originator, originator.to_owned()),
        (w.deadline, m.deadline.format("%Y-%m-%d %H:%M UTC").to_string()),
    ];
    if let Some(silent) = m.silent {
        fields.push((silent_label, silent.join(", ")));
    }
    let mut text = format!("{tlp}\n\n{exercise}{what}\n\n");
    if m.silent.is_none() {
        text.push_str(&format!("{ask}\n\n"));
    }
    for (k, v) in &fields {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push('\n');
    if let Some(t) = title {
        text.push_str(&format!("{t}\n\n"));
    }
    text.push_str(&format!("{}: {}\n\n-- \n{}\n{tlp}\n", w.open, m.link, w.footer));
    let mut html =
        format!("<p><strong>{}</strong></p>\n<h1>{}{}</h1>\n", escape(&tlp), escape(&exercise), escape(what));
    if m.silent.is_none() {
        html.push_str(&format!("<p>{}</p>\n", escape(ask)));
    }
    html.push_str("<table>\n");
    for (k, v) in &fields {
        html.push_str(&format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>\n", escape(k), escape(v)));
    }
    html.push_str("</table>\n");
    if let Some(t) = title {
        html.push_str(&format!("<h2>{}</h2>\n", escape(t)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n<hr>\n<p><small>{}</small></p>\n<p><strong>{}</strong></p>\n",
        escape(&m.link),
        escape(w.open),
        escape(w.footer),
        escape(&tlp)
    ));
    Rendered { subject, text, html: html_page(m.lang, &html) }
}

/// What a message about a new message in a question thread says: who wrote, on which
/// picture, and the text itself only where the picture's TLP allows it in a message.
#[derive(Debug, Clone)]
pub struct ThreadMail<'a> {
    pub lang: Lang,
    pub reference: &'a str,
    pub tlp: Tlp,
    /// The writer's organisation (its code).
    pub writer: &'a str,
    pub body: &'a str,
    pub link: String,
}

/// A new message in a question thread, for the other party.
pub fn thread(m: &ThreadMail<'_>) -> Rendered {
    let w = words(m.lang);
    let (what, wrote, read) = match m.lang {
        Lang::Fi => {
            ("Uusi viesti kysymysketjussa", "kirjoitti kysymysketjuun tilannekuvasta", "Lue ja vastaa Sitrepissä.")
        }
        Lang::Sv => ("Nytt meddelande i frågetråden", "skrev i frågetråden om lägesbilden", "Läs och svara i Sitrep."),
        Lang::En => (
            "New message in a question thread",
            "wrote in the question thread on situation picture",
            "Read and answer it in Sitrep.",
        ),
    };
    let tlp = format!("TLP:{}", m.tlp.as_str());
    let subject = format!("[{tlp}] {what}: {} ({})", m.reference, m.writer);
    let line = format!("{} {wrote} {}.", m.writer, m.reference);
    let body = text_may_be_mailed(m.tlp).then_some(m.body);
    let mut text = format!("{tlp}\n\n{line}\n\n");
    if let Some(b) = body {
        text.push_str(&format!("{b}\n\n"));
    }
    text.push_str(&format!("{read}\n{}: {}\n\n-- \n{}\n{tlp}\n", w.open, m.link, w.footer));
    let mut html =
        format!("<p><strong>{}</strong></p>\n<h1>{}</h1>\n<p>{}</p>\n", escape(&tlp), escape(what), escape(&line));
    if let Some(b) = body {
        html.push_str(&format!("<blockquote style=\"white-space: pre-wrap\">{}</blockquote>\n", escape(b)));
    }
    html.push_str(&format!(
        "<p>{}</p>\n<p><a href=\"{}\">{}</a></p>\n<hr>\n<p><small>{}</small></p>\n<p><strong>{}</strong></p>\n",
        escape(read),
        escape(&m.link),
        escape(w.open),
        escape(w.footer),
        escape(&tlp)
    ));
    Rendered { subject, text, html: html_page(m.lang, &html) }
}

/// One picture of a digest.
#[derive(Debug, Clone)]
pub struct DigestEntry<'a> {
    pub reference: &'a str,
    pub urgency: Urgency,
    pub tlp: Tlp,
    pub title: &'a LocalizedText,
    pub link: String,
}

/// A digest: the pictures the person can see and has not read, newest first.
pub fn digest(lang: Lang, entries: &[DigestEntry<'_>], console: &str) -> Rendered {
    let w = words(lang);
    let n = entries.len();
    let subject = match lang {
        Lang::Fi => format!("Sitrep-kooste: {n} lukematonta tilannekuvaa"),
        Lang::Sv => format!("Sitrep-sammandrag: {n} olästa lägesbilder"),
        Lang::En => format!("Sitrep digest: {n} unread situation pictures"),
    };
    let intro = match lang {
        Lang::Fi => "Tilannekuvat, jotka näet ja joita et ole lukenut edellisen koosteen jälkeen:",
        Lang::Sv => "Lägesbilder som du ser och inte har läst sedan förra sammandraget:",
        Lang::En => "Situation pictures you can see and have not read since the last digest:",
    };
    let line = |e: &DigestEntry<'_>| {
        let urgency = urgency_word(w, e.urgency);
        let title = if text_may_be_mailed(e.tlp) { pick(e.title, lang) } else { None };
        let mut l = format!("{} · {} · TLP:{}", e.reference, urgency, e.tlp.as_str());
        if let Some(t) = title {
            l.push_str(&format!(" · {t}"));
        }
        l
    };
    let mut text = format!("{intro}\n\n");
    let mut html = format!("<h1>{}</h1>\n<p>{}</p>\n<ul>\n", escape(&subject), escape(intro));
    for e in entries {
        let l = line(e);
        text.push_str(&format!("- {l}\n  {}\n", e.link));
        html.push_str(&format!("<li><a href=\"{}\">{}</a></li>\n", escape(&e.link), escape(&l)));
    }
    text.push_str(&format!("\n{}: {console}\n\n-- \n{}\n", w.open, w.footer));
    html.push_str(&format!(
        "</ul>\n<p><a href=\"{}\">{}</a></p>\n<hr>\n<p><small>{}</small></p>\n",
        escape(console),
        escape(w.open),
        escape(w.footer)
    ));
    Rendered { subject, text, html: html_page(lang, &html) }
}

/// The message that carries a confirmation token.
pub fn confirmation(lang: Lang, link: &str, token: &str) -> Rendered {
    let w = words(lang);
    let text = format!("{}\n\n{link}\n\n{}: {token}\n", w.confirm_body, w.token);
    let html = format!(
        "<p>{}</p>\n<p><a href=\"{}\">{}</a></p>\n<p>{}: <code>{}</code></p>\n",
        escape(w.confirm_body),
        escape(link),
        escape(w.confirm_subject),
        escape(w.token),
        escape(token)
    );
    Rendered { subject: w.confirm_subject.to_owned(), text, html: html_page(lang, &html) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> LocalizedText {
        LocalizedText { fi: Some(format!("{s} fi")), sv: Some(format!("{s} sv")), en: Some(format!("{s} en")) }
    }

    fn mail<'a>(
        tlp: Tlp,
        title: &'a LocalizedText,
        summary: &'a LocalizedText,
        org: &'a LocalizedText,
    ) -> EventMail<'a> {
        EventMail {
            lang: Lang::En,
            event: MailedEvent::Published,
            reference: "VTY-2027-0042",
            urgency: Urgency::Immediate,
            tlp,
            deadline: None,
            originator: org,
            title,
            summary,
            is_exercise: false,
            link: "https://sitrep.example/app/#/picture/1".into(),
        }
    }

    #[test]
    fn above_green_a_message_carries_neither_title_nor_summary_in_any_part() {
        let (t, s, o) = (text("Secret title"), text("Secret summary"), text("Ministry"));
        for tlp in [Tlp::Amber, Tlp::AmberStrict, Tlp::Red] {
            let r = event(&mail(tlp, &t, &s, &o));
            for part in [&r.subject, &r.text, &r.html] {
                assert!(!part.contains("Secret"), "{tlp:?}: {part}");
                assert!(part.contains("VTY-2027-0042"));
            }
        }
        let r = event(&mail(Tlp::Green, &t, &s, &o));
        assert!(
            r.subject.contains("Secret title en")
                && r.text.contains("Secret summary en")
                && r.html.contains("Secret summary en")
        );
    }

    #[test]
    fn html_is_escaped_and_has_no_remote_content_but_the_console_link() {
        let (t, s, o) = (text("<img src=x onerror=alert(1)>"), text("a & b"), text("Ministry"));
        let r = event(&mail(Tlp::Clear, &t, &s, &o));
        assert!(!r.html.contains("<img"));
        assert!(r.html.contains("&lt;img"));
        assert_eq!(r.html.matches("href=").count(), 1);
    }

    fn overdue_mail<'a>(
        tlp: Tlp,
        title: &'a LocalizedText,
        org: &'a LocalizedText,
        silent: Option<&'a [String]>,
    ) -> OverdueMail<'a> {
        OverdueMail {
            lang: Lang::En,
            reference: "VTY-2027-0042",
            tlp,
            deadline: chrono::DateTime::parse_from_rfc3339("2027-04-11T09:00:00Z").unwrap().with_timezone(&Utc),
            originator: org,
            title,
            is_exercise: false,
            link: "https://sitrep.example/app/#/picture/1".into(),
            silent,
        }
    }

    #[test]
    fn a_reminder_above_green_carries_no_title_and_a_report_names_the_silent_organisations() {
        let (t, o) = (text("Secret title"), text("Ministry"));
        for tlp in [Tlp::Amber, Tlp::AmberStrict, Tlp::Red] {
            let r = overdue(&overdue_mail(tlp, &t, &o, None));
            for part in [&r.subject, &r.text, &r.html] {
                assert!(!part.contains("Secret"), "{tlp:?}: {part}");
                assert!(part.contains("VTY-2027-0042"));
            }
            assert!(r.text.contains("2027-04-11 09:00 UTC"));
        }
        let r = overdue(&overdue_mail(Tlp::Green, &t, &o, None));
        assert!(r.subject.starts_with("[TLP:GREEN] Acknowledgement overdue") && r.subject.contains("Secret title en"));
        let silent = ["ORG-B".to_owned(), "ORG-V".to_owned()];
        let r = overdue(&overdue_mail(Tlp::Amber, &t, &o, Some(&silent)));
        assert!(r.subject.contains("Acknowledgements overdue"));
        assert!(r.text.contains("ORG-B, ORG-V") && r.html.contains("ORG-B, ORG-V"));
        assert_eq!(r.html.matches("href=").count(), 1);
    }
    #[test]
    fn a_thread_message_is_mailed_in_words_only_up_to_green() {
        let mail = |tlp| ThreadMail {
            lang: Lang::Sv,
            reference: "VTY-2027-0042",
            tlp,
            writer: "ORG-B",
            body: "Which <municipalities>?",
            link: "https://sitrep.example/app/#/picture/1".into(),
        };
        for tlp in [Tlp::Amber, Tlp::AmberStrict, Tlp::Red] {
            let r = thread(&mail(tlp));
            for part in [&r.subject, &r.text, &r.html] {
                assert!(!part.contains("municipalities"), "{tlp:?}: {part}");
            }
            assert!(r.text.contains("ORG-B skrev i frågetråden om lägesbilden VTY-2027-0042."));
        }
        let r = thread(&mail(Tlp::Green));
        assert!(r.text.contains("Which <municipalities>?"));
        assert!(r.html.contains("Which &lt;municipalities&gt;?"));
        assert!(!r.subject.contains("municipalities"), "the text is never in the subject");
    }
    #[test]
    fn a_digest_lists_each_picture_with_its_title_only_up_to_green() {
        let (secret, open) = (text("Secret title"), text("Open title"));
        let entries = [
            DigestEntry {
                reference: "VTY-2027-0001",
                urgency: Urgency::Priority,
                tlp: Tlp::Red,
                title: &secret,
                link: "https://sitrep.example/app/#/picture/1".into(),
            },
            DigestEntry {
                reference: "VTY-2027-0002",
                urgency: Urgency::Routine,
                tlp: Tlp::Green,
                title: &open,
                link: "https://sitrep.example/app/#/picture/2".into(),
            },
        ];
        let r = digest(Lang::En, &entries, "https://sitrep.example/app/");
        assert_eq!(r.subject, "Sitrep digest: 2 unread situation pictures");
        for part in [&r.subject, &r.text, &r.html] {
            assert!(!part.contains("Secret title"));
        }
        assert!(r.text.contains("VTY-2027-0001 · priority · TLP:RED\n"));
        assert!(r.text.contains("VTY-2027-0002 · routine · TLP:GREEN · Open title en"));
    }
}
