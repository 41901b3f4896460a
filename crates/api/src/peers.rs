//! The TAXII peer worker (docs/taxii.md, "Peers"): polls each active peer's collection
//! with `added_after` and `next`, and imports every page through the inbox's import
//! (`routes::pictures::inbox::import_envelope`), into the peer's organisation, as its
//! service account. The page's import, the position after it and its access-log record
//! commit in one transaction, so a crash re-reads at most one page, which the import's
//! idempotency (by organisation, STIX id and version) makes harmless.
//!
//! Each peer is polled in a task of its own, under a deadline, with the webhook client's
//! outbound rules (HTTPS, no redirects, no private or link-local address unless the
//! configuration allows it, checked on the address connected to) and a size limit per
//! page: a slow, huge, endless or garbled peer stops only its own poll, and its health
//! says why.

use std::time::Duration;

use actix_web::web;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
use sitrep_db::taxii::peers::{self as db, PeerRow};
use sitrep_delivery::client::{ClientOptions, WebhookClient};
use sitrep_domain::Permissions;
use sitrep_stix::inbox::envelope_objects;
use sitrep_types::PeerCredentials;
use uuid::Uuid;

use crate::principal::{ActorKind, Principal};
use crate::routes::pictures::inbox::{EnvelopeOutcome, import_envelope};
use crate::state::AppState;
use crate::taxii::writes_inbox;

const ACCEPT: &str = "application/taxii+json;version=2.1";

/// Worker settings (configuration section `peers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerOptions {
    /// Run the peer worker in this process.
    pub worker: bool,
    /// How often the worker looks for peers that are due, in milliseconds.
    pub tick_ms: u64,
    /// Peers polled at once by one process.
    pub concurrency: i64,
    /// Seconds one request to a peer may take, its answer included.
    pub timeout_secs: u64,
    /// The largest page accepted, in bytes.
    pub max_page_bytes: usize,
    /// Pages read in one poll; the rest is read by the next poll, after
    /// `backlog_delay_ms`.
    pub max_pages_per_poll: u32,
    /// How long a peer with more to read waits for its next poll, in milliseconds.
    pub backlog_delay_ms: u64,
    /// Pages one walk through `next` may take; a peer whose `next` goes on longer is
    /// stopped (health says so) and read again from `added_after` at its next poll.
    pub max_walk_pages: i32,
    /// The `limit` asked of the peer.
    pub page_limit: u32,
    /// How long a poll holds its peer (the deadline of the whole poll is a little less).
    pub lease_secs: u64,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            worker: true,
            tick_ms: 1000,
            concurrency: 8,
            timeout_secs: 30,
            max_page_bytes: sitrep_stix::inbox::MAX_CONTENT_LENGTH,
            max_pages_per_poll: 50,
            backlog_delay_ms: 0,
            max_walk_pages: 10_000,
            page_limit: 100,
            lease_secs: 1800,
        }
    }
}

impl PeerOptions {
    pub fn check(&self) -> Result<(), String> {
        if self.tick_ms == 0
            || self.concurrency <= 0
            || self.timeout_secs == 0
            || self.max_page_bytes == 0
            || self.max_pages_per_poll == 0
            || self.max_walk_pages <= 0
            || !(1..=1000).contains(&self.page_limit)
            || self.lease_secs < 10
        {
            return Err("peers: tick_ms, concurrency, timeout_secs, max_page_bytes, max_pages_per_poll and \
                 lease_secs (at least 10) must be positive; page_limit 1-1000"
                .into());
        }
        Ok(())
    }

    /// The deadline of one poll: a little less than its lease.
    fn deadline(&self) -> Duration {
        Duration::from_secs(self.lease_secs - self.lease_secs / 10)
    }
}

/// The credentials as sealed: bound to the peer's id, so a sealed value moved to another
/// peer's row does not open.
pub fn seal_credentials(state: &AppState, peer: Uuid, c: &PeerCredentials) -> anyhow::Result<Vec<u8>> {
    let plain = serde_json::to_vec(c)?;
    state.seal.seal(&plain, peer.as_bytes())
}

fn open_credentials(state: &AppState, peer: &PeerRow) -> Result<Option<PeerCredentials>, String> {
    let Some(sealed) = &peer.sealed_credentials else { return Ok(None) };
    let plain = state
        .seal
        .open(sealed, peer.id.as_bytes())
        .map_err(|_| "the stored credentials do not open with this server's seal key".to_owned())?;
    serde_json::from_slice(&plain).map(Some).map_err(|_| "the stored credentials are damaged".to_owned())
}

#[derive(Clone)]
pub struct PeerWorker {
    state: web::Data<AppState>,
    /// Connections of its own (driven by the runtime the worker runs on).
    pool: sitrep_db::Pool,
    options: PeerOptions,
    allow_private: bool,
    extra_roots: Vec<Vec<u8>>,
}

/// Why a page or a poll failed, as health and the access log show it (never with
/// credentials: they are only ever in the request's `Authorization` header).
struct Failure {
    text: String,
    http_status: u16,
}

impl Failure {
    fn new(text: impl Into<String>) -> Failure {
        Failure { text: text.into(), http_status: 0 }
    }
}

impl PeerWorker {
    /// `allow_private` and `extra_roots` are the webhook client's (`delivery.*`): a peer
    /// obeys the same outbound rules.
    pub fn new(
        state: web::Data<AppState>,
        pool: sitrep_db::Pool,
        options: PeerOptions,
        allow_private: bool,
        extra_roots: Vec<Vec<u8>>,
    ) -> PeerWorker {
        PeerWorker { state, pool, options, allow_private, extra_roots }
    }

    /// Runs until `stop` turns `true`. Polls under way are then abandoned: their pages
    /// committed so far stay, the page in flight rolls back, and the lease lets another
    /// process take the peer when it ends.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut polls = tokio::task::JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            while polls.try_join_next().is_some() {}
            let free = self.options.concurrency - polls.len() as i64;
            if free > 0 {
                match self.claim(free).await {
                    Ok(peers) => {
                        for peer in peers {
                            polls.spawn(self.clone().poll(peer));
                        }
                    }
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "claiming TAXII peers failed; will retry"),
                }
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(Duration::from_millis(self.options.tick_ms)) => {}
            }
        }
        polls.shutdown().await;
        tracing::info!("TAXII peer worker stopped");
    }

    async fn claim(&self, limit: i64) -> anyhow::Result<Vec<PeerRow>> {
        let client = self.pool.get().await?;
        Ok(db::claim(&client, self.options.lease_secs as f64, limit).await?)
    }

    /// One poll of one peer: pages until the peer has no more (or the page limit), then
    /// its next poll time and health.
    async fn poll(self, peer: PeerRow) {
        let result = tokio::time::timeout(self.options.deadline(), self.pages(&peer)).await;
        let (error, backlog) = match result {
            Ok(Ok(Walk::Done)) => (None, false),
            Ok(Ok(Walk::Cut)) => (None, true),
            Ok(Err(f)) => (Some(f.text), false),
            Err(_) => {
                (Some(format!("the poll took longer than {} s; stopped", self.options.deadline().as_secs())), false)
            }
        };
        if let Some(e) = &error {
            tracing::warn!(peer = %peer.id, name = %peer.name, error = %e, "TAXII peer poll failed");
        }
        let interval = chrono::Duration::seconds(i64::from(peer.poll_interval_secs));
        // More to read: soon again; else after the interval (after an error too).
        let next = if backlog {
            Utc::now()
                + chrono::Duration::milliseconds(i64::try_from(self.options.backlog_delay_ms).unwrap_or(i64::MAX / 2))
        } else {
            Utc::now() + interval
        };
        let finished = async {
            let client = self.pool.get().await?;
            db::finish(&client, peer.id, peer.lease_token, next, error.as_deref()).await?;
            anyhow::Ok(())
        };
        if let Err(e) = finished.await {
            tracing::warn!(peer = %peer.id, error = format!("{e:#}"), "recording a TAXII peer poll failed");
        }
    }

    /// The principal the import acts as: the peer's service account, as the database
    /// says now, if it is of the peer's organisation and may write to its inbox.
    async fn importer(&self, peer: &PeerRow) -> Result<Principal, Failure> {
        let client = self.pool.get().await.map_err(|e| Failure::new(format!("database: {e}")))?;
        Self::importer_on(&client, peer).await
    }

    /// [`Self::importer`] on a given connection (each page checks it again in its own
    /// transaction: an account demoted or deactivated, or an organisation deactivated,
    /// during a poll stops it at the next page).
    async fn importer_on(client: &impl sitrep_db::GenericClient, peer: &PeerRow) -> Result<Principal, Failure> {
        let found = db::importer(client, peer.service_account_id, peer.organisation_id)
            .await
            .map_err(|e| Failure::new(format!("database: {e}")))?;
        let refused = || {
            Failure::new(
                "the service account is not an active service account of the organisation with the author or \
                 approver role",
            )
        };
        let row = found.ok_or_else(refused)?;
        let principal = Principal {
            user_id: peer.service_account_id,
            username: row.username,
            organisation_id: peer.organisation_id,
            membership_id: row.membership_id,
            actor: ActorKind::ServiceAccount,
            session_id: None,
            api_key_id: None,
            restriction: None,
            permissions: Permissions::new(peer.organisation_id, row.reach, row.roles),
        };
        if !writes_inbox(&principal) {
            return Err(refused());
        }
        Ok(principal)
    }

    fn client(&self, peer: &PeerRow) -> Result<WebhookClient, Failure> {
        let mut roots = self.extra_roots.clone();
        if let Some(pem) = &peer.ca_pem {
            roots.push(pem.as_bytes().to_vec());
        }
        WebhookClient::new(&ClientOptions {
            allow_private: self.allow_private,
            extra_roots: roots,
            timeout: Duration::from_secs(self.options.timeout_secs),
        })
        .map_err(|_| Failure::new("the peer's CA certificate is not usable"))
    }

    async fn pages(&self, peer: &PeerRow) -> Result<Walk, Failure> {
        let prepared = async {
            let caller = self.importer(peer).await?;
            let credentials = open_credentials(&self.state, peer).map_err(Failure::new)?;
            let client = self.client(peer)?;
            client.check_target(&peer.api_root).map_err(|e| Failure::new(format!("the API root is refused: {e}")))?;
            Ok::<_, Failure>((caller, credentials, client))
        };
        let (caller, credentials, client) = match prepared.await {
            Ok(p) => p,
            Err(f) => return Err(self.record_unsent(peer, f).await),
        };
        let mut added_after = peer.added_after.clone();
        let mut next = peer.next_page.clone();
        // Every `next` and every object version of this poll. Some servers keep one `next`
        // for a whole walk (OASIS's medallion moves a cursor behind it), so a `next` given
        // again is a circle only when its page brought nothing new in this poll (A, B, A, …
        // with the same pages): that is stopped at once, not after `max_walk_pages`
        // requests.
        let mut seen: std::collections::HashSet<String> = next.iter().cloned().collect();
        let mut objects_seen: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
        for _ in 0..self.options.max_pages_per_poll {
            let (after, new_next, walked, fresh) = self
                .page(peer, &caller, &client, credentials.as_ref(), (&added_after, &next), &mut objects_seen)
                .await?;
            if walked >= self.options.max_walk_pages {
                let client = self.pool.get().await.map_err(|e| Failure::new(format!("database: {e}")))?;
                db::forget_next(&client, peer.id, peer.lease_token)
                    .await
                    .map_err(|e| Failure::new(format!("database: {e}")))?;
                return Err(Failure::new(format!(
                    "the peer's next did not end after {walked} pages; stopped, read again from added_after at the next poll"
                )));
            }
            match new_next {
                Some(n) if !seen.insert(n.clone()) && !fresh => {
                    // Read again from `added_after` at the next poll, not from the circle.
                    let client = self.pool.get().await.map_err(|e| Failure::new(format!("database: {e}")))?;
                    db::forget_next(&client, peer.id, peer.lease_token)
                        .await
                        .map_err(|e| Failure::new(format!("database: {e}")))?;
                    return Err(Failure::new(
                        "the peer answered a next it had given before, with nothing new; stopped, read again from added_after at the next poll",
                    ));
                }
                Some(n) => next = Some(n),
                None => return Ok(Walk::Done),
            }
            added_after = after;
        }
        Ok(Walk::Cut)
    }

    /// Reads one page at the position (`added_after`, `next`) and imports it with the
    /// position after it, which it returns (`added_after`, and `next` while the peer has
    /// more), with whether the page held an object version not in `objects_seen` (this
    /// poll's), which it adds them to.
    async fn page(
        &self,
        peer: &PeerRow,
        caller: &Principal,
        client: &WebhookClient,
        credentials: Option<&PeerCredentials>,
        (added_after, next): (&Option<String>, &Option<String>),
        objects_seen: &mut std::collections::HashSet<(String, String)>,
    ) -> Result<(Option<String>, Option<String>, i32, bool), Failure> {
        let request_id = format!("peer:{}:{}", peer.id, Uuid::new_v4());
        let fetched = self.fetch(peer, client, credentials, added_after, next).await;
        let (body, date_last, status) = match fetched {
            Ok(f) => f,
            Err(f) => {
                // A peer that forgot a `next` (expired, or restarted without keeping it):
                // read again from `added_after`; the import's idempotency drops what
                // comes twice.
                if next.is_some() && f.http_status == 400 {
                    self.record_and_reset(peer, caller, &request_id, &f).await?;
                    return Err(Failure::new(format!("{}; reading again from added_after", f.text)));
                }
                self.record(peer, caller, &request_id, &f.text, f.http_status).await?;
                return Err(f);
            }
        };
        let parsed = parse_page(body);
        let (mut objects, more, new_next) = match parsed {
            Ok(p) => p,
            Err(text) => {
                self.record(peer, caller, &request_id, &text, status).await?;
                return Err(Failure { text, http_status: status });
            }
        };
        let mended = mend_spec_versions(&mut objects);
        // Whether the page holds an object version not seen earlier in this poll.
        let mut fresh = false;
        for o in &objects {
            let id = o.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            let version = o.get("modified").or_else(|| o.get("created")).and_then(Value::as_str).unwrap_or_default();
            fresh |= objects_seen.insert((id, version.to_owned()));
        }
        // The position after this page: a walk under way keeps `added_after` and moves
        // `next`; at its end `added_after` moves to the last `date_added` the peer gave.
        let (new_added_after, next_page) = match (&new_next, more) {
            (Some(n), true) => (added_after.clone(), Some(n.clone())),
            _ => (date_last.or_else(|| added_after.clone()), None),
        };
        let db_error = |e: &dyn std::fmt::Display| Failure::new(format!("database: {e}"));
        let mut conn = self.pool.get().await.map_err(|e| db_error(&e))?;
        let mut tx = conn.transaction().await.map_err(|e| db_error(&e))?;
        // The account as the database says now, not as it was when the poll began.
        if let Err(f) = Self::importer_on(&tx, peer).await {
            drop(tx);
            return Err(self.record_unsent(peer, f).await);
        }
        let outcome = if objects.is_empty() {
            None
        } else {
            Some(
                import_envelope(
                    &mut tx,
                    &self.state,
                    caller,
                    Some(&peer_label(&peer.name, &peer.api_root, &peer.collection_id)),
                    &objects,
                )
                .await
                .map_err(|e| {
                    tracing::warn!(peer = %peer.id, error = %e, "importing a TAXII peer page failed");
                    Failure::new("the page could not be imported (server error)")
                })?,
            )
        };
        let (imported, refused, mut reason, drafts, error) = match &outcome {
            None => (0, 0, format!("objects:0;more:{more}"), Vec::new(), None),
            Some(EnvelopeOutcome { status, imported: Some(done), .. }) => {
                for d in &done.drafts {
                    let floors: Vec<Value> = d
                        .indicators
                        .iter()
                        .map(|(t, v, tlp)| serde_json::json!({"type": t.as_str(), "value": v, "tlp": tlp.as_str()}))
                        .collect();
                    db::set_floor(&tx, d.picture, peer.id, d.tlp.map(|t| t.as_str()), &Value::Array(floors))
                        .await
                        .map_err(|e| db_error(&e))?;
                }
                let drafts: Vec<Uuid> = done.created.iter().chain(&done.revised).copied().collect();
                let reason = format!("{};status:{};more:{more}", done.reason(objects.len()), status.id);
                (done.stored as i64, 0, reason, drafts, None)
            }
            Some(EnvelopeOutcome { status, imported: None, refused }) => (
                0,
                objects.len() as i64,
                format!("page_refused;objects:{};refused:{refused};status:{};more:{more}", objects.len(), status.id),
                Vec::new(),
                Some(format!(
                    "a page of {} objects was refused ({refused} with a reason of their own): TAXII status {}",
                    objects.len(),
                    status.id
                )),
            ),
        };
        if mended > 0 {
            reason.push_str(&format!(";spec_version_mended:{mended}"));
        }
        let held = db::advance(
            &tx,
            peer.id,
            peer.lease_token,
            new_added_after.as_deref(),
            next_page.as_deref(),
            imported,
            refused,
            error.as_deref(),
        )
        .await
        .map_err(|e| db_error(&e))?;
        let Some(walked) = held else {
            // Another worker holds the peer now (this poll outlived its lease).
            return Err(Failure::new("the poll lost its hold on the peer; the page was not kept"));
        };
        let outcome_kind = if error.is_some() { Outcome::Failed } else { Outcome::Allowed };
        let record = Self::access_record(peer, caller, &request_id, outcome_kind, &reason, status, Some(drafts));
        sitrep_db::access_log::record(&tx, &record).await.map_err(|e| db_error(&e))?;
        tx.commit().await.map_err(|e| db_error(&e))?;
        sitrep_db::access_log::seal_wanted().notify_one();
        Ok((new_added_after, next_page, walked, fresh))
    }

    /// Fetches one page: its JSON body, its `X-TAXII-Date-Added-Last` and the status.
    async fn fetch(
        &self,
        peer: &PeerRow,
        client: &WebhookClient,
        credentials: Option<&PeerCredentials>,
        added_after: &Option<String>,
        next: &Option<String>,
    ) -> Result<(Value, Option<String>, u16), Failure> {
        let mut url = reqwest::Url::parse(&peer.api_root).map_err(|_| Failure::new("the API root is not a URL"))?;
        url.path_segments_mut().map_err(|_| Failure::new("the API root is not a URL"))?.pop_if_empty().extend([
            "collections",
            peer.collection_id.as_str(),
            "objects",
            "",
        ]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &self.options.page_limit.to_string());
            if let Some(a) = added_after {
                q.append_pair("added_after", a);
            }
            if let Some(n) = next {
                q.append_pair("next", n);
            }
        }
        let mut req = client.http().get(url).header("accept", ACCEPT);
        req = match credentials {
            Some(PeerCredentials { username: Some(u), secret }) => req.basic_auth(u, Some(secret)),
            Some(PeerCredentials { username: None, secret }) => req.bearer_auth(secret),
            None => req,
        };
        let mut res = req.send().await.map_err(|e| Failure::new(send_error(&e)))?;
        let status = res.status().as_u16();
        if !res.status().is_success() {
            return Err(Failure { text: format!("the peer answered HTTP {status}"), http_status: status });
        }
        if res.content_length().is_some_and(|n| n > self.options.max_page_bytes as u64) {
            return Err(Failure {
                text: format!("the page is larger than {} bytes", self.options.max_page_bytes),
                http_status: status,
            });
        }
        let date_last = res
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 64 && chrono::DateTime::parse_from_rfc3339(v).is_ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.options.max_page_bytes {
                        return Err(Failure {
                            text: format!("the page is larger than {} bytes", self.options.max_page_bytes),
                            http_status: status,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(Failure { text: send_error(&e), http_status: status }),
            }
        }
        let json = serde_json::from_slice(&body)
            .map_err(|_| Failure { text: "the page is not JSON".into(), http_status: status })?;
        Ok((json, date_last, status))
    }

    fn access_record(
        peer: &PeerRow,
        caller: &Principal,
        request_id: &str,
        outcome: Outcome,
        reason: &str,
        http_status: u16,
        drafts: Option<Vec<Uuid>>,
    ) -> AccessRecord {
        AccessRecord {
            request_id: request_id.to_owned(),
            actor_type: ActorType::System,
            actor_id: Some(caller.user_id),
            actor_name: Some("taxii-peer-worker".into()),
            organisation_id: Some(peer.organisation_id),
            membership_id: Some(caller.membership_id),
            roles: caller.permissions.roles.to_vec().into_iter().map(|r| r.as_str()).collect(),
            action: "peer.pull".into(),
            object_type: Some("taxii_peer"),
            object_id: Some(peer.id.to_string()),
            object_revision: None,
            object_ids: drafts,
            tier: None,
            tlp: None,
            outcome,
            reason: Some(reason.chars().take(500).collect()),
            http_status,
            client_addr: None,
        }
    }

    /// Records a page that failed (in a commit of its own: nothing else is written).
    async fn record(
        &self,
        peer: &PeerRow,
        caller: &Principal,
        request_id: &str,
        reason: &str,
        http_status: u16,
    ) -> Result<(), Failure> {
        let record = Self::access_record(peer, caller, request_id, Outcome::Failed, reason, http_status, None);
        let client = self.pool.get().await.map_err(|e| Failure::new(format!("database: {e}")))?;
        sitrep_db::access_log::record(&client, &record).await.map_err(|e| Failure::new(format!("database: {e}")))?;
        sitrep_db::access_log::seal_wanted().notify_one();
        Ok(())
    }

    /// Records a poll that sent no request (its service account, credentials, CA or URL
    /// is unusable): every poll is in the access log.
    async fn record_unsent(&self, peer: &PeerRow, f: Failure) -> Failure {
        let record = AccessRecord {
            request_id: format!("peer:{}:{}", peer.id, Uuid::new_v4()),
            actor_type: ActorType::System,
            actor_id: Some(peer.service_account_id),
            actor_name: Some("taxii-peer-worker".into()),
            organisation_id: Some(peer.organisation_id),
            membership_id: None,
            roles: Vec::new(),
            action: "peer.pull".into(),
            object_type: Some("taxii_peer"),
            object_id: Some(peer.id.to_string()),
            object_revision: None,
            object_ids: None,
            tier: None,
            tlp: None,
            outcome: Outcome::Failed,
            reason: Some(f.text.chars().take(500).collect()),
            http_status: 0,
            client_addr: None,
        };
        let written = async {
            let client = self.pool.get().await.map_err(|e| Failure::new(format!("database: {e}")))?;
            sitrep_db::access_log::record(&client, &record)
                .await
                .map_err(|e| Failure::new(format!("database: {e}")))?;
            sitrep_db::access_log::seal_wanted().notify_one();
            Ok::<_, Failure>(())
        };
        match written.await {
            Ok(()) => f,
            Err(e) => e,
        }
    }

    /// Records a refused `next` and forgets it (the walk starts again at `added_after`).
    async fn record_and_reset(
        &self,
        peer: &PeerRow,
        caller: &Principal,
        request_id: &str,
        f: &Failure,
    ) -> Result<(), Failure> {
        let db_error = |e: &dyn std::fmt::Display| Failure::new(format!("database: {e}"));
        let mut conn = self.pool.get().await.map_err(|e| db_error(&e))?;
        let tx = conn.transaction().await.map_err(|e| db_error(&e))?;
        db::forget_next(&tx, peer.id, peer.lease_token).await.map_err(|e| db_error(&e))?;
        let record = Self::access_record(peer, caller, request_id, Outcome::Failed, &f.text, f.http_status, None);
        sitrep_db::access_log::record(&tx, &record).await.map_err(|e| db_error(&e))?;
        tx.commit().await.map_err(|e| db_error(&e))?;
        Ok(())
    }
}

enum Walk {
    /// The peer has no more.
    Done,
    /// Stopped at the page limit of a poll; the peer has more.
    Cut,
}

/// The peer as the drafts' provenance names it: its name, the origin of its API root
/// (scheme, host, port) and its collection. Not the API root's path: a partner may put a
/// token in it, and the drafts are read more widely than the peers' settings.
fn peer_label(name: &str, api_root: &str, collection_id: &str) -> String {
    let origin = reqwest::Url::parse(api_root)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "an unreadable URL".into());
    format!("{name} ({origin}, collection {collection_id})")
}

/// OpenTAXII up to 0.9.3 answers every object with its own type as its `spec_version`
/// (`"spec_version": "indicator"`; OpenTAXII's issues 237 and 268), though it stores and
/// was posted 2.1: such a value, and only it, is read as the `2.1` of the TAXII 2.1 page
/// it came in. Returns how many objects it mended (the page's access record says so).
fn mend_spec_versions(objects: &mut [Value]) -> usize {
    let mut mended = 0;
    for o in objects.iter_mut() {
        let own_type = o
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| o.get("spec_version").and_then(Value::as_str) == Some(t));
        if own_type {
            o["spec_version"] = Value::String("2.1".into());
            mended += 1;
        }
    }
    mended
}

/// A page's objects, `more` and `next`.
fn parse_page(body: Value) -> Result<(Vec<Value>, bool, Option<String>), String> {
    let more = match body.get("more") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("the page's more is not a boolean".into()),
    };
    let next = match body.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 4096 => Some(s.clone()),
        Some(_) => return Err("the page's next is not a string of at most 4096 characters".into()),
    };
    let objects = envelope_objects(body).map_err(|e| format!("the page is not a TAXII envelope: {e}"))?;
    Ok((objects, more, next))
}

/// What went wrong sending, without the URL.
fn send_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the peer did not answer in time".into()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut detail = String::new();
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        format!("could not connect to the peer: {}", detail.chars().take(200).collect::<String>())
    } else if e.is_redirect() {
        "the peer redirected; redirects are not followed".into()
    } else {
        "the request to the peer failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_names_the_peers_origin_and_collection_never_the_path_of_its_api_root() {
        let label = |api_root: &str| peer_label("CERT", api_root, "c1");
        assert_eq!(
            label("https://taxii.example:8443/s3cr3t-token/api1/"),
            "CERT (https://taxii.example:8443, collection c1)"
        );
        assert_eq!(label("https://user:pw@taxii.example/api1/"), "CERT (https://taxii.example, collection c1)");
    }

    #[test]
    fn only_a_spec_version_naming_the_objects_own_type_is_mended() {
        let mut objects = vec![
            serde_json::json!({"type": "indicator", "spec_version": "indicator"}),
            serde_json::json!({"type": "report", "spec_version": "2.0"}),
            serde_json::json!({"type": "report", "spec_version": "indicator"}),
            serde_json::json!({"type": "identity"}),
            serde_json::json!({"type": "identity", "spec_version": "2.1"}),
        ];
        assert_eq!(mend_spec_versions(&mut objects), 1);
        assert_eq!(objects[0]["spec_version"], "2.1");
        assert_eq!(objects[1]["spec_version"], "2.0");
        assert_eq!(objects[2]["spec_version"], "indicator");
        assert!(objects[3].get("spec_version").is_none());
    }

    #[test]
    fn a_page_is_a_taxii_envelope_with_a_boolean_more_and_a_short_string_next() {
        let (objects, more, next) =
            parse_page(serde_json::json!({"more": true, "next": "abc", "objects": [{"type": "x"}]})).unwrap();
        assert_eq!((objects.len(), more, next.as_deref()), (1, true, Some("abc")));
        let (objects, more, next) = parse_page(serde_json::json!({})).unwrap();
        assert_eq!((objects.len(), more, next), (0, false, None));
        for bad in [
            serde_json::json!([]),
            serde_json::json!({"more": "yes"}),
            serde_json::json!({"next": 5}),
            serde_json::json!({"next": ""}),
            serde_json::json!({"next": "n".repeat(4097)}),
            serde_json::json!({"objects": {}}),
            serde_json::json!({"objects": [], "extra": 1}),
        ] {
            assert!(parse_page(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_options_refuse_zeros_and_a_limit_over_a_thousand() {
        assert!(PeerOptions::default().check().is_ok());
        for bad in [
            PeerOptions { tick_ms: 0, ..Default::default() },
            PeerOptions { page_limit: 1001, ..Default::default() },
            PeerOptions { max_walk_pages: 0, ..Default::default() },
            PeerOptions { lease_secs: 5, ..Default::default() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        // A poll stops before its lease ends.
        assert!(PeerOptions::default().deadline() < Duration::from_secs(PeerOptions::default().lease_secs));
    }
}
