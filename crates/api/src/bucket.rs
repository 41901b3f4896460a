//! The S3-compatible bucket that holds attachments' ciphertext when `attachments.store =
//! "s3"`: its configuration (`[attachments.s3]`), and the few operations the attachment
//! store needs — an encrypted file uploaded from its temporary file in parts, whether an
//! object is there, removing one, and byte ranges of one. Only ciphertext ever passes
//! through here; the data keys stay in the database.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::ApiError;

/// The configuration section `attachments.s3`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// The store's URL (`https://s3.example.net`); unset, Amazon S3 of `region`.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    /// Keys under this prefix (`sitrep/` keeps them apart from others in a shared bucket).
    pub prefix: Option<String>,
    pub access_key_id: String,
    /// A secret: never logged or printed; best set by the environment
    /// (`SITREP_ATTACHMENTS__S3__SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<SecretString>,
    /// Plain HTTP to a store on this machine's loopback address (tests); never elsewhere.
    pub allow_http: bool,
}

impl S3Settings {
    /// Whether a bucket is configured at all (it is read from even when new files go to
    /// the local store, so that files stored there stay readable).
    pub fn configured(&self) -> bool {
        !self.bucket.is_empty()
    }

    pub fn check(&self) -> Result<(), String> {
        if self.bucket.is_empty() {
            return Err("attachments.s3.bucket must be set".into());
        }
        if self.access_key_id.is_empty() || self.secret_access_key.as_ref().is_none_or(|s| s.expose_secret().is_empty())
        {
            return Err("attachments.s3.access_key_id and secret_access_key must be set".into());
        }
        if let Some(prefix) = &self.prefix
            && Key::parse(prefix).is_err()
        {
            return Err("attachments.s3.prefix must be a path of plain segments (a/b)".into());
        }
        if let Some(endpoint) = &self.endpoint {
            let url = url_parts(endpoint).ok_or("attachments.s3.endpoint must be an http(s) URL")?;
            if url.0 == "http" {
                if !self.allow_http {
                    return Err(
                        "attachments.s3.endpoint is plain http: use https (allow_http is for tests on loopback)".into(),
                    );
                }
                if !loopback(url.1) {
                    return Err("attachments.s3.allow_http is only for a store on a loopback address".into());
                }
            }
        }
        Ok(())
    }
}

/// The scheme and host of an `http(s)://host[:port][/…]` URL.
fn url_parts(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    Some((scheme, host))
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// One part of an upload in several parts (S3 wants at least 5 MiB but the last), and the
/// most parts of one upload in flight: an upload holds at most about three parts in memory.
const PART: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;
/// What a ranged read of a download asks for at a time, in segments (about 1 MiB): fetched
/// as the client takes them, so a slow client holds no request open.
pub const WINDOW_SEGMENTS: u64 = 16;

/// Why an operation on the bucket failed.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("the object {0} is not in the bucket")]
    Missing(String),
    #[error("the object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("reading the temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<BucketError> for ApiError {
    /// A missing object is damage (the database names it): `500`. Anything else is the
    /// store not answering as it should (unreachable, refusing the credentials): `503`,
    /// with the cause in the log only.
    fn from(e: BucketError) -> ApiError {
        match e {
            BucketError::Missing(_) => {
                tracing::error!(error = %e, "an attachment's object is missing from the bucket");
                ApiError::Internal(e.into())
            }
            BucketError::Io(_) => ApiError::Internal(e.into()),
            BucketError::Store(_) => {
                tracing::error!(error = %e, "the attachments' object store failed");
                ApiError::Unavailable { code: "attachment_store_unavailable", retry_after_secs: 30 }
            }
        }
    }
}

/// The bucket, with its key prefix.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Option<Key>,
    name: String,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("name", &self.name).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Bucket {
    /// A client of the configured bucket (nothing is sent until it is used).
    pub fn open(s: &S3Settings) -> anyhow::Result<Bucket> {
        s.check().map_err(anyhow::Error::msg)?;
        // The HTTP client is reqwest over rustls with ring, the provider the rest of the
        // service uses; reqwest takes the process's default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let secret = s.secret_access_key.as_ref().map(|k| k.expose_secret().to_owned()).unwrap_or_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&s.bucket)
            .with_region(if s.region.is_empty() { "us-east-1" } else { s.region.as_str() })
            .with_access_key_id(&s.access_key_id)
            .with_secret_access_key(secret)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(s.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            )
            // A store that does not answer is a 503 within seconds, not after minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            });
        if let Some(endpoint) = &s.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let store = builder.build().map_err(|e| anyhow::anyhow!("attachments.s3: {e}"))?;
        let prefix = s.prefix.as_deref().map(Key::parse).transpose()?;
        Ok(Bucket { store: Arc::new(store), prefix, name: s.bucket.clone() })
    }

    /// The key of `name` (a blob's file or thumbnail) under the prefix.
    pub fn key(&self, name: &str) -> Key {
        match &self.prefix {
            Some(p) => p.clone().join(name),
            None => Key::from(name),
        }
    }

    /// Uploads the file at `path` (`len` bytes) as `key`: in one request if it fits in a
    /// part, else in parts read from the file one at a time, so the file is never held
    /// whole. A failed upload in parts is aborted, so no object appears.
    pub async fn upload_file(&self, path: &Path, len: u64, key: &Key) -> Result<(), BucketError> {
        if len <= PART as u64 {
            let path = path.to_path_buf();
            let bytes = read_blocking(path, 0, usize::try_from(len).unwrap_or(PART)).await?;
            self.store.put(key, PutPayload::from(bytes)).await?;
            return Ok(());
        }
        let upload = self.store.put_multipart(key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let sent = async {
            let mut offset = 0u64;
            while offset < len {
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                let n = usize::try_from((len - offset).min(PART as u64)).unwrap_or(PART);
                let bytes = read_blocking(path.to_path_buf(), offset, n).await?;
                offset += bytes.len() as u64;
                writer.put(bytes);
            }
            Ok::<_, BucketError>(())
        }
        .await;
        match sent {
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "an unfinished upload in parts could not be aborted");
                }
                Err(e)
            }
        }
    }

    /// Whether `key` is in the bucket.
    pub async fn has(&self, key: &Key) -> Result<bool, BucketError> {
        match self.store.head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `key` (nothing to do if it is not there).
    pub async fn delete(&self, key: &Key) -> Result<(), BucketError> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes `ranges` of `key`, each exactly as long as asked (ranges close together
    /// are fetched in one request).
    pub async fn ranges(&self, key: &Key, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, BucketError> {
        let got = self.store.get_ranges(key, ranges).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => BucketError::Missing(key.to_string()),
            e => e.into(),
        })?;
        for (bytes, r) in got.iter().zip(ranges) {
            if bytes.len() as u64 != r.end - r.start {
                return Err(BucketError::Missing(format!("{key} (shorter than its record)")));
            }
        }
        Ok(got)
    }
}

/// `len` bytes of the file at `path` from `offset`, read on the blocking pool.
async fn read_blocking(path: PathBuf, offset: u64, len: usize) -> Result<Bytes, BucketError> {
    use std::io::{Read, Seek, SeekFrom};
    let bytes = tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::open(&path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; len];
        f.read_exact(&mut buf)?;
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(endpoint: &str, allow_http: bool) -> S3Settings {
        S3Settings {
            endpoint: Some(endpoint.into()),
            bucket: "b".into(),
            access_key_id: "k".into(),
            secret_access_key: Some("s".to_owned().into()),
            allow_http,
            ..Default::default()
        }
    }

    #[test]
    fn plain_http_is_refused_unless_allowed_and_only_to_loopback() {
        assert!(settings("https://s3.example.net", false).check().is_ok());
        assert!(settings("http://127.0.0.1:9000", false).check().is_err());
        assert!(settings("http://127.0.0.1:9000", true).check().is_ok());
        assert!(settings("http://[::1]:9000/", true).check().is_ok());
        assert!(settings("http://localhost:9000", true).check().is_ok());
        assert!(settings("http://s3.example.net", true).check().is_err());
        assert!(settings("http://10.0.0.1:9000", true).check().is_err());
        assert!(settings("http://127.0.0.1.example.net:9000", true).check().is_err());
        assert!(settings("http://user@127.0.0.1:9000", true).check().is_err());
        assert!(settings("ftp://127.0.0.1", true).check().is_err());
    }

    #[test]
    fn the_secret_is_required_and_never_in_the_debug_output() {
        let mut s = settings("https://s3.example.net", false);
        s.secret_access_key = Some("very-secret-value".to_owned().into());
        assert!(!format!("{s:?}").contains("very-secret-value"));
        s.secret_access_key = None;
        assert!(s.check().is_err());
        s.secret_access_key = Some(String::new().into());
        assert!(s.check().is_err());
    }
}
