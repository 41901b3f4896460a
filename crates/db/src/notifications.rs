//! E-mail notifications: preferences, duty addresses, confirmation tokens, and the mail
//! queue the notification worker fills from the outbox and drains (docs/notifications.md).

use chrono::{DateTime, NaiveTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{DbError, GenericClient};

/// A person's preferences as stored (`None` from [`preferences`]: never set).
#[derive(Debug, Clone, Default)]
pub struct PreferencesRow {
    pub email: Option<String>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub urgencies: Vec<String>,
    pub domains: Vec<String>,
    pub election_ids: Vec<Uuid>,
    pub quiet_start: Option<NaiveTime>,
    pub quiet_end: Option<NaiveTime>,
    pub time_zone: Option<String>,
    /// The daily digest's local time and zone (both or neither).
    pub digest_at: Option<NaiveTime>,
    pub digest_time_zone: Option<String>,
    pub language: String,
}

const PREFERENCES: &str = "email, email_confirmed_at, urgencies, domains, election_ids, quiet_start, quiet_end, \
     time_zone, digest_at, digest_time_zone, language";

fn preferences_row(r: &Row) -> Result<PreferencesRow, DbError> {
    Ok(PreferencesRow {
        email: r.try_get("email")?,
        email_confirmed_at: r.try_get("email_confirmed_at")?,
        urgencies: r.try_get("urgencies")?,
        domains: r.try_get("domains")?,
        election_ids: r.try_get("election_ids")?,
        quiet_start: r.try_get("quiet_start")?,
        quiet_end: r.try_get("quiet_end")?,
        time_zone: r.try_get("time_zone")?,
        digest_at: r.try_get("digest_at")?,
        digest_time_zone: r.try_get("digest_time_zone")?,
        language: r.try_get("language")?,
    })
}

pub async fn preferences(c: &impl GenericClient, user: Uuid) -> Result<Option<PreferencesRow>, DbError> {
    let row = c
        .query_opt(&format!("SELECT {PREFERENCES} FROM notification_preferences WHERE user_id = $1"), &[&user])
        .await?;
    row.as_ref().map(preferences_row).transpose()
}

/// Replaces a person's preferences (locking the row). A changed address loses its
/// confirmation; the same address keeps it. Returns the stored row and whether the
/// address changed (to something other than none).
pub async fn put_preferences(
    c: &impl GenericClient,
    user: Uuid,
    p: &PreferencesRow,
) -> Result<(PreferencesRow, bool), DbError> {
    let before = c
        .query_opt("SELECT email FROM notification_preferences WHERE user_id = $1 FOR UPDATE", &[&user])
        .await?
        .map(|r| r.try_get::<_, Option<String>>(0))
        .transpose()?
        .flatten();
    let changed = p.email.is_some() && before != p.email;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO notification_preferences AS n (user_id, email, urgencies, domains, election_ids, quiet_start, \
                   quiet_end, time_zone, language, digest_at, digest_time_zone) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, urgencies = EXCLUDED.urgencies, \
                   domains = EXCLUDED.domains, election_ids = EXCLUDED.election_ids, quiet_start = EXCLUDED.quiet_start, \
                   quiet_end = EXCLUDED.quiet_end, time_zone = EXCLUDED.time_zone, language = EXCLUDED.language, \
                   digest_at = EXCLUDED.digest_at, digest_time_zone = EXCLUDED.digest_time_zone, \
                   email_confirmed_at = CASE WHEN n.email IS NOT DISTINCT FROM EXCLUDED.email THEN n.email_confirmed_at END, \
                   updated_at = now() \
                 RETURNING {PREFERENCES}"
            ),
            &[
                &user,
                &p.email,
                &p.urgencies,
                &p.domains,
                &p.election_ids,
                &p.quiet_start,
                &p.quiet_end,
                &p.time_zone,
                &p.language,
                &p.digest_at,
                &p.digest_time_zone,
            ],
        )
        .await?;
    Ok((preferences_row(&row)?, changed))
}

/// Whose a confirmation token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Person(Uuid),
    Duty(Uuid),
}

/// Stores a token's hash for `email`, ending the owner's earlier unused tokens (only the
/// newest link works), and queues the message that carries it.
#[allow(clippy::too_many_arguments)]
pub async fn new_confirmation(
    c: &impl GenericClient,
    owner: Owner,
    organisation: Option<Uuid>,
    email: &str,
    token_hash: &[u8; 32],
    token: &str,
    message_id: &str,
    ttl_secs: i64,
) -> Result<(), DbError> {
    let (user, duty) = match owner {
        Owner::Person(u) => (Some(u), None),
        Owner::Duty(d) => (None, Some(d)),
    };
    c.execute(
        "UPDATE email_confirmations SET used_at = now() WHERE used_at IS NULL \
         AND (user_id = $1 OR duty_address_id = $2)",
        &[&user, &duty],
    )
    .await?;
    // Unsent confirmation messages of the owner lose their (now useless) token.
    c.execute(
        "UPDATE mail_messages SET state = 'suppressed', token = NULL, last_outcome = 'superseded' \
         WHERE kind = 'confirmation' AND state = 'pending' AND (user_id = $1 OR duty_address_id = $2)",
        &[&user, &duty],
    )
    .await?;
    c.execute(
        "INSERT INTO email_confirmations (token_hash, user_id, duty_address_id, email, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        &[&token_hash.as_slice(), &user, &duty, &email, &(ttl_secs as f64)],
    )
    .await?;
    c.execute(
        "INSERT INTO mail_messages (id, message_id, kind, user_id, duty_address_id, organisation_id, address, token) \
         VALUES ($1, $2, 'confirmation', $3, $4, $5, $6, $7)",
        &[&Uuid::new_v4(), &message_id, &user, &duty, &organisation, &email, &token],
    )
    .await?;
    Ok(())
}

/// Spends a token: when it is unused, unexpired, and its address is still the owner's,
/// the address becomes confirmed. Returns the owner and address, or `None`.
pub async fn confirm(c: &impl GenericClient, token_hash: &[u8; 32]) -> Result<Option<(Owner, String)>, DbError> {
    let Some(row) = c
        .query_opt(
            "UPDATE email_confirmations SET used_at = now() \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() \
             RETURNING user_id, duty_address_id, email",
            &[&token_hash.as_slice()],
        )
        .await?
    else {
        return Ok(None);
    };
    let email: String = row.try_get(2)?;
    let owner = match (row.try_get::<_, Option<Uuid>>(0)?, row.try_get::<_, Option<Uuid>>(1)?) {
        (Some(u), _) => Owner::Person(u),
        (None, Some(d)) => Owner::Duty(d),
        (None, None) => return Err(DbError::Corrupt("email_confirmations")),
    };
    let n = match owner {
        Owner::Person(u) => {
            c.execute(
                "UPDATE notification_preferences SET email_confirmed_at = now() WHERE user_id = $1 AND email = $2",
                &[&u, &email],
            )
            .await?
        }
        Owner::Duty(d) => {
            c.execute(
                "UPDATE duty_addresses SET confirmed_at = coalesce(confirmed_at, now()) \
                 WHERE id = $1 AND email = $2 AND removed_at IS NULL",
                &[&d, &email],
            )
            .await?
        }
    };
    Ok((n == 1).then_some((owner, email)))
}

/// A duty address of an organisation.
#[derive(Debug, Clone)]
pub struct DutyRow {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub email: String,
    pub language: String,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const DUTY: &str = "id, organisation_id, email, language, confirmed_at, created_at";

fn duty_row(r: &Row) -> Result<DutyRow, DbError> {
    Ok(DutyRow {
        id: r.try_get("id")?,
        organisation_id: r.try_get("organisation_id")?,
        email: r.try_get("email")?,
        language: r.try_get("language")?,
        confirmed_at: r.try_get("confirmed_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The organisation's current duty addresses, oldest first.
pub async fn duty_addresses(c: &impl GenericClient, organisation: Uuid) -> Result<Vec<DutyRow>, DbError> {
    let rows = c
        .query(
            &format!(
                "SELECT {DUTY} FROM duty_addresses WHERE organisation_id = $1 AND removed_at IS NULL ORDER BY created_at, id"
            ),
            &[&organisation],
        )
        .await?;
    rows.iter().map(duty_row).collect()
}

/// Makes the organisation's duty addresses exactly `wanted` (address, language): keeps
/// those already there (with their confirmation; the language may change), removes the
/// others, adds the new ones unconfirmed. Serialised per organisation by locking its row.
/// Returns the current list and the ids of the added addresses.
pub async fn replace_duty_addresses(
    c: &impl GenericClient,
    organisation: Uuid,
    wanted: &[(String, String)],
    by: Uuid,
) -> Result<(Vec<DutyRow>, Vec<Uuid>), DbError> {
    c.execute("SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE", &[&organisation]).await?;
    let current = duty_addresses(c, organisation).await?;
    let lower = |s: &str| s.to_ascii_lowercase();
    for d in &current {
        match wanted.iter().find(|(e, _)| lower(e) == lower(&d.email)) {
            Some((_, language)) => {
                c.execute("UPDATE duty_addresses SET language = $2 WHERE id = $1", &[&d.id, language]).await?;
            }
            None => {
                c.execute("UPDATE duty_addresses SET removed_at = now() WHERE id = $1", &[&d.id]).await?;
                c.execute(
                    "UPDATE email_confirmations SET used_at = now() WHERE duty_address_id = $1 AND used_at IS NULL",
                    &[&d.id],
                )
                .await?;
            }
        }
    }
    let mut added = Vec::new();
    for (email, language) in wanted {
        if current.iter().any(|d| lower(&d.email) == lower(email)) {
            continue;
        }
        let id = Uuid::new_v4();
        c.execute(
            "INSERT INTO duty_addresses (id, organisation_id, email, language, created_by) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &organisation, email, language, &by],
        )
        .await?;
        added.push(id);
    }
    Ok((duty_addresses(c, organisation).await?, added))
}

/// The mail log, newest first; with `state`, only messages in it.
pub async fn messages(
    c: &impl GenericClient,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<sitrep_types::MailMessage>, DbError> {
    let rows = c
        .query(
            "SELECT m.id, m.message_id, m.kind, m.event_id, coalesce(e.picture_id, m.picture_id), m.user_id, m.duty_address_id, m.organisation_id, \
               m.address, m.state, m.attempts, m.last_outcome, m.next_attempt_at, m.created_at, m.sent_at \
             FROM mail_messages m LEFT JOIN events e ON e.id = m.event_id \
             WHERE ($1::text IS NULL OR m.state = $1) ORDER BY m.created_at DESC, m.id LIMIT $2",
            &[&state, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(sitrep_types::MailMessage {
                id: r.try_get(0)?,
                message_id: r.try_get(1)?,
                kind: r.try_get(2)?,
                event_id: r.try_get(3)?,
                picture_id: r.try_get(4)?,
                user_id: r.try_get(5)?,
                duty_address_id: r.try_get(6)?,
                organisation_id: r.try_get(7)?,
                address: r.try_get(8)?,
                state: r.try_get(9)?,
                attempts: r.try_get(10)?,
                last_outcome: r.try_get(11)?,
                next_attempt_at: r.try_get(12)?,
                created_at: r.try_get(13)?,
                sent_at: r.try_get(14)?,
            })
        })
        .collect()
}

// The notification worker's queries.

/// Takes the worker's position in the outbox, unless another worker holds it (then
/// `None`: that worker fans out now).
pub async fn lock_position(c: &impl GenericClient) -> Result<Option<(String, i64)>, DbError> {
    let row =
        c.query_opt("SELECT position_xid::text, position_seq FROM mail_position FOR UPDATE SKIP LOCKED", &[]).await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

pub async fn set_position(c: &impl GenericClient, xid: &str, seq: i64) -> Result<(), DbError> {
    c.execute("UPDATE mail_position SET position_xid = $1::text::xid8, position_seq = $2", &[&xid, &seq]).await?;
    Ok(())
}

/// An outbox event after the worker's position.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub xid: String,
    pub seq: i64,
    pub kind: String,
    pub picture_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Events after `(xid, seq)` in the feed's commit-safe order (docs/delivery.md).
pub async fn events_after(
    c: &impl GenericClient,
    xid: &str,
    seq: i64,
    limit: i64,
) -> Result<Vec<OutboxEvent>, DbError> {
    let rows = c
        .query(
            "SELECT e.id, e.xid::text, e.seq, e.type, e.picture_id, e.created_at FROM events e \
             WHERE (e.xid, e.seq) > ($1::text::xid8, $2) AND e.xid < pg_snapshot_xmin(pg_current_snapshot()) \
               AND e.picture_id IS NOT NULL \
             ORDER BY e.xid, e.seq LIMIT $3",
            &[&xid, &seq, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxEvent {
                id: r.try_get(0)?,
                xid: r.try_get(1)?,
                seq: r.try_get(2)?,
                kind: r.try_get(3)?,
                picture_id: r.try_get(4)?,
                created_at: r.try_get(5)?,
            })
        })
        .collect()
}

/// A picture as it stands now: its handling for `sight`, what the preferences filter
/// on, and what a message may say of it.
#[derive(Debug, Clone)]
pub struct PictureNow {
    pub id: Uuid,
    pub reference: String,
    pub originator_id: Uuid,
    pub originator_name: sitrep_types::LocalizedText,
    pub status: String,
    pub revision: i32,
    pub tier: String,
    pub tlp: String,
    pub named_recipients: Vec<Uuid>,
    pub urgency: String,
    pub domains: Vec<String>,
    pub election_id: Option<Uuid>,
    pub is_exercise: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub title: sitrep_types::LocalizedText,
    pub summary: sitrep_types::LocalizedText,
}

pub async fn pictures_now(c: &impl GenericClient, ids: &[Uuid]) -> Result<Vec<PictureNow>, DbError> {
    let rows = c
        .query(
            "SELECT p.id, p.reference, p.originator_id, o.name_fi, o.name_sv, o.name_en, p.status, p.revision, p.tier, p.tlp, \
               p.named_recipients, p.urgency, p.domains, p.election_id, p.is_exercise, p.published_at, \
               p.title_fi, p.title_sv, p.title_en, p.summary_fi, p.summary_sv, p.summary_en \
             FROM pictures p JOIN organisations o ON o.id = p.originator_id WHERE p.id = ANY ($1)",
            &[&ids],
        )
        .await?;
    let text = |r: &Row, i: usize| -> Result<sitrep_types::LocalizedText, DbError> {
        Ok(sitrep_types::LocalizedText { fi: r.try_get(i)?, sv: r.try_get(i + 1)?, en: r.try_get(i + 2)? })
    };
    rows.iter()
        .map(|r| {
            Ok(PictureNow {
                id: r.try_get(0)?,
                reference: r.try_get(1)?,
                originator_id: r.try_get(2)?,
                originator_name: text(r, 3)?,
                status: r.try_get(6)?,
                revision: r.try_get(7)?,
                tier: r.try_get(8)?,
                tlp: r.try_get(9)?,
                named_recipients: r.try_get(10)?,
                urgency: r.try_get(11)?,
                domains: r.try_get(12)?,
                election_id: r.try_get(13)?,
                is_exercise: r.try_get(14)?,
                published_at: r.try_get(15)?,
                title: text(r, 16)?,
                summary: text(r, 19)?,
            })
        })
        .collect()
}

/// A person with an address, as the database says now: preferences and every
/// membership in force in an active organisation (organisation, reach, roles).
#[derive(Debug, Clone)]
pub struct PersonNow {
    pub user_id: Uuid,
    pub prefs: PreferencesRow,
    pub memberships: Vec<(Uuid, String, Vec<String>)>,
}

/// People with an address (confirmed or not) who are active persons; with `only`,
/// just those.
pub async fn people(c: &impl GenericClient, only: Option<&[Uuid]>) -> Result<Vec<PersonNow>, DbError> {
    let only: Option<Vec<Uuid>> = only.map(<[Uuid]>::to_vec);
    let rows = c
        .query(
            "SELECT n.user_id, n.email, n.email_confirmed_at, n.urgencies, n.domains, n.election_ids, n.quiet_start, \
               n.quiet_end, n.time_zone, n.digest_at, n.digest_time_zone, n.language, \
               coalesce(array_agg(m.organisation_id) FILTER (WHERE m.id IS NOT NULL), '{}') AS orgs, \
               coalesce(array_agg(o.reach) FILTER (WHERE m.id IS NOT NULL), '{}') AS reaches, \
               coalesce(array_agg(array_to_string(m.roles, ',')) FILTER (WHERE m.id IS NOT NULL), '{}') AS roles \
             FROM notification_preferences n JOIN users u ON u.id = n.user_id AND u.active AND u.kind = 'person' \
             LEFT JOIN memberships m ON m.user_id = u.id AND m.valid_from <= now() \
               AND (m.valid_until IS NULL OR m.valid_until > now()) \
               AND EXISTS (SELECT 1 FROM organisations oo WHERE oo.id = m.organisation_id AND oo.active) \
             LEFT JOIN organisations o ON o.id = m.organisation_id \
             WHERE n.email IS NOT NULL AND ($1::uuid[] IS NULL OR n.user_id = ANY ($1)) \
             GROUP BY n.user_id",
            &[&only],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let orgs: Vec<Uuid> = r.try_get("orgs")?;
            let reaches: Vec<String> = r.try_get("reaches")?;
            let roles: Vec<String> = r.try_get("roles")?;
            Ok(PersonNow {
                user_id: r.try_get("user_id")?,
                prefs: preferences_row(r)?,
                memberships: orgs
                    .into_iter()
                    .zip(reaches)
                    .zip(roles)
                    .map(|((o, reach), roles)| (o, reach, roles.split(',').map(str::to_owned).collect()))
                    .collect(),
            })
        })
        .collect()
}

/// A current duty address with its organisation's reach.
#[derive(Debug, Clone)]
pub struct DutyNow {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub reach: String,
    pub email: String,
    pub language: String,
    pub confirmed: bool,
}

/// Current duty addresses of active organisations; with `only`, just those.
pub async fn duties(c: &impl GenericClient, only: Option<&[Uuid]>) -> Result<Vec<DutyNow>, DbError> {
    let only: Option<Vec<Uuid>> = only.map(<[Uuid]>::to_vec);
    let rows = c
        .query(
            "SELECT d.id, d.organisation_id, o.reach, d.email, d.language, d.confirmed_at IS NOT NULL \
             FROM duty_addresses d JOIN organisations o ON o.id = d.organisation_id AND o.active \
             WHERE d.removed_at IS NULL AND ($1::uuid[] IS NULL OR d.id = ANY ($1))",
            &[&only],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DutyNow {
                id: r.try_get(0)?,
                organisation_id: r.try_get(1)?,
                reach: r.try_get(2)?,
                email: r.try_get(3)?,
                language: r.try_get(4)?,
                confirmed: r.try_get(5)?,
            })
        })
        .collect()
}

/// A message about to be queued for an event.
#[derive(Debug, Clone)]
pub struct Queued {
    pub message_id: String,
    pub event_id: Uuid,
    pub recipient: Owner,
    pub organisation_id: Option<Uuid>,
    pub address: String,
    pub at: DateTime<Utc>,
    /// `Some("held")` for a message held over quiet hours.
    pub outcome: Option<&'static str>,
}

/// Queues messages in one statement; a Message-ID already queued is left alone (the
/// same event for the same recipient is one message). Returns how many were new.
pub async fn queue(c: &impl GenericClient, rows: &[Queued]) -> Result<u64, DbError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    let events: Vec<Uuid> = rows.iter().map(|r| r.event_id).collect();
    let users: Vec<Option<Uuid>> =
        rows.iter().map(|r| if let Owner::Person(u) = r.recipient { Some(u) } else { None }).collect();
    let duties: Vec<Option<Uuid>> =
        rows.iter().map(|r| if let Owner::Duty(d) = r.recipient { Some(d) } else { None }).collect();
    let orgs: Vec<Option<Uuid>> = rows.iter().map(|r| r.organisation_id).collect();
    let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
    let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.at).collect();
    let outcomes: Vec<Option<&str>> = rows.iter().map(|r| r.outcome).collect();
    Ok(c.execute(
        "INSERT INTO mail_messages (id, message_id, kind, event_id, user_id, duty_address_id, organisation_id, address, \
           next_attempt_at, last_outcome) \
         SELECT gen_random_uuid(), m, 'event', e, u, d, o, a, t, h \
         FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::timestamptz[], \
           $8::text[]) AS x (m, e, u, d, o, a, t, h) \
         ON CONFLICT (message_id) DO NOTHING",
        &[&ids, &events, &users, &duties, &orgs, &addresses, &at, &outcomes],
    )
    .await?)
}

/// A message claimed by a worker.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub message_id: String,
    pub kind: String,
    pub event_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub picture_id: Option<Uuid>,
    pub recipient: Owner,
    pub organisation_id: Option<Uuid>,
    pub address: String,
    pub token: Option<String>,
    pub attempt: i32,
    /// Failures since queued (the position in the retry schedule).
    pub failures: i32,
    /// For a message about a thread: the thread message it tells of.
    pub thread_message_id: Option<Uuid>,
    /// For a digest: the moment it fell due.
    pub digest_due_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` due messages under a lease; the caller commits before sending.
pub async fn claim(c: &impl GenericClient, lease_secs: f64, limit: i64) -> Result<Vec<Claimed>, DbError> {
    let rows = c
        .query(
            "WITH due AS ( \
               SELECT id FROM mail_messages WHERE state = 'pending' AND next_attempt_at <= now() \
                 AND (lease_until IS NULL OR lease_until < now()) \
               ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
             claimed AS ( \
               UPDATE mail_messages m SET lease_until = now() + make_interval(secs => $1), attempts = m.attempts + 1 \
               FROM due WHERE m.id = due.id RETURNING m.*) \
             SELECT c.id, c.message_id, c.kind, c.event_id, e.type, coalesce(e.picture_id, c.picture_id), c.user_id, \
               c.duty_address_id, c.organisation_id, c.address, c.token, c.attempts, c.failures, \
               c.thread_message_id, c.digest_due_at \
             FROM claimed c LEFT JOIN events e ON e.id = c.event_id",
            &[&lease_secs, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let recipient = match (r.try_get::<_, Option<Uuid>>(6)?, r.try_get::<_, Option<Uuid>>(7)?) {
                (Some(u), _) => Owner::Person(u),
                (None, Some(d)) => Owner::Duty(d),
                (None, None) => return Err(DbError::Corrupt("mail_messages")),
            };
            Ok(Claimed {
                id: r.try_get(0)?,
                message_id: r.try_get(1)?,
                kind: r.try_get(2)?,
                event_id: r.try_get(3)?,
                event_type: r.try_get(4)?,
                picture_id: r.try_get(5)?,
                recipient,
                organisation_id: r.try_get(8)?,
                address: r.try_get(9)?,
                token: r.try_get(10)?,
                attempt: r.try_get(11)?,
                failures: r.try_get(12)?,
                thread_message_id: r.try_get(13)?,
                digest_due_at: r.try_get(14)?,
            })
        })
        .collect()
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailSettle {
    Sent,
    /// A failure; try again then.
    Retry(DateTime<Utc>),
    /// A failure, and the schedule is spent (or the relay refused it for good).
    Failed,
    /// Not sent, by the rules at the moment of sending.
    Suppressed,
    /// Quiet hours: not an attempt; decided again then.
    Hold(DateTime<Utc>),
}

/// Settles a claimed message and releases its lease. A message settled as anything but
/// pending loses its token.
pub async fn settle(c: &impl GenericClient, id: Uuid, outcome: &str, s: MailSettle) -> Result<(), DbError> {
    let (state, next, failure, hold): (&str, Option<DateTime<Utc>>, bool, bool) = match s {
        MailSettle::Sent => ("sent", None, false, false),
        MailSettle::Retry(at) => ("pending", Some(at), true, false),
        MailSettle::Failed => ("failed", None, true, false),
        MailSettle::Suppressed => ("suppressed", None, false, false),
        MailSettle::Hold(at) => ("pending", Some(at), false, true),
    };
    c.execute(
        "UPDATE mail_messages SET state = $2, lease_until = NULL, next_attempt_at = coalesce($3, next_attempt_at), \
           last_outcome = $4, failures = failures + CASE WHEN $5 THEN 1 ELSE 0 END, \
           attempts = attempts - CASE WHEN $6 THEN 1 ELSE 0 END, \
           sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END, \
           token = CASE WHEN $2 = 'pending' THEN token END \
         WHERE id = $1",
        &[&id, &state, &next, &outcome, &failure, &hold],
    )
    .await?;
    Ok(())
}

/// An event of the console's notification list, with its picture as it stands now.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub event_id: Uuid,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    pub picture: PictureNow,
}

/// The newest `limit` mailable events of the last `days` days about pictures the viewer
/// sees now (the visibility predicate), with whether `user` marked each read. The
/// caller applies the recipient rule to them. No commit-safe horizon here, unlike the
/// feed: the list is read whole each time, not paged by position, so an event that
/// commits late simply shows on the next read.
pub async fn inbox_candidates(
    c: &impl GenericClient,
    v: &sitrep_domain::visibility::Viewer,
    user: Uuid,
    days: i32,
    limit: i64,
) -> Result<Vec<InboxRow>, DbError> {
    let rows = c
        .query(
            concat!(
                "SELECT e.id, e.type, e.created_at, r.user_id IS NOT NULL, e.picture_id FROM events e \
                 JOIN pictures p ON p.id = e.picture_id \
                 LEFT JOIN notification_reads r ON r.event_id = e.id AND r.user_id = $4 \
                 WHERE e.type IN ('picture.published', 'picture.revised', 'picture.withdrawn') \
                   AND e.recipients IS NULL AND e.created_at > now() - make_interval(days => $5) AND ",
                picture_visible!("$1", "$2", "$3"),
                " ORDER BY e.xid DESC, e.seq DESC LIMIT $6"
            ),
            &[&v.organisation, &sitrep_domain::visibility::min_rank(v.reach), &v.reads_pictures, &user, &days, &limit],
        )
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get(4)).collect::<Result<_, _>>()?;
    let pictures = pictures_now(c, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (r, id) in rows.iter().zip(ids) {
        let Some(picture) = pictures.iter().find(|p| p.id == id) else { continue };
        out.push(InboxRow {
            event_id: r.try_get(0)?,
            kind: r.try_get(1)?,
            created_at: r.try_get(2)?,
            read: r.try_get(3)?,
            picture: picture.clone(),
        });
    }
    Ok(out)
}

/// Marks events read for `user` (ids the user never saw are ignored by the caller's
/// choice of ids; unknown ids are skipped). Returns how many were new.
pub async fn mark_read(c: &impl GenericClient, user: Uuid, events: &[Uuid]) -> Result<u64, DbError> {
    Ok(c.execute(
        "INSERT INTO notification_reads (user_id, event_id) SELECT $1, e.id FROM events e WHERE e.id = ANY ($2) \
         ON CONFLICT DO NOTHING",
        &[&user, &events],
    )
    .await?)
}

// Escalation of overdue acknowledgements.

/// A recipient organisation that has not acknowledged a picture whose deadline has
/// passed, with the steps already taken for it.
#[derive(Debug, Clone)]
pub struct Overdue {
    pub picture_id: Uuid,
    pub organisation_id: Uuid,
    pub deadline: DateTime<Utc>,
    pub taken: Vec<String>,
}

/// Silent recipient organisations of published pictures whose acknowledgement deadline
/// passed within `window_secs` and that still miss a step. Sight is the organisation's
/// (`picture_recipient`): an organisation that lost sight of a picture is not listed.
pub async fn overdue(c: &impl GenericClient, window_secs: f64) -> Result<Vec<Overdue>, DbError> {
    let rows = c
        .query(
            "SELECT p.id, o.id, picture_ack_deadline(p), \
               coalesce((SELECT array_agg(x.step) FROM escalations x \
                         WHERE x.picture_id = p.id AND x.organisation_id = o.id), '{}') \
             FROM pictures p JOIN organisations o ON picture_recipient(p, o) \
             WHERE p.status = 'published' AND p.urgency IN ('immediate', 'priority') \
               AND picture_ack_deadline(p) < now() \
               AND p.published_at > now() - make_interval(secs => $1) - interval '4 hours' \
               AND picture_ack_deadline(p) > now() - make_interval(secs => $1) \
               AND NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = p.id AND a.organisation_id = o.id) \
               AND (SELECT count(*) FROM escalations x WHERE x.picture_id = p.id AND x.organisation_id = o.id) < 2",
            &[&window_secs],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Overdue {
                picture_id: r.try_get(0)?,
                organisation_id: r.try_get(1)?,
                deadline: r.try_get(2)?,
                taken: r.try_get(3)?,
            })
        })
        .collect()
}

/// Records steps; a (picture, organisation, step) already recorded is left alone.
/// Returns the rows recorded now: (id, picture, organisation, step).
pub async fn record_escalations(
    c: &impl GenericClient,
    rows: &[(Uuid, Uuid, &str, DateTime<Utc>)],
) -> Result<Vec<(Uuid, Uuid, Uuid, String)>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let pictures: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let orgs: Vec<Uuid> = rows.iter().map(|r| r.1).collect();
    let steps: Vec<&str> = rows.iter().map(|r| r.2).collect();
    let deadlines: Vec<DateTime<Utc>> = rows.iter().map(|r| r.3).collect();
    let rows = c
        .query(
            "INSERT INTO escalations (id, picture_id, organisation_id, step, deadline) \
             SELECT gen_random_uuid(), p, o, s, d FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) \
               AS x (p, o, s, d) \
             ON CONFLICT (picture_id, organisation_id, step) DO NOTHING \
             RETURNING id, picture_id, organisation_id, step",
            &[&pictures, &orgs, &steps, &deadlines],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
}

/// Confirmed, current duty addresses of organisations that hold the secretariat (a
/// membership in force with the `secretariat` role).
pub async fn secretariat_duties(c: &impl GenericClient) -> Result<Vec<DutyNow>, DbError> {
    let ids: Vec<Uuid> = c
        .query(
            "SELECT d.id FROM duty_addresses d WHERE d.removed_at IS NULL AND d.confirmed_at IS NOT NULL \
               AND EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id AND u.active \
                 WHERE m.organisation_id = d.organisation_id AND 'secretariat' = ANY (m.roles) \
                   AND m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    duties(c, Some(&ids)).await
}

/// A reminder or an overdue report about to be queued.
#[derive(Debug, Clone)]
pub struct QueuedAbout {
    pub message_id: String,
    /// `reminder` or `overdue`.
    pub kind: &'static str,
    pub picture_id: Uuid,
    pub duty_address_id: Uuid,
    pub organisation_id: Uuid,
    pub address: String,
}

/// Queues reminders and overdue reports; a Message-ID already queued is left alone.
pub async fn queue_about(c: &impl GenericClient, rows: &[QueuedAbout]) -> Result<u64, DbError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
    let pictures: Vec<Uuid> = rows.iter().map(|r| r.picture_id).collect();
    let duties: Vec<Uuid> = rows.iter().map(|r| r.duty_address_id).collect();
    let orgs: Vec<Uuid> = rows.iter().map(|r| r.organisation_id).collect();
    let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
    Ok(c.execute(
        "INSERT INTO mail_messages (id, message_id, kind, picture_id, duty_address_id, organisation_id, address) \
         SELECT gen_random_uuid(), m, k, p, d, o, a \
         FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[]) AS x (m, k, p, d, o, a) \
         ON CONFLICT (message_id) DO NOTHING",
        &[&ids, &kinds, &pictures, &duties, &orgs, &addresses],
    )
    .await?)
}

/// Where organisations stand on a picture now: (organisation, sees it as a recipient,
/// has acknowledged).
pub async fn standing(
    c: &impl GenericClient,
    picture: Uuid,
    orgs: &[Uuid],
) -> Result<Vec<(Uuid, bool, bool)>, DbError> {
    let rows = c
        .query(
            "SELECT o.id, coalesce(picture_recipient(p, o), false), \
               EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = p.id AND a.organisation_id = o.id) \
             FROM pictures p, organisations o WHERE p.id = $1 AND o.id = ANY ($2)",
            &[&picture, &orgs],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// The organisations the secretariat step was taken for on a picture: (id, code).
pub async fn escalated_to_secretariat(c: &impl GenericClient, picture: Uuid) -> Result<Vec<(Uuid, String)>, DbError> {
    let rows = c
        .query(
            "SELECT o.id, o.code FROM escalations x JOIN organisations o ON o.id = x.organisation_id \
             WHERE x.picture_id = $1 AND x.step = 'secretariat' ORDER BY o.code",
            &[&picture],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The newest escalation steps (the secretariat's view), newest first.
pub async fn escalations(c: &impl GenericClient, limit: i64) -> Result<Vec<sitrep_types::Escalation>, DbError> {
    let rows = c
        .query(
            "SELECT x.id, x.picture_id, p.reference, x.organisation_id, o.code, x.step, x.deadline, x.created_at, \
               EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = x.picture_id \
                 AND a.organisation_id = x.organisation_id) \
             FROM escalations x JOIN pictures p ON p.id = x.picture_id JOIN organisations o ON o.id = x.organisation_id \
             ORDER BY x.created_at DESC, x.id LIMIT $1",
            &[&limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(sitrep_types::Escalation {
                id: r.try_get(0)?,
                picture_id: r.try_get(1)?,
                reference: r.try_get(2)?,
                organisation_id: r.try_get(3)?,
                organisation_code: r.try_get(4)?,
                step: r.try_get(5)?,
                deadline: r.try_get(6)?,
                created_at: r.try_get(7)?,
                acknowledged_since: r.try_get(8)?,
            })
        })
        .collect()
}

/// A page of overdue acknowledgements among the published pictures `v` sees in full or,
/// being the secretariat, as metadata (it oversees every acknowledgement, as
/// `GET /pictures/{id}/acknowledgements` shows it): (picture, silent recipient
/// organisation) pairs whose deadline has passed, the most overdue first, after the
/// position `after` (deadline, picture, organisation). Sight of the organisation is
/// `picture_recipient`, as for escalation.
pub async fn overdue_acknowledgements(
    c: &impl GenericClient,
    v: &sitrep_domain::visibility::Viewer,
    after: Option<(DateTime<Utc>, Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<sitrep_types::OverdueAcknowledgement>, DbError> {
    let (org, rank, reads, sec) = crate::pictures::viewer_params(v);
    let (after_at, after_picture, after_org) = match after {
        Some((at, p, o)) => (Some(at), Some(p), Some(o)),
        None => (None, None, None),
    };
    let sql = format!(
        "SELECT p.id, p.reference, p.tier, p.tlp, po.code, p.published_at, o.id, o.code, d.deadline, \
           extract(epoch FROM now() - d.deadline)::bigint, \
           coalesce((SELECT array_agg(x.step ORDER BY x.created_at) FROM escalations x \
                     WHERE x.picture_id = p.id AND x.organisation_id = o.id), '{{}}') \
         FROM pictures p \
         JOIN organisations po ON po.id = p.originator_id \
         CROSS JOIN LATERAL (SELECT picture_ack_deadline(p) AS deadline) d \
         JOIN organisations o ON picture_recipient(p, o) \
         WHERE p.status = 'published' AND p.urgency IN ('immediate', 'priority') \
           AND d.deadline < now() AND ({visible} OR $4) \
           AND NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = p.id AND a.organisation_id = o.id) \
           AND ($5::timestamptz IS NULL OR (d.deadline, p.id, o.id) > ($5, $6::uuid, $7::uuid)) \
         ORDER BY d.deadline, p.id, o.id LIMIT $8",
        visible = crate::pictures::VISIBLE,
    );
    let rows = c.query(&sql, &[&org, &rank, &reads, &sec, &after_at, &after_picture, &after_org, &limit]).await?;
    rows.iter()
        .map(|r| {
            let tier: String = r.try_get(2)?;
            let tlp: String = r.try_get(3)?;
            Ok(sitrep_types::OverdueAcknowledgement {
                picture_id: r.try_get(0)?,
                reference: r.try_get(1)?,
                tier: sitrep_types::Tier::parse(&tier).ok_or(DbError::Corrupt("a picture's tier"))?,
                tlp: sitrep_types::Tlp::parse(&tlp).ok_or(DbError::Corrupt("a picture's TLP"))?,
                originator_code: r.try_get(4)?,
                published_at: r.try_get(5)?,
                organisation_id: r.try_get(6)?,
                organisation_code: r.try_get(7)?,
                deadline: r.try_get(8)?,
                overdue_secs: r.try_get(9)?,
                escalations: r.try_get(10)?,
            })
        })
        .collect()
}

// Digests.

/// The people who asked for a digest and have a confirmed address (the worker reads only
/// these, not everyone with an address, each time it looks for due digests).
pub async fn digest_people(c: &impl GenericClient) -> Result<Vec<Uuid>, DbError> {
    let rows = c
        .query(
            "SELECT user_id FROM notification_preferences WHERE digest_at IS NOT NULL AND email_confirmed_at IS NOT NULL",
            &[],
        )
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The newest digest recorded for each of `users`: (user, due at, covers to).
pub async fn last_digests(
    c: &impl GenericClient,
    users: &[Uuid],
) -> Result<Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)>, DbError> {
    let rows = c
        .query(
            "SELECT DISTINCT ON (user_id) user_id, due_at, covers_to FROM digests WHERE user_id = ANY ($1) \
             ORDER BY user_id, due_at DESC",
            &[&users],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// Records the digest of `user` due at `due_at`, covering events written in
/// `(from, to]`, and queues its message to `address`; a digest already recorded for that
/// moment is left alone (`false`).
pub async fn record_digest(
    c: &impl GenericClient,
    user: Uuid,
    due_at: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    address: &str,
) -> Result<bool, DbError> {
    let recorded = c
        .execute(
            "INSERT INTO digests (user_id, due_at, covers_from, covers_to) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            &[&user, &due_at, &from, &to],
        )
        .await?;
    if recorded == 0 {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO mail_messages (id, message_id, kind, user_id, digest_due_at, address) \
         VALUES (gen_random_uuid(), \
                 encode(sha256(convert_to('sitrep-digest:' || $1::uuid::text || ':' || $2::timestamptz::text, 'UTF8')), 'hex'), \
                 'digest', $1, $2, $3) \
         ON CONFLICT (message_id) DO NOTHING",
        &[&user, &due_at, &address],
    )
    .await?;
    Ok(true)
}

/// The window `(from, to]` of the digest of `user` due at `due_at`.
pub async fn digest_window(
    c: &impl GenericClient,
    user: Uuid,
    due_at: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, DbError> {
    let row = c
        .query_opt("SELECT covers_from, covers_to FROM digests WHERE user_id = $1 AND due_at = $2", &[&user, &due_at])
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// The pictures with mailed events written in `(from, to]` that `user` has not marked
/// read, newest first (at most `limit`), whoever may see them: the caller applies the
/// digest rule to each.
pub async fn digest_pictures(
    c: &impl GenericClient,
    user: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, DbError> {
    let rows = c
        .query(
            "SELECT e.picture_id FROM events e \
             WHERE e.type IN ('picture.published', 'picture.revised', 'picture.withdrawn') AND e.recipients IS NULL \
               AND e.created_at > $2 AND e.created_at <= $3 \
               AND NOT EXISTS (SELECT 1 FROM notification_reads r WHERE r.user_id = $1 AND r.event_id = e.id) \
             GROUP BY e.picture_id ORDER BY max(e.created_at) DESC LIMIT $4",
            &[&user, &from, &to, &limit],
        )
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Up to when a digest may cover the outbox: now, or the start of the oldest transaction
/// still running (an event takes its transaction's start as its time, so one that
/// commits later could carry an earlier time; such events fall to the next digest rather
/// than between two).
pub async fn digest_horizon(c: &impl GenericClient) -> Result<DateTime<Utc>, DbError> {
    let row = c
        .query_one(
            "SELECT least(now(), coalesce((SELECT min(xact_start) FROM pg_stat_activity \
               WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()), now()))",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}
