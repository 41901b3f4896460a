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

/// The id of the picture or report each event shown is about, for the access log's
/// `object_ids`, and its note: how many events, and how many of them about reports.
pub(crate) fn logged<'a>(rows: impl IntoIterator<Item = &'a EventRow>) -> (Vec<uuid::Uuid>, String) {
    let mut ids: Vec<uuid::Uuid> = Vec::new();
    let (mut events, mut reports) = (0, 0);
    for r in rows {
        events += 1;
        reports += usize::from(r.report_id.is_some());
        ids.extend(r.picture_id.or(r.report_id));
    }
    let reason = if reports == 0 { format!("events:{events}") } else { format!("events:{events} reports:{reports}") };
    (ids, reason)
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
