//! Evidence attachments: the stored files (`attachment_blobs`, one per distinct content)
//! and the uploads (`attachments`, one per file a picture received). Callers reach an
//! attachment only through a picture they have already found with the caller's
//! visibility predicate; which revisions carry it, and with what TLP, is in each
//! revision's content.

use uuid::Uuid;

use crate::{DbError, GenericClient};

/// A stored file: where its ciphertext is and its sealed data key.
#[derive(Debug, Clone)]
pub struct Blob {
    pub id: Uuid,
    pub size: i64,
    pub wrapped_key: Vec<u8>,
    pub store: String,
    /// The plaintext size of an image's thumbnail, kept beside it; `None` for a file
    /// that has none.
    pub thumbnail_size: Option<i64>,
}

/// What an upload fixed about a file: nothing of it changes afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub blob_id: Uuid,
    pub file_name: String,
    pub media_type: String,
    pub size: i64,
    /// Lower-case hex.
    pub sha256: String,
    /// For an image stripped at upload: the SHA-256 of the file as sent, lower-case hex.
    pub original_sha256: Option<String>,
}

/// A stored file about to be recorded.
#[derive(Debug, Clone, Copy)]
pub struct NewBlob<'a> {
    pub id: Uuid,
    pub sha256: &'a [u8],
    pub size: i64,
    pub sniffed: &'a str,
    pub wrapped_key: &'a [u8],
    pub store: &'a str,
    pub thumbnail_size: Option<i64>,
}

/// A new blob, unless one with the same content exists: returns the blob that holds the
/// content and whether it is the new one. Two uploads of the same bytes at once: the
/// second waits for the first to commit and then uses its blob.
pub async fn claim_blob(c: &impl GenericClient, b: NewBlob<'_>) -> Result<(Uuid, bool), DbError> {
    let inserted = c
        .query_opt(
            "INSERT INTO attachment_blobs (id, sha256, size, sniffed, wrapped_key, store, thumbnail_size) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING RETURNING id",
            &[&b.id, &b.sha256, &b.size, &b.sniffed, &b.wrapped_key, &b.store, &b.thumbnail_size],
        )
        .await?;
    if inserted.is_some() {
        return Ok((b.id, true));
    }
    let row = c.query_one("SELECT id FROM attachment_blobs WHERE sha256 = $1", &[&b.sha256]).await?;
    Ok((row.try_get(0)?, false))
}

/// The id of the blob that holds content of this SHA-256, if one is recorded.
pub async fn blob_of_content(c: &impl GenericClient, sha256: &[u8]) -> Result<Option<Uuid>, DbError> {
    let row = c.query_opt("SELECT id FROM attachment_blobs WHERE sha256 = $1", &[&sha256]).await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

pub async fn blob(c: &impl GenericClient, id: Uuid) -> Result<Option<Blob>, DbError> {
    let row = c
        .query_opt("SELECT id, size, wrapped_key, store, thumbnail_size FROM attachment_blobs WHERE id = $1", &[&id])
        .await?;
    row.map(|r| {
        Ok(Blob {
            id: r.try_get(0)?,
            size: r.try_get(1)?,
            wrapped_key: r.try_get(2)?,
            store: r.try_get(3)?,
            thumbnail_size: r.try_get(4)?,
        })
    })
    .transpose()
}

/// Records an upload of `picture`.
pub async fn insert(c: &impl GenericClient, u: &Upload, created_by: Uuid) -> Result<(), DbError> {
    let original =
        u.original_sha256.as_deref().map(hex::decode).transpose().map_err(|_| DbError::Corrupt("original_sha256"))?;
    c.execute(
        "INSERT INTO attachments (id, picture_id, blob_id, file_name, media_type, created_by, original_sha256) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&u.id, &u.picture_id, &u.blob_id, &u.file_name, &u.media_type, &created_by, &original],
    )
    .await?;
    Ok(())
}

const UPLOAD: &str = "SELECT a.id, a.picture_id, a.blob_id, a.file_name, a.media_type, b.size, b.sha256, a.original_sha256 \
     FROM attachments a JOIN attachment_blobs b ON b.id = a.blob_id";

fn upload(r: &tokio_postgres::Row) -> Result<Upload, DbError> {
    Ok(Upload {
        id: r.try_get(0)?,
        picture_id: r.try_get(1)?,
        blob_id: r.try_get(2)?,
        file_name: r.try_get(3)?,
        media_type: r.try_get(4)?,
        size: r.try_get(5)?,
        sha256: hex::encode(r.try_get::<_, Vec<u8>>(6)?),
        original_sha256: r.try_get::<_, Option<Vec<u8>>>(7)?.map(hex::encode),
    })
}

/// Every upload a picture has received.
pub async fn of_picture(c: &impl GenericClient, picture: Uuid) -> Result<Vec<Upload>, DbError> {
    let rows = c.query(&format!("{UPLOAD} WHERE a.picture_id = $1 ORDER BY a.created_at, a.id"), &[&picture]).await?;
    rows.iter().map(upload).collect()
}

/// One upload of `picture` (the caller has found the picture for its caller).
pub async fn find(c: &impl GenericClient, picture: Uuid, id: Uuid) -> Result<Option<Upload>, DbError> {
    let row = c.query_opt(&format!("{UPLOAD} WHERE a.picture_id = $1 AND a.id = $2"), &[&picture, &id]).await?;
    row.as_ref().map(upload).transpose()
}

/// The bytes a picture's uploads take, counted once per upload.
pub async fn used_bytes(c: &impl GenericClient, picture: Uuid) -> Result<i64, DbError> {
    let row = c
        .query_one(
            "SELECT coalesce(sum(b.size), 0)::bigint FROM attachments a JOIN attachment_blobs b ON b.id = a.blob_id \
             WHERE a.picture_id = $1",
            &[&picture],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The size of the file that `user`'s earlier upload under `key` added to `picture`, if
/// there was one: a retry of it is answered with the first result, so the room it took
/// is not held against it.
pub async fn size_under_key(c: &impl GenericClient, user: Uuid, key: &str, picture: Uuid) -> Result<i64, DbError> {
    let row = c
        .query_one(
            "SELECT coalesce((SELECT b.size FROM idempotency_keys k JOIN attachments a ON a.id = k.attachment_id \
               JOIN attachment_blobs b ON b.id = a.blob_id \
             WHERE k.user_id = $1 AND k.key = $2 AND k.picture_id = $3 AND a.picture_id = $3), 0)::bigint",
            &[&user, &key, &picture],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The upload an idempotency key already made for this user, and the hash of the request
/// that made it; takes the key for `attachment` otherwise (blocking a concurrent holder
/// until it commits). A key used for something else answers with no attachment.
pub async fn claim_idempotency_key(
    c: &impl GenericClient,
    user: Uuid,
    key: &str,
    request_hash: &[u8],
    picture: Uuid,
    attachment: Uuid,
) -> Result<Option<(Option<Uuid>, Vec<u8>)>, DbError> {
    let inserted = c
        .execute(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, picture_id, attachment_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&user, &key, &request_hash, &picture, &attachment],
        )
        .await?;
    if inserted == 1 {
        return Ok(None);
    }
    let row = c
        .query_one(
            "SELECT attachment_id, request_hash FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            &[&user, &key],
        )
        .await?;
    Ok(Some((row.try_get(0)?, row.try_get(1)?)))
}
