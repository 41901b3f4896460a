//! Writing in a question thread, and a thread as its reader sees it: what the thread
//! routes (`routes::threads`) and a `need_more_info` acknowledgement (`routes::reference`)
//! share, below both. Who may see and write is `sitrep_domain::thread`; the SQL is
//! `sitrep_db::threads`.

use sitrep_db::GenericClient;
use sitrep_db::pictures::PictureRow;
use sitrep_db::threads::{self, NewMessage, ThreadRow};
use sitrep_domain::thread::{other_party, party};
use sitrep_domain::visibility::Viewer;
use sitrep_types::{Thread, ThreadMessage, ThreadOpenedAs};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::Principal;

pub(crate) const THREAD_NOT_FOUND: ApiError = ApiError::NotFound { code: "thread_not_found" };

/// A side that has written `sitrep_db::threads::MAX_MESSAGES` in a thread writes no more.
pub(crate) fn thread_full() -> ApiError {
    ApiError::conflict("thread_full", "Your side has written as many messages in this thread as a thread keeps.")
}

/// The access-log record of `p` acting on thread `thread` of picture `row`.
pub(crate) fn record(
    meta: &RequestMeta,
    p: &Principal,
    row: &PictureRow,
    thread: Uuid,
) -> sitrep_db::access_log::AccessRecord {
    let mut r = access_log::picture(meta, p, row).object("thread", thread);
    r.reason = Some(format!("picture:{}", row.id));
    r
}

/// The messages of one thread, oldest first.
pub(crate) async fn one_thread(c: &impl GenericClient, thread: Uuid) -> Result<Vec<ThreadMessage>, ApiError> {
    Ok(threads::messages(c, &[thread]).await?.into_iter().map(|(_, m)| m).collect())
}

/// A thread as `p` may see it, with `messages` when it sees them (`None` where it sees
/// the thread's metadata only); a party that sees them has read them up to the newest.
pub(crate) async fn view(
    c: &impl GenericClient,
    p: &Principal,
    row: &PictureRow,
    t: ThreadRow,
    messages: Option<Vec<ThreadMessage>>,
) -> Result<Thread, ApiError> {
    let v = Viewer::from(&p.permissions);
    let is_party = party(&v, &row.handling(), t.asking.id);
    if let Some(newest) = messages.as_ref().and_then(|m| m.last()).filter(|_| is_party) {
        threads::mark_read(c, p.user_id, t.id, newest.created_at).await?;
    }
    Ok(Thread {
        id: t.id,
        picture_id: t.picture_id,
        asking_organisation: t.asking,
        opened_as: t.opened_as,
        created_at: t.created_at,
        message_count: t.message_count,
        last_message_at: t.last_message_at,
        unread: if is_party { t.unread } else { 0 },
        messages,
    })
}

/// Writes `body` in `thread` of picture `row` as `p`, and answers the thread as `p`
/// sees it then.
pub(crate) async fn write_message(
    c: &impl GenericClient,
    p: &Principal,
    row: &PictureRow,
    thread: Uuid,
    body: &str,
) -> Result<Thread, ApiError> {
    let message =
        NewMessage { thread, revision: row.revision, author: p.user_id, organisation: p.organisation_id, body };
    let Some(written) = threads::add_message(c, &message).await? else {
        return Err(thread_full());
    };
    let t = threads::find(c, p.user_id, p.organisation_id, row.id, thread).await?.ok_or(THREAD_NOT_FOUND)?;
    // The other party's people are told, in this transaction (docs/threads.md).
    let to = other_party(&row.handling(), t.asking.id, p.organisation_id);
    threads::queue_mail(c, written, thread, row.id, to).await?;
    let messages = one_thread(c, t.id).await?;
    view(c, p, row, t, Some(messages)).await
}

/// Opens the caller's organisation's thread on `row` for a `need_more_info`
/// acknowledgement (or continues the one it has), with the note as a message written like
/// any other. The acknowledgement has checked what asking needs (a published picture,
/// read in full, not the caller's own) under the picture's lock.
pub(crate) async fn open_for_acknowledgement(
    c: &impl GenericClient,
    p: &Principal,
    row: &PictureRow,
    note: Option<&str>,
) -> Result<Uuid, ApiError> {
    let (thread, _) = threads::open(c, row.id, p.organisation_id, p.user_id, ThreadOpenedAs::NeedMoreInfo).await?;
    if let Some(note) = note {
        write_message(c, p, row, thread, note).await?;
    }
    Ok(thread)
}
