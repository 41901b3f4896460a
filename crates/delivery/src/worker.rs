//! The delivery worker: moves the outbox into per-subscription deliveries, claims due
//! deliveries under a lease (`FOR UPDATE SKIP LOCKED`, so several processes share the
//! work and a killed worker's lease simply expires), sends them with no lock held, and
//! settles each attempt — retry with backoff, or the failing mark when the schedule is
//! spent. Every attempt writes an access-log record: a delivery is a disclosure.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sitrep_db::Pool;
use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
use sitrep_db::subscriptions::{self, Due, Settle};

use crate::client::WebhookClient;
use crate::schedule;
use crate::signing;

/// Worker settings (configuration section `delivery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerOptions {
    /// Run the worker in this process.
    pub worker: bool,
    pub poll_ms: u64,
    /// How long a claimed delivery is reserved for its worker.
    pub lease_secs: u64,
    pub batch: i64,
    /// Seconds before each retry (docs/delivery.md: 5 s … 10 h, about a day).
    pub retry_schedule_secs: Vec<u64>,
    /// Multiplies the schedule (tests shorten it; 1.0 in production).
    pub retry_scale: f64,
    pub timeout_secs: u64,
    /// Allow private, loopback and link-local webhook targets. Never in production.
    pub allow_private_targets: bool,
    /// PEM files of extra CAs that webhook receivers' certificates may chain to.
    pub extra_root_certificates: Vec<std::path::PathBuf>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            worker: true,
            poll_ms: 1000,
            lease_secs: 60,
            batch: 100,
            retry_schedule_secs: schedule::DEFAULT.to_vec(),
            retry_scale: 1.0,
            timeout_secs: 10,
            allow_private_targets: false,
            extra_root_certificates: Vec::new(),
        }
    }
}

/// The thin payload of a webhook (Standard Webhooks shape: type, timestamp, data).
pub fn payload(d: &Due) -> serde_json::Value {
    let mut data = if d.event_type == "picture.recalled" {
        serde_json::json!({"id": d.event_id, "picture_id": d.picture_id})
    } else {
        serde_json::json!({
            "id": d.event_id, "picture_id": d.picture_id, "revision": d.revision,
            "tier": d.tier, "tlp": d.tlp, "created_at": d.event_at,
        })
    };
    // A report event names its report instead of a picture.
    if let (Some(report), serde_json::Value::Object(fields)) = (d.report_id, &mut data) {
        fields.remove("picture_id");
        fields.insert("report_id".into(), serde_json::json!(report));
    }
    serde_json::json!({"type": d.event_type, "timestamp": d.event_at, "data": data})
}

/// The result of one attempt, to be settled with the rest of its pass.
struct Attempt {
    due: Due,
    status: Option<u16>,
    outcome: String,
    ms: i32,
    settle: Settle,
    record: AccessRecord,
}

#[derive(Clone)]
pub struct Worker {
    pool: Pool,
    client: WebhookClient,
    options: WorkerOptions,
}

impl Worker {
    pub fn new(pool: Pool, client: WebhookClient, options: WorkerOptions) -> Worker {
        Worker { pool, client, options }
    }

    /// Runs until `stop` turns `true`: a pass as soon as `wake` says the outbox grew (any
    /// server process), and at least one per poll interval (retries fall due by time).
    /// A pass under way when `stop` turns finishes — its webhooks get their answer (at
    /// most `timeout_secs`) and are settled, which releases their leases — and then the
    /// worker returns without claiming more.
    pub async fn run(
        self,
        mut wake: Option<tokio::sync::watch::Receiver<u64>>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                break;
            }
            match self.pass().await {
                // A full pass: there is probably more; go again at once.
                Ok(n) if n as i64 >= self.options.batch => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "delivery pass failed; will retry"),
            }
            let poll = tokio::time::sleep(Duration::from_millis(self.options.poll_ms));
            match wake.as_mut() {
                Some(w) => {
                    tokio::select! {
                        changed = w.changed() => if changed.is_err() { wake = None },
                        // Turned true, or the application is gone: either way, stop.
                        _ = stop.wait_for(|s| *s) => break,
                        _ = poll => {}
                    }
                }
                None => {
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => break,
                        _ = poll => {}
                    }
                }
            }
        }
        tracing::info!("delivery worker stopped; no lease held");
    }

    /// One pass: fan out, claim, send, settle. Returns the attempts made.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            subscriptions::fan_out(&tx, self.options.batch).await?;
            tx.commit().await?;
        }
        let due = {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let due = subscriptions::claim(&tx, self.options.lease_secs as f64, self.options.batch).await?;
            tx.commit().await?;
            due
        };
        let n = due.len();
        if n == 0 {
            return Ok(0);
        }
        let sends = due.into_iter().map(|d| self.deliver(d));
        let settled = futures_util::future::join_all(sends).await;
        // One transaction settles the whole pass (and appends its access-log records, which
        // take the chain head once): if it fails, the leases expire and the deliveries are
        // sent again — at least once.
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for a in &settled {
            subscriptions::settle(&tx, &a.due, a.status, &a.outcome, a.ms, a.settle).await?;
            sitrep_db::access_log::record(&tx, &a.record).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Sends one delivery (unless its subscriber no longer sees it) and decides its fate.
    async fn deliver(&self, d: Due) -> Attempt {
        let started = Instant::now();
        let (status, outcome, settle) = if !d.still_visible {
            (None, "not_visible".to_owned(), Settle::Dropped)
        } else {
            let (status, outcome, ok) = self.send(&d).await;
            let settle = if ok {
                Settle::Delivered
            } else {
                match schedule::next_delay(
                    d.failures as usize + 1,
                    &self.options.retry_schedule_secs,
                    self.options.retry_scale,
                ) {
                    Some(delay) => Settle::Retry(
                        Utc::now() + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(10)),
                    ),
                    None => Settle::Failed,
                }
            };
            (status, outcome, settle)
        };
        let ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let record = AccessRecord {
            request_id: format!("delivery:{}:{}", d.id, d.attempt),
            actor_type: ActorType::System,
            actor_id: None,
            actor_name: Some("delivery-worker".into()),
            organisation_id: Some(d.organisation_id),
            membership_id: None,
            roles: Vec::new(),
            action: "webhook.deliver".into(),
            object_type: Some(if d.report_id.is_some() { "report" } else { "picture" }),
            object_id: d.picture_id.or(d.report_id).map(|id| id.to_string()),
            object_revision: Some(d.revision),
            object_ids: None,
            tier: Some(d.tier.clone()),
            tlp: Some(d.tlp.clone()),
            outcome: match settle {
                Settle::Delivered => Outcome::Allowed,
                Settle::Dropped => Outcome::Denied,
                _ => Outcome::Failed,
            },
            reason: Some(format!("{} {outcome}", d.event_type)),
            http_status: status.unwrap_or(0),
            client_addr: None,
        };
        Attempt { due: d, status, outcome, ms, settle, record }
    }

    /// Sends one webhook. No database lock is held here.
    async fn send(&self, d: &Due) -> (Option<u16>, String, bool) {
        if self.client.check_target(&d.url).is_err() {
            return (None, "target_refused".into(), false);
        }
        let body = payload(d).to_string();
        let id = d.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let Ok(signature) = signing::header(&d.secrets, &id, timestamp, body.as_bytes()) else {
            return (None, "bad_secret".into(), false);
        };
        let sent = self
            .client
            .http()
            .post(&d.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(res) => {
                let status = res.status();
                let outcome = if status.is_success() {
                    "delivered"
                } else if status.is_redirection() {
                    "redirect_refused"
                } else {
                    "http_error"
                };
                (Some(status.as_u16()), outcome.into(), status.is_success())
            }
            Err(e) => {
                let outcome = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect_failed"
                } else {
                    "send_failed"
                };
                (None, outcome.into(), false)
            }
        }
    }
}
