//! Login, refresh and logout.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
    /// The organisation to act for (its id or code). Needed only when the user has
    /// active memberships in more than one organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// The current code of the authenticator app, for a user with TOTP. Missing when
    /// needed: `401` with code `totp_required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// A single-use recovery code instead of `totp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

/// `POST /api/v1/me/password`: a person changes their own password.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password the person signs in with now (also a one-time password an
    /// administrator set).
    #[schema(format = Password)]
    pub current_password: String,
    /// The new password: 15–128 characters, not the username or a variant of it, not a
    /// common or breached password.
    #[schema(format = Password)]
    pub new_password: String,
}

impl std::fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangePassword(<redacted>)")
    }
}

/// A pair of tokens. The access token is a JWT to send as `Authorization: Bearer`; the
/// refresh token is opaque, single use, and exchanged at `/api/v1/auth/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// Works once, for a new pair. Absent when the request asked for a browser session
    /// (`Sitrep-Session: cookie`): the token is then in an `HttpOnly` cookie instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the refresh token expires if unused.
    pub refresh_expires_in: u64,
    /// The organisation the tokens act for.
    pub organisation_id: Uuid,
}

/// `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshToken {
    pub refresh_token: String,
}

/// A JSON Web Key Set (RFC 7517) of the public keys that verify access tokens.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037): `kty` `OKP`, `crv` `Ed25519`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// A token signing key as operators see it (`GET /api/v1/signing-keys`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// This key signs new tokens; the others only verify tokens they signed earlier.
    pub signing: bool,
}
