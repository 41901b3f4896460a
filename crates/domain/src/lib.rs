//! The rules of Sitrep, as pure code: checked types that request bodies become at the
//! edge, roles worked out into permissions, the picture lifecycle and its four eyes, the
//! sharing rules and the visibility function, passwords, organisation policies and
//! throttling, who sees a question thread. No I/O, no async.

pub mod account;
pub mod attachment;
pub mod browser_session;
pub mod charts;
pub mod correlation;
pub mod digest;
pub mod election;
pub mod escalation;
pub mod lifecycle;
pub mod markdown;
pub mod notify;
pub mod password;
pub mod permissions;
pub mod picture;
pub mod policy;
pub mod report;
pub mod thread;
pub mod throttle;
pub mod validation;
pub mod visibility;

pub use permissions::{AccountRoles, AdminScope, Permissions, Refusal, RoleSet};
pub use validation::{FieldErrors, Invalid};
