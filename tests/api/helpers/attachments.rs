//! What the attachment tests share: test files (PDFs, photos with and without EXIF, large
//! JPEGs), uploads with their headers, downloads, thumbnails, ranges and stored counts.

use crate::helpers::TestApp;
use crate::helpers::pictures::etag;
use reqwest::Response;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A PDF signature, a marker no ciphertext can contain by chance, and filler: a file the
/// server stores exactly as it came (images are stripped, see `images` below).
pub fn pdf(marker: &str, len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%".to_vec();
    bytes.extend_from_slice(marker.as_bytes());
    let mut i: u32 = 0;
    while bytes.len() < len {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push(i.to_le_bytes()[2]);
    }
    bytes.truncate(len);
    bytes
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub struct Upload<'a> {
    pub body: Vec<u8>,
    pub content_type: &'a str,
    pub name: &'a str,
    pub tlp: Option<&'a str>,
    pub key: Option<&'a str>,
}

impl<'a> Upload<'a> {
    pub fn pdf(body: Vec<u8>) -> Self {
        Upload { body, content_type: "application/pdf", name: "kuvakaappaus%20%C3%A4.pdf", tlp: None, key: None }
    }
}

pub async fn upload_if_match(app: &TestApp, token: &str, id: &str, if_match: &str, u: Upload<'_>) -> Response {
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

pub async fn upload(app: &TestApp, token: &str, id: &str, u: Upload<'_>) -> Response {
    let tag = etag(app, token, id).await;
    upload_if_match(app, token, id, &tag, u).await
}

pub async fn uploaded(res: Response) -> Value {
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

pub async fn download(app: &TestApp, token: &str, id: &str, aid: &str) -> Response {
    app.get(&format!("/api/v1/pictures/{id}/attachments/{aid}/content"), Some(token)).await
}

pub async fn count(app: &TestApp, table: &str) -> i64 {
    let c = app.pool.get().await.unwrap();
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0)
}

/// A photo-like gradient: every pixel differs from its neighbours.
pub fn photo(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let [.., r] = (x * 7).to_be_bytes();
        let [.., g] = (y * 5).to_be_bytes();
        let [.., b] = ((x + y) * 3).to_be_bytes();
        image::Rgb([r, g, b])
    })
}

/// An EXIF block (big-endian TIFF) whose GPS directory holds a latitude reference, and a
/// camera serial-like marker in IFD0's ImageDescription.
pub fn exif_with_gps(marker: &str) -> Vec<u8> {
    let mut text = marker.as_bytes().to_vec();
    text.push(0);
    let text_len = u32::try_from(text.len()).unwrap();
    // Header (8), IFD0 at 8 with two entries (2 + 2*12 + 4 = 30) → GPS IFD at 38 (2 + 12 +
    // 4 = 18) → the text at 56.
    let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
    t.extend_from_slice(&[0, 2]);
    t.extend_from_slice(&[0x01, 0x0e, 0, 2]);
    t.extend_from_slice(&text_len.to_be_bytes());
    t.extend_from_slice(&56u32.to_be_bytes());
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&[0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&text);
    t
}

pub fn image_upload(body: Vec<u8>, content_type: &str) -> Upload<'_> {
    Upload { body, content_type, name: "kuvakaappaus.img", tlp: None, key: None }
}

pub async fn thumbnail(app: &TestApp, token: &str, id: &str, aid: &str) -> Response {
    app.get(&format!("/api/v1/pictures/{id}/attachments/{aid}/thumbnail"), Some(token)).await
}

/// A JPEG of `w`×`h` pixels with GPS EXIF.
pub fn large_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut plain = Vec::new();
    photo(w, h).write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)).unwrap();
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(exif_with_gps("THUMB-CAMERA"));
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(payload);
    out.extend_from_slice(&plain[2..]);
    out
}

pub async fn download_range(app: &TestApp, token: &str, id: &str, aid: &str, headers: &[(&str, &str)]) -> Response {
    let mut req =
        app.client.get(app.url(&format!("/api/v1/pictures/{id}/attachments/{aid}/content"))).bearer_auth(token);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}
