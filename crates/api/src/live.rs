//! The live streams' fan-out hub: one per server process. When the outbox grows
//! (`LISTEN/NOTIFY`, or a periodic look in case a notification was missed) the hub reads
//! the new events ONCE, with each picture's handling as it stands now, and decides in
//! memory, for every open stream, what that stream's principal may receive now
//! ([`receives_event`], the domain's visibility rule). Before anything is queued the
//! principals of the streams about to receive are read again from the database (session
//! or API key, membership, roles, reach; one query for all sessions) and every push is
//! access-logged (one record per stream and batch, as before, appended to the chain in
//! one transaction). A stream holds only its bounded channel and its principal here; it
//! has no task of its own once it has caught up.
//!
//! Every few seconds the hub also re-checks all open streams' principals (a revoked
//! session, an ended membership ends the stream) and sends heartbeats.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sitrep_db::events::{self, Broadcast, EventRow};
use sitrep_db::{GenericClient, Pool};
use sitrep_domain::visibility::{Viewer, receives_event};
use tokio::sync::{mpsc, watch};

use crate::access_log;
use crate::error::ApiError;
use crate::events::{event, position_key};
use crate::meta::RequestMeta;
use crate::pagination::CursorKey;
use crate::principal::{Policy, Principal, ReadPictures};

/// The cursor list name of stream ids (`Last-Event-ID`): each is sealed for its reader
/// (`crate::pagination`), so the ids a stream sends do not reveal how many events
/// between them it was not sent.
pub const LIST: &str = "stream";
/// Frames buffered per client before it counts as too slow and is cut.
pub const CLIENT_BUFFER: usize = 64;
/// Events read (and pushed, and recorded) at a time.
pub const BATCH: i64 = 100;
/// How often open streams' principals are re-checked: revocation ends a stream within
/// this time even when no event comes.
pub const SESSION_CHECK: Duration = Duration::from_secs(3);
/// Streams whose push records are committed together before their frames are queued.
const RECORDS_PER_COMMIT: usize = 1000;
/// How often the hub looks for events without a notification.
const POLL: Duration = Duration::from_secs(1);

/// A position in the outbox: `(xid, seq)` of an event.
pub type Position = (String, i64);

/// A position in order: xid as a number, then seq.
pub fn order(p: &Position) -> (u64, i64) {
    (p.0.parse().unwrap_or(0), p.1)
}

/// One Server-Sent Event frame for `e`, whose JSON is `data`, with the caller's id.
pub fn frame(e: &EventRow, data: &str, id: &str) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: {}\ndata: {data}\n\n", e.kind))
}

/// The JSON of an event as streams show it.
pub fn data(e: &EventRow) -> String {
    serde_json::to_string(&event(e)).unwrap_or_default()
}

/// The access-log records of pushing `rows` to a stream (`events::records`).
pub fn push_records(meta: &RequestMeta, p: &Principal, rows: &[&EventRow]) -> Vec<sitrep_db::access_log::AccessRecord> {
    let mut base = access_log::by(meta, p);
    base.action = "stream.push".into();
    crate::events::records(base, rows.iter().copied(), false)
}

/// What one stream gets from a batch: its principal now, the frames to queue, and the
/// record of the push (none when it receives nothing).
type Delivery = (Principal, Vec<Bytes>, Vec<sitrep_db::access_log::AccessRecord>);

/// An open stream, as the hub holds it.
pub struct Subscriber {
    /// As last read from the database.
    pub principal: Principal,
    /// The request that opened the stream (its id and client address go in the records).
    pub meta: RequestMeta,
    pub tx: mpsc::Sender<Bytes>,
    /// The stream resumed at a position this process had not read yet: events up to it
    /// were sent already.
    skip_upto: Option<(u64, i64)>,
}

impl Subscriber {
    pub fn new(principal: Principal, meta: RequestMeta, tx: mpsc::Sender<Bytes>) -> Self {
        Subscriber { principal, meta, tx, skip_upto: None }
    }

    /// Queues a frame without waiting: a full buffer means the client is too slow.
    fn offer(&self, frame: Bytes) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(request_id = %self.meta.request_id, "live stream client too slow; disconnected");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Which of `rows` a stream receives now: not sent already, and visible to `p`.
pub fn selection<'a>(p: &Principal, skip_upto: Option<(u64, i64)>, rows: &'a [Broadcast]) -> Vec<&'a Broadcast> {
    receivable(p, skip_upto, rows).collect()
}

/// The rows of [`selection`], lazily: asking whether there is any stops at the first.
fn receivable<'a>(
    p: &Principal,
    skip_upto: Option<(u64, i64)>,
    rows: &'a [Broadcast],
) -> impl Iterator<Item = &'a Broadcast> {
    let viewer = Viewer::from(&p.permissions);
    rows.iter()
        .filter(move |b| skip_upto.is_none_or(|s| order(&b.event.position) > s))
        .filter(move |b| receives_event(&viewer, &b.handling(), b.recipients.as_deref()))
}

struct Registry {
    /// Every event up to here has been read and pushed to the streams registered then.
    scanned: Position,
    next: u64,
    streams: HashMap<u64, Subscriber>,
}

/// The hub of one process. Cheap to share (`Arc`).
pub struct Hub {
    registry: Mutex<Registry>,
    pool: Pool,
    cursors: CursorKey,
    roles_needing_totp: &'static [&'static str],
    heartbeat: Duration,
}

/// A stream that asked to join at a position older than the hub's: it must first catch up
/// to `upto` itself.
pub struct Behind {
    pub subscriber: Subscriber,
    pub upto: Position,
}

impl Hub {
    /// A hub that starts at the present end of the outbox.
    pub async fn start(
        pool: Pool,
        cursors: CursorKey,
        heartbeat: Duration,
        roles_needing_totp: &'static [&'static str],
    ) -> Result<Arc<Hub>, ApiError> {
        let head = events::head(&pool.get().await?).await?;
        Ok(Arc::new(Hub {
            registry: Mutex::new(Registry { scanned: head, next: 0, streams: HashMap::new() }),
            pool,
            cursors,
            roles_needing_totp,
            heartbeat: heartbeat.max(Duration::from_secs(1)),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a stream that has received everything up to `seen` (from the present
    /// without it). A stream that has not reached what the hub has read comes back, with
    /// the position it must catch up to first.
    pub fn join(&self, mut subscriber: Subscriber, seen: Option<&Position>) -> Result<(), Box<Behind>> {
        let mut registry = self.lock();
        if let Some(position) = seen {
            let (seen, scanned) = (order(position), order(&registry.scanned));
            if seen < scanned {
                return Err(Box::new(Behind { subscriber, upto: registry.scanned.clone() }));
            }
            if seen > scanned && registry.streams.is_empty() {
                // An idle hub reads nothing; nobody needs what lies behind the newcomer.
                registry.scanned = position.clone();
            }
            subscriber.skip_upto = (seen > scanned).then_some(seen);
        }
        registry.next += 1;
        let id = registry.next;
        registry.streams.insert(id, subscriber);
        Ok(())
    }

    /// Runs until the process shuts down: reads on every wake-up and every `POLL`,
    /// re-checks principals every `SESSION_CHECK`, sends heartbeats.
    pub async fn run(self: Arc<Self>, mut wake: watch::Receiver<u64>, mut stopping: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut checked, mut beaten) = (Instant::now(), Instant::now());
        loop {
            tokio::select! {
                // The process is shutting down: end every stream; clients resume
                // elsewhere with Last-Event-ID.
                _ = stopping.wait_for(|s| *s) => break,
                changed = wake.changed() => if changed.is_err() { break },
                _ = tick.tick() => {}
            }
            if let Err(e) = self.read().await {
                tracing::warn!(error = %e, "live streams: reading events failed");
            }
            if checked.elapsed() >= SESSION_CHECK {
                checked = Instant::now();
                self.recheck().await;
            }
            if beaten.elapsed() >= self.heartbeat {
                beaten = Instant::now();
                self.lock().streams.retain(|_, s| s.offer(Bytes::from_static(b": heartbeat\n\n")));
            }
        }
        self.lock().streams.clear();
    }

    /// Reads what is new, a batch at a time, and pushes it.
    async fn read(&self) -> Result<(), ApiError> {
        loop {
            let after = {
                let registry = self.lock();
                if registry.streams.is_empty() {
                    // No stream, no read: an idle process leaves the database alone.
                    return Ok(());
                }
                registry.scanned.clone()
            };
            let rows = events::broadcast(&self.pool.get().await?, &after, BATCH).await?;
            let full = rows.len() as i64 == BATCH;
            if rows.is_empty() {
                return Ok(());
            }
            self.push(&rows).await;
            if !full {
                return Ok(());
            }
        }
    }

    /// Pushes one batch to every stream that may receive some of it: principals read
    /// again, records written, then frames queued. A stream whose principal can no
    /// longer act ends; if the records cannot be written, every stream that was to
    /// receive something ends (the access log fails closed; clients resume with
    /// Last-Event-ID).
    async fn push(&self, rows: &[Broadcast]) {
        let Some(last) = rows.last() else { return };
        struct Candidate {
            id: u64,
            principal: Principal,
            meta: RequestMeta,
            skip_upto: Option<(u64, i64)>,
        }
        // Streams joining from now on start after this batch.
        let candidates: Vec<Candidate> = {
            let mut registry = self.lock();
            if order(&last.event.position) > order(&registry.scanned) {
                registry.scanned = last.event.position.clone();
            }
            registry
                .streams
                .iter()
                .filter(|(_, s)| !s.tx.is_closed() && receivable(&s.principal, s.skip_upto, rows).next().is_some())
                .map(|(id, s)| Candidate {
                    id: *id,
                    principal: s.principal.clone(),
                    meta: s.meta.clone(),
                    skip_upto: s.skip_upto,
                })
                .collect()
        };
        if candidates.is_empty() {
            return;
        }
        let datas: HashMap<uuid::Uuid, String> = rows.iter().map(|b| (b.event.id, data(&b.event))).collect();
        let prepared = async {
            let client = self.pool.get().await?;
            let principals: Vec<(&Principal, Option<IpAddr>)> =
                candidates.iter().map(|c| (&c.principal, c.meta.client_addr)).collect();
            let current = Principal::current_many(&client, &principals, self.roles_needing_totp).await?;
            let mut outcome: Vec<(u64, Option<Delivery>)> = Vec::with_capacity(candidates.len());
            for (c, now) in candidates.iter().zip(current) {
                let Some(p) = now.filter(|p| ReadPictures::allows(&p.permissions)) else {
                    outcome.push((c.id, None));
                    continue;
                };
                let chosen = selection(&p, c.skip_upto, rows);
                let events: Vec<&EventRow> = chosen.iter().map(|b| &b.event).collect();
                let ids = self.cursors.positions(p.user_id, LIST);
                let frames = events
                    .iter()
                    .map(|e| {
                        let id = ids.at(&position_key(&e.position));
                        frame(e, datas.get(&e.id).map_or("", String::as_str), &id)
                    })
                    .collect();
                let record = if events.is_empty() { Vec::new() } else { push_records(&c.meta, &p, &events) };
                outcome.push((c.id, Some((p, frames, record))));
            }
            Ok::<_, ApiError>((client, outcome))
        };
        let (mut client, outcome) = match prepared.await {
            Ok(prepared) => prepared,
            Err(e) => {
                tracing::warn!(error = %e, streams = candidates.len(), "live streams end: the push could not be prepared");
                let mut registry = self.lock();
                for c in &candidates {
                    registry.streams.remove(&c.id);
                }
                return;
            }
        };
        // A chunk of streams at a time: its records committed, then its frames queued, so
        // the first streams are sending while the next records are written.
        let mut outcome = outcome.into_iter().peekable();
        while outcome.peek().is_some() {
            let mut chunk: Vec<_> = outcome.by_ref().take(RECORDS_PER_COMMIT).collect();
            let records: Vec<_> =
                chunk.iter_mut().filter_map(|(_, r)| r.as_mut().map(|r| std::mem::take(&mut r.2))).flatten().collect();
            if let Err(e) = sitrep_db::access_log::record_many(&mut client, &records).await {
                let e = access_log::unavailable(e);
                tracing::warn!(error = %e, "live streams end: their pushes could not be recorded");
                let mut registry = self.lock();
                for (id, _) in chunk.iter().chain(outcome.by_ref().collect::<Vec<_>>().iter()) {
                    registry.streams.remove(id);
                }
                return;
            }
            let mut registry = self.lock();
            for (id, result) in chunk {
                let Some((principal, frames, _)) = result else {
                    registry.streams.remove(&id);
                    continue;
                };
                let Some(s) = registry.streams.get_mut(&id) else { continue };
                s.principal = principal;
                if s.skip_upto.is_some_and(|k| k <= order(&last.event.position)) {
                    s.skip_upto = None;
                }
                if !frames.into_iter().all(|f| s.offer(f)) {
                    registry.streams.remove(&id);
                }
            }
        }
    }

    /// Reads every open stream's principal again; ends those that can no longer act, and
    /// keeps the others' roles and reach current. If the check cannot be made, the
    /// streams end (clients resume with Last-Event-ID).
    async fn recheck(&self) {
        let snapshot: Vec<(u64, Principal, Option<IpAddr>)> = {
            let mut registry = self.lock();
            registry.streams.retain(|_, s| !s.tx.is_closed());
            registry.streams.iter().map(|(id, s)| (*id, s.principal.clone(), s.meta.client_addr)).collect()
        };
        if snapshot.is_empty() {
            return;
        }
        let principals: Vec<(&Principal, Option<IpAddr>)> = snapshot.iter().map(|(_, p, a)| (p, *a)).collect();
        let current = match self.pool.get().await {
            Ok(client) => Principal::current_many(&client, &principals, self.roles_needing_totp).await,
            Err(e) => Err(e.into()),
        };
        let mut registry = self.lock();
        match current {
            Ok(current) => {
                for ((id, _, _), now) in snapshot.iter().zip(current) {
                    match now.filter(|p| ReadPictures::allows(&p.permissions)) {
                        Some(p) => {
                            if let Some(s) = registry.streams.get_mut(id) {
                                s.principal = p;
                            }
                        }
                        None => {
                            registry.streams.remove(id);
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "live streams end: their sessions could not be checked");
                for (id, _, _) in &snapshot {
                    registry.streams.remove(id);
                }
            }
        }
    }
}

/// Whether `p` may still act, for a stream catching up on its own (before it joins).
pub async fn still_allowed(
    c: &impl GenericClient,
    p: &Principal,
    addr: Option<IpAddr>,
    roles_needing_totp: &[&str],
) -> Result<Option<Principal>, ApiError> {
    let mut current = Principal::current_many(c, &[(p, addr)], roles_needing_totp).await?;
    Ok(current.pop().flatten().filter(|p| ReadPictures::allows(&p.permissions)))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sitrep_domain::Permissions;
    use sitrep_types::{Reach, Role, Status, Tier};
    use uuid::Uuid;

    use super::*;
    use crate::principal::ActorKind;

    const ORIGIN: Uuid = Uuid::from_u128(1);
    const READER: Uuid = Uuid::from_u128(2);

    fn principal(roles: &[Role], reach: Reach) -> Principal {
        Principal {
            user_id: Uuid::from_u128(10),
            username: "reader".into(),
            organisation_id: READER,
            membership_id: Uuid::from_u128(11),
            actor: ActorKind::User,
            session_id: Some(Uuid::from_u128(12)),
            api_key_id: None,
            restriction: None,
            permissions: Permissions::new(READER, reach, roles.iter().copied().collect()),
        }
    }

    fn broadcast(xid: &str, seq: i64, tier: Tier, recipients: Option<Vec<Uuid>>) -> Broadcast {
        Broadcast {
            event: EventRow {
                id: Uuid::now_v7(),
                kind: "picture.revised".into(),
                picture_id: Some(Uuid::now_v7()),
                report_id: None,
                revision: 1,
                tier: tier.as_str().into(),
                tlp: "AMBER".into(),
                created_at: Utc::now(),
                position: (xid.into(), seq),
            },
            originator: ORIGIN,
            status: Status::Published,
            tier,
            named: Vec::new(),
            recipients,
        }
    }

    #[test]
    fn positions_order_by_xid_as_a_number_then_seq() {
        assert!(order(&("9".into(), 50)) < order(&("10".into(), 1)));
        assert!(order(&("10".into(), 1)) < order(&("10".into(), 2)));
    }

    #[test]
    fn a_stream_is_chosen_what_its_principal_sees_now_and_not_what_it_was_sent() {
        let rows = [
            broadcast("5", 1, Tier::Group, None),
            broadcast("5", 2, Tier::GroupVirtRas, None),
            broadcast("6", 3, Tier::Named, Some(vec![READER])),
            broadcast("6", 4, Tier::Public, Some(vec![ORIGIN])),
        ];
        let positions = |chosen: Vec<&Broadcast>| chosen.iter().map(|b| b.event.position.1).collect::<Vec<_>>();
        let member = principal(&[Role::Reader], Reach::Member);
        assert_eq!(positions(selection(&member, None, &rows)), [1, 2, 3]);
        let ras = principal(&[Role::Reader], Reach::RasContactPoint);
        assert_eq!(positions(selection(&ras, None, &rows)), [2, 3]);
        // Sent already by the stream's own catch-up.
        assert_eq!(positions(selection(&member, Some((5, 2)), &rows)), [3]);
        // Roles that do not read pictures receive nothing.
        let auditor = principal(&[Role::Auditor], Reach::Member);
        assert!(selection(&auditor, None, &rows).is_empty());
    }

    #[tokio::test]
    async fn a_stream_behind_the_hub_must_catch_up_first_and_one_ahead_skips_what_it_has() {
        let pool = sitrep_db::pool("postgres://nobody@127.0.0.1:1/none", &Default::default()).unwrap();
        let hub = Hub {
            registry: Mutex::new(Registry { scanned: ("7".into(), 70), next: 0, streams: HashMap::new() }),
            pool,
            cursors: CursorKey::from_bytes(&[0u8; 32]),
            roles_needing_totp: &[],
            heartbeat: Duration::from_secs(15),
        };
        let subscriber = || {
            let (tx, _rx) = mpsc::channel(CLIENT_BUFFER);
            Subscriber::new(principal(&[Role::Reader], Reach::Member), RequestMeta::for_tests("r"), tx)
        };
        assert!(hub.join(subscriber(), None).is_ok());
        let behind = hub.join(subscriber(), Some(&("7".into(), 69))).err().map(|b| b.upto);
        assert_eq!(behind, Some(("7".into(), 70)));
        assert!(hub.join(subscriber(), Some(&("7".into(), 70))).is_ok());
        assert!(hub.join(subscriber(), Some(&("8".into(), 1))).is_ok());
        let registry = hub.lock();
        let mut skips: Vec<_> = registry.streams.values().map(|s| s.skip_upto).collect();
        skips.sort();
        assert_eq!(skips, [None, None, Some((8, 1))]);
        assert_eq!(registry.scanned, ("7".into(), 70), "a hub with streams moves on by reading only");
    }

    #[test]
    fn an_idle_hub_moves_on_to_the_first_newcomer() {
        let pool = sitrep_db::pool("postgres://nobody@127.0.0.1:1/none", &Default::default()).unwrap();
        let hub = Hub {
            registry: Mutex::new(Registry { scanned: ("7".into(), 70), next: 0, streams: HashMap::new() }),
            pool,
            cursors: CursorKey::from_bytes(&[0u8; 32]),
            roles_needing_totp: &[],
            heartbeat: Duration::from_secs(15),
        };
        let (tx, _rx) = mpsc::channel(CLIENT_BUFFER);
        let s = Subscriber::new(principal(&[Role::Reader], Reach::Member), RequestMeta::for_tests("r"), tx);
        assert!(hub.join(s, Some(&("90".into(), 900))).is_ok());
        assert_eq!(hub.lock().scanned, ("90".into(), 900));
    }
}
