//! What the access-log tests share: the server's checkpoint signer and public key, an
//! auditor's token, a verification's break, and an export downloaded to a file.

use crate::helpers::{TestApp, request_id};
use sitrep_server::access_log::{VerifyError, read_public_key};
use sitrep_server::checkpoint::CheckpointSigner;
use sitrep_types::Role;
use std::path::Path;

/// The checkpoint signer of the server under test (its key in the data folder).
pub fn signer(app: &TestApp) -> CheckpointSigner {
    CheckpointSigner::load(&app.data_dir.join("audit/checkpoint-key.pem")).unwrap()
}

pub fn public_key(app: &TestApp) -> ed25519_dalek::VerifyingKey {
    read_public_key(&signer(app).public().public_key).unwrap()
}

pub async fn auditor_token(app: &TestApp) -> String {
    let auditor = app.seed_user("the.auditor", "S", &[Role::Auditor]).await;
    app.token(&auditor).await
}

pub fn broken(result: Result<sitrep_access_log::chain::Report, VerifyError>) -> sitrep_access_log::chain::Break {
    match result {
        Err(VerifyError::Broken(b)) => b,
        other => panic!("expected a broken log, got {other:?}"),
    }
}

pub async fn download(app: &TestApp, token: &str, format: &str, file: &Path) -> String {
    let res = app.get(&format!("/api/v1/access-log/export?format={format}"), Some(token)).await;
    assert_eq!(res.status(), 200);
    let rid = request_id(&res);
    let text = res.text().await.unwrap();
    std::fs::write(file, &text).unwrap();
    rid
}
