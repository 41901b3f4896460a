//! The access log: one function writes every record (DESIGN §6).
//!
//! Callers pass the client of the transaction that does the work, so a write and its
//! record commit together, and a read is answered only after its record is written.
//! The hash chain (a later issue) changes only this module.

use std::net::IpAddr;

use uuid::Uuid;

use crate::{DbError, GenericClient};

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

/// Writes one record through `c`. The caller's transaction decides when it commits.
pub async fn record(c: &impl GenericClient, r: &AccessRecord) -> Result<i64, DbError> {
    let row = c
        .query_one(
            "INSERT INTO access_log (request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, \
               roles, action, object_type, object_id, object_revision, object_ids, tier, tlp, outcome, reason, \
               http_status, client_addr) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING seq",
            &[
                &r.request_id,
                &r.actor_type.as_str(),
                &r.actor_id,
                &r.actor_name,
                &r.organisation_id,
                &r.membership_id,
                &r.roles,
                &r.action,
                &r.object_type,
                &r.object_id,
                &r.object_revision,
                &r.object_ids,
                &r.tier,
                &r.tlp,
                &r.outcome.as_str(),
                &r.reason,
                &(r.http_status as i16),
                &r.client_addr,
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}
