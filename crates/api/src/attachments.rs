//! Where attachments' bytes live: the configuration (`[attachments]`) and the local
//! store, a folder of encrypted files named by blob id. An upload streams into a temporary
//! file in the same folder (hashed, recognised and encrypted piece by piece, never held
//! whole) and is moved into place only once it is complete and accepted; a download
//! decrypts segment by segment as it is sent. A file that leaves the folder is
//! ciphertext: its data key is in the database, sealed under the key-encryption key.
//! An image is read back once it is complete, stripped of its metadata (`images`) and
//! encrypted again: what is kept, and downloaded, is the stripped file, with a small PNG
//! thumbnail made from the same decoding and encrypted beside it (`<blob id>.thumb`).
//! With `store = "s3"` the kept files go to an S3-compatible bucket instead (`bucket`):
//! uploaded from the temporary file once it is accepted, read back by byte ranges. Each
//! blob's row says where it is, so files kept before a switch stay readable.

use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use image::ImageFormat;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sitrep_auth::SealKey;
use sitrep_auth::envelope::{DataKey, HEADER, Opener, SEGMENT, Sealer};
use sitrep_domain::attachment::{DEFAULT_MEDIA_TYPES, Sniffer};
use uuid::Uuid;

use crate::bucket::{Bucket, S3Settings, WINDOW_SEGMENTS};
use crate::error::ApiError;
use crate::images::{self, ImageRefused};

const MIB: u64 = 1024 * 1024;

/// The configuration section `attachments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentPolicy {
    /// Where new encrypted files are kept: `local` (a folder) or `s3` (a bucket).
    pub store: StoreKind,
    /// The bucket of the `s3` store.
    pub s3: S3Settings,
    /// The folder of the local store; default `data_dir/attachments`.
    pub dir: Option<PathBuf>,
    /// The key-encryption key (base64 of 32 bytes), created at first start; default
    /// `data_dir/secrets/attachments.key`. Without it no attachment can be read: back it up.
    pub key_file: Option<PathBuf>,
    /// The largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// The most a picture's uploads may take together, in bytes.
    pub max_picture_bytes: u64,
    /// The media types accepted (declared and recognised alike).
    pub media_types: Vec<String>,
    /// How long stripping one image may take, in milliseconds, before the upload is
    /// refused (`image_too_slow`).
    pub image_time_limit_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    Local,
    S3,
}

impl StoreKind {
    /// As the database records it (`attachment_blobs.store`).
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Local => "local",
            StoreKind::S3 => "s3",
        }
    }
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        AttachmentPolicy {
            store: StoreKind::Local,
            s3: S3Settings::default(),
            dir: None,
            key_file: None,
            max_file_bytes: 100 * MIB,
            max_picture_bytes: 1024 * MIB,
            media_types: DEFAULT_MEDIA_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            image_time_limit_ms: u64::try_from(images::MAX_DECODE_TIME.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl AttachmentPolicy {
    pub fn check(&self) -> Result<(), String> {
        if self.image_time_limit_ms == 0 {
            return Err("attachments.image_time_limit_ms must be positive".into());
        }
        if self.max_file_bytes == 0 || self.max_picture_bytes < self.max_file_bytes {
            return Err("attachments.max_file_bytes must be positive and at most max_picture_bytes".into());
        }
        if self.store == StoreKind::S3 || self.s3.configured() {
            self.s3.check()?;
        }
        for t in &self.media_types {
            if sitrep_domain::attachment::media_type_essence(t).as_deref() != Some(t.as_str()) {
                return Err(format!("attachments.media_types: {t:?} is not a lower-case type/subtype"));
            }
        }
        Ok(())
    }
}

/// The attachment store of this process.
pub struct Store {
    objects: PathBuf,
    tmp: PathBuf,
    kek: SealKey,
    /// Images being read back and stripped at once: each may hold its file and the
    /// memory of decoding it, so only a few run together.
    image_work: Arc<tokio::sync::Semaphore>,
    /// The bucket, when one is configured: where new files go with `store = "s3"`, and
    /// where files recorded as `s3` are read from whatever the setting now.
    bucket: Option<Bucket>,
    pub policy: AttachmentPolicy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("objects", &self.objects).field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

/// The most images stripped at once.
const IMAGE_WORKERS: usize = 2;

/// Temporary files older than this are left over from a crash and removed at start
/// (younger ones may be another process's upload in progress).
const STALE_SECS: u64 = 24 * 3600;

impl Store {
    /// Opens (creating) the folder `dir` with its `objects` and `tmp` subfolders, private
    /// to the server's user, and removes stale temporary files.
    pub fn open(dir: &Path, kek: SealKey, policy: AttachmentPolicy) -> anyhow::Result<Arc<Store>> {
        policy.check().map_err(anyhow::Error::msg)?;
        let objects = dir.join("objects");
        let tmp = dir.join("tmp");
        for d in [dir, &objects, &tmp] {
            sitrep_auth::keyfile::private_dir(d)?;
        }
        for entry in std::fs::read_dir(&tmp)?.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > STALE_SECS);
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(IMAGE_WORKERS);
        let image_work = Arc::new(tokio::sync::Semaphore::new(workers));
        let bucket = policy.s3.configured().then(|| Bucket::open(&policy.s3)).transpose()?;
        Ok(Arc::new(Store { objects, tmp, kek, image_work, bucket, policy }))
    }

    /// Where new files are kept, as the database records it.
    pub fn kind(&self) -> &'static str {
        self.policy.store.as_str()
    }

    /// The bucket, for a blob recorded as kept there.
    fn bucket(&self) -> Result<&Bucket, ApiError> {
        self.bucket.as_ref().ok_or_else(|| {
            tracing::error!("a file is recorded in the S3 store, but attachments.s3 is not configured");
            ApiError::Internal(anyhow::anyhow!("attachments.s3 is not configured"))
        })
    }

    fn thumbnail_name(blob: Uuid) -> String {
        format!("{}.thumb", blob.simple())
    }

    fn object(&self, blob: Uuid) -> PathBuf {
        self.objects.join(blob.simple().to_string())
    }

    fn thumbnail_object(&self, blob: Uuid) -> PathBuf {
        self.objects.join(format!("{}.thumb", blob.simple()))
    }

    /// Streams an upload into a temporary encrypted file: at most `limit` bytes (`413`
    /// beyond, as soon as it is known), the content recognised as `declared` (`422`
    /// naming both types), a body cut short `400`. On any failure the temporary file is
    /// removed: nothing of it remains.
    pub async fn receive<S, E>(
        &self,
        mut body: S,
        declared: &str,
        limit: u64,
        content_length: Option<u64>,
    ) -> Result<Received, ReceiveError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let too_large =
            || ReceiveError::Api(ApiError::PayloadTooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) });
        if content_length.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let blob_id = Uuid::new_v4();
        let key = DataKey::generate();
        let wrapped_key = key.wrap(&self.kek, blob_id.as_bytes()).map_err(ApiError::Internal)?;
        let path = self.tmp.join(format!("{}.part", blob_id.simple()));
        let file = sitrep_auth::keyfile::open_private(&path).map_err(|e| ApiError::Internal(e.into()))?;
        let mut received = Received {
            path,
            blob_id,
            wrapped_key,
            sha256: [0; 32],
            size: 0,
            sniffed: String::new(),
            original_sha256: None,
            thumbnail: None,
            kept: false,
        };
        let mut writer = Writer::new(file, Sealer::new(&key).map_err(ApiError::Internal)?);
        let mut sniffer = Sniffer::default();
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::info!(error = %e, "upload body ended early");
                ReceiveError::Api(ApiError::BadRequest {
                    code: "upload_truncated",
                    detail: "The upload ended before its end; nothing was stored.".into(),
                })
            })?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(too_large());
            }
            sniffer.push(&chunk);
            if let Some(m) = sniffer.early_mismatch(declared) {
                return Err(ReceiveError::Mismatch(m, None));
            }
            writer.write(chunk).await?;
        }
        if content_length.is_some_and(|n| n != size) {
            return Err(ReceiveError::Api(ApiError::BadRequest {
                code: "upload_truncated",
                detail: "The upload is shorter than its Content-Length; nothing was stored.".into(),
            }));
        }
        let sha256 = writer.finish().await?;
        let sniffed = sniffer.verdict(declared).map_err(|m| ReceiveError::Mismatch(m, Some(sha256)))?;
        received.sha256 = sha256;
        received.size = size;
        if let Some(format) = images::format_of(&sniffed) {
            received = self.strip(received, key, format).await?;
        }
        received.sniffed = sniffed;
        Ok(received)
    }

    /// Replaces a received image by its stripped form: the encrypted upload is read back
    /// and decrypted in memory (it is within the size limit), decoded under the image
    /// limits and encoded again from its pixels (on the blocking pool, a few at a time,
    /// within `attachments.image_time_limit_ms`), and the result is encrypted under the same data
    /// key into the temporary file's place, its thumbnail beside it. The original's hash
    /// is kept; its bytes are not.
    async fn strip(&self, received: Received, key: DataKey, format: ImageFormat) -> Result<Received, ReceiveError> {
        let refused = |why: ImageRefused, sha: [u8; 32]| ReceiveError::Image(why, sha);
        let original = received.sha256;
        let permit = self.image_work.clone().acquire_owned().await.map_err(|e| ApiError::Internal(e.into()))?;
        let key = Arc::new(key);
        let (path, size, k) = (received.path.clone(), received.size, key.clone());
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let plain = open_file(&path, &k, size)?;
            Ok::<_, std::io::Error>(images::prepare(&plain, format))
        });
        let limit = std::time::Duration::from_millis(self.policy.image_time_limit_ms);
        let stripped = match tokio::time::timeout(limit, work).await {
            // The work goes on to its end on the blocking pool, holding its permit, and is
            // then dropped: it touches no file after reading the upload.
            Err(_) => return Err(refused(ImageRefused::TooSlow, original)),
            Ok(joined) => {
                joined.map_err(|e| ApiError::Internal(e.into()))?.map_err(|e| ApiError::Internal(e.into()))?
            }
        };
        let images::Prepared { stripped, thumbnail } = stripped.map_err(|why| refused(why, original))?;
        let to = self.tmp.join(format!("{}.stripped.part", received.blob_id.simple()));
        // The upload moves into the writing: if this request is dropped meanwhile (the
        // client gone), the writing still ends by dropping it, which removes its files.
        blocking(move || {
            let mut received = received;
            let (from, thumb) = (received.path.clone(), received.thumbnail_path());
            // From here the thumbnail's temporary file is the upload's: removed with it.
            received.thumbnail = Some(thumbnail.len() as u64);
            let written = seal_file(&to, &key, &stripped)
                .and_then(|()| std::fs::rename(&to, &from))
                .and_then(|()| seal_file(&thumb, &key, &thumbnail));
            if written.is_err() {
                let _ = std::fs::remove_file(&to);
            }
            written?;
            received.original_sha256 = Some(original);
            received.sha256 = Sha256::digest(&stripped).into();
            received.size = stripped.len() as u64;
            Ok(received)
        })
        .await
        .map_err(ReceiveError::Api)
    }

    /// Keeps a complete, accepted upload as its blob (and its thumbnail): moved into the
    /// folder, or uploaded to the bucket from its temporary file (which is then removed
    /// with the upload). On failure nothing of it is left in the store.
    pub async fn keep(&self, received: &mut Received) -> Result<(), ApiError> {
        if self.policy.store == StoreKind::S3 {
            let bucket = self.bucket()?;
            let file = bucket.key(&received.blob_id.simple().to_string());
            let len = sitrep_auth::envelope::ciphertext_len(received.size);
            bucket.upload_file(&received.path, len, &file).await?;
            if let Some(size) = received.thumbnail {
                let thumb = bucket.key(&Self::thumbnail_name(received.blob_id));
                let len = sitrep_auth::envelope::ciphertext_len(size);
                if let Err(e) = bucket.upload_file(&received.thumbnail_path(), len, &thumb).await {
                    if let Err(e) = bucket.delete(&file).await {
                        tracing::warn!(error = %e, "an object of a failed upload could not be removed");
                    }
                    return Err(e.into());
                }
            }
            return Ok(());
        }
        let from = received.path.clone();
        let to = self.object(received.blob_id);
        let thumbnail =
            received.thumbnail.map(|_| (received.thumbnail_path(), self.thumbnail_object(received.blob_id)));
        let dir = self.objects.clone();
        blocking(move || {
            if let Some((from, to)) = thumbnail {
                std::fs::rename(from, to)?;
            }
            std::fs::rename(&from, &to)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await?;
        received.kept = true;
        Ok(())
    }

    /// Whether the blob's file is where its row says.
    pub async fn has(&self, blob: &sitrep_db::attachments::Blob) -> Result<bool, ApiError> {
        if blob.store == StoreKind::S3.as_str() {
            let bucket = self.bucket()?;
            return Ok(bucket.has(&bucket.key(&blob.id.simple().to_string())).await?);
        }
        let path = self.object(blob.id);
        blocking(move || path.try_exists()).await
    }

    /// Removes a blob's file kept (by `keep`, in this store's current kind) for an upload
    /// that was then not recorded (nothing refers to it). From the bucket it is removed
    /// in the background: this runs when a request is dropped.
    pub fn discard(self: &Arc<Self>, blob: Uuid) {
        if self.policy.store == StoreKind::S3 {
            let Some(bucket) = self.bucket.clone() else { return };
            let keys = [bucket.key(&blob.simple().to_string()), bucket.key(&Self::thumbnail_name(blob))];
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                tracing::warn!(%blob, "an unrecorded attachment object is left in the bucket (no runtime to remove it)");
                return;
            };
            runtime.spawn(async move {
                for key in keys {
                    if let Err(e) = bucket.delete(&key).await {
                        tracing::warn!(error = %e, %blob, "an unrecorded attachment object could not be removed");
                    }
                }
            });
            return;
        }
        if let Err(e) = std::fs::remove_file(self.object(blob)) {
            tracing::warn!(error = %e, %blob, "an uncommitted attachment file could not be removed");
        }
        match std::fs::remove_file(self.thumbnail_object(blob)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(error = %e, %blob, "an uncommitted thumbnail could not be removed");
            }
            _ => {}
        }
    }

    /// The plaintext of `blob`, decrypted segment by segment as it is read.
    pub async fn read(
        &self,
        blob: &sitrep_db::attachments::Blob,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>, ApiError> {
        let size = u64::try_from(blob.size).map_err(|e| ApiError::Internal(e.into()))?;
        self.read_object(blob, false, size, 0..size).await
    }

    /// Bytes `span` of `blob`'s plaintext (within its size): only the segments that hold
    /// them are read and decrypted.
    pub async fn read_range(
        &self,
        blob: &sitrep_db::attachments::Blob,
        span: Range<u64>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>, ApiError> {
        let size = u64::try_from(blob.size).map_err(|e| ApiError::Internal(e.into()))?;
        if span.start >= span.end || span.end > size {
            return Err(ApiError::Internal(anyhow::anyhow!("range {span:?} of a file of {size} bytes")));
        }
        self.read_object(blob, false, size, span).await
    }

    /// The thumbnail of an image's `blob` (`None` for a blob that has none), decrypted.
    pub async fn read_thumbnail(
        &self,
        blob: &sitrep_db::attachments::Blob,
    ) -> Result<Option<(u64, futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>)>, ApiError> {
        let Some(size) = blob.thumbnail_size else { return Ok(None) };
        let size = u64::try_from(size).map_err(|e| ApiError::Internal(e.into()))?;
        Ok(Some((size, self.read_object(blob, true, size, 0..size).await?)))
    }

    /// Bytes `span` of the plaintext of `blob`'s encrypted file (or its thumbnail) of
    /// `size` bytes, from the folder or the bucket as its row says: from the segment
    /// holding `span.start` to the one holding its last byte (for a whole file, every
    /// segment, so that a cut file is found).
    async fn read_object(
        &self,
        blob: &sitrep_db::attachments::Blob,
        thumbnail: bool,
        size: u64,
        span: Range<u64>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>, ApiError> {
        let key = DataKey::unwrap(&self.kek, &blob.wrapped_key, blob.id.as_bytes()).map_err(ApiError::Internal)?;
        let segment = SEGMENT as u64;
        let first = span.start / segment;
        let last = if span.is_empty() { first } else { (span.end - 1) / segment };
        if blob.store == StoreKind::S3.as_str() {
            let bucket = self.bucket()?.clone();
            let name = if thumbnail { Self::thumbnail_name(blob.id) } else { blob.id.simple().to_string() };
            return Ok(read_remote(bucket, name, key, size, span, first, last).await?.boxed());
        }
        let path = if thumbnail { self.thumbnail_object(blob.id) } else { self.object(blob.id) };
        let (file, header) = blocking(move || {
            let mut f = std::fs::File::open(&path)?;
            let mut header = [0u8; HEADER];
            f.read_exact(&mut header)?;
            if first > 0 {
                f.seek(SeekFrom::Start(Opener::segment_offset(first)))?;
            }
            Ok((f, header))
        })
        .await?;
        let opener = Opener::at(&key, &header, size, first).map_err(ApiError::Internal)?;
        let state = (Some(file), opener, first);
        Ok(futures_util::stream::try_unfold(state, move |(file, mut opener, n)| {
            let span = span.clone();
            async move {
                let Some(mut file) = file else { return Ok(None) };
                if n > last || opener.done() {
                    return Ok(None);
                }
                let len = Opener::next_len(size, n * segment);
                let (file, sealed) = tokio::task::spawn_blocking(move || {
                    let mut sealed = vec![0u8; len];
                    file.read_exact(&mut sealed).map(|()| (file, sealed))
                })
                .await
                .map_err(std::io::Error::other)??;
                let plain = opener.open(&sealed).map_err(|e| {
                    tracing::error!(error = %e, "an attachment failed to decrypt");
                    std::io::Error::other("attachment damaged")
                })?;
                let piece = within_segment(n, plain.len(), &span);
                let bytes = Bytes::from(plain).slice(piece);
                Ok(Some((bytes, (Some(file), opener, n + 1))))
            }
        })
        .boxed())
    }
}

/// Segments `first..=last` of the object `name` in `bucket` (a file of `size` plaintext
/// bytes), decrypted, cut to `span`. The header and the first window of segments are
/// fetched before this returns (so a missing object or a store that does not answer is an
/// error answer, not a broken download); each further window when the client has taken
/// the one before.
async fn read_remote(
    bucket: Bucket,
    name: String,
    key: DataKey,
    size: u64,
    span: Range<u64>,
    first: u64,
    last: u64,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + use<>, ApiError> {
    let object = bucket.key(&name);
    let end_of = move |n: u64| Opener::segment_offset(n) + Opener::next_len(size, n * SEGMENT as u64) as u64;
    let window = move |from: u64| Opener::segment_offset(from)..end_of((from + WINDOW_SEGMENTS - 1).min(last));
    let mut got = bucket.ranges(&object, &[0..HEADER as u64, window(first)]).await?.into_iter();
    let (header, sealed) = (got.next().unwrap_or_default(), got.next().unwrap_or_default());
    let opener = Opener::at(&key, &header, size, first).map_err(ApiError::Internal)?;
    let state = (sealed, opener, first);
    Ok(futures_util::stream::try_unfold(state, move |(mut sealed, mut opener, n)| {
        let (span, bucket, object) = (span.clone(), bucket.clone(), object.clone());
        async move {
            if n > last || opener.done() {
                return Ok(None);
            }
            if sealed.is_empty() {
                let fetched = bucket.ranges(&object, &[window(n)]).await.map_err(|e| {
                    tracing::error!(error = %e, "an attachment's object could not be read further");
                    std::io::Error::other("attachment store failed")
                })?;
                sealed = fetched.into_iter().next().unwrap_or_default();
            }
            let len = Opener::next_len(size, n * SEGMENT as u64);
            if sealed.len() < len {
                return Err(std::io::Error::other("attachment damaged"));
            }
            let this = sealed.split_to(len);
            let plain = opener.open(&this).map_err(|e| {
                tracing::error!(error = %e, "an attachment failed to decrypt");
                std::io::Error::other("attachment damaged")
            })?;
            let piece = within_segment(n, plain.len(), &span);
            Ok(Some((Bytes::from(plain).slice(piece), (sealed, opener, n + 1))))
        }
    }))
}

/// The part of segment `n` (of `len` plaintext bytes) that lies in `span`.
fn within_segment(n: u64, len: usize, span: &Range<u64>) -> Range<usize> {
    let begins = n * SEGMENT as u64;
    let from = span.start.saturating_sub(begins).min(len as u64);
    let to = span.end.saturating_sub(begins).min(len as u64);
    // Both at most `len`, a usize.
    usize::try_from(from).unwrap_or(len)..usize::try_from(to).unwrap_or(len)
}

/// The plaintext of the encrypted file at `path`, of `size` bytes, whole.
fn open_file(path: &Path, key: &DataKey, size: u64) -> std::io::Result<Vec<u8>> {
    let damaged = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
    let mut file = std::fs::File::open(path)?;
    let mut header = [0u8; HEADER];
    file.read_exact(&mut header)?;
    let mut opener = Opener::new(key, &header, size).map_err(damaged)?;
    let mut plain = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut segment = Vec::new();
    while !opener.done() {
        segment.resize(Opener::next_len(size, plain.len() as u64), 0);
        file.read_exact(&mut segment)?;
        plain.extend(opener.open(&segment).map_err(damaged)?);
    }
    Ok(plain)
}

/// Writes `plain` encrypted under `key` to a new private file at `path`, synced.
fn seal_file(path: &Path, key: &DataKey, plain: &[u8]) -> std::io::Result<()> {
    let failed = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
    let mut file = sitrep_auth::keyfile::open_private(path)?;
    let mut sealer = Sealer::new(key).map_err(failed)?;
    file.write_all(&sealer.push(plain).map_err(failed)?)?;
    file.write_all(&sealer.finish().map_err(failed)?)?;
    file.sync_all()
}

/// Why an upload was not received.
#[derive(Debug)]
pub enum ReceiveError {
    Api(ApiError),
    /// The content is not the declared type (with its hash when it was read to the end).
    Mismatch(sitrep_domain::attachment::Mismatch, Option<[u8; 32]>),
    /// An image that is not accepted (with the hash of what was sent).
    Image(ImageRefused, [u8; 32]),
}

impl From<ApiError> for ReceiveError {
    fn from(e: ApiError) -> Self {
        ReceiveError::Api(e)
    }
}

/// A complete upload in its temporary file, removed when dropped unless kept.
#[derive(Debug)]
pub struct Received {
    path: PathBuf,
    pub blob_id: Uuid,
    pub wrapped_key: Vec<u8>,
    /// The stored content's hash and size (an image's after stripping).
    pub sha256: [u8; 32],
    pub size: u64,
    pub sniffed: String,
    /// An image's hash as it was sent, before stripping.
    pub original_sha256: Option<[u8; 32]>,
    /// The size of an image's thumbnail, in its own temporary file.
    pub thumbnail: Option<u64>,
    kept: bool,
}

impl Received {
    fn thumbnail_path(&self) -> PathBuf {
        self.path.with_extension("thumb.part")
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
            if self.thumbnail.is_some() {
                let _ = std::fs::remove_file(self.thumbnail_path());
            }
        }
    }
}

/// Runs file I/O on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Plaintext is gathered to this size before it is encrypted and written, as one task on
/// the blocking pool.
const WRITE_BATCH: usize = 1024 * 1024;
/// Written bytes are flushed to the disk in the background every this many, so that the
/// final flush (before the upload is recorded) has at most this much left to do.
const FLUSH_EVERY: u64 = 32 * 1024 * 1024;

/// The encrypted temporary file of an upload, and the SHA-256 of its plaintext. The
/// received pieces are gathered into batches; each batch is hashed, and encrypted
/// (straight from the pieces into the buffer that is written: the bytes are copied once)
/// and written, as two tasks on the blocking pool while the next one is received (one
/// batch in flight at a time, so memory stays at a few batches), and the written bytes are
/// flushed to the disk behind the writes. Hashing on the receiving thread made it the
/// slowest of the three (a profile of the benchmark's upload: SHA-256 31% of the server's
/// time, TLS 13%, the cipher 20%; docs/benchmarks.md). Done in line, a large upload
/// waited for its encryption, its writes and finally for the flush of the whole file (about
/// 0.6 s for 256 MiB on the benchmark machine: `dd … conv=fsync`, docs/benchmarks.md).
struct Writer {
    /// The file and the encryption, here between batches, away while one is in flight.
    idle: Option<(std::fs::File, Sealer)>,
    in_flight: Option<tokio::task::JoinHandle<std::io::Result<(std::fs::File, Sealer, u64)>>>,
    batch: Vec<Bytes>,
    batched: usize,
    /// The hash of what was sent, here between batches, away while one is hashed.
    sha: Option<Sha256>,
    hashing: Option<tokio::task::JoinHandle<Sha256>>,
    unflushed: u64,
    flushing: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn joined<T>(r: Result<std::io::Result<T>, tokio::task::JoinError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::Internal(e.into()))?.map_err(|e| ApiError::Internal(e.into()))
}

impl Writer {
    fn new(file: std::fs::File, sealer: Sealer) -> Writer {
        Writer {
            idle: Some((file, sealer)),
            in_flight: None,
            batch: Vec::new(),
            batched: 0,
            sha: Some(Sha256::new()),
            hashing: None,
            unflushed: 0,
            flushing: None,
        }
    }

    /// Takes the next piece of plaintext.
    async fn write(&mut self, data: Bytes) -> Result<(), ApiError> {
        self.batched += data.len();
        self.batch.push(data);
        if self.batched >= WRITE_BATCH {
            self.send().await?;
        }
        Ok(())
    }

    /// The file and the encryption back from the batch in flight, if any; starts a
    /// background flush when enough has been written since the last one.
    async fn settle(&mut self) -> Result<(std::fs::File, Sealer), ApiError> {
        if let Some(task) = self.in_flight.take() {
            let (file, sealer, written) = joined(task.await)?;
            self.unflushed += written;
            if self.unflushed >= FLUSH_EVERY && self.flushing.as_ref().is_none_or(|f| f.is_finished()) {
                if let Some(f) = self.flushing.take() {
                    joined(f.await)?;
                }
                let copy = file.try_clone().map_err(|e| ApiError::Internal(e.into()))?;
                self.flushing = Some(tokio::task::spawn_blocking(move || copy.sync_data()));
                self.unflushed = 0;
            }
            return Ok((file, sealer));
        }
        self.idle.take().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("upload file lost")))
    }

    /// The hash of every batch sent so far.
    async fn hashed(&mut self) -> Result<Sha256, ApiError> {
        if let Some(task) = self.hashing.take() {
            return task.await.map_err(|e| ApiError::Internal(e.into()));
        }
        self.sha.take().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("upload hash lost")))
    }

    /// Hashes, encrypts and writes the batch on the blocking pool, returning once the
    /// batch before it is hashed and written.
    async fn send(&mut self) -> Result<(), ApiError> {
        let mut sha = self.hashed().await?;
        let (mut file, mut sealer) = self.settle().await?;
        let pieces = std::mem::take(&mut self.batch);
        let len = std::mem::take(&mut self.batched);
        let to_hash = pieces.clone();
        self.hashing = Some(tokio::task::spawn_blocking(move || {
            for piece in &to_hash {
                sha.update(piece);
            }
            sha
        }));
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let mut sealed = Vec::with_capacity(sitrep_auth::envelope::sealed_capacity(len));
            for piece in &pieces {
                sealer.push_into(piece, &mut sealed).map_err(std::io::Error::other)?;
            }
            drop(pieces);
            file.write_all(&sealed)?;
            Ok((file, sealer, sealed.len() as u64))
        }));
        Ok(())
    }

    /// Writes the rest and the last segment, flushes the whole file to the disk, and
    /// returns the plaintext's SHA-256.
    async fn finish(mut self) -> Result<[u8; 32], ApiError> {
        if !self.batch.is_empty() {
            self.send().await?;
        }
        let sha = self.hashed().await?;
        let (file, sealer) = self.settle().await?;
        if let Some(f) = self.flushing.take() {
            joined(f.await)?;
        }
        joined(
            tokio::task::spawn_blocking(move || {
                let mut file = file;
                file.write_all(&sealer.finish().map_err(std::io::Error::other)?)?;
                file.sync_all()
            })
            .await,
        )?;
        Ok(sha.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A store in a fresh folder holding one file of `plain`, and its blob.
    fn stored(plain: &[u8]) -> (Arc<Store>, sitrep_db::attachments::Blob, PathBuf) {
        let dir = std::env::temp_dir().join(format!("sitrep-range-{}", Uuid::new_v4().simple()));
        let kek = SealKey::from_bytes(&[7u8; 32]);
        let store = Store::open(&dir, kek, AttachmentPolicy::default()).unwrap();
        let id = Uuid::new_v4();
        let key = DataKey::generate();
        let wrapped_key = key.wrap(&store.kek, id.as_bytes()).unwrap();
        seal_file(&store.object(id), &key, plain).unwrap();
        let size = i64::try_from(plain.len()).unwrap();
        (
            store,
            sitrep_db::attachments::Blob { id, size, wrapped_key, store: "local".into(), thumbnail_size: None },
            dir,
        )
    }

    async fn collect(s: impl Stream<Item = Result<Bytes, std::io::Error>>) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = std::pin::pin!(s);
        while let Some(piece) = s.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Any range of any file, across segment boundaries: the bytes read are exactly the
        /// slice asked for, and a whole read is the file.
        #[test]
        fn any_range_of_any_file_reads_exactly_that_slice(
            size in 0usize..(3 * SEGMENT + 100),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
            seed in any::<u8>(),
        ) {
            let plain: Vec<u8> = (0..size).map(|i| u8::try_from(i % 251).unwrap() ^ seed).collect();
            let (store, blob, dir) = stored(&plain);
            let rt = runtime();
            let whole = rt.block_on(async { collect(store.read(&blob).await.unwrap()).await }).unwrap();
            prop_assert_eq!(&whole, &plain);
            if size > 0 {
                let (x, y) = (a.index(size), b.index(size));
                let span = x.min(y) as u64..(x.max(y) + 1) as u64;
                let got = rt.block_on(async { collect(store.read_range(&blob, span.clone()).await.unwrap()).await }).unwrap();
                prop_assert_eq!(got.as_slice(), &plain[x.min(y)..=x.max(y)], "{:?} of {}", span, size);
            }
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn a_range_of_a_damaged_segment_does_not_decrypt_and_ranges_outside_are_refused() {
        let plain = vec![5u8; 2 * SEGMENT + 10];
        let (store, blob, dir) = stored(&plain);
        let path = store.object(blob.id);
        let mut sealed = std::fs::read(&path).unwrap();
        let at = usize::try_from(Opener::segment_offset(1)).unwrap() + 3;
        sealed[at] ^= 1;
        std::fs::write(&path, &sealed).unwrap();
        let rt = runtime();
        let first = rt.block_on(async { collect(store.read_range(&blob, 0..10).await.unwrap()).await }).unwrap();
        assert_eq!(first, vec![5u8; 10], "the first segment is intact");
        let span = SEGMENT as u64..SEGMENT as u64 + 10;
        assert!(rt.block_on(async { collect(store.read_range(&blob, span).await.unwrap()).await }).is_err());
        let size = plain.len() as u64;
        assert!(rt.block_on(store.read_range(&blob, size..size + 1)).is_err());
        assert!(rt.block_on(store.read_range(&blob, 3..3)).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
