//! Evidence attachments over HTTPS: upload and download with the hash, what is stored
//! (ciphertext only, the same bytes once, nothing of a refused upload), the media-type
//! rule, the revision rules an upload shares with a patch, and who sees an attachment
//! whose TLP is stricter than its picture's.

use std::path::Path;

use reqwest::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::pictures::{Cast, act, cast, content, create, etag, revise};
use crate::helpers::{TestApp, problem};

/// A PNG signature, a marker no ciphertext can contain by chance, and filler.
fn png(marker: &str, len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    bytes.extend_from_slice(marker.as_bytes());
    let mut i: u32 = 0;
    while bytes.len() < len {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push(i.to_le_bytes()[2]);
    }
    bytes.truncate(len);
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Upload<'a> {
    body: Vec<u8>,
    content_type: &'a str,
    name: &'a str,
    tlp: Option<&'a str>,
    key: Option<&'a str>,
}

impl<'a> Upload<'a> {
    fn png(body: Vec<u8>) -> Self {
        Upload { body, content_type: "image/png", name: "kuvakaappaus%20%C3%A4.png", tlp: None, key: None }
    }
}

async fn upload_if_match(app: &TestApp, token: &str, id: &str, if_match: &str, u: Upload<'_>) -> Response {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(token)
        .header("if-match", if_match)
        .header("content-type", u.content_type)
        .header("attachment-file-name", u.name)
        .header("attachment-description-en", "Screenshot%20of%20the%20post")
        .body(u.body);
    if let Some(tlp) = u.tlp {
        req = req.header("attachment-tlp", tlp);
    }
    if let Some(key) = u.key {
        req = req.header("idempotency-key", key);
    }
    req.send().await.unwrap()
}

async fn upload(app: &TestApp, token: &str, id: &str, u: Upload<'_>) -> Response {
    let tag = etag(app, token, id).await;
    upload_if_match(app, token, id, &tag, u).await
}

async fn uploaded(res: Response) -> Value {
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

async fn download(app: &TestApp, token: &str, id: &str, aid: &str) -> Response {
    app.get(&format!("/api/v1/pictures/{id}/attachments/{aid}/content"), Some(token)).await
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
        }
    }
    out
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let c = app.pool.get().await.unwrap();
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0)
}

/// Waits (up to 10 s) until the storage folder holds exactly `n` files: a refused upload's
/// temporary file goes when the server has finished with the request.
async fn stored_files_become(app: &TestApp, n: usize) -> Vec<std::path::PathBuf> {
    let dir = app.data_dir.join("attachments");
    for _ in 0..100 {
        let found = files(&dir);
        if found.len() == n {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let found = files(&dir);
    assert_eq!(found.len(), n, "{found:?}");
    found
}

#[tokio::test]
async fn an_attachment_round_trips_with_its_hash_and_only_ciphertext_is_stored() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = picture["id"].as_str().unwrap();
    let marker = "SITREP-PLAINTEXT-MARKER-4f1c";
    let bytes = png(marker, 200_000);
    let body = uploaded(upload(&app, &cast.author, id, Upload::png(bytes.clone())).await).await;
    let a = &body["attachment"];
    assert_eq!(a["sha256"], sha256_hex(&bytes));
    assert_eq!(a["size"], 200_000);
    assert_eq!(a["file_name"], "kuvakaappaus ä.png");
    assert_eq!(a["media_type"], "image/png");
    assert_eq!(a["tlp"], "AMBER", "the picture's TLP by default");
    assert_eq!(a["description"]["en"], "Screenshot of the post");
    let aid = a["id"].as_str().unwrap();
    assert_eq!(body["picture"]["attachments"][0]["id"], aid);
    assert_eq!(body["picture"]["revision"], 2, "the upload wrote a revision");

    let detail: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(detail["attachments"][0], *a);

    let res = download(&app, &cast.author, id, aid).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"kuvakaappaus _.png\"; filename*=UTF-8''kuvakaappaus%20%C3%A4.png"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["content-length"], "200000");
    let got = res.bytes().await.unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&bytes));
    assert_eq!(got.as_ref(), bytes.as_slice());

    // Whoever copies the storage folder gets ciphertext: neither the marker nor the
    // plaintext's hash (as bytes or as hex) is anywhere in it.
    let stored = stored_files_become(&app, 1).await;
    let raw_hash: [u8; 32] = Sha256::digest(&bytes).into();
    for f in stored {
        let data = std::fs::read(&f).unwrap();
        assert!(data.len() > bytes.len(), "encrypted with tags");
        for needle in [marker.as_bytes(), &raw_hash[..], sha256_hex(&bytes).as_bytes(), &bytes[..64]] {
            assert!(!data.windows(needle.len()).any(|w| w == needle), "{} holds plaintext", f.display());
        }
    }

    // The upload and the download are in the access log with the attachment and its hash
    // (sealed into the chain now: the server's sealer runs on its own schedule).
    app.seal_log().await;
    let c = app.pool.get().await.unwrap();
    let rows = c
        .query(
            "SELECT action, reason FROM access_log WHERE object_type = 'attachment' AND object_id = $1 ORDER BY seq",
            &[&aid],
        )
        .await
        .unwrap();
    let logged: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[0].0, "attachment.upload");
    assert_eq!(logged[1].0, "attachment.download");
    assert!(logged.iter().all(|(_, reason)| reason.contains(&sha256_hex(&bytes))), "{logged:?}");
}

#[tokio::test]
async fn the_same_bytes_uploaded_twice_are_stored_once() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let bytes = png("same", 70_000);
    for _ in 0..2 {
        let p = create(&app, &cast.author, &content("group", "AMBER")).await;
        uploaded(upload(&app, &cast.author, p["id"].as_str().unwrap(), Upload::png(bytes.clone())).await).await;
    }
    assert_eq!(count(&app, "attachments").await, 2);
    assert_eq!(count(&app, "attachment_blobs").await, 1);
    stored_files_become(&app, 1).await;
}

#[tokio::test]
async fn an_oversize_or_truncated_upload_stores_nothing() {
    let app = TestApp::spawn_with(|s| {
        s.attachments.max_file_bytes = 100_000;
        s.attachments.max_picture_bytes = 150_000;
    })
    .await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();

    let res = upload(&app, &cast.author, id, Upload::png(png("big", 100_001))).await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");

    // Without a Content-Length the limit is found while streaming.
    let tag = etag(&app, &cast.author, id).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        png("chunked", 120_000).chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .header("content-type", "image/png")
        .header("attachment-file-name", "a.png")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");

    // A body that breaks off: the client gives up half way.
    let mut pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        png("cut", 60_000).chunks(20_000).map(|c| Ok(c.to_vec())).collect();
    pieces.push(Err(std::io::Error::other("connection lost")));
    let sent = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .header("content-type", "image/png")
        .header("attachment-file-name", "a.png")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send()
        .await;
    assert!(sent.is_err() || sent.unwrap().status() == 400);

    // The picture's total counts too: 90 000 fits, another 90 000 does not.
    uploaded(upload(&app, &cast.author, id, Upload::png(png("first", 90_000))).await).await;
    let res = upload(&app, &cast.author, id, Upload::png(png("second", 90_000))).await;
    assert_eq!(res.status(), 413);

    // One upload stored; of the refused ones no row and no file, not even a temporary one.
    assert_eq!(count(&app, "attachments").await, 1);
    assert_eq!(count(&app, "attachment_blobs").await, 1);
    stored_files_become(&app, 1).await;
    let revisions = crate::helpers::pictures::revisions(&app, &cast.author, id).await;
    assert_eq!(revisions.len(), 2, "only the accepted upload wrote a revision");
}

#[tokio::test]
async fn a_content_that_is_not_its_declared_type_is_refused_naming_both() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec();
    let res = upload(&app, &cast.author, id, Upload { body: pdf.clone(), ..Upload::png(Vec::new()) }).await;
    let body = problem(res, 422).await;
    let error = &body["errors"][0];
    assert_eq!(error["field"], "Content-Type");
    assert_eq!(error["code"], "media_type_mismatch");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("image/png") && message.contains("application/pdf"), "{message}");
    // A type off the allow-list is refused before the body is read.
    let res = upload(
        &app,
        &cast.author,
        id,
        Upload { body: b"<html>".to_vec(), content_type: "text/html", ..Upload::png(vec![]) },
    )
    .await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "media_type_not_allowed");
    // The same PDF declared as what it is is accepted.
    let res =
        upload(&app, &cast.author, id, Upload { body: pdf, content_type: "application/pdf", ..Upload::png(vec![]) })
            .await;
    uploaded(res).await;
    assert_eq!(count(&app, "attachments").await, 1);
    stored_files_become(&app, 1).await;
}

/// Created by the author with an AMBER+STRICT attachment on a `group_virt_ras` AMBER
/// picture, approved and published: the picture reaches R, the attachment does not.
async fn published_with_stricter_attachment(app: &TestApp, cast: &Cast) -> (String, String) {
    let p = create(app, &cast.author, &content("group_virt_ras", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let u = Upload { tlp: Some("AMBER+STRICT"), ..Upload::png(png("strict", 5_000)) };
    let aid = uploaded(upload(app, &cast.author, &id, u).await).await["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(act(app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(app, &cast.approver, &id, "publish").await.status(), 200);
    (id, aid)
}

#[tokio::test]
async fn a_stricter_attachment_is_left_out_wherever_its_tlp_does_not_reach() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, aid) = published_with_stricter_attachment(&app, &cast).await;
    // AMBER+STRICT reaches up to group_virt: B and V see it, R does not.
    for (token, sees) in [(&cast.b_reader, true), (&cast.v_reader, true), (&cast.r_reader, false)] {
        let res = app.get(&format!("/api/v1/pictures/{id}"), Some(token)).await;
        let detail: Value = res.json().await.unwrap();
        let listed = detail["attachments"].as_array().is_some_and(|l| l.iter().any(|a| a["id"] == aid.as_str()));
        assert_eq!(listed, sees, "detail: {detail}");
        assert_eq!(detail["redacted_attachments"].as_u64().unwrap_or(0), u64::from(!sees));
        let n = detail["revision"].as_i64().unwrap();
        let rev: Value =
            app.get(&format!("/api/v1/pictures/{id}/revisions/{n}"), Some(token)).await.json().await.unwrap();
        assert_eq!(rev.to_string().contains(&aid), sees, "revision: {rev}");
        let res = download(&app, token, &id, &aid).await;
        assert_eq!(res.status(), if sees { 200 } else { 404 });
        let feed: Value = app.get("/api/v1/feed", Some(token)).await.json().await.unwrap();
        assert!(!feed.to_string().contains(&aid), "feed: {feed}");
    }
    // R's detail read is logged with what it was not shown.
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.r_reader)).await;
    let record = app.audit_of(&res).await;
    assert_eq!(record.reason.as_deref(), Some("attachments_redacted:1"));
    // Another organisation never sees a draft's attachment, nor one of a picture it does
    // not see at all.
    let draft = create(&app, &cast.author, &content("group", "AMBER")).await;
    let did = draft["id"].as_str().unwrap();
    let daid =
        uploaded(upload(&app, &cast.author, did, Upload::png(png("draft", 3_000))).await).await["attachment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(download(&app, &cast.b_reader, did, &daid).await.status(), 404);
    assert_eq!(download(&app, &cast.b_reader, &id, &daid).await.status(), 404, "another picture's attachment");
    assert_eq!(download(&app, &cast.author, did, &daid).await.status(), 200);
}

#[tokio::test]
async fn a_retried_upload_with_its_idempotency_key_returns_the_first_attachment() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let tag = etag(&app, &cast.author, id).await;
    let bytes = png("retry", 10_000);
    let first = uploaded(
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-1"), ..Upload::png(bytes.clone()) }).await,
    )
    .await;
    // The retry carries the ETag the first attempt was sent with.
    let again = uploaded(
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-1"), ..Upload::png(bytes.clone()) }).await,
    )
    .await;
    assert_eq!(first["attachment"], again["attachment"]);
    assert_eq!(count(&app, "attachments").await, 1);
    assert_eq!(crate::helpers::pictures::revisions(&app, &cast.author, id).await.len(), 2);
    // The key with another file is refused.
    let res =
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-1"), ..Upload::png(png("other", 10_000)) })
            .await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn an_upload_with_a_stale_if_match_is_412_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let stale = etag(&app, &cast.author, id).await;
    assert_eq!(revise(&app, &cast.author, id, &json!({"urgency": "routine"})).await.status(), 200);
    let res = upload_if_match(&app, &cast.author, id, &stale, Upload::png(png("stale", 1_000))).await;
    assert_eq!(problem(res, 412).await["code"], "stale_etag");
    let res = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("content-type", "image/png")
        .header("attachment-file-name", "a.png")
        .body(png("none", 1_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 428);
    // A reader of another organisation cannot attach to it.
    let res = upload(&app, &cast.author, id, Upload::png(png("ok", 1_000))).await;
    uploaded(res).await;
    assert_eq!(count(&app, "attachments").await, 1);
    stored_files_become(&app, 1).await;
}

#[tokio::test]
async fn a_removed_attachment_stays_in_old_revisions_and_loosening_one_needs_a_second_approver() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let u = Upload { tlp: Some("RED"), ..Upload::png(png("red", 2_000)) };
    let body = uploaded(upload(&app, &cast.author, &id, u).await).await;
    let attachment = body["attachment"].clone();
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);

    // An approver loosens the attachment RED → AMBER: proposed, not in force.
    let mut looser = attachment.clone();
    looser["tlp"] = json!("AMBER");
    let res = revise(&app, &cast.approver, &id, &json!({"attachments": [looser]})).await;
    let picture: Value = res.json().await.unwrap();
    assert_eq!(picture["attachments"][0]["tlp"], "RED", "{picture}");
    assert!(picture["pending_revision"].is_i64(), "{picture}");
    let b: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(b["redacted_attachments"], 1);

    // A file's facts cannot be changed by a patch.
    let mut renamed = attachment.clone();
    renamed["file_name"] = json!("other.png");
    let res = revise(&app, &cast.approver, &id, &json!({"attachments": [renamed]})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "attachment_fixed");

    // Removing it narrows: in force at once; the revision that had it keeps it.
    let res = revise(&app, &cast.author, &id, &json!({"attachments": []})).await;
    let picture: Value = res.json().await.unwrap();
    assert!(picture.get("attachments").is_none(), "{picture}");
    let old: Value =
        app.get(&format!("/api/v1/pictures/{id}/revisions/2"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(old["attachments"][0]["id"], attachment["id"]);
    let aid = attachment["id"].as_str().unwrap();
    assert_eq!(download(&app, &cast.author, &id, aid).await.status(), 200, "the originator reads every revision");
    assert_eq!(download(&app, &cast.b_reader, &id, aid).await.status(), 404, "RED never reached B");
    assert_eq!(count(&app, "attachments").await, 1, "nothing deleted");
}

/// The same bytes are the same evidence: one approver who downloads a RED file and
/// uploads it again as a new file at the picture's AMBER loosens it, which needs a second
/// approver; until then no reader the RED file never reached sees it.
#[tokio::test]
async fn one_approver_cannot_release_a_red_files_bytes_again_as_a_new_looser_file() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let bytes = png("red-evidence", 2_000);
    let body =
        uploaded(upload(&app, &cast.author, &id, Upload { tlp: Some("RED"), ..Upload::png(bytes.clone()) }).await)
            .await;
    let aid = body["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);
    assert_eq!(download(&app, &cast.b_reader, &id, &aid).await.status(), 404, "RED never reached B");

    let res = download(&app, &cast.approver, &id, &aid).await;
    assert_eq!(res.status(), 200);
    let again = res.bytes().await.unwrap().to_vec();
    assert_eq!(again, bytes);
    let res = upload(&app, &cast.approver, &id, Upload::png(again)).await;
    assert!(res.status().is_success(), "the upload is accepted as a proposal: {}", res.status());

    let sha = sha256_hex(&bytes);
    let b: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.json().await.unwrap();
    let listed = b["content"]["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(b["attachments"].as_array().into_iter().flatten());
    assert!(!listed.into_iter().any(|a| a["sha256"] == sha.as_str()), "the RED file's bytes reached B: {b}");
    let a: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.approver)).await.json().await.unwrap();
    assert!(a["pending_revision"].is_number(), "the re-upload waits for a second approver: {a}");
}

/// The same bytes are stored once, so a stored file lost from the folder (a bad restore, a
/// disk fault) would make every later upload of those bytes unreadable: such an upload is
/// refused (and logged as an error for the operator), never answered 201.
#[tokio::test]
async fn an_upload_of_bytes_whose_stored_file_is_lost_is_refused_not_stored_unreadable() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let bytes = png("lost", 4_000);
    let p1 = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id1 = p1["id"].as_str().unwrap().to_owned();
    uploaded(upload(&app, &cast.author, &id1, Upload::png(bytes.clone())).await).await;
    for f in stored_files_become(&app, 1).await {
        std::fs::remove_file(f).unwrap();
    }
    let p2 = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id2 = p2["id"].as_str().unwrap().to_owned();
    let res = upload(&app, &cast.author, &id2, Upload::png(bytes)).await;
    assert_eq!(res.status(), 500, "refused, not stored pointing at a missing file");
    let p2: Value = app.get(&format!("/api/v1/pictures/{id2}"), Some(&cast.author)).await.json().await.unwrap();
    assert!(p2["attachments"].as_array().is_none_or(Vec::is_empty), "{p2}");
}

/// Every page of a TAXII list (`path` has a `?`), following `next`.
async fn taxii_pages(app: &TestApp, token: &str, path: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = next.as_ref().map_or_else(|| path.to_owned(), |n| format!("{path}&next={n}"));
        let res = crate::taxii::taxii(app, token, &url).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        pages.push(body.get("objects").and_then(Value::as_array).cloned().unwrap_or_default());
        match body.get("next").and_then(Value::as_str) {
            Some(n) => next = Some(n.to_owned()),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn taxii_exports_attachments_as_artifacts_of_the_report_under_the_same_redaction() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group_virt_ras", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let open_bytes = png("open-artifact", 4_000);
    let open =
        uploaded(upload(&app, &cast.author, &id, Upload::png(open_bytes.clone())).await).await["attachment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let strict_bytes = png("strict-artifact", 5_000);
    let u = Upload { tlp: Some("AMBER+STRICT"), ..Upload::png(strict_bytes.clone()) };
    let strict =
        uploaded(upload(&app, &cast.author, &id, u).await).await["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);
    let picture: uuid::Uuid = id.parse().unwrap();
    let open_id = sitrep_stix::ids::artifact(picture, open.parse().unwrap(), sitrep_types::Tlp::Amber);
    let strict_id = sitrep_stix::ids::artifact(picture, strict.parse().unwrap(), sitrep_types::Tlp::AmberStrict);
    let report_id = sitrep_stix::ids::report(picture);
    let collection =
        format!("/taxii2/api/collections/{}/", sitrep_stix::ids::collection(sitrep_types::Tier::GroupVirtRas));

    // AMBER+STRICT reaches up to group_virt: B and V get both artifacts, R only the AMBER one.
    for (token, sees) in [(&cast.b_reader, true), (&cast.v_reader, true), (&cast.r_reader, false)] {
        let res = crate::taxii::taxii(&app, token, &format!("{collection}objects/?limit=1000")).await;
        assert_eq!(res.status(), 200);
        let record = app.audit_of(&res).await;
        let body: Value = res.json().await.unwrap();
        let objects = body["objects"].as_array().unwrap();
        let position = |stix_id: &str| objects.iter().position(|o| o["id"] == stix_id);
        let report_at = position(&report_id).expect("the report");
        let refs = objects[report_at]["object_refs"].as_array().unwrap();
        let open_at = position(&open_id).expect("the AMBER artifact");
        assert!(open_at < report_at, "carried before the report that refers to it");
        assert!(refs.iter().any(|r| r == open_id.as_str()));
        let artifact = &objects[open_at];
        sitrep_stix::check(artifact).unwrap_or_else(|e| panic!("{e}: {artifact}"));
        assert_eq!(artifact["mime_type"], "image/png");
        assert_eq!(artifact["hashes"]["SHA-256"], sha256_hex(&open_bytes));
        assert_eq!(
            artifact["object_marking_refs"],
            json!(["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"])
        );
        assert!(artifact.get("payload_bin").is_none(), "the file stays behind its URL");
        let url = artifact["url"].as_str().unwrap();
        assert!(url.starts_with("https://"), "{url}");
        assert!(url.ends_with(&format!("/api/v1/pictures/{id}/attachments/{open}/content")), "{url}");
        // The URL is the download endpoint, with its own visibility rule.
        let res = app.client.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(sha256_hex(&res.bytes().await.unwrap()), sha256_hex(&open_bytes));

        assert_eq!(position(&strict_id).is_some(), sees);
        assert_eq!(refs.iter().any(|r| r == strict_id.as_str()), sees);
        assert_eq!(body.to_string().contains(&sha256_hex(&strict_bytes)), sees);
        let reason = record.reason.unwrap_or_default();
        assert_eq!(reason.contains("attachments_redacted:1"), !sees, "{reason}");

        // Asked for by id: the stricter artifact does not exist for R.
        let res = crate::taxii::taxii(&app, token, &format!("{collection}objects/{strict_id}/")).await;
        assert_eq!(res.status(), if sees { 200 } else { 404 });
        if sees {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["objects"][0]["id"], strict_id.as_str());
            assert_eq!(
                body["objects"][0]["object_marking_refs"],
                json!(["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"])
            );
        }
        let res = crate::taxii::taxii(&app, token, &format!("{collection}objects/?match[type]=artifact")).await;
        let body: Value = res.json().await.unwrap();
        let ids: Vec<&str> = body["objects"].as_array().unwrap().iter().filter_map(|o| o["id"].as_str()).collect();
        assert!(ids.contains(&open_id.as_str()) && ids.contains(&strict_id.as_str()) == sees, "{body}");

        // A cyber observable has no `modified`: its version is its report version's.
        let res = crate::taxii::taxii(&app, token, &format!("{collection}manifest/?match[id]={open_id}")).await;
        let manifest: Value = res.json().await.unwrap();
        let version = manifest["objects"][0]["version"].as_str().unwrap();
        assert!(sitrep_stix::ids::parse_time(version).is_some(), "{manifest}");
    }

    // Page by page, an artifact is always on the page of a report that refers to it.
    for pages in [
        taxii_pages(&app, &cast.b_reader, &format!("{collection}objects/?limit=1")).await,
        taxii_pages(&app, &cast.b_reader, &format!("{collection}objects/?limit=2")).await,
    ] {
        let mut artifacts = 0;
        for page in &pages {
            for a in page.iter().filter(|o| o["type"] == "artifact") {
                artifacts += 1;
                assert!(
                    page.iter()
                        .any(|o| o["type"] == "report"
                            && o["object_refs"].as_array().unwrap().iter().any(|r| *r == a["id"])),
                    "an artifact without its report: {page:?}"
                );
            }
        }
        assert_eq!(artifacts, 2);
    }
}

#[tokio::test]
async fn the_oasis_validator_in_strict_mode_finds_nothing_in_an_exported_artifact() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    uploaded(upload(&app, &cast.author, &id, Upload::png(png("validated", 2_000))).await).await;
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);
    let (file, objects) = crate::stix_tools::bundle_of(&app, &cast.b_reader, "").await;
    assert!(objects.iter().any(|o| o["type"] == "artifact"), "an artifact exported");
    let found = crate::stix_tools::findings(&file, false);
    assert!(found.is_empty(), "stix2-validator --strict:\n{}", found.join("\n"));
}

/// An artifact has no versions in STIX, so a file made stricter is another artifact: a
/// client asking for the file as the picture now stands gets it under its new marking,
/// never under the looser one it was first published with.
#[tokio::test]
async fn a_file_made_stricter_is_exported_under_its_new_marking_never_the_old_one() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "GREEN")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let body = uploaded(upload(&app, &cast.author, &id, Upload::png(png("narrowed", 2_000))).await).await;
    let attachment = body["attachment"].clone();
    assert_eq!(attachment["tlp"], "GREEN");
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);
    let mut stricter = attachment.clone();
    stricter["tlp"] = json!("AMBER");
    let res = revise(&app, &cast.author, &id, &json!({"attachments": [stricter]})).await;
    assert_eq!(res.status(), 200, "narrowing takes effect at once");

    let picture: uuid::Uuid = id.parse().unwrap();
    let aid: uuid::Uuid = attachment["id"].as_str().unwrap().parse().unwrap();
    let green_id = sitrep_stix::ids::artifact(picture, aid, sitrep_types::Tlp::Green);
    let amber_id = sitrep_stix::ids::artifact(picture, aid, sitrep_types::Tlp::Amber);
    let collection = format!("/taxii2/api/collections/{}/", sitrep_stix::ids::collection(sitrep_types::Tier::Group));
    let objects = |body: &Value| body["objects"].as_array().cloned().unwrap_or_default();
    // The picture as it stands: its report refers to the AMBER artifact only.
    let res = crate::taxii::taxii(&app, &cast.b_reader, &format!("{collection}objects/?limit=1000")).await;
    assert_eq!(res.status(), 200);
    let now = objects(&res.json().await.unwrap());
    let report = now.iter().find(|o| o["type"] == "report" && o["id"] == sitrep_stix::ids::report(picture).as_str());
    let refs = report.expect("the report")["object_refs"].clone();
    assert!(refs.as_array().unwrap().iter().any(|r| r == amber_id.as_str()), "{refs}");
    assert!(!refs.as_array().unwrap().iter().any(|r| r == green_id.as_str()), "{refs}");
    // Asked for by id, the current artifact carries the AMBER marking.
    let res = crate::taxii::taxii(&app, &cast.b_reader, &format!("{collection}objects/{amber_id}/")).await;
    assert_eq!(res.status(), 200);
    let by_id = objects(&res.json().await.unwrap());
    assert!(!by_id.is_empty());
    for o in by_id.iter().filter(|o| o["type"] == "artifact") {
        assert_eq!(o["object_marking_refs"], json!([sitrep_stix::tlp::marking_id(sitrep_types::Tlp::Amber)]), "{o}");
    }
}
