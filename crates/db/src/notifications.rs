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
    pub language: String,
}

const PREFERENCES: &str =
    "email, email_confirmed_at, urgencies, domains, election_ids, quiet_start, quiet_end, time_zone, language";

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
                   quiet_end, time_zone, language) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, urgencies = EXCLUDED.urgencies, \
                   domains = EXCLUDED.domains, election_ids = EXCLUDED.election_ids, quiet_start = EXCLUDED.quiet_start, \
                   quiet_end = EXCLUDED.quiet_end, time_zone = EXCLUDED.time_zone, language = EXCLUDED.language, \
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
            "SELECT m.id, m.message_id, m.kind, m.event_id, e.picture_id, m.user_id, m.duty_address_id, m.organisation_id, \
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
