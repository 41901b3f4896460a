//! TOTP credentials and recovery codes. Secrets arrive sealed; this module never sees
//! them in the clear.

use uuid::Uuid;

use crate::{DbError, GenericClient};

/// A user's TOTP credential.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub sealed_secret: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
}

pub async fn get_totp(c: &impl GenericClient, user_id: Uuid) -> Result<Option<TotpRow>, DbError> {
    let row = c
        .query_opt(
            "SELECT sealed_secret, confirmed_at IS NOT NULL AS confirmed, last_step FROM totp_credentials WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    row.map(|r| {
        Ok(TotpRow {
            sealed_secret: r.try_get("sealed_secret")?,
            confirmed: r.try_get("confirmed")?,
            last_step: r.try_get("last_step")?,
        })
    })
    .transpose()
}

/// Starts (or restarts) an enrolment: an unconfirmed credential replaces an unconfirmed
/// one. Returns `false` when a confirmed credential exists (disable it first).
pub async fn start_totp(c: &impl GenericClient, user_id: Uuid, sealed_secret: &[u8]) -> Result<bool, DbError> {
    let n = c
        .execute(
            "INSERT INTO totp_credentials AS t (user_id, sealed_secret) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = $2, created_at = now(), last_step = 0 \
             WHERE t.confirmed_at IS NULL",
            &[&user_id, &sealed_secret],
        )
        .await?;
    Ok(n > 0)
}

/// Spends the code of time step `step`: only a step above the last one spent, so a code
/// works once. `false` means a replay (or a code older than one already used).
pub async fn spend_totp_step(c: &impl GenericClient, user_id: Uuid, step: i64) -> Result<bool, DbError> {
    let n = c
        .execute("UPDATE totp_credentials SET last_step = $2 WHERE user_id = $1 AND last_step < $2", &[&user_id, &step])
        .await?;
    Ok(n > 0)
}

pub async fn confirm_totp(c: &impl GenericClient, user_id: Uuid) -> Result<bool, DbError> {
    let n = c
        .execute(
            "UPDATE totp_credentials SET confirmed_at = now() WHERE user_id = $1 AND confirmed_at IS NULL",
            &[&user_id],
        )
        .await?;
    Ok(n > 0)
}

/// Removes the credential and the recovery codes.
pub async fn remove_totp(c: &impl GenericClient, user_id: Uuid) -> Result<bool, DbError> {
    c.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id]).await?;
    let n = c.execute("DELETE FROM totp_credentials WHERE user_id = $1", &[&user_id]).await?;
    Ok(n > 0)
}

/// Replaces the user's recovery codes with these hashes.
pub async fn replace_recovery_codes(c: &impl GenericClient, user_id: Uuid, hashes: &[[u8; 32]]) -> Result<(), DbError> {
    c.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id]).await?;
    let hashes: Vec<&[u8]> = hashes.iter().map(|h| h.as_slice()).collect();
    c.execute(
        "INSERT INTO recovery_codes (code_hash, user_id) SELECT h, $1 FROM unnest($2::bytea[]) AS h",
        &[&user_id, &hashes],
    )
    .await?;
    Ok(())
}

/// Spends a recovery code of the user: `true` once, then never again.
pub async fn spend_recovery_code(c: &impl GenericClient, user_id: Uuid, hash: &[u8]) -> Result<bool, DbError> {
    let n = c
        .execute(
            "UPDATE recovery_codes SET used_at = now() WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL",
            &[&hash, &user_id],
        )
        .await?;
    Ok(n > 0)
}

pub async fn unused_recovery_codes(c: &impl GenericClient, user_id: Uuid) -> Result<i64, DbError> {
    Ok(c.query_one("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", &[&user_id])
        .await?
        .try_get(0)?)
}
