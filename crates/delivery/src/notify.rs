//! The notification worker (docs/notifications.md): reads the same outbox events as the
//! feed, in the same commit-safe order, queues one message per (event, recipient) whom
//! the recipient rule selects, and sends the queue through the SMTP relay — deciding
//! again at the moment of sending, with `sight` as the picture stands then. At least
//! once: a message is claimed under a lease, sent with no lock held, then settled; a
//! worker killed in between sends it again with the same `Message-ID`. Every send,
//! failure and suppression writes an access-log record.

pub mod render;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sitrep_db::Pool;
use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
use sitrep_db::notifications::{self as db, Claimed, DutyNow, MailSettle, Owner, PersonNow, PictureNow, Queued};
use sitrep_domain::digest;
use sitrep_domain::escalation::{self, Standing, Step};
use sitrep_domain::notify::{self, About, Mail, MailedEvent, Preferences, QuietHours};
use sitrep_domain::thread;
use sitrep_domain::visibility::{Handling, Viewer};
use sitrep_domain::{Permissions, RoleSet};
use sitrep_types::{Domain, Lang, Reach, Role, Status, Tier, Tlp, Urgency};
use uuid::Uuid;

use crate::schedule;

/// How the relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP relay (configuration section `notifications.smtp`). There is no plain-text
/// mode and no way to skip certificate checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpOptions {
    /// The relay's name (checked against its certificate). Unset: no e-mail is sent.
    pub host: Option<String>,
    /// Default 587 for `starttls`, 465 for `tls`.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// A secret: never printed. Prefer `password_file`.
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// A file holding the password (surrounding whitespace ignored).
    pub password_file: Option<PathBuf>,
    /// PEM files of CAs the relay's certificate may chain to, besides the public web PKI.
    pub root_certificates: Vec<PathBuf>,
    pub timeout_secs: u64,
}

impl Default for SmtpOptions {
    fn default() -> Self {
        SmtpOptions {
            host: None,
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            password_file: None,
            root_certificates: Vec::new(),
            timeout_secs: 20,
        }
    }
}

/// E-mail notifications (configuration section `notifications`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyOptions {
    /// Run the worker in this process (when `smtp.host` is set).
    pub worker: bool,
    pub poll_ms: u64,
    pub lease_secs: u64,
    pub batch: i64,
    /// Seconds before each retry of a message the relay did not take.
    pub retry_schedule_secs: Vec<u64>,
    /// Multiplies the schedule (tests shorten it; 1.0 in production).
    pub retry_scale: f64,
    /// The sender, e.g. `Sitrep <sitrep@example.org>`.
    pub from: String,
    /// The right-hand side of `Message-ID`s and the `List-Id` (`<notifications.DOMAIN>`).
    pub message_domain: String,
    /// The console's address as people reach it; links are `CONSOLE_URL#/picture/<id>`.
    pub console_url: String,
    /// Seconds after an acknowledgement deadline before the secretariat is told who is
    /// still silent (the silent organisations are reminded at the deadline).
    pub escalate_after_secs: u64,
    /// Deadlines that passed longer ago than this are not escalated any more.
    pub escalation_window_secs: u64,
    /// The running worker looks for overdue acknowledgements at most this often (the
    /// query reads every recently published urgent picture), not on every pass.
    pub escalation_interval_secs: u64,
    pub smtp: SmtpOptions,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        NotifyOptions {
            worker: true,
            poll_ms: 1000,
            lease_secs: 120,
            batch: 200,
            retry_schedule_secs: vec![30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600],
            retry_scale: 1.0,
            from: "Sitrep <sitrep@localhost>".into(),
            message_domain: "sitrep.invalid".into(),
            console_url: "https://127.0.0.1:8443/app/".into(),
            escalate_after_secs: 1800,
            escalation_window_secs: 86400,
            escalation_interval_secs: 30,
            smtp: SmtpOptions::default(),
        }
    }
}

impl NotifyOptions {
    /// Checks what can be checked before start.
    pub fn check(&self) -> Result<(), String> {
        if self.escalation_window_secs <= self.escalate_after_secs {
            return Err("notifications.escalation_window_secs must be longer than escalate_after_secs".into());
        }
        if self.poll_ms == 0 || self.batch <= 0 || self.retry_scale <= 0.0 || self.lease_secs == 0 {
            return Err("notifications.poll_ms, batch, lease_secs and retry_scale must be positive".into());
        }
        if self.smtp.host.is_some() {
            self.from.parse::<Mailbox>().map_err(|e| format!("notifications.from: {e}"))?;
            if !self.console_url.starts_with("https://") {
                return Err("notifications.console_url must be an https:// address".into());
            }
            let ok = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
            if self.message_domain.is_empty() || !self.message_domain.chars().all(ok) {
                return Err("notifications.message_domain must be a domain name".into());
            }
            if self.smtp.password.is_some() && self.smtp.password_file.is_some() {
                return Err("notifications.smtp: set password or password_file, not both".into());
            }
        }
        Ok(())
    }
}

/// The `Message-ID` left part of the message about `event` to `recipient`: the same on
/// every attempt and in every process, so a message sent twice is one message to its
/// receiver.
pub fn message_id(event: Uuid, recipient: Owner) -> String {
    let (kind, id) = match recipient {
        Owner::Person(u) => ("person", u),
        Owner::Duty(d) => ("duty", d),
    };
    let digest = Sha256::digest(format!("sitrep-mail:{event}:{kind}:{id}"));
    hex::encode(&digest[..16])
}

/// The `Message-ID` left part of a reminder (`reminder`, about one silent organisation)
/// or an overdue report (`overdue`, naming `organisations`) about `picture` to a duty
/// address: each step is one message to each address.
pub fn escalation_message_id(kind: &str, picture: Uuid, organisations: &[Uuid], duty: Uuid) -> String {
    let mut orgs = organisations.to_vec();
    orgs.sort_unstable();
    let orgs: Vec<String> = orgs.iter().map(Uuid::to_string).collect();
    let digest = Sha256::digest(format!("sitrep-{kind}:{picture}:{}:duty:{duty}", orgs.join(",")));
    hex::encode(&digest[..16])
}

/// Builds the SMTP transport: TLS always, certificates always checked.
pub fn transport(o: &SmtpOptions) -> anyhow::Result<Option<AsyncSmtpTransport<Tokio1Executor>>> {
    let Some(host) = &o.host else { return Ok(None) };
    let mut tls = TlsParameters::builder(host.clone());
    for path in &o.root_certificates {
        let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        tls = tls.add_root_certificate(Certificate::from_pem(&pem)?);
    }
    let tls = tls.build_rustls()?;
    let (tls, port) = match o.tls {
        SmtpTls::Starttls => (Tls::Required(tls), o.port.unwrap_or(587)),
        SmtpTls::Tls => (Tls::Wrapper(tls), o.port.unwrap_or(465)),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(o.timeout_secs)));
    if let Some(user) = &o.username {
        let password = match (&o.password, &o.password_file) {
            (Some(p), _) => p.expose_secret().to_owned(),
            (None, Some(f)) => {
                std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?.trim().to_owned()
            }
            (None, None) => anyhow::bail!("notifications.smtp.username needs password or password_file"),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(Some(builder.build()))
}

/// What one attempt came to.
struct Attempt {
    id: Uuid,
    outcome: String,
    settle: MailSettle,
    record: AccessRecord,
}

#[derive(Clone)]
pub struct Mailer {
    pool: Pool,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    options: NotifyOptions,
}

fn viewer_of(org: Uuid, reach: &str, roles: &[String]) -> Viewer {
    let roles: RoleSet = roles.iter().filter_map(|r| Role::parse(r)).collect();
    Viewer::from(&Permissions::new(org, Reach::parse(reach).unwrap_or(Reach::Member), roles))
}

/// A person as a viewer through each of their memberships in force.
fn viewers_of(person: &PersonNow) -> Vec<Viewer> {
    person.memberships.iter().map(|(o, reach, roles)| viewer_of(*o, reach, roles)).collect()
}

/// A picture's handling as it stands now, for the rules.
fn handling_of<'a>(p: &'a PictureNow, f: &Facts) -> Handling<'a> {
    Handling { originator: p.originator_id, status: f.status, tier: f.tier, named: &p.named_recipients }
}

fn prefs_of(p: &PersonNow) -> Preferences {
    let r = &p.prefs;
    let quiet_hours = match (r.quiet_start, r.quiet_end, r.time_zone.as_deref()) {
        (Some(s), Some(e), Some(tz)) => tz.parse().ok().map(|time_zone| QuietHours { start: s, end: e, time_zone }),
        _ => None,
    };
    Preferences {
        confirmed: r.email.is_some() && r.email_confirmed_at.is_some(),
        urgencies: r.urgencies.iter().filter_map(|u| Urgency::parse(u)).collect(),
        domains: r.domains.iter().filter_map(|d| Domain::parse(d)).collect(),
        elections: r.election_ids.clone(),
        quiet_hours,
    }
}

/// A person's digest schedule, if they asked for one.
fn schedule_of(p: &PersonNow) -> Option<digest::DigestSchedule> {
    let at = p.prefs.digest_at?;
    let time_zone = p.prefs.digest_time_zone.as_deref()?.parse().ok()?;
    Some(digest::DigestSchedule { at, time_zone })
}

/// A picture's facts parsed for the rule.
struct Facts {
    status: Status,
    tier: Tier,
    tlp: Tlp,
    urgency: Urgency,
    domains: Vec<Domain>,
}

fn facts(p: &PictureNow) -> Option<Facts> {
    Some(Facts {
        status: Status::parse(&p.status)?,
        tier: Tier::parse(&p.tier)?,
        tlp: Tlp::parse(&p.tlp)?,
        urgency: Urgency::parse(&p.urgency)?,
        domains: p.domains.iter().filter_map(|d| Domain::parse(d)).collect(),
    })
}

fn about<'a>(event: MailedEvent, p: &'a PictureNow, f: &'a Facts) -> About<'a> {
    About { event, handling: handling_of(p, f), urgency: f.urgency, domains: &f.domains, election: p.election_id }
}

fn person_decision(person: &PersonNow, about: &About<'_>, now: DateTime<Utc>) -> Mail {
    notify::for_person_in_any(&viewers_of(person), &prefs_of(person), about, now)
}

fn duty_decision(d: &DutyNow, about: &About<'_>) -> Mail {
    // The organisation as a reader of pictures: what its members who read would see.
    let viewer = viewer_of(d.organisation_id, &d.reach, &["reader".to_owned()]);
    notify::for_duty_address(&viewer, d.confirmed, about)
}

impl Mailer {
    pub fn new(pool: Pool, transport: AsyncSmtpTransport<Tokio1Executor>, options: NotifyOptions) -> Mailer {
        Mailer { pool, transport, options }
    }

    /// Runs until `stop` turns `true`, woken by new outbox events and at least once per
    /// poll interval (held and retried messages fall due by time).
    pub async fn run(
        self,
        mut wake: Option<tokio::sync::watch::Receiver<u64>>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut escalated: Option<std::time::Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let interval = Duration::from_secs(self.options.escalation_interval_secs);
            let escalate = escalated.is_none_or(|at| at.elapsed() >= interval);
            if escalate {
                escalated = Some(std::time::Instant::now());
            }
            match self.pass_with(escalate).await {
                Ok(n) if n as i64 >= self.options.batch => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "notification pass failed; will retry"),
            }
            let poll = tokio::time::sleep(Duration::from_millis(self.options.poll_ms));
            match wake.as_mut() {
                Some(w) => {
                    tokio::select! {
                        changed = w.changed() => if changed.is_err() { wake = None },
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
        tracing::info!("notification worker stopped");
    }

    /// One pass: queue what new events call for, take the escalation steps now due, then
    /// send what is due. Returns the messages settled.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        self.pass_with(true).await
    }

    /// A pass, with the escalation steps only when `escalate` (`run` takes them every
    /// `escalation_interval_secs`).
    async fn pass_with(&self, escalate: bool) -> anyhow::Result<usize> {
        self.fan_out().await?;
        if escalate {
            self.escalate().await?;
            self.digests().await?;
        }
        let claimed = {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let claimed = db::claim(&tx, self.options.lease_secs as f64, self.options.batch).await?;
            tx.commit().await?;
            claimed
        };
        if claimed.is_empty() {
            return Ok(0);
        }
        let n = claimed.len();
        let attempts = self.attempt_all(claimed).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for a in &attempts {
            db::settle(&tx, a.id, &a.outcome, a.settle).await?;
            sitrep_db::access_log::record(&tx, &a.record).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Moves the outbox into the queue: for each new event that is mailed, one message
    /// per recipient the rule selects now (sent now, or held over quiet hours). The
    /// position moves in the same transaction, so an event is queued once.
    async fn fan_out(&self) -> anyhow::Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some((xid, seq)) = db::lock_position(&tx).await? else { return Ok(()) };
        let events = db::events_after(&tx, &xid, seq, self.options.batch).await?;
        let Some(last) = events.last() else { return Ok(()) };
        let (last_xid, last_seq) = (last.xid.clone(), last.seq);
        let mailed: Vec<_> = events.iter().filter_map(|e| MailedEvent::of(&e.kind).map(|k| (e, k))).collect();
        if !mailed.is_empty() {
            let ids: Vec<Uuid> = mailed.iter().map(|(e, _)| e.picture_id).collect();
            let pictures = db::pictures_now(&tx, &ids).await?;
            let people: Vec<PersonNow> =
                db::people(&tx, None).await?.into_iter().filter(|p| prefs_of(p).confirmed).collect();
            let duties: Vec<DutyNow> = db::duties(&tx, None).await?.into_iter().filter(|d| d.confirmed).collect();
            let now = Utc::now();
            let mut queued = Vec::new();
            for (e, kind) in mailed {
                let Some(p) = pictures.iter().find(|p| p.id == e.picture_id) else { continue };
                let Some(f) = facts(p) else { continue };
                let about = about(kind, p, &f);
                for person in &people {
                    let (at, outcome) = match person_decision(person, &about, now) {
                        Mail::Send => (now, None),
                        Mail::HoldUntil(t) => (t, Some("held")),
                        Mail::Skip(_) => continue,
                    };
                    let recipient = Owner::Person(person.user_id);
                    queued.push(Queued {
                        message_id: message_id(e.id, recipient),
                        event_id: e.id,
                        recipient,
                        organisation_id: person.memberships.first().map(|m| m.0),
                        address: person.prefs.email.clone().unwrap_or_default(),
                        at,
                        outcome,
                    });
                }
                for d in &duties {
                    if duty_decision(d, &about) == Mail::Send {
                        let recipient = Owner::Duty(d.id);
                        queued.push(Queued {
                            message_id: message_id(e.id, recipient),
                            event_id: e.id,
                            recipient,
                            organisation_id: Some(d.organisation_id),
                            address: d.email.clone(),
                            at: now,
                            outcome: None,
                        });
                    }
                }
            }
            db::queue(&tx, &queued).await?;
        }
        db::set_position(&tx, &last_xid, last_seq).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the escalation steps now due (`sitrep_domain::escalation`): records each
    /// (picture, organisation, step) once, with its access-log record, and queues a
    /// reminder to each confirmed duty address of a silent organisation and one report
    /// per picture to each of the secretariat's. Under the outbox position's lock, so one
    /// process at a time takes steps; the unique key keeps each step to one even so.
    async fn escalate(&self) -> anyhow::Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if db::lock_position(&tx).await?.is_none() {
            return Ok(());
        }
        let overdue = db::overdue(&tx, self.options.escalation_window_secs as f64).await?;
        if overdue.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let after = chrono::Duration::seconds(self.options.escalate_after_secs as i64);
        let mut steps = Vec::new();
        for o in &overdue {
            // Listed: a recipient (sees it) that has not acknowledged.
            let standing = Standing { deadline: Some(o.deadline), sees: true, acknowledged: false };
            for step in escalation::due_steps(standing, now, after) {
                if !o.taken.iter().any(|t| t == step.as_str()) {
                    steps.push((o.picture_id, o.organisation_id, step.as_str(), o.deadline));
                }
            }
        }
        let recorded = db::record_escalations(&tx, &steps).await?;
        if recorded.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = recorded.iter().map(|r| r.1).collect();
        let pictures = db::pictures_now(&tx, &ids).await?;
        let duties: Vec<DutyNow> = db::duties(&tx, None).await?.into_iter().filter(|d| d.confirmed).collect();
        let secretariat = db::secretariat_duties(&tx).await?;
        let mut queued = Vec::new();
        let mut reported: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
        for (id, picture, org, step) in &recorded {
            let p = pictures.iter().find(|p| p.id == *picture);
            let mut record = self.escalation_record(*org, p);
            record.request_id = format!("escalation:{id}");
            record.reason = Some(step.clone());
            sitrep_db::access_log::record(&tx, &record).await?;
            if step == "reminder" {
                for d in duties.iter().filter(|d| d.organisation_id == *org) {
                    queued.push(db::QueuedAbout {
                        message_id: escalation_message_id("reminder", *picture, &[*org], d.id),
                        kind: "reminder",
                        picture_id: *picture,
                        duty_address_id: d.id,
                        organisation_id: *org,
                        address: d.email.clone(),
                    });
                }
            } else {
                match reported.iter_mut().find(|(p, _)| p == picture) {
                    Some((_, orgs)) => orgs.push(*org),
                    None => reported.push((*picture, vec![*org])),
                }
            }
        }
        for (picture, orgs) in &reported {
            for d in &secretariat {
                queued.push(db::QueuedAbout {
                    message_id: escalation_message_id("overdue", *picture, orgs, d.id),
                    kind: "overdue",
                    picture_id: *picture,
                    duty_address_id: d.id,
                    organisation_id: d.organisation_id,
                    address: d.email.clone(),
                });
            }
        }
        db::queue_about(&tx, &queued).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the digests now due and queues their messages (`sitrep_domain::digest`):
    /// for each person with a digest and a confirmed address, the latest moment due, once
    /// per (person, moment), covering the events written since the previous digest (a
    /// day back for the first) up to the horizon no running transaction can write before.
    /// Only the newest moment is taken, so a worker that was stopped sends one digest, not
    /// one for every moment it missed; the window covers them all.
    async fn digests(&self) -> anyhow::Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if db::lock_position(&tx).await?.is_none() {
            return Ok(());
        }
        let asked = db::digest_people(&tx).await?;
        if asked.is_empty() {
            return Ok(());
        }
        let people: Vec<PersonNow> = db::people(&tx, Some(&asked))
            .await?
            .into_iter()
            .filter(|p| prefs_of(p).confirmed && schedule_of(p).is_some())
            .collect();
        if people.is_empty() {
            return Ok(());
        }
        let days = sitrep_db::reference::hourly_digest_days(&tx).await?;
        let ids: Vec<Uuid> = people.iter().map(|p| p.user_id).collect();
        let last = db::last_digests(&tx, &ids).await?;
        let horizon = db::digest_horizon(&tx).await?;
        let now = Utc::now();
        for person in &people {
            let (Some(schedule), Some(address)) = (schedule_of(person), person.prefs.email.as_deref()) else {
                continue;
            };
            let quiet = prefs_of(person).quiet_hours;
            let Some(due) = digest::latest_due(&schedule, &days, quiet.as_ref(), now) else { continue };
            let previous = last.iter().find(|l| l.0 == person.user_id);
            if previous.is_some_and(|p| p.1 >= due) {
                continue;
            }
            let from = previous.map_or(due - chrono::Duration::days(1), |p| p.2);
            db::record_digest(&tx, person.user_id, due, from, horizon.max(from), address).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The access-log record of an escalation step: the system, for the silent
    /// organisation, about the picture.
    fn escalation_record(&self, org: Uuid, p: Option<&PictureNow>) -> AccessRecord {
        AccessRecord {
            request_id: String::new(),
            actor_type: ActorType::System,
            actor_id: None,
            actor_name: Some("notification-worker".into()),
            organisation_id: Some(org),
            membership_id: None,
            roles: Vec::new(),
            action: "acknowledgement.escalate".into(),
            object_type: Some("picture"),
            object_id: p.map(|p| p.id.to_string()),
            object_revision: p.map(|p| p.revision),
            object_ids: None,
            tier: p.map(|p| p.tier.clone()),
            tlp: p.map(|p| p.tlp.clone()),
            outcome: Outcome::Allowed,
            reason: None,
            http_status: 0,
            client_addr: None,
        }
    }

    /// Decides each claimed message again as things stand now, then sends those still
    /// due (concurrently, no lock held).
    async fn attempt_all(&self, claimed: Vec<Claimed>) -> anyhow::Result<Vec<Attempt>> {
        let client = self.pool.get().await?;
        let picture_ids: Vec<Uuid> = claimed.iter().filter_map(|c| c.picture_id).collect();
        let user_ids: Vec<Uuid> =
            claimed.iter().filter_map(|c| if let Owner::Person(u) = c.recipient { Some(u) } else { None }).collect();
        let duty_ids: Vec<Uuid> =
            claimed.iter().filter_map(|c| if let Owner::Duty(d) = c.recipient { Some(d) } else { None }).collect();
        let pictures = db::pictures_now(&client, &picture_ids).await?;
        let people = db::people(&client, Some(&user_ids)).await?;
        let duties = db::duties(&client, Some(&duty_ids)).await?;
        let thread_message_ids: Vec<Uuid> = claimed.iter().filter_map(|c| c.thread_message_id).collect();
        let thread_messages = sitrep_db::threads::mailed_messages(&client, &thread_message_ids).await?;
        // Digests: the unread pictures of each one's window that its person may see now.
        let mut digests: Vec<(Uuid, Vec<PictureNow>)> = Vec::new();
        for c in claimed.iter().filter(|c| c.kind == "digest") {
            let (Owner::Person(user), Some(due)) = (c.recipient, c.digest_due_at) else { continue };
            let Some(person) = people.iter().find(|p| p.user_id == user) else { continue };
            let Some((from, to)) = db::digest_window(&client, user, due).await? else { continue };
            let ids = db::digest_pictures(&client, user, from, to, DIGEST_PICTURES).await?;
            let listed =
                db::pictures_now(&client, &ids).await?.into_iter().filter(|p| digest_selects(person, p)).collect();
            digests.push((c.id, listed));
        }
        let now = Utc::now();
        // Reminders and overdue reports: the organisations still silent now, by the
        // escalation rule, for each such message.
        let mut silent: Vec<(Uuid, Vec<String>)> = Vec::new();
        for c in claimed.iter().filter(|c| c.kind == "reminder" || c.kind == "overdue") {
            let Some(p) = c.picture_id.and_then(|id| pictures.iter().find(|p| p.id == id)) else { continue };
            let (step, orgs) = if c.kind == "reminder" {
                let Some(org) = c.organisation_id else { continue };
                (Step::Reminder, vec![(org, String::new())])
            } else {
                (Step::Secretariat, db::escalated_to_secretariat(&client, p.id).await?)
            };
            let ids: Vec<Uuid> = orgs.iter().map(|o| o.0).collect();
            let standing = db::standing(&client, p.id, &ids).await?;
            let deadline = ack_deadline(p);
            let after = chrono::Duration::seconds(self.options.escalate_after_secs as i64);
            let still: Vec<String> = orgs
                .into_iter()
                .filter(|(org, _)| {
                    standing.iter().find(|s| s.0 == *org).is_some_and(|&(_, sees, acknowledged)| {
                        escalation::due_steps(Standing { deadline, sees, acknowledged }, now, after).contains(&step)
                    })
                })
                .map(|o| o.1)
                .collect();
            silent.push((c.id, still));
        }
        drop(client);
        let sends = claimed.into_iter().map(|c| {
            let ctx = Context {
                picture: c.picture_id.and_then(|id| pictures.iter().find(|p| p.id == id)),
                person: match c.recipient {
                    Owner::Person(u) => people.iter().find(|p| p.user_id == u),
                    Owner::Duty(_) => None,
                },
                duty: match c.recipient {
                    Owner::Duty(d) => duties.iter().find(|x| x.id == d),
                    Owner::Person(_) => None,
                },
                silent: silent.iter().find(|s| s.0 == c.id).map(|s| s.1.as_slice()),
                thread_message: c.thread_message_id.and_then(|id| thread_messages.iter().find(|m| m.id == id)),
                digest: digests.iter().find(|d| d.0 == c.id).map(|d| d.1.as_slice()),
            };
            self.attempt(c, ctx, now)
        });
        Ok(futures_util::future::join_all(sends).await)
    }

    async fn attempt(&self, c: Claimed, ctx: Context<'_>, now: DateTime<Utc>) -> Attempt {
        let prepared = self.prepare(&c, &ctx, now);
        let mut record = self.record(&c, ctx.picture);
        if let Some(listed) = ctx.digest {
            // What a digest disclosed: the pictures it listed.
            record.object_ids = Some(listed.iter().map(|p| p.id).collect());
        }
        let (outcome, settle) = match prepared {
            Prepared::Hold(at) => ("held".to_owned(), MailSettle::Hold(at)),
            Prepared::Suppress(reason) => (reason.to_owned(), MailSettle::Suppressed),
            Prepared::Send(message) => match self.transport.send(*message).await {
                Ok(_) => ("sent".to_owned(), MailSettle::Sent),
                Err(e) => {
                    let outcome = if e.is_permanent() {
                        "rejected"
                    } else if e.is_timeout() {
                        "timeout"
                    } else if e.is_tls() {
                        "tls_failed"
                    } else if e.is_transient() {
                        "deferred"
                    } else {
                        "connect_failed"
                    };
                    tracing::warn!(error = %e, message = %c.id, "the relay did not take a notification");
                    let next = schedule::next_delay(
                        c.failures as usize + 1,
                        &self.options.retry_schedule_secs,
                        self.options.retry_scale,
                    );
                    let settle = match next {
                        Some(delay) if !e.is_permanent() => MailSettle::Retry(
                            Utc::now()
                                + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(1)),
                        ),
                        _ => MailSettle::Failed,
                    };
                    (outcome.to_owned(), settle)
                }
            },
        };
        record.outcome = match settle {
            MailSettle::Sent | MailSettle::Hold(_) => Outcome::Allowed,
            MailSettle::Suppressed => Outcome::Denied,
            MailSettle::Retry(_) | MailSettle::Failed => Outcome::Failed,
        };
        record.reason = Some(format!("{} {outcome}", c.event_type.as_deref().unwrap_or(c.kind.as_str())));
        if matches!(settle, MailSettle::Hold(_)) {
            record.action = "mail.hold".into();
        }
        Attempt { id: c.id, outcome, settle, record }
    }

    /// The access-log record of an attempt: the system, for the recipient's organisation,
    /// about the picture (or the address being confirmed).
    fn record(&self, c: &Claimed, picture: Option<&PictureNow>) -> AccessRecord {
        let (object_type, object_id) = match (picture, c.recipient) {
            (Some(p), _) => ("picture", p.id.to_string()),
            (None, Owner::Person(u)) => ("notification_preferences", u.to_string()),
            (None, Owner::Duty(d)) => ("duty_address", d.to_string()),
        };
        AccessRecord {
            request_id: format!("mail:{}:{}", c.id, c.attempt),
            actor_type: ActorType::System,
            actor_id: None,
            actor_name: Some("notification-worker".into()),
            organisation_id: c.organisation_id,
            membership_id: None,
            roles: Vec::new(),
            action: "mail.send".into(),
            object_type: Some(object_type),
            object_id: Some(object_id),
            object_revision: picture.map(|p| p.revision),
            object_ids: None,
            tier: picture.map(|p| p.tier.clone()),
            tlp: picture.map(|p| p.tlp.clone()),
            outcome: Outcome::Allowed,
            reason: None,
            http_status: 0,
            client_addr: None,
        }
    }

    fn prepare(&self, c: &Claimed, ctx: &Context<'_>, now: DateTime<Utc>) -> Prepared {
        if c.kind == "confirmation" {
            let current = match (ctx.person, ctx.duty) {
                (Some(p), _) => p.prefs.email.as_deref() == Some(c.address.as_str()),
                (None, Some(d)) => d.email == c.address,
                (None, None) => false,
            };
            let Some(token) = c.token.as_deref().filter(|_| current) else {
                return Prepared::Suppress("address_changed");
            };
            let lang = match (ctx.person, ctx.duty) {
                (Some(p), _) => Lang::parse(&p.prefs.language),
                (None, Some(d)) => Lang::parse(&d.language),
                _ => None,
            }
            .unwrap_or(Lang::Fi);
            let link = format!("{}#/confirm-email/{token}", self.options.console_url);
            let r = render::confirmation(lang, &link, token);
            return self.message(c, &r).map_or(Prepared::Suppress("unaddressable"), |m| Prepared::Send(Box::new(m)));
        }
        if c.kind == "reminder" || c.kind == "overdue" {
            return self.prepare_overdue(c, ctx);
        }
        if c.kind == "thread" {
            return self.prepare_thread(c, ctx, now);
        }
        if c.kind == "digest" {
            return self.prepare_digest(c, ctx);
        }
        let (Some(p), Some(kind)) = (ctx.picture, c.event_type.as_deref().and_then(MailedEvent::of)) else {
            return Prepared::Suppress("not_visible");
        };
        let Some(f) = facts(p) else { return Prepared::Suppress("not_visible") };
        let about = about(kind, p, &f);
        let (decision, lang, address) = match (ctx.person, ctx.duty) {
            (Some(person), _) => {
                (person_decision(person, &about, now), &person.prefs.language, person.prefs.email.as_deref())
            }
            (None, Some(d)) => (duty_decision(d, &about), &d.language, Some(d.email.as_str())),
            (None, None) => return Prepared::Suppress("recipient_gone"),
        };
        match decision {
            Mail::Skip(why) => return Prepared::Suppress(why.as_str()),
            Mail::HoldUntil(at) => return Prepared::Hold(at),
            Mail::Send => {}
        }
        if address != Some(c.address.as_str()) {
            return Prepared::Suppress("address_changed");
        }
        let deadline = match (kind, f.urgency, p.published_at) {
            (MailedEvent::Withdrawn, _, _) | (_, Urgency::Routine, _) | (_, _, None) => None,
            (_, Urgency::Immediate, Some(at)) => Some(at + chrono::Duration::hours(1)),
            (_, Urgency::Priority, Some(at)) => Some(at + chrono::Duration::hours(4)),
        };
        let mail = render::EventMail {
            lang: Lang::parse(lang).unwrap_or(Lang::Fi),
            event: kind,
            reference: &p.reference,
            urgency: f.urgency,
            tlp: f.tlp,
            deadline,
            originator: &p.originator_name,
            title: &p.title,
            summary: &p.summary,
            // Whether a picture is an exercise is content, too.
            is_exercise: c.kind == "reminder" && p.is_exercise,
            link: format!("{}#/picture/{}", self.options.console_url, p.id),
        };
        let r = render::event(&mail);
        self.message(c, &r).map_or(Prepared::Suppress("unaddressable"), |m| Prepared::Send(Box::new(m)))
    }

    /// A reminder to a silent organisation's duty address, or the secretariat's overdue
    /// report: suppressed when no organisation is silent any more (it acknowledged, or
    /// lost sight of the picture), or when the duty address has changed.
    fn prepare_overdue(&self, c: &Claimed, ctx: &Context<'_>) -> Prepared {
        let (Some(p), Some(silent), Some(d)) = (ctx.picture, ctx.silent, ctx.duty) else {
            return Prepared::Suppress("not_overdue");
        };
        let (Some(f), Some(deadline)) = (facts(p), ack_deadline(p)) else { return Prepared::Suppress("not_overdue") };
        if silent.is_empty() {
            return Prepared::Suppress("not_overdue");
        }
        if !d.confirmed || d.email != c.address {
            return Prepared::Suppress("address_changed");
        }
        let no_title = sitrep_types::LocalizedText::default();
        let mail = render::OverdueMail {
            lang: Lang::parse(&d.language).unwrap_or(Lang::Fi),
            reference: &p.reference,
            tlp: f.tlp,
            deadline,
            originator: &p.originator_name,
            // The secretariat may see the picture as metadata only: its report has no title.
            title: if c.kind == "reminder" { &p.title } else { &no_title },
            is_exercise: p.is_exercise,
            link: format!("{}#/picture/{}", self.options.console_url, p.id),
            silent: (c.kind == "overdue").then_some(silent),
        };
        let r = render::overdue(&mail);
        self.message(c, &r).map_or(Prepared::Suppress("unaddressable"), |m| Prepared::Send(Box::new(m)))
    }

    /// A new message of a question thread, for a person of the other party: decided
    /// again now (`sitrep_domain::thread::mail_for_person`), so a person who left the
    /// organisation or an organisation that lost sight of the picture is told nothing.
    fn prepare_thread(&self, c: &Claimed, ctx: &Context<'_>, now: DateTime<Utc>) -> Prepared {
        let (Some(p), Some(m), Some(person), Some(to)) =
            (ctx.picture, ctx.thread_message, ctx.person, c.organisation_id)
        else {
            return Prepared::Suppress("not_visible");
        };
        let Some(f) = facts(p) else { return Prepared::Suppress("not_visible") };
        let handling = handling_of(p, &f);
        match thread::mail_for_person(&viewers_of(person), to, &prefs_of(person), &handling, m.asking, f.urgency, now) {
            Mail::Skip(why) => return Prepared::Suppress(why.as_str()),
            Mail::HoldUntil(at) => return Prepared::Hold(at),
            Mail::Send => {}
        }
        if person.prefs.email.as_deref() != Some(c.address.as_str()) {
            return Prepared::Suppress("address_changed");
        }
        let mail = render::ThreadMail {
            lang: Lang::parse(&person.prefs.language).unwrap_or(Lang::Fi),
            reference: &p.reference,
            tlp: f.tlp,
            writer: &m.writer,
            body: &m.body,
            link: format!("{}#/picture/{}", self.options.console_url, p.id),
        };
        let r = render::thread(&mail);
        self.message(c, &r).map_or(Prepared::Suppress("unaddressable"), |m| Prepared::Send(Box::new(m)))
    }

    /// A digest: suppressed when nothing is left to list (everything read, or no longer
    /// visible) or the address changed.
    fn prepare_digest(&self, c: &Claimed, ctx: &Context<'_>) -> Prepared {
        let (Some(person), Some(listed)) = (ctx.person, ctx.digest) else {
            return Prepared::Suppress("recipient_gone");
        };
        if !prefs_of(person).confirmed || person.prefs.email.as_deref() != Some(c.address.as_str()) {
            return Prepared::Suppress("address_changed");
        }
        let entries: Vec<render::DigestEntry<'_>> = listed
            .iter()
            .filter_map(|p| {
                let f = facts(p)?;
                Some(render::DigestEntry {
                    reference: &p.reference,
                    urgency: f.urgency,
                    tlp: f.tlp,
                    title: &p.title,
                    link: format!("{}#/picture/{}", self.options.console_url, p.id),
                })
            })
            .collect();
        if entries.is_empty() {
            return Prepared::Suppress("nothing_unread");
        }
        let lang = Lang::parse(&person.prefs.language).unwrap_or(Lang::Fi);
        let r = render::digest(lang, &entries, &self.options.console_url);
        self.message(c, &r).map_or(Prepared::Suppress("unaddressable"), |m| Prepared::Send(Box::new(m)))
    }

    /// The message: plain text and HTML, the derived `Message-ID`, `List-Id`, and
    /// `Auto-Submitted` (so that out-of-office replies stay away).
    fn message(&self, c: &Claimed, r: &render::Rendered) -> Option<Message> {
        let from: Mailbox = self.options.from.parse().ok()?;
        let to: Mailbox = c.address.parse().ok()?;
        let domain = &self.options.message_domain;
        let header = |name: &str, value: String| {
            HeaderName::new_from_ascii(name.to_owned()).ok().map(|n| HeaderValue::new(n, value))
        };
        Message::builder()
            .from(from)
            .to(to)
            .subject(r.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", c.message_id)))
            .date_now()
            .raw_header(header("List-Id", format!("Sitrep notifications <notifications.{domain}>"))?)
            .raw_header(header("Auto-Submitted", "auto-generated".to_owned())?)
            .multipart(MultiPart::alternative_plain_html(r.text.clone(), r.html.clone()))
            .ok()
    }
}

/// What a claimed message needs to be decided again.
struct Context<'a> {
    picture: Option<&'a PictureNow>,
    person: Option<&'a PersonNow>,
    duty: Option<&'a DutyNow>,
    /// For a reminder or an overdue report: the organisations (codes; for a reminder,
    /// one entry) still silent now; empty when none is.
    silent: Option<&'a [String]>,
    /// For a message about a thread: the thread message.
    thread_message: Option<&'a sitrep_db::threads::MailedMessage>,
    /// For a digest: the pictures it lists, newest first.
    digest: Option<&'a [PictureNow]>,
}

/// The most pictures a digest lists.
const DIGEST_PICTURES: i64 = 100;

/// Whether `picture` belongs in `person`'s digest now (`sitrep_domain::digest::in_digest`).
fn digest_selects(person: &PersonNow, p: &PictureNow) -> bool {
    let Some(f) = facts(p) else { return false };
    let prefs = prefs_of(person);
    let chosen = digest::Chosen { domains: prefs.domains, elections: prefs.elections };
    digest::in_digest(&viewers_of(person), &handling_of(p, &f), &f.domains, p.election_id, &chosen)
}

/// A picture's acknowledgement deadline: 1 h after publication for `immediate`, 4 h for
/// `priority`, none for `routine` or a picture that is not published.
fn ack_deadline(p: &PictureNow) -> Option<DateTime<Utc>> {
    match (p.status.as_str(), Urgency::parse(&p.urgency), p.published_at) {
        ("published", Some(Urgency::Immediate), Some(at)) => Some(at + chrono::Duration::hours(1)),
        ("published", Some(Urgency::Priority), Some(at)) => Some(at + chrono::Duration::hours(4)),
        _ => None,
    }
}

enum Prepared {
    Send(Box<Message>),
    Hold(DateTime<Utc>),
    Suppress(&'static str),
}
