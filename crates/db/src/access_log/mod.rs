//! The access log's SQL (docs/access-log.md), by job: `write` (every record goes through
//! it), `seal` (the pending records chained in commit order), `read` (pages, the last
//! `seq`, a whole-log scan), `scan` (the verifier's fast `COPY` read), `checkpoints` and
//! the `recorder` (the shared commit of the records of reads). What is pure — the record's
//! encoding, the chain, the verifier, the export formats — is the `sitrep-access-log`
//! crate.
//!
//! A write passes the client of the transaction that does the work, so the write and its
//! record commit together; a request that changes nothing hands its record to the
//! [`recorder::Recorder`], which commits the records of concurrent requests together.
//! Either way a request is answered only after its record is durable. Records are written
//! unchained to `access_log_pending`; the sealer ([`seal`]) appends them to the hash chain
//! (`sitrep_access_log::chain`) in commit order.

mod checkpoints;
mod read;
pub mod recorder;
pub mod scan;
mod seal;
mod write;

pub use checkpoints::*;
pub use read::*;
pub use seal::*;
pub use write::*;

use std::net::IpAddr;

use uuid::Uuid;

use sitrep_access_log::chain::Content;

/// Who made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorType {
    User,
    ServiceAccount,
    Anonymous,
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ServiceAccount => "service_account",
            ActorType::Anonymous => "anonymous",
            ActorType::System => "system",
        }
    }
}

/// How the request ended, from the access rules' point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or data returned.
    Allowed,
    /// Refused by authentication or authorisation (401, 403, 404 for what the caller may
    /// not see, 429).
    Denied,
    /// Refused for another reason: invalid input, conflict, a server fault.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One access-log record. `at` and `seq` are set by the database.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub request_id: String,
    pub actor_type: ActorType,
    pub actor_id: Option<Uuid>,
    /// The username (for a failed login: the name submitted, normalised and truncated).
    pub actor_name: Option<String>,
    pub organisation_id: Option<Uuid>,
    pub membership_id: Option<Uuid>,
    pub roles: Vec<&'static str>,
    pub action: String,
    pub object_type: Option<&'static str>,
    pub object_id: Option<String>,
    pub object_revision: Option<i32>,
    /// For lists and feeds: the ids returned.
    pub object_ids: Option<Vec<Uuid>>,
    pub tier: Option<String>,
    pub tlp: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub http_status: u16,
    pub client_addr: Option<IpAddr>,
}

impl AccessRecord {
    /// The record's content as the chain encodes it.
    pub fn content(&self) -> Content<'_> {
        Content {
            action: &self.action,
            actor_id: self.actor_id,
            actor_name: self.actor_name.as_deref(),
            actor_type: self.actor_type.as_str(),
            client_addr: self.client_addr.map(|a| a.to_string()),
            http_status: self.http_status as i16,
            membership_id: self.membership_id,
            object_id: self.object_id.as_deref(),
            object_ids: self.object_ids.as_deref(),
            object_revision: self.object_revision,
            object_type: self.object_type,
            organisation_id: self.organisation_id,
            outcome: self.outcome.as_str(),
            reason: self.reason.as_deref(),
            request_id: &self.request_id,
            roles: self.roles.clone(),
            tier: self.tier.as_deref(),
            tlp: self.tlp.as_deref(),
        }
    }
}
