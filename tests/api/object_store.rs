//! Attachments kept in an S3-compatible object store (`attachments.store = "s3"`), over
//! HTTPS against the SeaweedFS that `deploy/test` starts (`SITREP_TEST_S3_*`): the round
//! trip with its hash, ranges and thumbnails read back from the bucket; only ciphertext in
//! the bucket (read with the object store crate directly); nothing of a refused, cut or
//! failed upload left in the bucket or the database; another organisation's `404`; a store
//! that does not answer; files kept before a switch of store; the secret set by the
//! environment and never in the log. Each test keeps its objects under a prefix of its
//! own, so that what it finds in the bucket is its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use ::object_store::aws::{AmazonS3, AmazonS3Builder};
use ::object_store::path::Path as Key;
use ::object_store::{ObjectStore, ObjectStoreExt};
use futures_util::TryStreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sitrep_api::attachments::StoreKind;
use sitrep_api::bucket::S3Settings;
use sitrep_server::config::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::attachments::{
    Upload, count, download, download_range, image_upload, large_jpeg, pdf, sha256_hex, thumbnail, upload, uploaded,
};
use crate::helpers::pictures::{cast, content, create, etag};
use crate::helpers::{TestApp, problem};

/// The test store `deploy/test` started, or `None` (a failure under `CI=true`).
struct S3 {
    endpoint: String,
    bucket: String,
    key_id: String,
    secret: String,
}

fn s3() -> Option<S3> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        Some(S3 {
            endpoint: var("SITREP_TEST_S3_ENDPOINT")?,
            bucket: var("SITREP_TEST_S3_BUCKET")?,
            key_id: var("SITREP_TEST_S3_ACCESS_KEY_ID")?,
            secret: var("SITREP_TEST_S3_SECRET_ACCESS_KEY")?,
        })
    })();
    if found.is_none() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI needs the SeaweedFS object store: deploy/test installs and starts it"
        );
        eprintln!("no SITREP_TEST_S3_* (run through deploy/test, which starts SeaweedFS): test not run");
    }
    found
}

/// A key prefix of this test's own.
fn fresh_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

fn s3_settings(s3: &S3, endpoint: &str, prefix: &str) -> S3Settings {
    S3Settings {
        endpoint: Some(endpoint.to_owned()),
        bucket: s3.bucket.clone(),
        region: "us-east-1".into(),
        prefix: Some(prefix.to_owned()),
        access_key_id: s3.key_id.clone(),
        secret_access_key: Some(s3.secret.clone().into()),
        allow_http: true,
    }
}

fn use_s3(s: &mut Settings, s3: &S3, endpoint: &str, prefix: &str) {
    s.attachments.store = StoreKind::S3;
    s.attachments.s3 = s3_settings(s3, endpoint, prefix);
}

/// The bucket, read with the object store crate directly (not through the server).
fn direct(s3: &S3) -> AmazonS3 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_bucket_name(&s3.bucket)
        .with_region("us-east-1")
        .with_access_key_id(&s3.key_id)
        .with_secret_access_key(&s3.secret)
        .with_allow_http(true)
        .build()
        .unwrap()
}

/// Every object under `prefix`, by name (without the prefix), with its bytes.
async fn objects(bucket: &AmazonS3, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let metas: Vec<_> = bucket.list(Some(&Key::from(prefix))).try_collect().await.unwrap();
    let mut out = Vec::new();
    for m in metas {
        let bytes = bucket.get(&m.location).await.unwrap().bytes().await.unwrap();
        let name = m.location.as_ref().strip_prefix(&format!("{prefix}/")).unwrap_or(m.location.as_ref()).to_owned();
        out.push((name, bytes.to_vec()));
    }
    out.sort();
    out
}

/// Waits (up to 10 s) until exactly the objects `names` are under `prefix`: an object of
/// an upload that is then not recorded is removed in the background.
async fn objects_become(bucket: &AmazonS3, prefix: &str, names: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut want = names.to_vec();
    want.sort();
    for _ in 0..100 {
        let found = objects(bucket, prefix).await;
        if found.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>() == want {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found: Vec<String> = objects(bucket, prefix).await.into_iter().map(|(n, _)| n).collect();
    assert_eq!(found, want);
    unreachable!()
}

/// The blob ids (simple form, as the object names have them) and stores of the test's
/// database, in upload order.
async fn blobs(app: &TestApp) -> Vec<(String, String)> {
    let c = app.pool.get().await.unwrap();
    let rows = c
        .query(
            "SELECT b.id, b.store FROM attachment_blobs b \
             JOIN (SELECT blob_id, min(created_at) AS at FROM attachments GROUP BY blob_id) a ON a.blob_id = b.id \
             ORDER BY a.at",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get::<_, uuid::Uuid>(0).simple().to_string(), r.get(1))).collect()
}

/// Every file under the local store's folder of `app`.
fn local_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for sub in ["objects", "tmp"] {
        if let Ok(entries) = std::fs::read_dir(app.data_dir.join("attachments").join(sub)) {
            out.extend(entries.flatten().map(|e| e.path()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn an_attachment_in_the_bucket_round_trips_with_ranges_and_thumbnail_and_the_bucket_holds_only_ciphertext() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let app = TestApp::spawn_with(|s| use_s3(s, &s3, &s3.endpoint, &prefix)).await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();

    // Larger than one part (8 MiB): uploaded to the bucket in parts.
    let marker = "SITREP-S3-PLAINTEXT-MARKER-7d2e";
    let bytes = pdf(marker, 9 * 1024 * 1024 + 12_345);
    let body = uploaded(upload(&app, &cast.author, id, Upload::pdf(bytes.clone())).await).await;
    assert_eq!(body["attachment"]["sha256"], sha256_hex(&bytes));
    let aid = body["attachment"]["id"].as_str().unwrap().to_owned();

    let res = download(&app, &cast.author, id, &aid).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], bytes.len().to_string().as_str());
    let got = res.bytes().await.unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&bytes), "the whole file, read back from the bucket");

    // Ranges: within a segment, across segments and the windows a download fetches, the end.
    let len = bytes.len();
    for (first, last) in [(5, 9), (65_530, 65_550), (1_048_000, 2_200_000), (len - 70_000, len - 1)] {
        let res = download_range(&app, &cast.author, id, &aid, &[("range", &format!("bytes={first}-{last}"))]).await;
        assert_eq!(res.status(), 206, "{first}-{last}");
        assert_eq!(res.headers()["content-range"], format!("bytes {first}-{last}/{len}").as_str());
        assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[first..=last], "{first}-{last}");
    }
    let res = download_range(&app, &cast.author, id, &aid, &[("range", "bytes=-100")]).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[len - 100..]);

    // An image and its thumbnail, both from the bucket.
    let photo = uploaded(upload(&app, &cast.author, id, image_upload(large_jpeg(1000, 500), "image/jpeg")).await).await;
    let photo_id = photo["attachment"]["id"].as_str().unwrap().to_owned();
    let stripped = download(&app, &cast.author, id, &photo_id).await.bytes().await.unwrap();
    assert_eq!(sha256_hex(&stripped), photo["attachment"]["sha256"].as_str().unwrap());
    let res = thumbnail(&app, &cast.author, id, &photo_id).await;
    assert_eq!(res.status(), 200);
    let png = res.bytes().await.unwrap();
    let small = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
    assert_eq!((small.width(), small.height()), (320, 160));

    // The database says where each blob is; the folder keeps nothing.
    let recorded = blobs(&app).await;
    assert_eq!(recorded.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["s3", "s3"]);
    for _ in 0..50 {
        if local_files(&app).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(local_files(&app).is_empty(), "{:?}", local_files(&app));

    // The bucket holds the two files and the thumbnail, as ciphertext only: neither a
    // plaintext, nor a piece of it, nor its SHA-256 (raw or hex).
    let (pdf_blob, photo_blob) = (&recorded[0].0, &recorded[1].0);
    let names = [pdf_blob.clone(), photo_blob.clone(), format!("{photo_blob}.thumb")];
    let stored = objects_become(&direct(&s3), &prefix, &names).await;
    let pdf_object = &stored.iter().find(|(n, _)| n == pdf_blob).unwrap().1;
    assert_eq!(pdf_object.len() as u64, sitrep_auth::envelope::ciphertext_len(len as u64));
    let plaintexts: [&[u8]; 3] = [&bytes, &stripped, &png];
    for (name, data) in &stored {
        assert!(!contains(data, marker.as_bytes()), "{name} holds the marker");
        for needle in [b"%PDF".as_slice(), b"\x89PNG", b"IHDR", b"JFIF", b"Exif", &bytes[4_096..4_160]] {
            assert!(!contains(data, needle), "{name} holds plaintext");
        }
        for plain in plaintexts {
            let digest = Sha256::digest(plain);
            assert!(!contains(data, &digest), "{name} holds a plaintext's SHA-256");
            assert!(!contains(data, hex::encode(digest).as_bytes()), "{name} holds a plaintext's SHA-256 in hex");
        }
    }
}

#[tokio::test]
async fn an_oversize_cut_refused_or_replayed_upload_leaves_no_object_in_the_bucket() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let app = TestApp::spawn_with(|s| {
        use_s3(s, &s3, &s3.endpoint, &prefix);
        s.attachments.max_file_bytes = 100_000;
        s.attachments.max_picture_bytes = 150_000;
    })
    .await;
    let bucket = direct(&s3);
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();

    let res = upload(&app, &cast.author, id, Upload::pdf(pdf("big", 100_001))).await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");
    // Shorter than its Content-Length: the body is cut.
    let tag = etag(&app, &cast.author, id).await;
    let mut pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        pdf("cut", 60_000).chunks(20_000).map(|c| Ok(c.to_vec())).collect();
    pieces.push(Err(std::io::Error::other("connection lost")));
    let sent = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .header("content-type", "application/pdf")
        .header("attachment-file-name", "a.pdf")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send()
        .await;
    assert!(sent.is_err() || sent.unwrap().status() == 400);
    assert!(objects(&bucket, &prefix).await.is_empty(), "nothing of the refused uploads");

    // Accepted, then the same request again with its key: the replay answers with the first
    // upload. The key again with other bytes: those are sent to the bucket before the
    // transaction that refuses them, and then removed.
    let key = Some("4b8f7c1e-s3-replay");
    let key_upload = || Upload { key, ..Upload::pdf(pdf("first", 60_000)) };
    let tag = etag(&app, &cast.author, id).await;
    let first =
        uploaded(crate::helpers::attachments::upload_if_match(&app, &cast.author, id, &tag, key_upload()).await).await;
    let again =
        uploaded(crate::helpers::attachments::upload_if_match(&app, &cast.author, id, &tag, key_upload()).await).await;
    assert_eq!(first["attachment"]["id"], again["attachment"]["id"]);
    let other = Upload { key, ..Upload::pdf(pdf("other-bytes-same-key", 20_000)) };
    let res = crate::helpers::attachments::upload_if_match(&app, &cast.author, id, &tag, other).await;
    assert_eq!(problem(res, 422).await["code"], "idempotency_key_reused");
    // A stale If-Match, and more than the picture's room: refused before the body is read.
    let res =
        crate::helpers::attachments::upload_if_match(&app, &cast.author, id, &tag, Upload::pdf(pdf("stale", 1_000)))
            .await;
    assert_eq!(res.status(), 412);
    let res = upload(&app, &cast.author, id, Upload::pdf(pdf("second", 95_000))).await;
    assert_eq!(res.status(), 413);

    assert_eq!(count(&app, "attachments").await, 1);
    assert_eq!(count(&app, "attachment_blobs").await, 1);
    let kept = blobs(&app).await[0].0.clone();
    objects_become(&bucket, &prefix, &[kept]).await;
}

#[tokio::test]
async fn another_organisation_gets_404_for_a_file_in_the_bucket_whatever_it_asks() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let app = TestApp::spawn_with(|s| use_s3(s, &s3, &s3.endpoint, &prefix)).await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let photo = uploaded(upload(&app, &cast.author, id, image_upload(large_jpeg(400, 300), "image/jpeg")).await).await;
    let aid = photo["attachment"]["id"].as_str().unwrap();
    assert_eq!(download(&app, &cast.author, id, aid).await.status(), 200, "the author reads it");

    let res = download(&app, &cast.b_reader, id, aid).await;
    assert_eq!(problem(res, 404).await["code"], "attachment_not_found");
    let res = download_range(&app, &cast.b_reader, id, aid, &[("range", "bytes=999999999-")]).await;
    assert_eq!(problem(res, 404).await["code"], "attachment_not_found", "404, not a 416 that tells the size");
    let res = thumbnail(&app, &cast.b_reader, id, aid).await;
    assert_eq!(problem(res, 404).await["code"], "attachment_not_found");
}

/// A port on 127.0.0.1 that nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_store_that_does_not_answer_is_503_and_nothing_is_recorded() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let good = TestApp::spawn_with(|s| use_s3(s, &s3, &s3.endpoint, &prefix)).await;
    let cast = cast(&good).await;
    let p = create(&good, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let bytes = pdf("kept-earlier", 150_000);
    let kept = uploaded(upload(&good, &cast.author, &id, Upload::pdf(bytes.clone())).await).await;
    let kept_id = kept["attachment"]["id"].as_str().unwrap().to_owned();

    // The same database and key-encryption key, served with the store at a port where
    // nothing answers.
    let wrong = format!("http://127.0.0.1:{}", closed_port().await);
    let bad = TestApp::spawn_on(&good.db_url, |s| {
        use_s3(s, &s3, &wrong, &prefix);
        s.attachments.key_file = Some(good.data_dir.join("secrets/attachments.key"));
    })
    .await;
    let author = bad.token(&cast.a_user).await;
    let before = (count(&bad, "attachments").await, count(&bad, "attachment_blobs").await);
    let revisions = crate::helpers::pictures::revisions(&bad, &author, &id).await.len();

    let started = Instant::now();
    let res = upload(&bad, &author, &id, Upload::pdf(pdf("new-content", 50_000))).await;
    assert!(started.elapsed() < Duration::from_secs(30), "answered within the retry limit: {:?}", started.elapsed());
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(problem(res, 503).await["code"], "attachment_store_unavailable");
    // The same bytes as a stored file: whether that file is there cannot be known either.
    let res = upload(&bad, &author, &id, Upload::pdf(bytes.clone())).await;
    assert_eq!(problem(res, 503).await["code"], "attachment_store_unavailable");
    let res = download(&bad, &author, &id, &kept_id).await;
    assert_eq!(problem(res, 503).await["code"], "attachment_store_unavailable");

    assert_eq!((count(&bad, "attachments").await, count(&bad, "attachment_blobs").await), before, "no row");
    assert_eq!(crate::helpers::pictures::revisions(&bad, &author, &id).await.len(), revisions, "no revision");
    let kept_blob = blobs(&good).await[0].0.clone();
    objects_become(&direct(&s3), &prefix, &[kept_blob]).await;
    let res = download(&good, &cast.author, &id, &kept_id).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice(), "still there through a store that answers");
}

/// A TCP proxy on 127.0.0.1 to `target` that forwards until `budget` bytes have gone
/// towards the target, then cuts the connection that crossed it and every one after.
async fn cutting_proxy(target: SocketAddr, budget: i64) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let left = Arc::new(AtomicI64::new(budget));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if left.load(Ordering::SeqCst) <= 0 {
                continue;
            }
            let left = left.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                let (mut from_client, mut to_client) = inbound.split();
                let (mut from_store, mut to_store) = outbound.split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = from_client.read(&mut buf).await?;
                        let n_i64 = i64::try_from(n).unwrap();
                        if n == 0 || left.fetch_sub(n_i64, Ordering::SeqCst) - n_i64 <= 0 {
                            return Ok::<_, std::io::Error>(());
                        }
                        to_store.write_all(&buf[..n]).await?;
                    }
                };
                let down = tokio::io::copy(&mut from_store, &mut to_client);
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_store_that_fails_mid_upload_leaves_no_row_and_no_object() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let target: SocketAddr = s3.endpoint.trim_start_matches("http://").parse().unwrap();
    // The connection is cut after 3 MiB: in the first part of an upload in parts.
    let proxy = cutting_proxy(target, 3 * 1024 * 1024).await;
    let through = format!("http://{proxy}");
    let app = TestApp::spawn_with(|s| use_s3(s, &s3, &through, &prefix)).await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let res = upload(&app, &cast.author, id, Upload::pdf(pdf("cut-off", 20 * 1024 * 1024))).await;
    assert_eq!(problem(res, 503).await["code"], "attachment_store_unavailable");
    assert_eq!(count(&app, "attachments").await, 0);
    assert_eq!(count(&app, "attachment_blobs").await, 0);
    assert_eq!(crate::helpers::pictures::revisions(&app, &cast.author, id).await.len(), 1, "no revision");
    // Read past the proxy: no object, whole or in part.
    objects_become(&direct(&s3), &prefix, &[]).await;
}

#[tokio::test]
async fn an_upload_of_bytes_whose_object_is_lost_from_the_bucket_is_refused_not_stored_unreadable() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let app = TestApp::spawn_with(|s| use_s3(s, &s3, &s3.endpoint, &prefix)).await;
    let cast = cast(&app).await;
    let bytes = pdf("lost-from-bucket", 4_000);
    let p1 = create(&app, &cast.author, &content("group", "AMBER")).await;
    uploaded(upload(&app, &cast.author, p1["id"].as_str().unwrap(), Upload::pdf(bytes.clone())).await).await;
    let bucket = direct(&s3);
    let blob = blobs(&app).await[0].0.clone();
    bucket.delete(&Key::from(format!("{prefix}/{blob}"))).await.unwrap();

    let p2 = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id2 = p2["id"].as_str().unwrap();
    let res = upload(&app, &cast.author, id2, Upload::pdf(bytes)).await;
    assert_eq!(res.status(), 500, "refused, not recorded pointing at a missing object");
    assert_eq!(count(&app, "attachments").await, 1);
    let p2: Value = app.get(&format!("/api/v1/pictures/{id2}"), Some(&cast.author)).await.json().await.unwrap();
    assert!(p2["attachments"].as_array().is_none_or(Vec::is_empty), "{p2}");
    objects_become(&bucket, &prefix, &[]).await;
}

#[tokio::test]
async fn files_kept_before_a_switch_of_store_stay_readable_both_ways() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let local = TestApp::spawn().await;
    let cast = cast(&local).await;
    let p = create(&local, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let old = pdf("kept-in-the-folder", 200_000);
    let old_id = uploaded(upload(&local, &cast.author, &id, Upload::pdf(old.clone())).await).await["attachment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same database, folder and key-encryption key, now with new files to the bucket.
    let same_folder = |s: &mut Settings| {
        s.attachments.dir = Some(local.data_dir.join("attachments"));
        s.attachments.key_file = Some(local.data_dir.join("secrets/attachments.key"));
    };
    let on_s3 = TestApp::spawn_on(&local.db_url, |s| {
        same_folder(s);
        use_s3(s, &s3, &s3.endpoint, &prefix);
    })
    .await;
    let author = on_s3.token(&cast.a_user).await;
    let res = download(&on_s3, &author, &id, &old_id).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), old.as_slice(), "the folder's file, read after the switch");
    let new = pdf("kept-in-the-bucket", 300_000);
    let new_id = uploaded(upload(&on_s3, &author, &id, Upload::pdf(new.clone())).await).await["attachment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The folder's content uploaded again is the same blob, still in the folder.
    uploaded(upload(&on_s3, &author, &id, Upload::pdf(old.clone())).await).await;
    let recorded = blobs(&on_s3).await;
    assert_eq!(recorded.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["local", "s3"]);
    objects_become(&direct(&s3), &prefix, &[recorded[1].0.clone()]).await;

    // And back: new files to the folder, the bucket still configured, so its files are read.
    let back = TestApp::spawn_on(&local.db_url, |s| {
        same_folder(s);
        use_s3(s, &s3, &s3.endpoint, &prefix);
        s.attachments.store = StoreKind::Local;
    })
    .await;
    let author = back.token(&cast.a_user).await;
    for (aid, bytes) in [(&old_id, &old), (&new_id, &new)] {
        let res = download_range(&back, &author, &id, aid, &[("range", "bytes=100000-")]).await;
        assert_eq!(res.status(), 206);
        assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[100_000..]);
    }
}

#[tokio::test]
async fn the_secret_set_by_the_environment_works_and_never_reaches_the_log() {
    let Some(s3) = s3() else { return };
    let prefix = fresh_prefix();
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let env = [
        ("SITREP_ATTACHMENTS__STORE", "s3".to_owned()),
        ("SITREP_ATTACHMENTS__S3__ENDPOINT", s3.endpoint.clone()),
        ("SITREP_ATTACHMENTS__S3__BUCKET", s3.bucket.clone()),
        ("SITREP_ATTACHMENTS__S3__PREFIX", prefix.clone()),
        ("SITREP_ATTACHMENTS__S3__ACCESS_KEY_ID", s3.key_id.clone()),
        ("SITREP_ATTACHMENTS__S3__SECRET_ACCESS_KEY", s3.secret.clone()),
        ("SITREP_ATTACHMENTS__S3__ALLOW_HTTP", "true".to_owned()),
        ("SITREP_LOG__LEVEL", "debug".to_owned()),
    ];
    let process = crate::helpers::process::Process::start(&app, &env).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let tag = etag(&app, &cast.author, id).await;
    let bytes = pdf("through-the-process", 30_000);
    let res = app
        .client
        .post(process.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .header("content-type", "application/pdf")
        .header("attachment-file-name", "a.pdf")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let aid = uploaded(res).await["attachment"]["id"].as_str().unwrap().to_owned();
    let got = app
        .client
        .get(process.url(&format!("/api/v1/pictures/{id}/attachments/{aid}/content")))
        .bearer_auth(&cast.author)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());
    assert_eq!(blobs(&app).await[0].1, "s3");
    objects_become(&direct(&s3), &prefix, &[blobs(&app).await[0].0.clone()]).await;
    let log = process.log_lines().join("\n");
    assert!(!log.is_empty());
    assert!(!log.contains(&s3.secret), "the secret is in the log");
}

#[test]
fn an_s3_store_without_its_bucket_or_secret_or_with_plain_http_elsewhere_does_not_start() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sitrep.example.toml");
    let example = Settings::load(Some(&path)).unwrap();
    assert_eq!(example.attachments.store, StoreKind::Local, "the example keeps the local store");
    let s3 = S3 {
        endpoint: "https://s3.example.net".into(),
        bucket: "b".into(),
        key_id: "k".into(),
        secret: "not-to-be-printed".into(),
    };
    let mut settings = example.clone();
    use_s3(&mut settings, &s3, &s3.endpoint, "p");
    settings.validate().unwrap();
    assert!(!format!("{settings:?}").contains("not-to-be-printed"), "the secret in the debug output");
    let refused = |change: &dyn Fn(&mut Settings)| {
        let mut s = settings.clone();
        change(&mut s);
        s.validate().expect_err("refused").to_string()
    };
    assert!(refused(&|s| s.attachments.s3.bucket.clear()).contains("attachments.s3.bucket"));
    assert!(refused(&|s| s.attachments.s3.secret_access_key = None).contains("secret_access_key"));
    assert!(refused(&|s| s.attachments.s3.endpoint = Some("http://s3.example.net".into())).contains("http"));
    assert!(
        refused(&|s| {
            s.attachments.s3.endpoint = Some("http://192.168.1.10:9000".into());
            s.attachments.s3.allow_http = true;
        })
        .contains("loopback")
    );
}
