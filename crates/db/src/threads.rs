//! Questions on a picture: threads, their messages and each person's reading position.
//! Who may see or write a thread is `sitrep_domain::thread`; the routes ask it of every
//! row read here.

use chrono::{DateTime, Utc};
use sitrep_domain::visibility::Handling;
use sitrep_types::{Originator, Status, ThreadMessage, ThreadOpenedAs, Tier};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{DbError, GenericClient};

/// A thread, with its counts for one reader.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub asking: Originator,
    pub opened_as: ThreadOpenedAs,
    pub created_at: DateTime<Utc>,
    pub message_count: i64,
    pub last_message_at: Option<DateTime<Utc>>,
    /// Messages of the other party after the reader's reading position.
    pub unread: i64,
}

/// The columns of `ThreadRow` for reader `$1` (a person) of organisation `$2`, over
/// `threads t JOIN organisations ao`.
const THREAD_COLUMNS: &str = "t.id, t.picture_id, t.asking_org_id, ao.code, t.opened_as, t.created_at, \
     (SELECT count(*) FROM thread_messages m WHERE m.thread_id = t.id), \
     (SELECT max(m.created_at) FROM thread_messages m WHERE m.thread_id = t.id), \
     (SELECT count(*) FROM thread_messages m WHERE m.thread_id = t.id AND m.organisation_id <> $2 \
        AND m.created_at > coalesce((SELECT read_at FROM thread_reads r WHERE r.user_id = $1 AND r.thread_id = t.id), \
                                    '-infinity'))";

fn thread_row(r: &Row) -> Result<ThreadRow, DbError> {
    Ok(ThreadRow {
        id: r.try_get(0)?,
        picture_id: r.try_get(1)?,
        asking: Originator { id: r.try_get(2)?, code: r.try_get(3)? },
        opened_as: ThreadOpenedAs::parse(r.try_get(4)?).ok_or(DbError::Corrupt("threads.opened_as"))?,
        created_at: r.try_get(5)?,
        message_count: r.try_get(6)?,
        last_message_at: r.try_get(7)?,
        unread: r.try_get(8)?,
    })
}

/// Opens the thread of `asking` on `picture`, or finds the one it already has (two
/// organisations' members asking at once get the same thread). Returns its id and
/// whether it is new.
pub async fn open(
    c: &impl GenericClient,
    picture: Uuid,
    asking: Uuid,
    user: Uuid,
    opened_as: ThreadOpenedAs,
) -> Result<(Uuid, bool), DbError> {
    let created = c
        .query_opt(
            "INSERT INTO threads (id, picture_id, asking_org_id, opened_by, opened_as) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (picture_id, asking_org_id) DO NOTHING RETURNING id",
            &[&Uuid::now_v7(), &picture, &asking, &user, &opened_as.as_str()],
        )
        .await?;
    if let Some(r) = created {
        return Ok((r.try_get(0)?, true));
    }
    let r = c
        .query_one("SELECT id FROM threads WHERE picture_id = $1 AND asking_org_id = $2", &[&picture, &asking])
        .await?;
    Ok((r.try_get(0)?, false))
}

/// A new message in its writer's transaction.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub thread: Uuid,
    pub revision: i32,
    pub author: Uuid,
    pub organisation: Uuid,
    pub body: &'a str,
}

/// The most messages each side of a thread writes: a runaway client cannot grow one
/// without end, and neither side can fill it so that the other is silenced.
pub const MAX_MESSAGES: i64 = 250;

/// Adds a message in the writer's transaction; `None` when the writer's side has already
/// written `MAX_MESSAGES` in the thread.
pub async fn add_message(c: &impl GenericClient, m: &NewMessage<'_>) -> Result<Option<Uuid>, DbError> {
    let id = Uuid::now_v7();
    let added = c
        .execute(
            "INSERT INTO thread_messages (id, thread_id, revision, author_id, organisation_id, body) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE (SELECT count(*) FROM thread_messages WHERE thread_id = $2 AND organisation_id = $5) < $7",
            &[&id, &m.thread, &m.revision, &m.author, &m.organisation, &m.body, &MAX_MESSAGES],
        )
        .await?;
    Ok((added == 1).then_some(id))
}

/// Every thread of `picture`, oldest first, with counts for `user` of `org`.
pub async fn for_picture(
    c: &impl GenericClient,
    user: Uuid,
    org: Uuid,
    picture: Uuid,
) -> Result<Vec<ThreadRow>, DbError> {
    let rows = c
        .query(
            &format!(
                "SELECT {THREAD_COLUMNS} FROM threads t JOIN organisations ao ON ao.id = t.asking_org_id \
                 WHERE t.picture_id = $3 ORDER BY t.created_at, t.id"
            ),
            &[&user, &org, &picture],
        )
        .await?;
    rows.iter().map(thread_row).collect()
}

/// The thread `thread` of `picture` (none if it is another picture's), with counts for
/// `user` of `org`.
pub async fn find(
    c: &impl GenericClient,
    user: Uuid,
    org: Uuid,
    picture: Uuid,
    thread: Uuid,
) -> Result<Option<ThreadRow>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {THREAD_COLUMNS} FROM threads t JOIN organisations ao ON ao.id = t.asking_org_id \
                 WHERE t.picture_id = $3 AND t.id = $4"
            ),
            &[&user, &org, &picture, &thread],
        )
        .await?;
    row.as_ref().map(thread_row).transpose()
}

/// The messages of each of `threads`, oldest first, with the thread each is in (one query
/// for a picture's whole list).
pub async fn messages(c: &impl GenericClient, threads: &[Uuid]) -> Result<Vec<(Uuid, ThreadMessage)>, DbError> {
    let rows = c
        .query(
            "SELECT m.id, m.revision, m.author_id, m.organisation_id, o.code, m.body, m.created_at, m.thread_id \
             FROM thread_messages m JOIN organisations o ON o.id = m.organisation_id \
             WHERE m.thread_id = ANY ($1) ORDER BY m.created_at, m.id",
            &[&threads],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let message = ThreadMessage {
                id: r.try_get(0)?,
                revision: r.try_get(1)?,
                author_id: r.try_get(2)?,
                organisation: Originator { id: r.try_get(3)?, code: r.try_get(4)? },
                body: r.try_get(5)?,
                created_at: r.try_get(6)?,
            };
            Ok((r.try_get(7)?, message))
        })
        .collect()
}

/// Records that `user` has read `thread` up to `upto` (the newest message shown); a
/// position is never moved back.
pub async fn mark_read(c: &impl GenericClient, user: Uuid, thread: Uuid, upto: DateTime<Utc>) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO thread_reads (user_id, thread_id, read_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, thread_id) DO UPDATE SET read_at = greatest(thread_reads.read_at, excluded.read_at)",
        &[&user, &thread, &upto],
    )
    .await?;
    Ok(())
}

/// A thread with its picture's handling now, for the list of one's own threads.
#[derive(Debug, Clone)]
pub struct MineRow {
    pub thread: ThreadRow,
    pub reference: String,
    pub originator: Originator,
    pub status: Status,
    pub tier: Tier,
    pub named: Vec<Uuid>,
}

impl MineRow {
    pub fn handling(&self) -> Handling<'_> {
        Handling { originator: self.originator.id, status: self.status, tier: self.tier, named: &self.named }
    }
}

/// Threads whose parties include `org` (every thread when `all`), most recent activity
/// first, at most `limit`, each with its picture's handling now: the caller decides what
/// the reader sees of each.
pub async fn mine(
    c: &impl GenericClient,
    user: Uuid,
    org: Uuid,
    all: bool,
    limit: i64,
) -> Result<Vec<MineRow>, DbError> {
    let rows = c
        .query(
            &format!(
                "SELECT {THREAD_COLUMNS}, p.reference, p.originator_id, po.code, p.status, p.tier, p.named_recipients \
                 FROM threads t JOIN organisations ao ON ao.id = t.asking_org_id \
                 JOIN pictures p ON p.id = t.picture_id JOIN organisations po ON po.id = p.originator_id \
                 WHERE $3 OR t.asking_org_id = $2 OR p.originator_id = $2 \
                 ORDER BY coalesce((SELECT max(m.created_at) FROM thread_messages m WHERE m.thread_id = t.id), \
                                   t.created_at) DESC, t.id DESC \
                 LIMIT $4"
            ),
            &[&user, &org, &all, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(MineRow {
                thread: thread_row(r)?,
                reference: r.try_get(9)?,
                originator: Originator { id: r.try_get(10)?, code: r.try_get(11)? },
                status: Status::parse(r.try_get(12)?).ok_or(DbError::Corrupt("pictures.status"))?,
                tier: Tier::parse(r.try_get(13)?).ok_or(DbError::Corrupt("pictures.tier"))?,
                named: r.try_get(14)?,
            })
        })
        .collect()
}

/// Queues, in the writer's transaction, the mail about message `message` of `thread` on
/// `picture` for the party organisation `to`: one message for each person of `to` who
/// takes part in the thread (opened it or wrote in it; for the originator, also the
/// person who created the picture), is active, has a membership of `to` in force and a
/// confirmed address. The worker decides again before sending
/// (`sitrep_domain::thread::mail_for_person`). The Message-ID is derived from the
/// message and the person, so the same pair is queued once.
pub async fn queue_mail(
    c: &impl GenericClient,
    message: Uuid,
    thread: Uuid,
    picture: Uuid,
    to: Uuid,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "INSERT INTO mail_messages (id, message_id, kind, picture_id, thread_message_id, user_id, organisation_id, address) \
         SELECT gen_random_uuid(), \
                encode(sha256(convert_to('sitrep-thread:' || $1::uuid::text || ':person:' || n.user_id::text, 'UTF8')), 'hex'), \
                'thread', $3::uuid, $1::uuid, n.user_id, $4::uuid, n.email \
         FROM notification_preferences n JOIN users u ON u.id = n.user_id AND u.active AND u.kind = 'person' \
         WHERE n.email IS NOT NULL AND n.email_confirmed_at IS NOT NULL \
           AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.organisation_id = $4 \
                         AND m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now())) \
           AND u.id IN (SELECT author_id FROM thread_messages WHERE thread_id = $2 AND organisation_id = $4 \
                        UNION SELECT opened_by FROM threads WHERE id = $2 AND asking_org_id = $4 \
                        UNION SELECT created_by FROM pictures WHERE id = $3 AND originator_id = $4) \
         ON CONFLICT (message_id) DO NOTHING",
        &[&message, &thread, &picture, &to],
    )
    .await?)
}

/// What the mail about a thread message says and decides with: the thread's asking
/// organisation, the writer's organisation (code) and the text.
#[derive(Debug, Clone)]
pub struct MailedMessage {
    pub id: Uuid,
    pub asking: Uuid,
    pub writer: String,
    pub body: String,
}

pub async fn mailed_messages(c: &impl GenericClient, ids: &[Uuid]) -> Result<Vec<MailedMessage>, DbError> {
    let rows = c
        .query(
            "SELECT m.id, t.asking_org_id, o.code, m.body FROM thread_messages m \
             JOIN threads t ON t.id = m.thread_id JOIN organisations o ON o.id = m.organisation_id \
             WHERE m.id = ANY ($1)",
            &[&ids],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(MailedMessage { id: r.try_get(0)?, asking: r.try_get(1)?, writer: r.try_get(2)?, body: r.try_get(3)? })
        })
        .collect()
}
