//! Attachments through a real `sitrep serve` process: a 1 GiB file goes up and comes down
//! while the server's resident memory stays flat (measured from `/proc`), and a process
//! killed with SIGKILL in the middle of an upload leaves no attachment, revision or record
//! behind, and nothing that stops the same upload from succeeding afterwards.

use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::helpers::attachments::count;
use crate::helpers::pictures::{cast, content, create, etag, revisions};
use crate::helpers::process::{Process, seeding_app};

const MIB: usize = 1024 * 1024;

/// The process's resident memory now and its peak since the last `reset_peak`, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {status}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sets the process's peak resident size back to its present size (Linux: `clear_refs`
/// with 5), so that the next peak is that of what follows.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

/// Chunk `i` of a generated PDF of `chunks` MiB: a PDF signature, then filler that differs
/// in every chunk (so no two chunks are alike), made from one random block.
fn chunk(block: &[u8], i: usize) -> Bytes {
    let mut c = block.to_vec();
    if i == 0 {
        c[..10].copy_from_slice(b"%PDF-1.7\n%");
    }
    c[16..24].copy_from_slice(&(i as u64).to_le_bytes());
    Bytes::from(c)
}

fn random_block() -> Vec<u8> {
    let mut block = vec![0u8; MIB];
    rand::Rng::fill(&mut rand::thread_rng(), &mut block[..]);
    block
}

fn generated(block: Vec<u8>, chunks: usize) -> reqwest::Body {
    let stream = futures_util::stream::iter(0..chunks).map(move |i| Ok::<_, std::io::Error>(chunk(&block, i)));
    reqwest::Body::wrap_stream(stream)
}

fn generated_sha256(block: &[u8], chunks: usize) -> String {
    let mut h = Sha256::new();
    for i in 0..chunks {
        h.update(chunk(block, i));
    }
    hex::encode(h.finalize())
}

fn upload_request(
    client: &reqwest::Client,
    process: &Process,
    token: &str,
    id: &str,
    tag: &str,
    len: usize,
) -> reqwest::RequestBuilder {
    client
        .post(process.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(token)
        .header("if-match", tag)
        .header("content-type", "application/pdf")
        .header("content-length", len.to_string())
        .header("attachment-file-name", "archive.pdf")
        .timeout(Duration::from_secs(900))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_file_goes_up_and_comes_down_with_the_servers_memory_flat() {
    const CHUNKS: usize = 1024; // 1 GiB
    let app = seeding_app().await;
    let cast = cast(&app).await;
    let env = [
        ("SITREP_ATTACHMENTS__MAX_FILE_BYTES", (2 * 1024 * MIB).to_string()),
        ("SITREP_ATTACHMENTS__MAX_PICTURE_BYTES", (4 * 1024 * MIB).to_string()),
    ];
    let process = Process::start(&app, &env).await;
    let pid = process.pid();
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let block = random_block();

    // A first, small upload and download warm the server up (its pools, its TLS, its
    // buffers): the baseline is the process as it serves, not as it started.
    let tag = etag(&app, &cast.author, id).await;
    let res = upload_request(&app.client, &process, &cast.author, id, &tag, 8 * MIB)
        .body(generated(block.iter().rev().copied().collect(), 8))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let warm: serde_json::Value = res.json().await.unwrap();
    let warm_id = warm["attachment"]["id"].as_str().unwrap();
    let res = app
        .client
        .get(process.url(&format!("/api/v1/pictures/{id}/attachments/{warm_id}/content")))
        .bearer_auth(&cast.author)
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), 8 * MIB);

    // Up: 1 GiB, streamed from a generator (the test does not hold it either).
    let want = generated_sha256(&block, CHUNKS);
    reset_peak(pid);
    let (before, _) = memory(pid);
    let tag = etag(&app, &cast.author, id).await;
    let res = upload_request(&app.client, &process, &cast.author, id, &tag, CHUNKS * MIB)
        .body(generated(block.clone(), CHUNKS))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let (_, up_peak) = memory(pid);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["attachment"]["sha256"], want.as_str());
    assert_eq!(body["attachment"]["size"], CHUNKS * MIB);
    let aid = body["attachment"]["id"].as_str().unwrap();

    // Down: the same bytes, hashed as they arrive.
    reset_peak(pid);
    let (before_down, _) = memory(pid);
    let res = app
        .client
        .get(process.url(&format!("/api/v1/pictures/{id}/attachments/{aid}/content")))
        .bearer_auth(&cast.author)
        .timeout(Duration::from_secs(900))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let (mut h, mut n) = (Sha256::new(), 0usize);
    while let Some(piece) = stream.next().await {
        let piece = piece.unwrap();
        n += piece.len();
        h.update(&piece);
    }
    let (_, down_peak) = memory(pid);
    assert_eq!(n, CHUNKS * MIB);
    assert_eq!(hex::encode(h.finalize()), want, "the download is the upload, byte for byte");

    // Flat: the peak while 1 GiB passed stays within 64 MiB of the resident size before.
    let grew_up = up_peak.saturating_sub(before) / 1024;
    let grew_down = down_peak.saturating_sub(before_down) / 1024;
    eprintln!(
        "server RSS before upload {} MiB, peak during 1 GiB upload {} MiB (+{grew_up}); \
         before download {} MiB, peak during download {} MiB (+{grew_down})",
        before / 1024,
        up_peak / 1024,
        before_down / 1024,
        down_peak / 1024
    );
    assert!(grew_up < 64, "the upload of 1 GiB grew the server by {grew_up} MiB");
    assert!(grew_down < 64, "the download of 1 GiB grew the server by {grew_down} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_in_the_middle_of_an_upload_leaves_no_half_attachment() {
    const CHUNKS: usize = 32;
    let app = seeding_app().await;
    let cast = cast(&app).await;
    let mut process = Process::start(&app, &[]).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let tag = etag(&app, &cast.author, &id).await;
    let block = random_block();

    // The client sends 4 of 32 MiB and then waits; the server is killed while it reads.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    for i in 0..4 {
        tx.send(Ok(chunk(&block, i))).await.unwrap();
    }
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let request = upload_request(&app.client, &process, &cast.author, &id, &tag, CHUNKS * MIB)
        .header("idempotency-key", "kill-9-upload")
        .body(body);
    let sent = tokio::spawn(request.send());
    let tmp = app.data_dir.join("attachments/tmp");
    let mut receiving = false;
    for _ in 0..200 {
        let partial: u64 = std::fs::read_dir(&tmp)
            .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0);
        if partial >= MIB as u64 {
            receiving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiving, "the server was writing the upload when it was killed");
    process.kill_9();
    process.wait(Duration::from_secs(10)).await;
    drop(tx);
    let res = sent.await.unwrap();
    assert!(res.is_err() || !res.unwrap().status().is_success(), "no answer of success from a killed server");

    // Nothing of it is visible: no attachment, blob, revision or upload record, the picture
    // unchanged, and no file among the kept ones (the temporary file is not one of them).
    assert_eq!(count(&app, "attachments").await, 0);
    assert_eq!(count(&app, "attachment_blobs").await, 0);
    assert_eq!(revisions(&app, &cast.author, &id).await.len(), 1);
    assert_eq!(etag(&app, &cast.author, &id).await, tag, "the picture is as it was");
    let objects = std::fs::read_dir(app.data_dir.join("attachments/objects")).unwrap().count();
    assert_eq!(objects, 0, "no kept file without its row");
    let db = app.pool.get().await.unwrap();
    let uploads: i64 = db
        .query_one("SELECT count(*) FROM access_log WHERE action = 'attachment.upload' AND outcome = 'allowed'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(uploads, 0, "no record of an upload that did not happen");

    // A new process takes the same upload, with the same key, whole.
    let again = Process::start(&app, &[]).await;
    let res = upload_request(&app.client, &again, &cast.author, &id, &tag, CHUNKS * MIB)
        .header("idempotency-key", "kill-9-upload")
        .body(generated(block.clone(), CHUNKS))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["attachment"]["sha256"], generated_sha256(&block, CHUNKS).as_str());
    assert_eq!(count(&app, "attachments").await, 1);
    again.kill_9();
}

/// A receiver as a stream of body pieces.
fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
