//! Wire types of the Sitrep API: what integrators see.
//!
//! Everything here derives `serde` and `utoipa::ToSchema`; nothing here knows about
//! actix-web or PostgreSQL. Request bodies reject unknown fields. Validation beyond the
//! shape of the JSON happens in `sitrep-domain`, where these become checked types.

pub mod access_log;
pub mod account;
pub mod auth;
pub mod enums;
pub mod notification;
pub mod peer;
pub mod picture;
pub mod problem;
pub mod reference;
pub mod report;
pub mod subscription;
pub mod taxii;
pub mod thread;

pub use access_log::*;
pub use account::*;
pub use auth::*;
pub use enums::*;
pub use notification::*;
pub use peer::*;
pub use picture::*;
pub use problem::*;
pub use reference::*;
pub use report::*;
pub use subscription::*;
pub use taxii::*;
pub use thread::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque cursor for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Text in the three working languages. At least one is present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl LocalizedText {
    /// No language is present.
    pub fn is_empty(&self) -> bool {
        self.fi.is_none() && self.sv.is_none() && self.en.is_none()
    }
}
