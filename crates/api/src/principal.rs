//! Who is calling, and what they may do. The permission a handler needs is a type in its
//! signature: `Caller<ManageUsers>` cannot be constructed for a caller who may not.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sitrep_auth::apikey;
use sitrep_db::Client;
use sitrep_db::access_log::ActorType;
use sitrep_db::service_accounts::{self, KeyRefusal};
use sitrep_db::sessions::{self, PrincipalRefusal};
use sitrep_domain::Permissions;
use uuid::Uuid;

use crate::error::ApiError;
use crate::meta::{AuditActor, AuthOutcome};
use crate::state::AppState;

/// Who is behind a request: a person (through a login session) or a service account
/// (through an API key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ServiceAccount,
}

/// An authenticated user or service account acting for one organisation, as the
/// database says now.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user, or the service account (a row of `users` too).
    pub user_id: Uuid,
    pub username: String,
    pub organisation_id: Uuid,
    pub membership_id: Uuid,
    pub actor: ActorKind,
    /// The login session of a person; `None` for an API key.
    pub session_id: Option<Uuid>,
    /// The API key of a service account.
    pub api_key_id: Option<Uuid>,
    /// What this session must do before anything else, if anything.
    pub restriction: Option<Restriction>,
    pub permissions: Permissions,
}

/// Something a person's session must do before it may do anything else. Until then only
/// the handlers whose policy allows it (`Policy::WHILE_RESTRICTED`) answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// The password is a one-time password an administrator set: change it
    /// (`POST /me/password`); reading who one is and logging out stay open.
    ChangePassword,
    /// TOTP is required (by the organisation or the roles) and this session has not
    /// proven it: enrol (`/me/totp`); reading who one is and logging out stay open.
    EnrolTotp,
}

impl Restriction {
    /// The restriction of a session as the database says now: the password first.
    pub fn of(row: &sessions::PrincipalRow) -> Option<Restriction> {
        if row.password_change_required {
            Some(Restriction::ChangePassword)
        } else if row.enrolment_only {
            Some(Restriction::EnrolTotp)
        } else {
            None
        }
    }

    /// The `403` every other handler answers.
    pub fn refusal(self) -> ApiError {
        match self {
            Restriction::ChangePassword => ApiError::Forbidden {
                code: "password_change_required",
                detail: "Your password was set by an administrator: choose your own at /api/v1/me/password first.",
            },
            Restriction::EnrolTotp => ApiError::Forbidden {
                code: "totp_enrolment_required",
                detail: "Your organisation requires a second factor: enrol TOTP at /api/v1/me/totp first.",
            },
        }
    }
}

/// A credential presented in `Authorization`.
enum Credential<'a> {
    AccessToken(&'a str),
    ApiKey(String),
}

impl Principal {
    pub fn role_names(&self) -> Vec<&'static str> {
        self.permissions.roles.to_vec().into_iter().map(|r| r.as_str()).collect()
    }

    pub fn actor_type(&self) -> ActorType {
        match self.actor {
            ActorKind::User => ActorType::User,
            ActorKind::ServiceAccount => ActorType::ServiceAccount,
        }
    }

    /// The caller of `req`: as the envelope authenticated it, or now.
    async fn of(req: HttpRequest) -> Result<Principal, ApiError> {
        let decided = req.extensions_mut().remove::<AuthOutcome>();
        match decided {
            Some(AuthOutcome(outcome)) => outcome,
            None => Principal::authenticate(req).await.map(|(principal, _)| principal),
        }
    }

    /// The caller of `req`, and the pool connection that looked it up (the envelope keeps
    /// it for the handler: `RequestMeta::client`).
    pub(crate) async fn authenticate(req: HttpRequest) -> Result<(Principal, Client), ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("state missing")))?;
        let (principal, client) = match credential(&req)? {
            Credential::AccessToken(token) => Self::from_access_token(state, token).await?,
            Credential::ApiKey(key) => {
                let addr = crate::meta::client_addr(&req).map(|a| a.to_string());
                Self::from_api_key(state, &key, addr.as_deref()).await?
            }
        };
        req.extensions_mut().insert(AuditActor {
            actor_type: principal.actor_type(),
            actor_id: principal.user_id,
            actor_name: principal.username.clone(),
            organisation_id: principal.organisation_id,
            membership_id: Some(principal.membership_id),
            roles: principal.role_names(),
        });
        Ok((principal, client))
    }

    /// Whether each of many principals (the live streams of a process) may still act: for
    /// each, `None` if it may no longer act, else the principal as the database says now
    /// (username, membership, roles, reach). Sessions are read in one query; API keys
    /// one query per distinct key and address.
    pub async fn current_many(
        c: &impl sitrep_db::GenericClient,
        principals: &[(&Principal, Option<std::net::IpAddr>)],
        roles_needing_totp: &[&str],
    ) -> Result<Vec<Option<Principal>>, ApiError> {
        let mut out: Vec<Option<Principal>> = vec![None; principals.len()];
        // Many streams may share one session or key: each is read once.
        let mut sessions: std::collections::HashMap<(Uuid, Uuid, Uuid), Vec<usize>> = Default::default();
        let mut keys: std::collections::HashMap<(Uuid, Option<String>), Vec<usize>> = Default::default();
        for (i, (p, addr)) in principals.iter().enumerate() {
            match (p.session_id, p.api_key_id) {
                (Some(sid), _) => sessions.entry((sid, p.user_id, p.organisation_id)).or_default().push(i),
                (None, Some(key)) => keys.entry((key, addr.map(|a| a.to_string()))).or_default().push(i),
                (None, None) => {}
            }
        }
        let (ids, slots): (Vec<_>, Vec<_>) = sessions.into_iter().unzip();
        let rows = sessions::principals(c, &ids, roles_needing_totp).await?;
        for (slots, row) in slots.into_iter().zip(rows) {
            let Ok(row) = row else { continue };
            let restriction = Restriction::of(&row);
            for i in slots {
                let p = principals[i].0;
                if restriction.is_some() && restriction != p.restriction {
                    continue;
                }
                out[i] = Some(Principal {
                    username: row.username.clone(),
                    membership_id: row.membership_id,
                    restriction,
                    permissions: Permissions::new(p.organisation_id, row.reach, row.roles),
                    ..p.clone()
                });
            }
        }
        for ((key, addr), slots) in keys {
            let found = service_accounts::key_principal_by_id(c, key, addr.as_deref()).await?;
            if let Ok(row) = found {
                for i in slots {
                    let p = principals[i].0;
                    out[i] = Some(Principal {
                        username: row.username.clone(),
                        membership_id: row.membership_id,
                        permissions: Permissions::new(row.organisation_id, row.reach, row.roles),
                        ..p.clone()
                    });
                }
            }
        }
        Ok(out)
    }

    async fn from_access_token(state: &AppState, token: &str) -> Result<(Principal, Client), ApiError> {
        let claims = state.tokens.verify(token).map_err(|e| ApiError::Unauthenticated { reason: e.reason() })?;
        let client = state.pool.get().await?;
        let totp_roles = state.login.roles_needing_totp();
        let row = sessions::principal(&client, claims.sid, claims.sub, claims.org, totp_roles).await?;
        let row = row.map_err(|refusal: PrincipalRefusal| ApiError::Unauthenticated { reason: refusal.as_str() })?;
        let restriction = Restriction::of(&row);
        let principal = Principal {
            user_id: claims.sub,
            username: row.username,
            organisation_id: claims.org,
            membership_id: row.membership_id,
            actor: ActorKind::User,
            session_id: Some(claims.sid),
            api_key_id: None,
            restriction,
            permissions: Permissions::new(claims.org, row.reach, row.roles),
        };
        Ok((principal, client))
    }

    async fn from_api_key(state: &AppState, key: &str, addr: Option<&str>) -> Result<(Principal, Client), ApiError> {
        let prefix = apikey::parse(key).ok_or(ApiError::Unauthenticated { reason: "api_key_malformed" })?;
        let client = state.pool.get().await?;
        let found = service_accounts::key_principal(&client, prefix, &apikey::hash(key), addr).await?;
        let row = found.map_err(|refusal: KeyRefusal| ApiError::Unauthenticated { reason: refusal.as_str() })?;
        let principal = Principal {
            user_id: row.account_id,
            username: row.username,
            organisation_id: row.organisation_id,
            membership_id: row.membership_id,
            actor: ActorKind::ServiceAccount,
            session_id: None,
            api_key_id: Some(row.key_id),
            restriction: None,
            permissions: Permissions::new(row.organisation_id, row.reach, row.roles),
        };
        Ok((principal, client))
    }
}

/// The credential of `Authorization: Bearer <access token or API key>` or
/// `Authorization: Basic <base64 of user:API key>` (for TAXII clients; the user part is
/// not checked). Credentials in query strings are ignored.
fn credential(req: &HttpRequest) -> Result<Credential<'_>, ApiError> {
    let malformed = ApiError::Unauthenticated { reason: "token_malformed" };
    let value =
        req.headers().get(header::AUTHORIZATION).ok_or(ApiError::Unauthenticated { reason: "token_missing" })?;
    let value = value.to_str().map_err(|_| ApiError::Unauthenticated { reason: "token_malformed" })?;
    let (scheme, rest) = value.split_once(' ').ok_or(ApiError::Unauthenticated { reason: "token_malformed" })?;
    let rest = rest.trim();
    if rest.is_empty() || rest.len() > MAX_CREDENTIAL_BYTES {
        return Err(malformed);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(if apikey::looks_like_key(rest) {
            Credential::ApiKey(rest.to_owned())
        } else {
            Credential::AccessToken(rest)
        });
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).map_err(|_| ApiError::Unauthenticated { reason: "token_malformed" })?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| ApiError::Unauthenticated { reason: "token_malformed" })?;
        let (_, password) = decoded.split_once(':').ok_or(ApiError::Unauthenticated { reason: "token_malformed" })?;
        if !apikey::looks_like_key(password) {
            return Err(ApiError::Unauthenticated { reason: "basic_needs_api_key" });
        }
        return Ok(Credential::ApiKey(password.to_owned()));
    }
    Err(malformed)
}

/// Longest `Authorization` value looked at (an access token is capped at 8 KiB too).
const MAX_CREDENTIAL_BYTES: usize = 12 * 1024;

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Principal, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = Principal::of(req).await?;
            if let Some(restriction) = principal.restriction {
                return Err(restriction.refusal());
            }
            Ok(principal)
        })
    }
}

/// A permission a handler needs, decided from the caller's permissions alone.
/// Object-level checks (which organisation) happen in the work function.
pub trait Policy {
    /// Shown to the caller when refused.
    const REFUSAL: &'static str;
    /// The restrictions under which a session may still do this.
    const WHILE_RESTRICTED: &'static [Restriction] = &[];
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
            let principal = Principal::of(req).await?;
            if let Some(restriction) = principal.restriction
                && !P::WHILE_RESTRICTED.contains(&restriction)
            {
                return Err(restriction.refusal());
            }
            if !P::allows(&principal.permissions) {
                return Err(ApiError::forbidden(P::REFUSAL));
            }
            Ok(Caller { principal, policy: PhantomData })
        })
    }
}

/// Any authenticated caller, also one that must still enrol a second factor: enrol TOTP.
pub struct SelfService;
impl Policy for SelfService {
    const REFUSAL: &'static str = "";
    const WHILE_RESTRICTED: &'static [Restriction] = &[Restriction::EnrolTotp];
    fn allows(_: &Permissions) -> bool {
        true
    }
}

/// Any authenticated caller, whatever its session must do first: who am I, change my
/// password, log out.
pub struct OwnAccount;
impl Policy for OwnAccount {
    const REFUSAL: &'static str = "";
    const WHILE_RESTRICTED: &'static [Restriction] = &[Restriction::EnrolTotp, Restriction::ChangePassword];
    fn allows(_: &Permissions) -> bool {
        true
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
