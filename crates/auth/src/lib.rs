//! Credentials: argon2id password hashing, Ed25519-signed access tokens, opaque refresh
//! tokens, API keys, TOTP, the sealing of stored secrets and the encryption of stored files. No database access: callers
//! store what these functions produce.

pub mod apikey;
pub mod envelope;
pub mod keyfile;
pub mod password;
pub mod refresh;
pub mod seal;
pub mod tokens;
pub mod totp;

pub use password::{HashError, PasswordHasher, PasswordPolicy, Verified};
pub use seal::SealKey;
pub use tokens::{AccessClaims, KeySet, TokenConfig, TokenError, TokenService};
