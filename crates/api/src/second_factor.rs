//! Spending a TOTP code: checked against the person's sealed secret and its time step
//! used up, so that a code works once, at sign-in (`routes::auth`) and at the
//! self-service endpoints (`routes::totp`) alike.

use chrono::Utc;
use sitrep_auth::totp;
use sitrep_db::{GenericClient, second_factor};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// What a presented TOTP code did.
pub(crate) enum Spend {
    Spent,
    Invalid,
    Replayed,
}

/// Checks `code` against the sealed secret of `user` and spends its time step, so that it
/// works once (at login and at the self-service endpoints alike).
pub(crate) async fn spend(
    state: &AppState,
    c: &impl GenericClient,
    user: Uuid,
    sealed_secret: &[u8],
    code: &str,
) -> Result<Spend, ApiError> {
    let secret = state.seal.open(sealed_secret, user.as_bytes())?;
    let now = Utc::now().timestamp().max(0) as u64;
    let Some(step) = totp::verify(&secret, code, now) else { return Ok(Spend::Invalid) };
    if !second_factor::spend_totp_step(c, user, step as i64).await? {
        return Ok(Spend::Replayed);
    }
    Ok(Spend::Spent)
}
