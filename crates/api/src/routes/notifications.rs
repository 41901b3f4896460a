//! E-mail notifications: a person's own preferences (`/me/notifications`), an
//! organisation's duty addresses (the secretariat, or its own `org_admin`), the
//! confirmation of an address by the token mailed to it, and the mail log (the
//! secretariat). What is mailed, to whom and when: docs/notifications.md.

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};
use sitrep_db::access_log::Outcome;
use sitrep_db::notifications::{self, DutyRow, Owner, PreferencesRow};
use sitrep_db::{GenericClient, accounts};
use sitrep_domain::notify::{self, About, EmailAddress, Mail, MailedEvent, Preferences, QuietHours};
use sitrep_domain::visibility::{Handling, Viewer};
use sitrep_domain::{FieldErrors, Invalid};
use sitrep_types::{
    ConfirmEmail, Domain, DutyAddress, Escalation, Inbox, InboxItem, Lang, MailMessage, MarkRead,
    NotificationPreferences, OverdueAcknowledgement, Page, PutDutyAddresses, Status, Tier,
    UpdateNotificationPreferences, Urgency,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::{Json, Query};
use crate::docs::{AuthFailures, BodyFailures, Forbidden, NotFound, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{ActorKind, Authenticated, Caller, ManageUsers, Principal, ReadPictures, SecretariatOnly};
use crate::state::AppState;

endpoints! {
    "/me/notifications" {
        GET "notification_preferences.view" => get_preferences,
        PUT "notification_preferences.update" => put_preferences,
    }
    "/organisations/{id}/duty-addresses" {
        GET "duty_address.list" => list_duty_addresses,
        PUT "duty_address.update" => put_duty_addresses,
    }
    "/email-confirmations" { POST "email.confirm" => confirm_email }
    "/me/notifications/inbox" { GET "notification.list" => get_inbox }
    "/me/notifications/inbox/read" { POST "notification.read" => mark_inbox_read }
    "/notifications/messages" { GET "mail_message.list" => list_mail_messages }
    "/notifications/escalations" { GET "escalation.list" => list_escalations }
    "/acknowledgements/overdue" { GET "acknowledgement.list_overdue" => list_overdue_acknowledgements }
}

/// How long a confirmation link works.
pub const CONFIRMATION_TTL_SECS: i64 = 48 * 3600;
/// At most this many duty addresses per organisation.
const MAX_DUTY_ADDRESSES: usize = 10;
const MAX_ELECTIONS: usize = 50;

fn people_only() -> ApiError {
    ApiError::Forbidden {
        code: "people_only",
        detail: "Only people receive notifications; service accounts read the feed.",
    }
}

fn view(row: Option<PreferencesRow>) -> NotificationPreferences {
    let row = row.unwrap_or_else(|| PreferencesRow {
        urgencies: vec!["immediate".into()],
        language: "fi".into(),
        ..Default::default()
    });
    let quiet_hours = match (row.quiet_start, row.quiet_end, row.time_zone) {
        (Some(s), Some(e), Some(tz)) => Some(sitrep_types::QuietHours {
            start: s.format("%H:%M").to_string(),
            end: e.format("%H:%M").to_string(),
            time_zone: tz,
        }),
        _ => None,
    };
    let digest = match (row.digest_at, &row.digest_time_zone) {
        (Some(at), Some(tz)) => {
            Some(sitrep_types::Digest { at: at.format("%H:%M").to_string(), time_zone: tz.clone() })
        }
        _ => None,
    };
    NotificationPreferences {
        digest,
        email_confirmed: row.email.is_some() && row.email_confirmed_at.is_some(),
        email: row.email,
        urgencies: row.urgencies.iter().filter_map(|u| sitrep_types::Urgency::parse(u)).collect(),
        domains: row.domains.iter().filter_map(|d| sitrep_types::Domain::parse(d)).collect(),
        election_ids: row.election_ids,
        quiet_hours,
        language: Lang::parse(&row.language).unwrap_or(Lang::Fi),
    }
}

/// A new single-use token: the text mailed, and the SHA-256 stored.
fn new_token() -> (String, [u8; 32]) {
    use base64::Engine;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = Sha256::digest(token.as_bytes()).into();
    (token, hash)
}

/// Stores a confirmation token for `email` and queues the message that carries it.
async fn send_confirmation(
    c: &impl GenericClient,
    owner: Owner,
    organisation: Option<Uuid>,
    email: &str,
) -> Result<(), ApiError> {
    let (token, hash) = new_token();
    let message_id = hex::encode(rand::random::<[u8; 16]>());
    notifications::new_confirmation(c, owner, organisation, email, &hash, &token, &message_id, CONFIRMATION_TTL_SECS)
        .await?;
    Ok(())
}

/// The caller's notification preferences (defaults until set).
#[utoipa::path(
    get, path = "/api/v1/me/notifications", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = NotificationPreferences), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn get_preferences(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
) -> Result<HttpResponse, ApiError> {
    if caller.actor != ActorKind::User {
        return Err(people_only());
    }
    let client = meta.client(&state.pool).await?;
    let row = notifications::preferences(&client, caller.user_id).await?;
    access_log::commit(
        &state,
        &meta,
        access_log::by(&meta, &caller).object("notification_preferences", caller.user_id),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(row)))
}

/// Set what reaches the caller by e-mail: urgencies, domains, elections, quiet hours
/// (never applied to `immediate`), language and the address. A new address is sent a
/// confirmation link (valid 48 hours) and receives nothing else until it is confirmed.
#[utoipa::path(
    put, path = "/api/v1/me/notifications", tag = "notifications",
    security(("bearer" = [])), request_body = UpdateNotificationPreferences,
    responses((status = 200, body = NotificationPreferences), AuthFailures, Forbidden, BodyFailures, ServerFailures)
)]
pub async fn put_preferences(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    body: Json<UpdateNotificationPreferences>,
) -> Result<HttpResponse, ApiError> {
    let stored = set_preferences(&state, &meta, &caller, body.0).await?;
    Ok(HttpResponse::Ok().json(view(Some(stored))))
}

/// Parses the preferences, stores them, and when the address changed sends the link.
async fn set_preferences(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Principal,
    body: UpdateNotificationPreferences,
) -> Result<PreferencesRow, ApiError> {
    if caller.actor != ActorKind::User {
        return Err(people_only());
    }
    let mut errors = FieldErrors::default();
    let email = body.email.as_deref().and_then(|e| errors.take(EmailAddress::parse("email", e)));
    let quiet = body.quiet_hours.as_ref().and_then(|q| errors.take(QuietHours::parse(&q.start, &q.end, &q.time_zone)));
    let digest = body
        .digest
        .as_ref()
        .and_then(|d| errors.take(sitrep_domain::digest::DigestSchedule::parse(&d.at, &d.time_zone)));
    if body.election_ids.len() > MAX_ELECTIONS {
        errors.push(Invalid::new("election_ids", "too_many", "at most 50 elections"));
    }
    errors.finish()?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    if !body.election_ids.is_empty() {
        let known = tx
            .query_one("SELECT count(*) FROM elections WHERE id = ANY ($1)", &[&body.election_ids])
            .await
            .map_err(sitrep_db::DbError::from)?;
        let mut ids = body.election_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        if known.get::<_, i64>(0) != i64::try_from(ids.len()).unwrap_or(i64::MAX) {
            return Err(ApiError::invalid("election_ids", "unknown_election", "every election must exist"));
        }
    }
    let row = PreferencesRow {
        email: email.as_ref().map(|e| e.as_str().to_owned()),
        email_confirmed_at: None,
        urgencies: body.urgencies.iter().map(|u| u.as_str().to_owned()).collect(),
        domains: body.domains.iter().map(|d| d.as_str().to_owned()).collect(),
        election_ids: body.election_ids,
        quiet_start: quiet.map(|q| q.start),
        quiet_end: quiet.map(|q| q.end),
        time_zone: body.quiet_hours.map(|q| q.time_zone),
        digest_at: digest.map(|d| d.at),
        digest_time_zone: digest.map(|d| d.time_zone.name().to_owned()),
        language: body.language.as_str().to_owned(),
    };
    let (stored, changed) = notifications::put_preferences(&tx, caller.user_id, &row).await?;
    if changed && let Some(address) = &stored.email {
        send_confirmation(&tx, Owner::Person(caller.user_id), None, address).await?;
    }
    let mut record = access_log::by(meta, caller).object("notification_preferences", caller.user_id);
    if changed {
        record.reason = Some("confirmation_sent".into());
    }
    access_log::write(&tx, meta, record).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Confirm an address (a person's or a duty address) with the token of the message sent
/// to it. A token works once, for 48 hours, and only while the address is still the one
/// it was sent to. No sign-in needed: whoever reads the mailbox confirms it.
#[utoipa::path(
    post, path = "/api/v1/email-confirmations", tag = "notifications",
    request_body = ConfirmEmail,
    responses(
        (status = 204, description = "Confirmed"),
        (status = 404, description = "Unknown, used or expired token (`confirmation_not_found`)", body = sitrep_types::Problem, content_type = "application/problem+json"),
        BodyFailures, ServerFailures,
    )
)]
pub async fn confirm_email(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: Json<ConfirmEmail>,
) -> Result<HttpResponse, ApiError> {
    let hash: [u8; 32] = Sha256::digest(body.0.token.as_bytes()).into();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let confirmed = if body.0.token.len() > 100 { None } else { notifications::confirm(&tx, &hash).await? };
    let Some((owner, _)) = confirmed else {
        drop(tx);
        let record = access_log::anonymous(&meta).refused(Outcome::Denied, "confirmation_not_found", 404);
        access_log::commit(&state, &meta, record).await?;
        return Err(ApiError::not_found("confirmation_not_found"));
    };
    let record = match owner {
        Owner::Person(u) => access_log::anonymous(&meta).object("notification_preferences", u),
        Owner::Duty(d) => access_log::anonymous(&meta).object("duty_address", d),
    };
    access_log::write(&tx, &meta, record.status(204)).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

fn duty_view(d: DutyRow) -> DutyAddress {
    DutyAddress {
        id: d.id,
        organisation_id: d.organisation_id,
        email: d.email,
        language: Lang::parse(&d.language).unwrap_or(Lang::Fi),
        confirmed: d.confirmed_at.is_some(),
        created_at: d.created_at,
    }
}

const ORG_NOT_FOUND: ApiError = ApiError::NotFound { code: "organisation_not_found" };

/// An organisation's duty addresses (the secretariat, or the organisation's `org_admin`).
#[utoipa::path(
    get, path = "/api/v1/organisations/{id}/duty-addresses", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<DutyAddress>), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn list_duty_addresses(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !caller.permissions.can_manage_duty_addresses(id) {
        return Err(ORG_NOT_FOUND);
    }
    let client = meta.client(&state.pool).await?;
    accounts::get_organisation(&client, id).await?.ok_or(ORG_NOT_FOUND)?;
    let rows = notifications::duty_addresses(&client, id).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("duty_address", ids)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(duty_view).collect::<Vec<_>>()))
}

/// Set an organisation's duty addresses (the whole list, at most 10): where `immediate`
/// publications go whether or not a person opted in. Addresses already on the list keep
/// their confirmation; each new one is sent a confirmation link and receives nothing
/// until confirmed.
#[utoipa::path(
    put, path = "/api/v1/organisations/{id}/duty-addresses", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = PutDutyAddresses,
    responses((status = 200, body = Vec<DutyAddress>), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn put_duty_addresses(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
    body: Json<PutDutyAddresses>,
) -> Result<HttpResponse, ApiError> {
    let rows = set_duty_addresses(&state, &meta, &caller, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(duty_view).collect::<Vec<_>>()))
}

async fn set_duty_addresses(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Principal,
    organisation: Uuid,
    body: PutDutyAddresses,
) -> Result<Vec<DutyRow>, ApiError> {
    if !caller.permissions.can_manage_duty_addresses(organisation) {
        return Err(ORG_NOT_FOUND);
    }
    let mut errors = FieldErrors::default();
    if body.addresses.len() > MAX_DUTY_ADDRESSES {
        errors.push(Invalid::new("addresses", "too_many", "at most 10 duty addresses"));
    }
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (i, a) in body.addresses.iter().enumerate() {
        let field = format!("addresses[{i}].email");
        if let Some(e) = errors.take(EmailAddress::parse(&field, &a.email)) {
            if wanted.iter().any(|(w, _)| w.eq_ignore_ascii_case(e.as_str())) {
                errors.push(Invalid::new(field, "duplicate", "each address once"));
            } else {
                wanted.push((e.as_str().to_owned(), a.language.as_str().to_owned()));
            }
        }
    }
    errors.finish()?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    accounts::get_organisation(&tx, organisation).await?.ok_or(ORG_NOT_FOUND)?;
    let (rows, added) = notifications::replace_duty_addresses(&tx, organisation, &wanted, caller.user_id).await?;
    for d in rows.iter().filter(|d| added.contains(&d.id)) {
        send_confirmation(&tx, Owner::Duty(d.id), Some(organisation), &d.email).await?;
    }
    let record = access_log::by(meta, caller).objects("duty_address", rows.iter().map(|r| r.id).collect());
    access_log::write(&tx, meta, record).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The mail log (the secretariat): the newest messages first, at most 200, optionally
/// only those in one `state` (`failed` shows what never reached its recipient).
#[utoipa::path(
    get, path = "/api/v1/notifications/messages", tag = "notifications",
    security(("bearer" = [])),
    params(MailQuery),
    responses((status = 200, body = Vec<MailMessage>), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn list_mail_messages(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    query: Query<MailQuery>,
) -> Result<HttpResponse, ApiError> {
    let wanted = query.0.state.map(MailState::as_str);
    let client = meta.client(&state.pool).await?;
    let rows = notifications::messages(&client, wanted, 200).await?;
    access_log::commit(
        &state,
        &meta,
        access_log::by(&meta, &caller).objects("mail_message", rows.iter().map(|m| m.id).collect()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// The escalation of overdue acknowledgements (the secretariat): the newest steps
/// first, at most 200, each with whether the organisation has acknowledged since.
#[utoipa::path(
    get, path = "/api/v1/notifications/escalations", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Escalation>), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn list_escalations(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let rows = notifications::escalations(&client, 200).await?;
    access_log::commit(
        &state,
        &meta,
        access_log::by(&meta, &caller).objects("picture", rows.iter().map(|e| e.picture_id).collect()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// The overdue acknowledgements the secretariat oversees: each silent recipient
/// organisation of each published picture whose deadline has passed, the most overdue
/// first, paged. Only what a picture's metadata and its acknowledgement status already
/// tell the secretariat: no title, no urgency field.
#[utoipa::path(
    get, path = "/api/v1/acknowledgements/overdue", tag = "notifications",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<OverdueAcknowledgement>), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn list_overdue_acknowledgements(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    query: Query<PageQuery>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = query.0.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, "overdue_acknowledgements");
    let after = cursors.after_position(query.0.cursor.as_deref())?.map(|(at, [picture, org])| (at, picture, org));
    let client = meta.client(&state.pool).await?;
    let rows =
        notifications::overdue_acknowledgements(&client, &Viewer::from(&caller.permissions), after, limit).await?;
    let next =
        cursors.next_position(rows.len(), limit, rows.last().map(|r| (r.deadline, [r.picture_id, r.organisation_id])));
    let mut pictures: Vec<Uuid> = rows.iter().map(|r| r.picture_id).collect();
    pictures.dedup();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("picture", pictures)).await?;
    Ok(HttpResponse::Ok().json(Page { items: rows, next_cursor: next }))
}

/// Query of the mail log.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MailQuery {
    /// Only messages in this state.
    pub state: Option<MailState>,
}

/// The state of a message in the mail log.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    Pending,
    Sent,
    Failed,
    Suppressed,
}

impl MailState {
    fn as_str(self) -> &'static str {
        match self {
            MailState::Pending => "pending",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
            MailState::Suppressed => "suppressed",
        }
    }
}

/// How far back the console's notification list reaches, and how much of it is shown.
const INBOX_DAYS: i32 = 30;
const INBOX_ITEMS: usize = 200;

/// The caller's notification list as the recipient rule gives it now (address
/// confirmation and quiet hours aside: they concern e-mail only).
async fn inbox_of(c: &impl GenericClient, caller: &Principal) -> Result<Inbox, ApiError> {
    let viewer = Viewer::from(&caller.permissions);
    let prefs = notifications::preferences(c, caller.user_id).await?;
    let prefs = match &prefs {
        Some(p) => Preferences {
            confirmed: true,
            urgencies: p.urgencies.iter().filter_map(|u| Urgency::parse(u)).collect(),
            domains: p.domains.iter().filter_map(|d| Domain::parse(d)).collect(),
            elections: p.election_ids.clone(),
            quiet_hours: None,
        },
        None => Preferences { confirmed: true, ..Preferences::default() },
    };
    let rows = notifications::inbox_candidates(c, &viewer, caller.user_id, INBOX_DAYS, 1000).await?;
    let now = chrono::Utc::now();
    let mut items = Vec::new();
    for r in rows {
        let p = &r.picture;
        let (Some(kind), Some(status), Some(tier), Some(urgency)) =
            (MailedEvent::of(&r.kind), Status::parse(&p.status), Tier::parse(&p.tier), Urgency::parse(&p.urgency))
        else {
            continue;
        };
        let domains: Vec<Domain> = p.domains.iter().filter_map(|d| Domain::parse(d)).collect();
        let about = About {
            event: kind,
            handling: Handling { originator: p.originator_id, status, tier, named: &p.named_recipients },
            urgency,
            domains: &domains,
            election: p.election_id,
        };
        if notify::for_person(&viewer, &prefs, &about, now) == Mail::Send {
            items.push(InboxItem {
                event_id: r.event_id,
                kind: r.kind,
                picture_id: p.id,
                reference: p.reference.clone(),
                urgency,
                created_at: r.created_at,
                read: r.read,
            });
        }
    }
    let unread = i64::try_from(items.iter().filter(|i| !i.read).count()).unwrap_or(i64::MAX);
    items.truncate(INBOX_ITEMS);
    Ok(Inbox { unread, items })
}

/// The caller's notification list (the console's): events of the last 30 days about
/// pictures the caller sees in full and did not write, that their urgencies, domains and
/// elections select, newest first (at most 200), and how many are unread.
#[utoipa::path(
    get, path = "/api/v1/me/notifications/inbox", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = Inbox), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn get_inbox(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
) -> Result<HttpResponse, ApiError> {
    if caller.actor != ActorKind::User {
        return Err(people_only());
    }
    let client = meta.client(&state.pool).await?;
    let inbox = inbox_of(&client, &caller).await?;
    let ids = inbox.items.iter().map(|i| i.picture_id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("picture", ids)).await?;
    Ok(HttpResponse::Ok().json(inbox))
}

/// Mark entries of the caller's notification list read (`event_ids`, at most 200), or
/// all of them (`all: true`). Answers the list as it is then.
#[utoipa::path(
    post, path = "/api/v1/me/notifications/inbox/read", tag = "notifications",
    security(("bearer" = [])), request_body = MarkRead,
    responses((status = 200, body = Inbox), AuthFailures, Forbidden, BodyFailures, ServerFailures)
)]
pub async fn mark_inbox_read(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    body: Json<MarkRead>,
) -> Result<HttpResponse, ApiError> {
    if caller.actor != ActorKind::User {
        return Err(people_only());
    }
    if body.0.event_ids.len() > INBOX_ITEMS {
        return Err(ApiError::invalid("event_ids", "too_many", "at most 200 ids"));
    }
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let before = inbox_of(&tx, &caller).await?;
    // Only entries of the caller's own list: an id of an event about a picture the
    // caller does not see marks nothing and tells nothing.
    let ids: Vec<Uuid> = before
        .items
        .iter()
        .filter(|i| body.0.all || body.0.event_ids.contains(&i.event_id))
        .map(|i| i.event_id)
        .collect();
    notifications::mark_read(&tx, caller.user_id, &ids).await?;
    let after = inbox_of(&tx, &caller).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).objects("event", ids)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(after))
}
