//! Credentials: argon2id password hashing, Ed25519-signed access tokens, opaque refresh
//! tokens. No database access: callers store what these functions produce.

pub mod keyfile;
pub mod password;
pub mod refresh;
pub mod tokens;

pub use password::{HashError, PasswordHasher, PasswordPolicy, Verified};
pub use tokens::{AccessClaims, KeySet, TokenConfig, TokenError, TokenService};
