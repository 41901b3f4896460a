//! Who is calling, and what they may do. The permission a handler needs is a type in its
//! signature: `Caller<ManageUsers>` cannot be constructed for a caller who may not.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use sitrep_db::audit::ActorType;
use sitrep_db::sessions::{self, PrincipalRefusal};
use sitrep_domain::Permissions;
use uuid::Uuid;

use crate::error::ApiError;
use crate::meta::AuditActor;
use crate::state::AppState;

/// An authenticated user acting for one organisation, as the database says now.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub organisation_id: Uuid,
    pub membership_id: Uuid,
    pub session_id: Uuid,
    pub permissions: Permissions,
}

impl Principal {
    pub fn role_names(&self) -> Vec<&'static str> {
        self.permissions.roles.to_vec().into_iter().map(|r| r.as_str()).collect()
    }

    async fn authenticate(req: HttpRequest) -> Result<Principal, ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("state missing")))?;
        let token = bearer(&req)?;
        let claims = state.tokens.verify(token).map_err(|e| ApiError::Unauthenticated { reason: e.reason() })?;
        let client = state.pool.get().await?;
        let row = sessions::principal(&client, claims.sid, claims.sub, claims.org).await?;
        let row = row.map_err(|refusal: PrincipalRefusal| ApiError::Unauthenticated { reason: refusal.as_str() })?;
        let principal = Principal {
            user_id: claims.sub,
            username: row.username,
            organisation_id: claims.org,
            membership_id: row.membership_id,
            session_id: claims.sid,
            permissions: Permissions::new(claims.org, row.reach, row.roles),
        };
        req.extensions_mut().insert(AuditActor {
            actor_type: ActorType::User,
            actor_id: principal.user_id,
            actor_name: principal.username.clone(),
            organisation_id: principal.organisation_id,
            membership_id: Some(principal.membership_id),
            roles: principal.role_names(),
        });
        Ok(principal)
    }
}

/// The token of `Authorization: Bearer <token>`. Tokens in query strings are ignored.
fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let missing = ApiError::Unauthenticated { reason: "token_missing" };
    let value = req.headers().get(header::AUTHORIZATION).ok_or(missing)?;
    let value = value.to_str().map_err(|_| ApiError::Unauthenticated { reason: "token_malformed" })?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthenticated { reason: "token_malformed" })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated { reason: "token_malformed" });
    }
    Ok(token.trim())
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Principal, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Principal::authenticate(req.clone()))
    }
}

/// A permission a handler needs, decided from the caller's permissions alone.
/// Object-level checks (which organisation) happen in the work function.
pub trait Policy {
    /// Shown to the caller when refused.
    const REFUSAL: &'static str;
    fn allows(p: &Permissions) -> bool;
}

/// An authenticated caller who holds policy `P`. Refused with `403` otherwise.
#[derive(Debug, Clone)]
pub struct Caller<P: Policy> {
    pub principal: Principal,
    policy: PhantomData<P>,
}

impl<P: Policy> std::ops::Deref for Caller<P> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<P: Policy + 'static> FromRequest for Caller<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller<P>, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = Principal::authenticate(req).await?;
            if !P::allows(&principal.permissions) {
                return Err(ApiError::forbidden(P::REFUSAL));
            }
            Ok(Caller { principal, policy: PhantomData })
        })
    }
}

/// Any authenticated caller.
pub struct Authenticated;
impl Policy for Authenticated {
    const REFUSAL: &'static str = "";
    fn allows(_: &Permissions) -> bool {
        true
    }
}

/// The secretariat: create, rename, deactivate organisations.
pub struct ManageOrganisations;
impl Policy for ManageOrganisations {
    const REFUSAL: &'static str = "Only the secretariat manages organisations.";
    fn allows(p: &Permissions) -> bool {
        p.can_manage_organisations()
    }
}

/// The secretariat or an `org_admin`: users and memberships.
pub struct ManageUsers;
impl Policy for ManageUsers {
    const REFUSAL: &'static str = "Only the secretariat and organisation administrators manage users.";
    fn allows(p: &Permissions) -> bool {
        p.can_manage_users()
    }
}

/// `author` or `approver`: create and revise the organisation's pictures.
pub struct AuthorPictures;
impl Policy for AuthorPictures {
    const REFUSAL: &'static str = "Only authors and approvers write pictures.";
    fn allows(p: &Permissions) -> bool {
        p.can_author_pictures()
    }
}

/// `approver`: approve, publish, withdraw, close.
pub struct ApprovePictures;
impl Policy for ApprovePictures {
    const REFUSAL: &'static str = "Only approvers do this.";
    fn allows(p: &Permissions) -> bool {
        p.can_approve_pictures()
    }
}

/// The secretariat: reference data (elections, communities).
pub struct SecretariatOnly;
impl Policy for SecretariatOnly {
    const REFUSAL: &'static str = "Only the secretariat does this.";
    fn allows(p: &Permissions) -> bool {
        p.is_secretariat()
    }
}

/// `reader`, `author` or `approver`: read pictures and acknowledge them.
pub struct ReadPictures;
impl Policy for ReadPictures {
    const REFUSAL: &'static str = "Only readers, authors and approvers do this.";
    fn allows(p: &Permissions) -> bool {
        p.can_read_pictures()
    }
}

/// The secretariat or an `org_admin`: subscriptions (scope checked in the work function).
pub struct ManageSubscriptions;
impl Policy for ManageSubscriptions {
    const REFUSAL: &'static str = "Only the secretariat and organisation administrators manage subscriptions.";
    fn allows(p: &Permissions) -> bool {
        p.is_secretariat() || p.can_manage_users()
    }
}

/// The auditor or the secretariat: read, export and verify the access log.
pub struct ReadAccessLog;
impl Policy for ReadAccessLog {
    const REFUSAL: &'static str = "Only auditors and the secretariat read the access log.";
    fn allows(p: &Permissions) -> bool {
        p.can_read_access_log()
    }
}

/// `sysadmin`: technical administration (metrics, keys); no picture content.
pub struct Sysadmin;
impl Policy for Sysadmin {
    const REFUSAL: &'static str = "Only system administrators do this.";
    fn allows(p: &Permissions) -> bool {
        p.can_administer_system()
    }
}
