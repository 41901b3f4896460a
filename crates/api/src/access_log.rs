//! Building and writing the access-log records of handlers. A work function that writes
//! records through `write`, on the client of its own transaction; one that only reads
//! through `commit`, in a commit shared with other requests' records.

use sitrep_db::GenericClient;
use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};

use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::Principal;
use crate::state::AppState;

/// A record of `meta`'s action by `p`, allowed, `200`.
pub fn by(meta: &RequestMeta, p: &Principal) -> AccessRecord {
    AccessRecord {
        actor_type: p.actor_type(),
        actor_id: Some(p.user_id),
        actor_name: Some(p.username.clone()),
        organisation_id: Some(p.organisation_id),
        membership_id: Some(p.membership_id),
        roles: p.role_names(),
        ..anonymous(meta)
    }
}

/// A record of `p` acting on the picture `row`, with its revision, tier and TLP.
pub fn picture(meta: &RequestMeta, p: &Principal, row: &sitrep_db::pictures::PictureRow) -> AccessRecord {
    picture_of(meta, p, row.id, row.revision, row.tier, row.tlp)
}

/// A record of `p` acting on revision `revision` of picture `id` at `tier` and `tlp`.
pub fn picture_of(
    meta: &RequestMeta,
    p: &Principal,
    id: uuid::Uuid,
    revision: i32,
    tier: sitrep_types::Tier,
    tlp: sitrep_types::Tlp,
) -> AccessRecord {
    let mut r = by(meta, p).object("picture", id);
    r.object_revision = Some(revision);
    r.tier = Some(tier.as_str().to_owned());
    r.tlp = Some(tlp.as_str().to_owned());
    r
}

/// A record of `meta`'s action by nobody known yet (login, refresh), allowed, `200`.
pub fn anonymous(meta: &RequestMeta) -> AccessRecord {
    AccessRecord {
        request_id: meta.request_id.clone(),
        actor_type: ActorType::Anonymous,
        actor_id: None,
        actor_name: None,
        organisation_id: None,
        membership_id: None,
        roles: Vec::new(),
        action: meta.action.to_owned(),
        object_type: None,
        object_id: None,
        object_revision: None,
        object_ids: None,
        tier: None,
        tlp: None,
        outcome: Outcome::Allowed,
        reason: None,
        http_status: 200,
        client_addr: meta.client_addr,
    }
}

/// Small setters, so that work functions read as sentences.
pub trait RecordExt: Sized {
    fn object(self, object_type: &'static str, id: impl ToString) -> Self;
    fn objects(self, object_type: &'static str, ids: Vec<uuid::Uuid>) -> Self;
    fn status(self, status: u16) -> Self;
    fn refused(self, outcome: Outcome, reason: &str, status: u16) -> Self;
}

impl RecordExt for AccessRecord {
    fn object(mut self, object_type: &'static str, id: impl ToString) -> Self {
        self.object_type = Some(object_type);
        self.object_id = Some(id.to_string());
        self
    }

    fn objects(mut self, object_type: &'static str, ids: Vec<uuid::Uuid>) -> Self {
        self.object_type = Some(object_type);
        self.object_ids = Some(ids);
        self
    }

    fn status(mut self, status: u16) -> Self {
        self.http_status = status;
        self
    }

    fn refused(mut self, outcome: Outcome, reason: &str, status: u16) -> Self {
        self.outcome = outcome;
        self.reason = Some(reason.to_owned());
        self.http_status = status;
        self
    }
}

/// Writes the record on `c` (the caller's transaction). If it cannot be written the
/// request fails with `503` and returns no data: the access log fails closed.
pub async fn write(c: &impl GenericClient, meta: &RequestMeta, record: AccessRecord) -> Result<(), ApiError> {
    marked(meta, sitrep_db::access_log::record(c, &record).await.map(drop))
}

/// Writes the record of a request that changes nothing (a read, a refusal) in a commit
/// shared with the records of concurrent requests (`sitrep_db::recorder`), and returns
/// once it is durable. Fails closed like [`write`]: `503` and no data.
pub async fn commit(state: &AppState, meta: &RequestMeta, record: AccessRecord) -> Result<(), ApiError> {
    marked(meta, state.recorder.record(record).await)
}

/// Marks the request as recorded once its record is written; else `503`, no data.
fn marked(meta: &RequestMeta, written: Result<(), sitrep_db::DbError>) -> Result<(), ApiError> {
    written.map_err(unavailable)?;
    meta.mark_audited();
    Ok(())
}

/// For a work function that writes its record with `sitrep_db::access_log::record` itself
/// (it needs the `seq`): marks the request as recorded.
pub fn written(meta: &RequestMeta) {
    meta.mark_audited();
}

/// The error of a record that could not be written: `503`, no data.
pub fn unavailable(e: sitrep_db::DbError) -> ApiError {
    tracing::error!(error = %e, "access-log record could not be written; refusing the request");
    ApiError::Unavailable { code: "audit_unavailable", retry_after_secs: 2 }
}
