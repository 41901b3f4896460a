//! Events as the feed and the live stream show them (thin: ids, tier and TLP, never
//! content), and the outbox position that a feed cursor or a stream id holds, sealed.

use sitrep_db::events::EventRow;
use sitrep_types::{Event, Tier, Tlp};

/// A position in the outbox as the key of a cursor: `xid|seq`.
pub(crate) fn position_key(p: &(String, i64)) -> String {
    format!("{}|{}", p.0, p.1)
}

/// The position a cursor key names, or `None` if it is not one.
pub(crate) fn parse_position(key: &str) -> Option<(String, i64)> {
    let (xid, seq) = key.split_once('|')?;
    if xid.is_empty() || !xid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((xid.to_owned(), seq.parse().ok()?))
}

/// The access-log records of showing `rows`, from `base` (the caller and the action): one
/// of object type `picture` with the picture each event is about (with `collapse`, a run of
/// events about one picture names it once, as the feed writes; a stream names one id per
/// event), and, when some are about reports, one of object type `report` with those
/// reports, each once; each notes how many events it covers (`events:3`). A page with no
/// events is one `picture` record with none, as the feed has always written.
pub(crate) fn records<'a>(
    base: sitrep_db::access_log::AccessRecord,
    rows: impl IntoIterator<Item = &'a EventRow>,
    collapse: bool,
) -> Vec<sitrep_db::access_log::AccessRecord> {
    let (mut pictures, mut reports) = (Vec::new(), Vec::new());
    let (mut picture_events, mut report_events) = (0usize, 0usize);
    for r in rows {
        if let Some(id) = r.report_id {
            report_events += 1;
            if !reports.contains(&id) {
                reports.push(id);
            }
        } else {
            picture_events += 1;
            if let Some(id) = r.picture_id
                && !(collapse && pictures.last() == Some(&id))
            {
                pictures.push(id);
            }
        }
    }
    let mut out = Vec::with_capacity(2);
    if picture_events > 0 || report_events == 0 {
        let mut r = base.clone();
        r.object_type = Some("picture");
        r.object_ids = Some(pictures);
        r.reason = Some(format!("events:{picture_events}"));
        out.push(r);
    }
    if report_events > 0 {
        let mut r = base;
        r.object_type = Some("report");
        r.object_ids = Some(reports);
        r.reason = Some(format!("events:{report_events}"));
        out.push(r);
    }
    out
}

/// An outbox row as the feed and the stream show it: thin; a recall carries the id alone.
pub(crate) fn event(r: &EventRow) -> Event {
    let recalled = r.kind == "picture.recalled";
    Event {
        id: r.id,
        type_: r.kind.clone(),
        picture_id: r.picture_id,
        report_id: r.report_id,
        revision: (!recalled).then_some(r.revision),
        tier: if recalled { None } else { Tier::parse(&r.tier) },
        tlp: if recalled { None } else { Tlp::parse(&r.tlp) },
        created_at: r.created_at,
    }
}
