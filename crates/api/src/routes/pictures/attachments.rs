//! Evidence attachments of a picture. An upload is a revision like a patch (`If-Match`,
//! the same draft / in force / proposed rule, `Idempotency-Key`) that adds one file; a
//! patch that leaves an attachment out of `attachments` removes it from the next revision
//! (old revisions keep theirs). A download is allowed only where a revision the caller may
//! read shows the attachment to it.

use std::sync::Arc;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use sha2::{Digest, Sha256};
use sitrep_db::GenericClient;
use sitrep_db::access_log::Outcome;
use sitrep_db::attachments::{self as store_db, NewBlob, Upload};
use sitrep_db::pictures::{self, PictureRow};
use sitrep_domain::attachment::{
    ByteRange, byte_range, check_file_name, content_disposition, media_type_essence, percent_decode,
};
use sitrep_domain::visibility::{Sight, Viewer, current_content, revision_content, sight};
use sitrep_domain::{FieldErrors, Invalid};
use sitrep_types::{Attachment, AttachmentUploaded, LocalizedText, PictureContent, Status, Tlp};
use uuid::Uuid;

use super::{NOT_FOUND, check_if_match, etag, idempotency_key, own_locked, related_seen, revise, view};
use crate::access_log::{self, RecordExt};
use crate::attachments::{ReceiveError, Store};
use crate::conditional::{if_match, none_match};
use crate::docs::{AuthFailures, Conflict, Forbidden, NotFound, ServerFailures};
use crate::error::ApiError;
use crate::images::ImageRefused;
use crate::meta::RequestMeta;
use crate::principal::{Authenticated, AuthorPictures, Caller, Principal};
use crate::state::AppState;

const ATTACHMENT_NOT_FOUND: ApiError = ApiError::NotFound { code: "attachment_not_found" };
const FILE_NAME: &str = "attachment-file-name";
const TLP: &str = "attachment-tlp";
const DESCRIPTION: [(&str, &str); 3] =
    [("fi", "attachment-description-fi"), ("sv", "attachment-description-sv"), ("en", "attachment-description-en")];

/// Every attachment a revision lists must be an upload of this picture, its file facts
/// unchanged (only its TLP and description are the revision's to set). `422` naming the
/// entry.
pub(super) async fn check_uploads(
    c: &impl GenericClient,
    picture: Option<Uuid>,
    list: &[Attachment],
) -> Result<(), ApiError> {
    if list.is_empty() {
        return Ok(());
    }
    let uploads = match picture {
        Some(id) => store_db::of_picture(c, id).await?,
        None => Vec::new(),
    };
    let mut errors = FieldErrors::default();
    for (i, a) in list.iter().enumerate() {
        match uploads.iter().find(|u| u.id == a.id) {
            None => errors.push(Invalid::new(
                format!("attachments[{i}].id"),
                "unknown_attachment",
                "not an upload of this picture (upload files with POST …/attachments)",
            )),
            Some(u) if facts(u, a.tlp, a.description.clone()) != *a => errors.push(Invalid::new(
                format!("attachments[{i}]"),
                "attachment_fixed",
                "only tlp and description of an attachment may change",
            )),
            Some(_) => {}
        }
    }
    errors.finish()?;
    Ok(())
}

/// An upload as a revision lists it, with the revision's TLP and description.
fn facts(u: &Upload, tlp: Tlp, description: LocalizedText) -> Attachment {
    Attachment {
        id: u.id,
        file_name: u.file_name.clone(),
        media_type: u.media_type.clone(),
        size: u.size,
        sha256: u.sha256.clone(),
        original_sha256: u.original_sha256.clone(),
        tlp,
        description,
    }
}

/// What the upload's headers say, checked.
struct NewAttachment {
    file_name: String,
    media_type: String,
    tlp: Option<Tlp>,
    description: LocalizedText,
}

fn header_text(req: &HttpRequest, name: &str) -> Result<Option<String>, Invalid> {
    match req.headers().get(name) {
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().map_err(|_| Invalid::new(name, "invalid_encoding", "percent-encoded UTF-8 expected"))?;
            percent_decode(name, v).map(Some)
        }
    }
}

fn new_attachment(req: &HttpRequest, allowed: &[String]) -> Result<NewAttachment, ApiError> {
    let mut errors = FieldErrors::default();
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(media_type_essence)
        .unwrap_or_default();
    if media_type.is_empty() {
        errors.push(Invalid::new("Content-Type", "required", "the file's media type"));
    } else if !allowed.contains(&media_type) {
        errors.push(Invalid::new(
            "Content-Type",
            "media_type_not_allowed",
            format!("{media_type} is not accepted; accepted: {}", allowed.join(", ")),
        ));
    }
    let file_name = match header_text(req, FILE_NAME) {
        Ok(Some(name)) => {
            if let Err(e) = check_file_name(FILE_NAME, &name) {
                errors.push(e);
            }
            name
        }
        Ok(None) => {
            errors.push(Invalid::new(FILE_NAME, "required", "the file's name, percent-encoded UTF-8"));
            String::new()
        }
        Err(e) => {
            errors.push(e);
            String::new()
        }
    };
    let tlp = match req.headers().get(TLP).map(|v| v.to_str().ok().and_then(Tlp::parse)) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            errors.push(Invalid::new(TLP, "invalid_value", "CLEAR, GREEN, AMBER, AMBER+STRICT or RED"));
            None
        }
    };
    let mut description = LocalizedText::default();
    for (lang, name) in DESCRIPTION {
        match header_text(req, name) {
            Ok(text) => match lang {
                "fi" => description.fi = text,
                "sv" => description.sv = text,
                _ => description.en = text,
            },
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok(NewAttachment { file_name, media_type, tlp, description })
}

fn unavailable() -> ApiError {
    ApiError::Unavailable { code: "attachments_unavailable", retry_after_secs: 60 }
}

/// `403`/`404` unless the caller's organisation originated `row`; `409` for a picture
/// that is no longer revised.
fn changeable(p: &Principal, row: &PictureRow) -> Result<(), ApiError> {
    if row.originator_id != p.organisation_id {
        if sight(&Viewer::from(&p.permissions), &row.handling()) == Sight::None {
            return Err(NOT_FOUND);
        }
        return Err(ApiError::Forbidden {
            code: "not_originator",
            detail: "Only the originating organisation changes a picture.",
        });
    }
    if matches!(row.status, Status::Withdrawn | Status::Closed | Status::Superseded) {
        return Err(ApiError::Conflict {
            code: "picture_closed",
            detail: "A withdrawn or closed picture is not revised.".into(),
        });
    }
    Ok(())
}

/// The content a change applies to: the proposed revision if there is one, else the
/// revision in force.
async fn base_content(c: &impl GenericClient, p: &Principal, row: &PictureRow) -> Result<PictureContent, ApiError> {
    Ok(match row.pending_revision {
        Some(n) => pictures::revision_of(c, &Viewer::from(&p.permissions), row.id, n).await?.ok_or(NOT_FOUND)?.content,
        None => row.content.clone(),
    })
}

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) }
}

/// Removes the file of a blob kept for an upload if nothing will refer to it: kept before
/// the transaction that records it, it is removed if that transaction is known not to
/// commit, or if it records another blob of the same content. It is disarmed before
/// `COMMIT` is sent, because a commit that reports an error (the connection lost during
/// it) or is cut short (shutdown) may have committed, and then the file is the only copy
/// of content every later upload of the same bytes refers to. A file left by a commit
/// that did fail is ciphertext nothing refers to.
struct Uncommitted {
    store: Arc<Store>,
    blob: Option<Uuid>,
}

impl Drop for Uncommitted {
    fn drop(&mut self) {
        if let Some(blob) = self.blob.take() {
            self.store.discard(blob);
        }
    }
}

/// Attach a file to the picture: the body is the file (streamed; `Content-Type` its media
/// type), the headers say the rest. It makes a revision exactly as a patch does, with
/// `If-Match`. The content must be the declared type (`422` naming both); a file over the
/// size limits is `413`, a body cut short `400`: nothing is stored then. An image is
/// stored stripped of its metadata (`sha256` and `size` are the stripped file's,
/// `original_sha256` the file sent). The same bytes are stored once, encrypted.
#[utoipa::path(
    post, path = "/api/v1/pictures/{id}/attachments", tag = "pictures",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path),
        ("If-Match" = String, Header, description = "The picture's ETag as last read"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried upload return the first result; the same key with another file is `422` `idempotency_key_reused`"),
        ("Attachment-File-Name" = String, Header, description = "The file's name, percent-encoded UTF-8"),
        ("Attachment-TLP" = Option<String>, Header, description = "The file's TLP, the picture's or stricter (default the picture's)"),
        ("Attachment-Description-Fi" = Option<String>, Header, description = "Description in Finnish, percent-encoded UTF-8"),
        ("Attachment-Description-Sv" = Option<String>, Header, description = "Description in Swedish, percent-encoded UTF-8"),
        ("Attachment-Description-En" = Option<String>, Header, description = "Description in English, percent-encoded UTF-8"),
    ),
    request_body(content = String, content_type = "application/octet-stream", description = "The file; `Content-Type` is its media type"),
    responses(
        (status = 201, body = AttachmentUploaded, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Truncated upload or bad header", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the size limits", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid headers, the content is not the declared type, or an image that does not decode within the limits", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, NotFound, Conflict, ServerFailures
    )
)]
pub async fn upload_attachment(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<AuthorPictures>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = state.attachments.clone().ok_or_else(unavailable)?;
    let if_match = if_match(&req).ok_or(ApiError::Precondition {
        status: 428,
        code: "if_match_required",
        detail: "Send the picture's ETag in If-Match.",
    })?;
    let new = new_attachment(&req, &store.policy.media_types)?;
    let key = idempotency_key(&req)?;
    let content_length =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let id = id.into_inner();
    let policy = &store.policy;
    // Before the body is read: the picture is the caller's to change, as the caller last
    // read it (a retry with its key is answered in the transaction below), with room left.
    let limit = {
        let client = meta.client(&state.pool).await?;
        let row = pictures::find(&client, &Viewer::from(&caller.permissions), id, false).await?.ok_or(NOT_FOUND)?;
        changeable(&caller, &row)?;
        if key.is_none() {
            check_if_match(&caller, &row, Some(&if_match))?;
        }
        let used = u64::try_from(store_db::used_bytes(&client, id).await?).unwrap_or(0);
        // A retry of an upload that was stored is answered with its first result below:
        // the room that upload took counts as still free for it.
        let earlier = match &key {
            Some(key) => u64::try_from(store_db::size_under_key(&client, caller.user_id, key, id).await?).unwrap_or(0),
            None => 0,
        };
        policy.max_file_bytes.min(policy.max_picture_bytes.saturating_sub(used.saturating_sub(earlier)))
    };
    let mut received = match store.receive(payload, &new.media_type, limit, content_length).await {
        Ok(r) => r,
        Err(ReceiveError::Api(e)) => return Err(e),
        Err(ReceiveError::Mismatch(m, sha)) => {
            let reason = match sha {
                Some(sha) => format!("media_type_mismatch sha256:{}", hex::encode(sha)),
                None => "media_type_mismatch".to_owned(),
            };
            let r = access_log::by(&meta, &caller).object("picture", id).refused(Outcome::Failed, &reason, 422);
            access_log::commit(&state, &meta, r).await?;
            return Err(ApiError::Invalid(m.invalid().into()));
        }
        Err(ReceiveError::Image(why, sha)) => {
            if let ImageRefused::Undecodable(detail) = &why {
                tracing::info!(%detail, "an uploaded image does not decode");
            }
            let reason = format!("{} sha256:{}", why.code(), hex::encode(sha));
            let r = access_log::by(&meta, &caller).object("picture", id).refused(Outcome::Failed, &reason, 422);
            access_log::commit(&state, &meta, r).await?;
            return Err(ApiError::Invalid(why.invalid().into()));
        }
    };
    let sha256 = hex::encode(received.sha256);
    let original_sha256 = received.original_sha256.map(hex::encode);
    let size = i64::try_from(received.size).map_err(|e| ApiError::Internal(e.into()))?;
    let request_hash: [u8; 32] = {
        let mut h = Sha256::new();
        let tlp = new.tlp.map_or("", |t| t.as_str());
        let description = serde_json::to_string(&new.description).map_err(|e| ApiError::Internal(e.into()))?;
        for part in [id.to_string().as_str(), &new.file_name, &new.media_type, tlp, &description, &sha256] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    };

    let mut client = meta.client(&state.pool).await?;
    // The content goes to the store before the transaction, so that no lock is held while
    // it is written (to a bucket that takes a while), unless it is stored already: the
    // same content is stored once, and a blob's row is never removed.
    let mut guard = Uncommitted { store: store.clone(), blob: None };
    if store_db::blob_of_content(&client, &received.sha256).await?.is_none() {
        store.keep(&mut received).await?;
        guard.blob = Some(received.blob_id);
    }
    let tx = client.transaction().await?;
    let row = own_locked(&tx, &caller, id).await?;
    let aid = Uuid::new_v4();
    if let Some(key) = &key
        && let Some((existing, hash)) =
            store_db::claim_idempotency_key(&tx, caller.user_id, key, &request_hash, id, aid).await?
    {
        let upload = match existing {
            Some(existing) if hash == request_hash => store_db::find(&tx, id, existing).await?,
            _ => None,
        };
        let Some(upload) = upload else {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "idempotency_key_reused",
                "used before with another request",
            ));
        };
        let attachment = facts(&upload, new.tlp.unwrap_or(row.tlp), new.description.clone());
        let mut r = record(&meta, &caller, &row, &upload, row.revision, 201);
        r.reason = Some(format!("idempotent_replay sha256:{}", upload.sha256));
        access_log::write(&tx, &meta, r).await?;
        let res = uploaded(&tx, &caller, &row, attachment).await?;
        tx.commit().await?;
        return Ok(res);
    }
    check_if_match(&caller, &row, Some(&if_match))?;
    changeable(&caller, &row)?;
    let used = u64::try_from(store_db::used_bytes(&tx, id).await?).unwrap_or(0);
    if used + received.size > policy.max_picture_bytes {
        return Err(too_large(policy.max_picture_bytes.saturating_sub(used)));
    }
    let base = base_content(&tx, &caller, &row).await?;
    let thumbnail_size = received.thumbnail.map(i64::try_from).transpose().map_err(|e| ApiError::Internal(e.into()))?;
    let (blob_id, fresh) = store_db::claim_blob(
        &tx,
        NewBlob {
            id: received.blob_id,
            sha256: &received.sha256,
            size,
            sniffed: &received.sniffed,
            wrapped_key: &received.wrapped_key,
            store: store.kind(),
            thumbnail_size,
        },
    )
    .await?;
    if fresh && guard.blob != Some(blob_id) {
        // Only a blob committed before the check above is skipped, and blobs are never
        // removed: this cannot be, but a row is never recorded for a file not kept.
        return Err(ApiError::Internal(anyhow::anyhow!("blob {blob_id} recorded but not kept")));
    }
    drop(received);
    if !fresh {
        // The same content is stored already (an upload of the same bytes committed
        // meanwhile): a copy kept for this one is removed. A row whose file is gone (lost
        // from the folder, the bucket or a backup) is never answered with a new upload
        // that cannot be read.
        if let Some(copy) = guard.blob.take() {
            store.discard(copy);
        }
        let blob =
            store_db::blob(&tx, blob_id).await?.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("blob gone")))?;
        if !store.has(&blob).await? {
            tracing::error!(blob = %blob_id, store = %blob.store, "an attachment's stored file is missing; restore it from the backup");
            return Err(ApiError::Internal(anyhow::anyhow!("the stored file of blob {blob_id} is missing")));
        }
    }
    let upload = Upload {
        id: aid,
        picture_id: id,
        blob_id,
        file_name: new.file_name,
        media_type: new.media_type,
        size,
        sha256,
        original_sha256,
    };
    store_db::insert(&tx, &upload, caller.user_id).await?;
    let attachment = facts(&upload, new.tlp.unwrap_or(base.tlp), new.description);
    let mut content = base.clone();
    content.attachments.push(attachment.clone());
    let revised = revise(&tx, &state, &caller, &row, &base, content).await?;
    access_log::write(&tx, &meta, record(&meta, &caller, &revised.row, &upload, revised.revision, 201)).await?;
    let res = uploaded(&tx, &caller, &revised.row, attachment).await?;
    guard.blob = None;
    tx.commit().await?;
    Ok(res)
}

/// The access-log record of an upload or download: the attachment, the picture's revision,
/// tier and TLP, and the content's hash (and an image's original's).
fn record(
    meta: &RequestMeta,
    p: &Principal,
    row: &PictureRow,
    upload: &Upload,
    revision: i32,
    status: u16,
) -> sitrep_db::access_log::AccessRecord {
    let mut r = access_log::picture_of(meta, p, row.id, revision, row.tier, row.tlp).object("attachment", upload.id);
    let mut reason = format!("picture:{} sha256:{}", row.id, upload.sha256);
    if let Some(original) = &upload.original_sha256 {
        reason.push_str(&format!(" original_sha256:{original}"));
    }
    r.reason = Some(reason);
    r.status(status)
}

async fn uploaded(
    c: &impl GenericClient,
    p: &Principal,
    row: &PictureRow,
    attachment: Attachment,
) -> Result<HttpResponse, ApiError> {
    let related = related_seen(c, p, &row.content).await?;
    let location = format!("/api/v1/pictures/{}/attachments/{}/content", row.id, attachment.id);
    let body = AttachmentUploaded { attachment, picture: view(p, row, &related).0 };
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, etag(p, row)))
        .insert_header((header::LOCATION, location))
        .json(body))
}

/// Whether `p` is shown attachment `aid` of `row` in the revision in force or in any
/// revision it may read: the rule of indicators (its TLP then and now must reach `p`).
async fn shown(c: &impl GenericClient, p: &Principal, row: &PictureRow, aid: Uuid) -> Result<bool, ApiError> {
    let v = Viewer::from(&p.permissions);
    if sight(&v, &row.handling()) != Sight::Full {
        return Ok(false);
    }
    let (now, _) = current_content(&v, &row.handling(), row.content.clone(), &[]);
    if now.attachments.iter().any(|a| a.id == aid) {
        return Ok(true);
    }
    let history = pictures::indicator_history(c, &[row.id]).await?.remove(&row.id).unwrap_or_default();
    for rev in pictures::revisions(c, &v, row.id).await? {
        if !rev.content.attachments.iter().any(|a| a.id == aid) || !super::revision_visible(p, row, &rev) {
            continue;
        }
        let (content, _) = revision_content(&v, &row.handling(), rev.revision, rev.content, &history, &[]);
        if content.attachments.iter().any(|a| a.id == aid) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The RFC 9530 `Repr-Digest` of a content whose SHA-256 is `hex`.
fn repr_digest(hex: &str) -> String {
    use base64::Engine;
    let raw = hex::decode(hex).unwrap_or_default();
    format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Download an attachment: the file as stored (an image stripped of its metadata),
/// decrypted as it is sent, served as a download that a browser never renders
/// (`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP). `404` unless a revision
/// the caller may read shows it the attachment. One byte range (`Range: bytes=first-last`,
/// `first-` or `-suffix`) is `206` with `Content-Range`, decrypting only the segments that
/// hold it; several ranges are answered with the whole file; a range that is not valid or
/// not within the file is `416`. `If-Range` with the `ETag` keeps the range.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/attachments/{aid}/content", tag = "pictures",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path), ("aid" = Uuid, Path),
        ("Range" = Option<String>, Header, description = "One byte range: bytes=first-last, bytes=first- or bytes=-suffix"),
        ("If-Range" = Option<String>, Header, description = "The ETag of the file: the range is served only if it still names it"),
        ("If-None-Match" = Option<String>, Header, description = "ETags the caller holds: `304` when one is the file's"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = String,
         headers(("Content-Disposition" = String), ("X-Content-Type-Options" = String), ("Content-Security-Policy" = String),
                 ("Repr-Digest" = String), ("ETag" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "The bytes of the range asked for", content_type = "application/octet-stream", body = String,
         headers(("Content-Range" = String), ("Content-Disposition" = String), ("Repr-Digest" = String), ("ETag" = String))),
        (status = 304, description = "`If-None-Match` names the file's ETag: the caller holds these bytes", headers(("ETag" = String))),
        (status = 416, description = "The range is not valid or not within the file", body = sitrep_types::Problem,
         content_type = "application/problem+json", headers(("Content-Range" = String, description = "bytes */size"))),
        AuthFailures, NotFound, ServerFailures
    )
)]
pub async fn download_attachment(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, aid) = path.into_inner();
    let store = state.attachments.clone().ok_or_else(unavailable)?;
    let (row, upload, blob) = find_shown(&state, &meta, &caller, id, aid).await?;
    let size = u64::try_from(blob.size).map_err(|e| ApiError::Internal(e.into()))?;
    let etag = format!("\"{}\"", upload.sha256);
    if none_match(&req, &etag) {
        // The caller holds these bytes already (If-None-Match comes before Range, RFC
        // 9110 §13.2.2): still a read of the file, logged as one.
        let mut r = record(&meta, &caller, &row, &upload, row.revision, 304);
        r.reason = r.reason.map(|reason| format!("{reason} not_modified"));
        access_log::commit(&state, &meta, r).await?;
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    let range = req.headers().get(header::RANGE).map(|v| v.to_str().unwrap_or("not text"));
    let range = match req.headers().get(header::IF_RANGE) {
        Some(v) if v.as_bytes() != etag.as_bytes() => None,
        _ => range,
    };
    let span = match byte_range(range, size) {
        ByteRange::Whole => None,
        ByteRange::Part { start, end } => Some(start..end),
        ByteRange::Unsatisfiable => {
            let r = record(&meta, &caller, &row, &upload, row.revision, 416);
            let reason = format!("range_not_satisfiable size:{size} {}", r.reason.as_deref().unwrap_or_default());
            access_log::commit(&state, &meta, r.refused(Outcome::Failed, &reason, 416)).await?;
            return Err(ApiError::RangeNotSatisfiable { size });
        }
    };
    let Some(span) = span else {
        let body = store.read(&blob).await?;
        access_log::commit(&state, &meta, record(&meta, &caller, &row, &upload, row.revision, 200)).await?;
        return Ok(file_headers(HttpResponse::Ok(), &upload, &etag).body(SizedStream::new(size, body)));
    };
    let body = store.read_range(&blob, span.clone()).await?;
    let mut r = record(&meta, &caller, &row, &upload, row.revision, 206);
    let shown = format!("bytes {}-{}/{size}", span.start, span.end - 1);
    r.reason = r.reason.map(|reason| format!("{reason} range:{}-{}", span.start, span.end - 1));
    access_log::commit(&state, &meta, r).await?;
    Ok(file_headers(HttpResponse::PartialContent(), &upload, &etag)
        .insert_header((header::CONTENT_RANGE, shown))
        .body(SizedStream::new(span.end - span.start, body)))
}

/// The headers of a file's download, whole or in part.
fn file_headers(mut res: HttpResponseBuilder, upload: &Upload, etag: &str) -> HttpResponseBuilder {
    res.content_type(upload.media_type.as_str())
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(&upload.file_name)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, SANDBOX))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header(("Repr-Digest", repr_digest(&upload.sha256)));
    res
}

const SANDBOX: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

/// The attachment `aid` of picture `id` with its stored file, if a revision the caller
/// may read shows it the attachment; otherwise `404`, logged with the attachment id.
async fn find_shown(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Principal,
    id: Uuid,
    aid: Uuid,
) -> Result<(PictureRow, Upload, store_db::Blob), ApiError> {
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let found = match pictures::find(&client, &v, id, false).await? {
        Some(row) => match store_db::find(&client, id, aid).await? {
            Some(upload) if shown(&client, caller, &row, aid).await? => Some((row, upload)),
            _ => None,
        },
        None => None,
    };
    let Some((row, upload)) = found else {
        let r = access_log::by(meta, caller).object("attachment", aid).refused(
            Outcome::Denied,
            &format!("attachment_not_found picture:{id}"),
            404,
        );
        access_log::commit(state, meta, r).await?;
        return Err(ATTACHMENT_NOT_FOUND);
    };
    let blob = store_db::blob(&client, upload.blob_id).await?.ok_or(ATTACHMENT_NOT_FOUND)?;
    Ok((row, upload, blob))
}

/// An image attachment's thumbnail: a PNG at most 320 pixels on its longer side, made
/// when the image was uploaded, from the stripped pixels. Shown to exactly those the
/// download is (`404` otherwise), logged as a download is; `404` for a file that is not
/// an image.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/attachments/{aid}/thumbnail", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("aid" = Uuid, Path)),
    responses(
        (status = 200, description = "The thumbnail", content_type = "image/png", body = String,
         headers(("X-Content-Type-Options" = String), ("Content-Security-Policy" = String))),
        AuthFailures, NotFound, ServerFailures
    )
)]
pub async fn thumbnail_attachment(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, aid) = path.into_inner();
    let store = state.attachments.clone().ok_or_else(unavailable)?;
    let (row, upload, blob) = find_shown(&state, &meta, &caller, id, aid).await?;
    let Some((size, body)) = store.read_thumbnail(&blob).await? else {
        let r = record(&meta, &caller, &row, &upload, row.revision, 404);
        let reason = format!("thumbnail_not_found {}", r.reason.as_deref().unwrap_or_default());
        access_log::commit(&state, &meta, r.refused(Outcome::Denied, &reason, 404)).await?;
        return Err(ApiError::NotFound { code: "thumbnail_not_found" });
    };
    access_log::commit(&state, &meta, record(&meta, &caller, &row, &upload, row.revision, 200)).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, SANDBOX))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(SizedStream::new(size, body)))
}
