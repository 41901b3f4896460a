//! Evidence attachments over HTTPS: upload and download with the hash, what is stored
//! (ciphertext only, the same bytes once, nothing of a refused upload), the media-type
//! rule, the revision rules an upload shares with a patch, and who sees an attachment
//! whose TLP is stricter than its picture's.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::attachments::{
    Upload, count, download, download_range, exif_with_gps, image_upload, large_jpeg, pdf, photo, sha256_hex,
    thumbnail, upload, upload_if_match, uploaded,
};
use crate::helpers::pictures::{Cast, act, cast, content, create, etag, revise};
use crate::helpers::{TestApp, problem};

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
    let bytes = pdf(marker, 200_000);
    let body = uploaded(upload(&app, &cast.author, id, Upload::pdf(bytes.clone())).await).await;
    let a = &body["attachment"];
    assert_eq!(a["sha256"], sha256_hex(&bytes));
    assert_eq!(a["size"], 200_000);
    assert_eq!(a["file_name"], "kuvakaappaus ä.pdf");
    assert_eq!(a["media_type"], "application/pdf");
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
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"kuvakaappaus _.pdf\"; filename*=UTF-8''kuvakaappaus%20%C3%A4.pdf"
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
    let bytes = pdf("same", 70_000);
    for _ in 0..2 {
        let p = create(&app, &cast.author, &content("group", "AMBER")).await;
        uploaded(upload(&app, &cast.author, p["id"].as_str().unwrap(), Upload::pdf(bytes.clone())).await).await;
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

    let res = upload(&app, &cast.author, id, Upload::pdf(pdf("big", 100_001))).await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");

    // Without a Content-Length the limit is found while streaming.
    let tag = etag(&app, &cast.author, id).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        pdf("chunked", 120_000).chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .header("content-type", "application/pdf")
        .header("attachment-file-name", "a.pdf")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");

    // A body that breaks off: the client gives up half way.
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

    // The picture's total counts too: 90 000 fits, another 90 000 does not.
    uploaded(upload(&app, &cast.author, id, Upload::pdf(pdf("first", 90_000))).await).await;
    let res = upload(&app, &cast.author, id, Upload::pdf(pdf("second", 90_000))).await;
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
    let res = upload(
        &app,
        &cast.author,
        id,
        Upload { body: pdf.clone(), content_type: "image/png", ..Upload::pdf(Vec::new()) },
    )
    .await;
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
        Upload { body: b"<html>".to_vec(), content_type: "text/html", ..Upload::pdf(vec![]) },
    )
    .await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "media_type_not_allowed");
    // The same PDF declared as what it is is accepted.
    let res =
        upload(&app, &cast.author, id, Upload { body: pdf, content_type: "application/pdf", ..Upload::pdf(vec![]) })
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
    let u = Upload { tlp: Some("AMBER+STRICT"), ..Upload::pdf(pdf("strict", 5_000)) };
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
        uploaded(upload(&app, &cast.author, did, Upload::pdf(pdf("draft", 3_000))).await).await["attachment"]["id"]
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
    let bytes = pdf("retry", 10_000);
    let first = uploaded(
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-1"), ..Upload::pdf(bytes.clone()) }).await,
    )
    .await;
    // The retry carries the ETag the first attempt was sent with.
    let again = uploaded(
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-1"), ..Upload::pdf(bytes.clone()) }).await,
    )
    .await;
    assert_eq!(first["attachment"], again["attachment"]);
    assert_eq!(count(&app, "attachments").await, 1);
    assert_eq!(crate::helpers::pictures::revisions(&app, &cast.author, id).await.len(), 2);
    // The key with another file is refused.
    let res =
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-1"), ..Upload::pdf(pdf("other", 10_000)) })
            .await;
    // The documented top-level code, so a client tells it from a bad upload.
    let p = problem(res, 422).await;
    assert_eq!(
        (p["code"].as_str(), p["errors"][0]["code"].as_str()),
        (Some("idempotency_key_reused"), Some("idempotency_key_reused"))
    );
}

#[tokio::test]
async fn a_retry_of_an_upload_that_filled_the_picture_gets_its_first_answer_not_413() {
    let app = TestApp::spawn_with(|s| {
        s.attachments.max_file_bytes = 15_000;
        s.attachments.max_picture_bytes = 15_000;
    })
    .await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let tag = etag(&app, &cast.author, id).await;
    let bytes = pdf("fills", 12_000);
    let first = uploaded(
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-full"), ..Upload::pdf(bytes.clone()) })
            .await,
    )
    .await;
    // The answer was lost; the retry is answered with the first result although the
    // picture has no room left for another file of that size.
    let again = uploaded(
        upload_if_match(&app, &cast.author, id, &tag, Upload { key: Some("k-full"), ..Upload::pdf(bytes.clone()) })
            .await,
    )
    .await;
    assert_eq!(first["attachment"], again["attachment"]);
    assert_eq!(count(&app, "attachments").await, 1);
    // Without the key, or with another, the room is what it is.
    let res = upload(&app, &cast.author, id, Upload { key: Some("k-other"), ..Upload::pdf(pdf("more", 12_000)) }).await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");
    assert_eq!(count(&app, "attachments").await, 1);
}

#[tokio::test]
async fn an_upload_with_a_stale_if_match_is_412_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let stale = etag(&app, &cast.author, id).await;
    assert_eq!(revise(&app, &cast.author, id, &json!({"urgency": "routine"})).await.status(), 200);
    let res = upload_if_match(&app, &cast.author, id, &stale, Upload::pdf(pdf("stale", 1_000))).await;
    assert_eq!(problem(res, 412).await["code"], "stale_etag");
    let res = app
        .client
        .post(app.url(&format!("/api/v1/pictures/{id}/attachments")))
        .bearer_auth(&cast.author)
        .header("content-type", "application/pdf")
        .header("attachment-file-name", "a.pdf")
        .body(pdf("none", 1_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 428);
    // A reader of another organisation cannot attach to it.
    let res = upload(&app, &cast.author, id, Upload::pdf(pdf("ok", 1_000))).await;
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
    let u = Upload { tlp: Some("RED"), ..Upload::pdf(pdf("red", 2_000)) };
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
    let bytes = pdf("red-evidence", 2_000);
    let body =
        uploaded(upload(&app, &cast.author, &id, Upload { tlp: Some("RED"), ..Upload::pdf(bytes.clone()) }).await)
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
    let res = upload(&app, &cast.approver, &id, Upload::pdf(again)).await;
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
    let bytes = pdf("lost", 4_000);
    let p1 = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id1 = p1["id"].as_str().unwrap().to_owned();
    uploaded(upload(&app, &cast.author, &id1, Upload::pdf(bytes.clone())).await).await;
    for f in stored_files_become(&app, 1).await {
        std::fs::remove_file(f).unwrap();
    }
    let p2 = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id2 = p2["id"].as_str().unwrap().to_owned();
    let res = upload(&app, &cast.author, &id2, Upload::pdf(bytes)).await;
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
        let res = crate::helpers::taxii::taxii(app, token, &url).await;
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
    let open_bytes = pdf("open-artifact", 4_000);
    let open =
        uploaded(upload(&app, &cast.author, &id, Upload::pdf(open_bytes.clone())).await).await["attachment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let strict_bytes = pdf("strict-artifact", 5_000);
    let u = Upload { tlp: Some("AMBER+STRICT"), ..Upload::pdf(strict_bytes.clone()) };
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
        let res = crate::helpers::taxii::taxii(&app, token, &format!("{collection}objects/?limit=1000")).await;
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
        assert_eq!(artifact["mime_type"], "application/pdf");
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
        let res = crate::helpers::taxii::taxii(&app, token, &format!("{collection}objects/{strict_id}/")).await;
        assert_eq!(res.status(), if sees { 200 } else { 404 });
        if sees {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["objects"][0]["id"], strict_id.as_str());
            assert_eq!(
                body["objects"][0]["object_marking_refs"],
                json!(["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"])
            );
        }
        let res =
            crate::helpers::taxii::taxii(&app, token, &format!("{collection}objects/?match[type]=artifact")).await;
        let body: Value = res.json().await.unwrap();
        let ids: Vec<&str> = body["objects"].as_array().unwrap().iter().filter_map(|o| o["id"].as_str()).collect();
        assert!(ids.contains(&open_id.as_str()) && ids.contains(&strict_id.as_str()) == sees, "{body}");

        // A cyber observable has no `modified`: its version is its report version's.
        let res =
            crate::helpers::taxii::taxii(&app, token, &format!("{collection}manifest/?match[id]={open_id}")).await;
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
    uploaded(upload(&app, &cast.author, &id, Upload::pdf(pdf("validated", 2_000))).await).await;
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
    let body = uploaded(upload(&app, &cast.author, &id, Upload::pdf(pdf("narrowed", 2_000))).await).await;
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
    let res = crate::helpers::taxii::taxii(&app, &cast.b_reader, &format!("{collection}objects/?limit=1000")).await;
    assert_eq!(res.status(), 200);
    let now = objects(&res.json().await.unwrap());
    let report = now.iter().find(|o| o["type"] == "report" && o["id"] == sitrep_stix::ids::report(picture).as_str());
    let refs = report.expect("the report")["object_refs"].clone();
    assert!(refs.as_array().unwrap().iter().any(|r| r == amber_id.as_str()), "{refs}");
    assert!(!refs.as_array().unwrap().iter().any(|r| r == green_id.as_str()), "{refs}");
    // Asked for by id, the current artifact carries the AMBER marking.
    let res = crate::helpers::taxii::taxii(&app, &cast.b_reader, &format!("{collection}objects/{amber_id}/")).await;
    assert_eq!(res.status(), 200);
    let by_id = objects(&res.json().await.unwrap());
    assert!(!by_id.is_empty());
    for o in by_id.iter().filter(|o| o["type"] == "artifact") {
        assert_eq!(o["object_marking_refs"], json!([sitrep_stix::tlp::marking_id(sitrep_types::Tlp::Amber)]), "{o}");
    }
}

// Images: stripped of their metadata before they are stored.

/// A JPEG of a photo with an APP1 EXIF segment carrying a GPS position and `marker`.
fn jpeg_with_gps(marker: &str) -> Vec<u8> {
    let mut plain = Vec::new();
    photo(64, 48).write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)).unwrap();
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(exif_with_gps(marker));
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(payload);
    out.extend_from_slice(&plain[2..]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A PNG of a photo with a `tEXt` comment and an `eXIf` chunk with GPS, both carrying
/// `marker`, placed after the header.
fn png_with_metadata(marker: &str) -> Vec<u8> {
    let mut plain = Vec::new();
    photo(40, 30).write_with_encoder(image::codecs::png::PngEncoder::new(&mut plain)).unwrap();
    // Signature (8) and IHDR (25), then the rest.
    let mut out = plain[..33].to_vec();
    out.extend(png_chunk(b"tEXt", format!("Comment\0{marker}").as_bytes()));
    out.extend(png_chunk(b"eXIf", &exif_with_gps(marker)));
    out.extend_from_slice(&plain[33..]);
    out
}

fn exif_of(bytes: &[u8]) -> Result<exif::Exif, exif::Error> {
    exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes))
}

#[tokio::test]
async fn an_uploaded_jpeg_is_stored_and_downloaded_without_its_exif_and_gps_position() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let marker = "CAMERA-SERIAL-7731";
    let original = jpeg_with_gps(marker);
    let exif = exif_of(&original).expect("the test image carries EXIF");
    assert!(exif.get_field(exif::Tag::GPSLatitudeRef, exif::In::PRIMARY).is_some(), "and a GPS position");

    let res = upload(&app, &cast.author, id, image_upload(original.clone(), "image/jpeg")).await;
    let body = uploaded(res).await;
    let a = &body["attachment"];
    assert_eq!(a["original_sha256"], sha256_hex(&original), "the original's hash is kept");
    assert_ne!(a["sha256"], sha256_hex(&original), "what is stored is not the original");
    let aid = a["id"].as_str().unwrap();

    let res = download(&app, &cast.author, id, aid).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let got = res.bytes().await.unwrap();
    assert_eq!(a["sha256"], sha256_hex(&got), "sha256 is the downloaded file's");
    assert_eq!(a["size"], got.len());
    assert!(matches!(exif_of(&got), Err(exif::Error::NotFound(_))), "no EXIF at all: {:?}", exif_of(&got).map(|_| ()));
    assert!(!got.windows(4).any(|w| w == b"Exif"));
    assert!(!got.windows(marker.len()).any(|w| w == marker.as_bytes()));
    let decoded = image::load_from_memory_with_format(&got, image::ImageFormat::Jpeg).expect("the pixels decode");
    assert_eq!((decoded.width(), decoded.height()), (64, 48));

    // The file no longer exists as it was sent: not in the store (ciphertext only anyway)
    // and not left behind in the temporary folder. The store holds the stripped file and
    // its thumbnail.
    stored_files_become(&app, 2).await;
    app.seal_log().await;
    let c = app.pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT reason FROM access_log WHERE object_type = 'attachment' AND object_id = $1 \
             AND action = 'attachment.upload'",
            &[&aid],
        )
        .await
        .unwrap();
    let reason: String = row.get(0);
    assert!(reason.contains(&format!("original_sha256:{}", sha256_hex(&original))), "{reason}");
}

#[tokio::test]
async fn an_uploaded_png_loses_its_text_and_exif_chunks_and_keeps_every_pixel() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let marker = "GPS-COMMENT-MARKER-99";
    let original = png_with_metadata(marker);
    assert!(exif_of(&original).is_ok_and(|e| e.get_field(exif::Tag::GPSLatitudeRef, exif::In::PRIMARY).is_some()));
    let body = uploaded(upload(&app, &cast.author, id, image_upload(original.clone(), "image/png")).await).await;
    let aid = body["attachment"]["id"].as_str().unwrap();
    let got = download(&app, &cast.author, id, aid).await.bytes().await.unwrap();
    assert!(exif_of(&got).is_err(), "no EXIF");
    for needle in [b"tEXt".as_slice(), b"eXIf", b"iTXt", b"zTXt", marker.as_bytes()] {
        assert!(!got.windows(needle.len()).any(|w| w == needle), "{} survived", String::from_utf8_lossy(needle));
    }
    let before = image::load_from_memory(&original).unwrap().to_rgb8();
    let after = image::load_from_memory_with_format(&got, image::ImageFormat::Png).unwrap().to_rgb8();
    assert_eq!(before, after, "a PNG is encoded again losslessly");
}

/// A PNG signature and a header declaring `w`×`h` RGB pixels, and no pixels.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[tokio::test]
async fn a_png_declaring_100000_by_100000_pixels_is_refused_at_once_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let bomb = png_header(100_000, 100_000);
    let started = std::time::Instant::now();
    let res = upload(&app, &cast.author, id, image_upload(bomb.clone(), "image/png")).await;
    let record = app.audit_of(&res).await;
    let body = problem(res, 422).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused at once: {:?}", started.elapsed());
    assert_eq!(body["errors"][0]["code"], "image_too_large", "{body}");
    assert_eq!(body["errors"][0]["field"], "body");
    assert_eq!(record.reason.unwrap_or_default(), format!("image_too_large sha256:{}", sha256_hex(&bomb)));
    // A file that is not an image of its type at all is refused the same way.
    let mut broken = png_with_metadata("broken");
    broken.truncate(60);
    let res = upload(&app, &cast.author, id, image_upload(broken, "image/png")).await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "image_undecodable");
    assert_eq!(count(&app, "attachments").await, 0);
    assert_eq!(count(&app, "attachment_blobs").await, 0);
    stored_files_become(&app, 0).await;
    let revisions = crate::helpers::pictures::revisions(&app, &cast.author, id).await;
    assert_eq!(revisions.len(), 1, "no revision written");
}

/// The same picture sent twice, and sent once more with other metadata, is stored once:
/// the stripped files are the same bytes. Each upload keeps its own original's hash, so
/// an organisation that uploads a photo another one has already stored learns nothing of
/// that other upload: its answer is the one it would get if it were the first.
#[tokio::test]
async fn the_same_image_is_stored_once_and_no_upload_learns_another_ones_original() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let b_author = app.seed_user("b.author", "B", &[sitrep_types::Role::Author]).await;
    let b_author = app.token(&b_author).await;
    let with_gps = jpeg_with_gps("FIRST-CAMERA");
    let other_exif = jpeg_with_gps("SECOND-CAMERA");
    let p1 = create(&app, &cast.author, &content("group", "AMBER")).await;
    let first = uploaded(
        upload(&app, &cast.author, p1["id"].as_str().unwrap(), image_upload(with_gps.clone(), "image/jpeg")).await,
    )
    .await;
    let p2 = create(&app, &b_author, &content("group", "AMBER")).await;
    let id2 = p2["id"].as_str().unwrap();
    let second = uploaded(upload(&app, &b_author, id2, image_upload(other_exif.clone(), "image/jpeg")).await).await;
    let third = uploaded(upload(&app, &b_author, id2, image_upload(other_exif.clone(), "image/jpeg")).await).await;
    assert_eq!(first["attachment"]["sha256"], second["attachment"]["sha256"], "the same pixels, the same stored file");
    assert_eq!(second["attachment"]["sha256"], third["attachment"]["sha256"]);
    assert_eq!(count(&app, "attachments").await, 3);
    assert_eq!(count(&app, "attachment_blobs").await, 1);
    stored_files_become(&app, 2).await;
    assert_eq!(first["attachment"]["original_sha256"], sha256_hex(&with_gps));
    for b in [&second, &third] {
        assert_eq!(b["attachment"]["original_sha256"], sha256_hex(&other_exif));
        assert!(!b.to_string().contains(&sha256_hex(&with_gps)), "A's original leaked: {b}");
    }
    // B downloads its own upload: its stripped file, nothing of A's.
    let aid = second["attachment"]["id"].as_str().unwrap();
    let got = download(&app, &b_author, id2, aid).await.bytes().await.unwrap();
    assert!(!got.windows(12).any(|w| w == b"FIRST-CAMERA"));
    assert_eq!(sha256_hex(&got), second["attachment"]["sha256"].as_str().unwrap());
    let res = thumbnail(&app, &b_author, id2, third["attachment"]["id"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200, "the stored file's thumbnail serves every upload of it");
}

/// A JPEG is encoded again with loss, so a stripped JPEG downloaded and uploaded again is
/// stored as other bytes; its original's hash is the first file's, and that makes it the
/// same evidence: loosening it needs a second approver.
#[tokio::test]
async fn one_approver_cannot_release_a_red_jpeg_again_as_a_new_looser_file() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let u = Upload { tlp: Some("RED"), ..image_upload(jpeg_with_gps("red-photo"), "image/jpeg") };
    let body = uploaded(upload(&app, &cast.author, &id, u).await).await;
    let aid = body["attachment"]["id"].as_str().unwrap().to_owned();
    let red_sha = body["attachment"]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);

    let again = download(&app, &cast.approver, &id, &aid).await.bytes().await.unwrap().to_vec();
    let res = upload(&app, &cast.approver, &id, image_upload(again, "image/jpeg")).await;
    assert!(res.status().is_success(), "accepted as a proposal: {}", res.status());
    let reupload: Value = res.json().await.unwrap();
    assert_ne!(reupload["attachment"]["sha256"], red_sha.as_str(), "stripped again, other bytes");
    assert_eq!(reupload["attachment"]["original_sha256"], red_sha.as_str());

    let b: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert!(b["attachments"].as_array().is_none_or(Vec::is_empty), "the RED photo reached B: {b}");
    let a: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.approver)).await.json().await.unwrap();
    assert!(a["pending_revision"].is_number(), "the re-upload waits for a second approver: {a}");
}

#[tokio::test]
async fn an_image_has_a_png_thumbnail_within_320_pixels_and_other_files_have_none() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let photo = uploaded(upload(&app, &cast.author, id, image_upload(large_jpeg(1000, 500), "image/jpeg")).await).await;
    let aid = photo["attachment"]["id"].as_str().unwrap().to_owned();
    let res = thumbnail(&app, &cast.author, id, &aid).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "attachment.thumbnail");
    assert!(record.reason.as_deref().unwrap_or_default().contains(photo["attachment"]["sha256"].as_str().unwrap()));
    let png = res.bytes().await.unwrap();
    assert_eq!(h["content-length"], png.len().to_string().as_str());
    assert!(exif_of(&png).is_err(), "no EXIF in the thumbnail");
    assert!(!png.windows(12).any(|w| w == b"THUMB-CAMERA"));
    let small = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
    assert_eq!((small.width(), small.height()), (320, 160));

    // The thumbnail is stored encrypted beside the file: no PNG in the folder.
    for f in stored_files_become(&app, 2).await {
        let data = std::fs::read(&f).unwrap();
        for needle in [b"\x89PNG".as_slice(), b"IHDR", &png[..64]] {
            assert!(!data.windows(needle.len()).any(|w| w == needle), "{} holds plaintext", f.display());
        }
    }

    let pdf_aid =
        uploaded(upload(&app, &cast.author, id, Upload::pdf(pdf("no-thumb", 2_000))).await).await["attachment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let res = thumbnail(&app, &cast.author, id, &pdf_aid).await;
    let record = app.audit_of(&res).await;
    assert_eq!(problem(res, 404).await["code"], "thumbnail_not_found");
    assert!(record.reason.unwrap_or_default().starts_with("thumbnail_not_found"));
}

/// A thumbnail shows what the file shows: it is served to exactly those the download is.
#[tokio::test]
async fn the_ras_contact_point_gets_404_for_the_thumbnail_of_an_amber_strict_image_as_for_its_download() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group_virt_ras", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let u = Upload { tlp: Some("AMBER+STRICT"), ..image_upload(jpeg_with_gps("strict-photo"), "image/jpeg") };
    let aid = uploaded(upload(&app, &cast.author, &id, u).await).await["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);
    for (token, sees) in [(&cast.b_reader, true), (&cast.v_reader, true), (&cast.r_reader, false)] {
        assert_eq!(download(&app, token, &id, &aid).await.status(), if sees { 200 } else { 404 });
        let res = thumbnail(&app, token, &id, &aid).await;
        let record = app.audit_of(&res).await;
        assert_eq!(record.object_id.as_deref(), Some(aid.as_str()), "logged with the attachment id");
        if sees {
            assert_eq!(res.status(), 200);
        } else {
            assert_eq!(problem(res, 404).await["code"], "attachment_not_found", "the same answer as a download");
            assert_eq!(record.outcome, "denied");
        }
    }
    // Another organisation's draft, and an id of another picture: 404 as for the download.
    let draft = create(&app, &cast.author, &content("group", "AMBER")).await;
    let did = draft["id"].as_str().unwrap();
    let daid =
        uploaded(upload(&app, &cast.author, did, image_upload(jpeg_with_gps("draft-photo"), "image/jpeg")).await).await
            ["attachment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(thumbnail(&app, &cast.b_reader, did, &daid).await.status(), 404);
    assert_eq!(thumbnail(&app, &cast.b_reader, &id, &daid).await.status(), 404, "another picture's attachment");
    assert_eq!(thumbnail(&app, &cast.author, did, &daid).await.status(), 200);
}

#[tokio::test]
async fn a_byte_range_of_a_download_is_206_with_exactly_those_bytes_and_the_log_says_which() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    // Four 64 KiB segments: the range below begins in the second and ends in the third.
    let bytes = pdf("ranges", 200_000);
    let a = uploaded(upload(&app, &cast.author, id, Upload::pdf(bytes.clone())).await).await;
    let aid = a["attachment"]["id"].as_str().unwrap();
    let etag = format!("\"{}\"", sha256_hex(&bytes));

    let res = download_range(&app, &cast.author, id, aid, &[("range", "bytes=70000-140000")]).await;
    assert_eq!(res.status(), 206);
    let h = res.headers().clone();
    assert_eq!(h["content-range"], "bytes 70000-140000/200000");
    assert_eq!(h["content-length"], "70001");
    assert_eq!(h["content-disposition"].to_str().unwrap().split(';').next(), Some("attachment"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["etag"], etag.as_str());
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "attachment.download");
    assert_eq!(record.http_status, 206);
    assert!(record.reason.as_deref().unwrap_or_default().ends_with("range:70000-140000"), "{record:?}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[70_000..=140_000]);

    for (range, slice) in [("bytes=-100", 199_900..200_000), ("bytes=199990-", 199_990..200_000), ("bytes=0-0", 0..1)] {
        let res = download_range(&app, &cast.author, id, aid, &[("range", range)]).await;
        assert_eq!(res.status(), 206, "{range}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[slice], "{range}");
    }
    // Several ranges, or an If-Range naming another file: the whole file.
    for headers in [vec![("range", "bytes=0-1,5-6")], vec![("range", "bytes=0-1"), ("if-range", "\"0000\"")]] {
        let res = download_range(&app, &cast.author, id, aid, &headers).await;
        assert_eq!(res.status(), 200, "{headers:?}");
        assert_eq!(res.headers()["accept-ranges"], "bytes");
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let res = download_range(&app, &cast.author, id, aid, &[("range", "bytes=10-19"), ("if-range", &etag)]).await;
    assert_eq!(res.status(), 206, "If-Range with the file's ETag keeps the range");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[10..20]);
    // Not valid, or not within the file: 416 with the size, logged.
    for range in ["bytes=5-3", "bytes=200000-", "bytes=-0", "bytes=x-1"] {
        let res = download_range(&app, &cast.author, id, aid, &[("range", range)]).await;
        assert_eq!(res.headers().get("content-range").map(|v| v.to_str().unwrap()), Some("bytes */200000"), "{range}");
        let record = app.audit_of(&res).await;
        assert_eq!(problem(res, 416).await["code"], "range_not_satisfiable", "{range}");
        assert_eq!(record.object_id.as_deref(), Some(aid));
        assert!(record.reason.unwrap_or_default().starts_with("range_not_satisfiable size:200000"));
    }
}

/// A range asks nothing of a file the caller may not see: `404` whatever the range, so
/// no answer tells its size.
#[tokio::test]
async fn a_range_of_an_attachment_the_callers_tlp_does_not_reach_is_404_not_416() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let (id, aid) = published_with_stricter_attachment(&app, &cast).await;
    for range in ["bytes=0-0", "bytes=999999-", "bytes=5-3"] {
        let res = download_range(&app, &cast.r_reader, &id, &aid, &[("range", range)]).await;
        assert_eq!(res.headers().get("content-range"), None);
        assert_eq!(problem(res, 404).await["code"], "attachment_not_found", "{range}");
        let res = download_range(&app, &cast.b_reader, &id, &aid, &[("range", range)]).await;
        assert!([206, 416].contains(&res.status().as_u16()), "{range}: {}", res.status());
    }
}

/// An image whose stripping takes longer than `attachments.image_time_limit_ms` is refused
/// with `image_too_slow`, recorded with its hash, and leaves nothing behind: no
/// attachment, no stored file, no revision.
#[tokio::test]
async fn an_image_that_takes_too_long_to_strip_is_refused_and_leaves_nothing() {
    let app = TestApp::spawn_with(|s| s.attachments.image_time_limit_ms = 1).await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let mut big = Vec::new();
    photo(2000, 1500).write_with_encoder(image::codecs::png::PngEncoder::new(&mut big)).unwrap();
    let res = upload(&app, &cast.author, id, image_upload(big.clone(), "image/png")).await;
    let record = app.audit_of(&res).await;
    let body = problem(res, 422).await;
    assert_eq!(
        (body["errors"][0]["field"].as_str(), body["errors"][0]["code"].as_str()),
        (Some("body"), Some("image_too_slow"))
    );
    assert_eq!(record.reason.unwrap_or_default(), format!("image_too_slow sha256:{}", sha256_hex(&big)));
    assert_eq!(count(&app, "attachments").await, 0);
    assert_eq!(count(&app, "attachment_blobs").await, 0);
    stored_files_become(&app, 0).await;
    assert_eq!(crate::helpers::pictures::revisions(&app, &cast.author, id).await.len(), 1, "no revision written");
    // A file that is not an image is not stripped, so the limit does not touch it.
    assert_eq!(upload(&app, &cast.author, id, Upload::pdf(pdf("not an image", 2_000))).await.status(), 201);
}
