//! Subscriptions (the secretariat for any organisation, an `org_admin` for its own), their
//! delivery log and replay, and the webhook host allow-list (the secretariat).

use actix_web::{HttpResponse, web};
use sitrep_db::subscriptions::{self, Filter, SubscriptionRow};
use sitrep_delivery::signing;
use sitrep_domain::validation::TextRule;
use sitrep_types::{
    CreateSubscription, Delivery, Domain, Kind, Replay, Replayed, Severity, Subscription, SubscriptionFilter,
    UpdateSubscription, WebhookHost,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Caller, ManageSubscriptions, SecretariatOnly};
use crate::state::AppState;

endpoints! {
    "/subscriptions" { GET "subscription.list" => list_subscriptions, POST "subscription.create" => create_subscription }
    "/subscriptions/{id}" { GET "subscription.view" => get_subscription, PATCH "subscription.update" => update_subscription }
    "/subscriptions/{id}/deliveries" { GET "subscription.deliveries" => list_deliveries }
    "/subscriptions/{id}/replay" { POST "subscription.replay" => replay_deliveries }
    "/webhook-hosts" { GET "webhook_host.list" => list_webhook_hosts, POST "webhook_host.create" => add_webhook_host }
}

const NOT_FOUND: ApiError = ApiError::NotFound { code: "subscription_not_found" };

/// A subscription's name.
pub const NAME: TextRule = TextRule::line(1, 200);
/// A webhook host as the OpenAPI document states it: [`valid_host`] once trimmed.
pub const HOST_PATTERN: &str = "^[A-Za-z0-9.:-]{1,253}$";

/// A DNS name or an address: 1–253 of letters, digits, `.`, `-` and `:`.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

fn view(row: SubscriptionRow, secret: Option<String>) -> Subscription {
    Subscription {
        id: row.id,
        organisation_id: row.organisation_id,
        name: row.name,
        channel: row.channel,
        webhook_url: row.webhook_url,
        filter: SubscriptionFilter {
            domains: row.domains.iter().filter_map(|d| Domain::parse(d)).collect(),
            min_severity: row.min_severity.as_deref().and_then(Severity::parse),
            election_ids: row.election_ids,
            kinds: row.kinds.iter().filter_map(|k| Kind::parse(k)).collect(),
            is_exercise: row.is_exercise,
        },
        active: row.active,
        failing_since: row.failing_since,
        created_at: row.created_at,
        secret,
    }
}

/// Subscriptions the caller manages.
#[utoipa::path(
    get, path = "/api/v1/subscriptions", tag = "delivery",
    security(("bearer" = [])), responses((status = 200, body = Vec<Subscription>), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageSubscriptions>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let rows = subscriptions::list(&client, caller.permissions.admin_scope()).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("subscription", ids)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(|r| view(r, None)).collect::<Vec<_>>()))
}

/// Subscribe an organisation. A webhook subscription answers with its signing secret,
/// once. The subscription receives what happens from now on.
#[utoipa::path(
    post, path = "/api/v1/subscriptions", tag = "delivery",
    security(("bearer" = [])), request_body = CreateSubscription,
    responses((status = 201, body = Subscription), AuthFailures, Forbidden, BodyFailures, ServerFailures)
)]
pub async fn create_subscription(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageSubscriptions>,
    body: Json<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    let s = body.0;
    let organisation = s.organisation_id.unwrap_or(caller.organisation_id);
    if !caller.permissions.can_manage_members_of(organisation) {
        return Err(ApiError::forbidden("You may manage the subscriptions of your own organisation only."));
    }
    NAME.check("name", &s.name).map_err(|e| ApiError::Invalid(e.into()))?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    if sitrep_db::accounts::get_organisation(&tx, organisation).await?.is_none_or(|o| !o.active) {
        return Err(ApiError::invalid("organisation_id", "unknown_organisation", "no active organisation has this id"));
    }
    let secret = match &s.webhook_url {
        Some(url) => {
            if url.len() > 2048 {
                return Err(ApiError::invalid("webhook_url", "too_long", "at most 2048 characters"));
            }
            let host = state
                .webhooks
                .check_target(url)
                .map_err(|e| ApiError::invalid("webhook_url", "target_refused", &e.to_string()))?;
            if !subscriptions::host_allowed(&tx, &host).await? {
                return Err(ApiError::invalid("webhook_url", "host_not_allowed", "the host is not on the allow-list"));
            }
            Some(signing::new_secret())
        }
        None => None,
    };
    let f = &s.filter;
    let filter = Filter {
        domains: f.domains.iter().map(|d| d.as_str().to_owned()).collect(),
        min_severity: f.min_severity.map(|m| m.as_str().to_owned()),
        election_ids: f.election_ids.clone(),
        kinds: f.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        is_exercise: f.is_exercise,
    };
    let id = Uuid::new_v4();
    let row = subscriptions::insert(
        &tx,
        id,
        organisation,
        &s.name,
        s.webhook_url.as_deref(),
        secret.as_deref(),
        &filter,
        caller.user_id,
    )
    .await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("subscription", id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(view(row, secret)))
}

/// One subscription.
#[utoipa::path(
    get, path = "/api/v1/subscriptions/{id}", tag = "delivery",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Subscription), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn get_subscription(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageSubscriptions>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let row = subscriptions::get(&client, caller.permissions.admin_scope(), id).await?.ok_or(NOT_FOUND)?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("subscription", id)).await?;
    Ok(HttpResponse::Ok().json(view(row.into_inner(), None)))
}

/// Pause or resume a subscription, or rotate its secret (the previous one keeps signing
/// until the next rotation; the new one is shown once).
#[utoipa::path(
    patch, path = "/api/v1/subscriptions/{id}", tag = "delivery",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateSubscription,
    responses((status = 200, body = Subscription), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn update_subscription(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageSubscriptions>,
    id: web::Path<Uuid>,
    body: Json<UpdateSubscription>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let current = subscriptions::lock(&tx, caller.permissions.admin_scope(), id).await?.ok_or(NOT_FOUND)?;
    let mut secret = None;
    let secrets = if body.0.rotate_secret == Some(true) {
        if current.channel != "webhook" {
            return Err(ApiError::Conflict {
                code: "not_a_webhook",
                detail: "Only a webhook subscription has a secret.".into(),
            });
        }
        let new = signing::new_secret();
        secret = Some(new.clone());
        Some([vec![new], current.secrets.iter().take(1).cloned().collect()].concat())
    } else {
        None
    };
    let row = subscriptions::update(&tx, &current, body.0.active, secrets).await?.ok_or(NOT_FOUND)?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("subscription", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(view(row, secret)))
}

/// The delivery log of a subscription: each event, its state and every attempt.
#[utoipa::path(
    get, path = "/api/v1/subscriptions/{id}/deliveries", tag = "delivery",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Delivery>), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageSubscriptions>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let subscription = subscriptions::get(&client, caller.permissions.admin_scope(), id).await?.ok_or(NOT_FOUND)?;
    let rows = subscriptions::deliveries(&client, &subscription, 200).await?;
    // An administrator of another organisation (the secretariat) has no metadata view of
    // reports: a report it does not read is not named to it here either.
    let v = sitrep_domain::visibility::Viewer::from(&caller.permissions);
    let mut readable = std::collections::HashMap::new();
    for rid in rows.iter().filter_map(|d| d.report_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = readable.entry(rid) {
            let seen = match sitrep_db::reports::find(&client, &v, rid).await? {
                Some(row) => {
                    sitrep_domain::report::report_sight(&v, &row.handling()) == sitrep_domain::visibility::Sight::Full
                }
                None => false,
            };
            e.insert(seen);
        }
    }
    let items: Vec<Delivery> = rows
        .into_iter()
        .map(|d| Delivery {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            picture_id: d.picture_id,
            report_id: d.report_id.filter(|r| readable.get(r).copied().unwrap_or(false)),
            state: d.state,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            attempts: d.attempts,
        })
        .collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("subscription", id)).await?;
    Ok(HttpResponse::Ok().json(items))
}

/// Send failed deliveries again (and delivered ones with `delivered: true`), and clear
/// the failing mark.
#[utoipa::path(
    post, path = "/api/v1/subscriptions/{id}/replay", tag = "delivery",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = Replay,
    responses((status = 200, body = Replayed), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn replay_deliveries(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageSubscriptions>,
    id: web::Path<Uuid>,
    body: Json<Replay>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let subscription = subscriptions::lock(&tx, caller.permissions.admin_scope(), id).await?.ok_or(NOT_FOUND)?;
    let queued = subscriptions::replay(&tx, &subscription, body.0.delivered).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("subscription", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(Replayed { queued }))
}

/// The hosts webhooks may go to.
#[utoipa::path(
    get, path = "/api/v1/webhook-hosts", tag = "delivery",
    security(("bearer" = [])), responses((status = 200, body = Vec<WebhookHost>), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn list_webhook_hosts(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let hosts = subscriptions::webhook_hosts(&client).await?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    Ok(HttpResponse::Ok().json(hosts.into_iter().map(|host| WebhookHost { host }).collect::<Vec<_>>()))
}

/// Allow a host (secretariat).
#[utoipa::path(
    post, path = "/api/v1/webhook-hosts", tag = "delivery",
    security(("bearer" = [])), request_body = WebhookHost,
    responses((status = 201, body = WebhookHost), AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures)
)]
pub async fn add_webhook_host(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    body: Json<WebhookHost>,
) -> Result<HttpResponse, ApiError> {
    let host = body.0.host.trim().to_ascii_lowercase();
    if !valid_host(&host) {
        return Err(ApiError::invalid("host", "invalid_value", "a DNS name or an address"));
    }
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    if !subscriptions::add_webhook_host(&tx, &host, caller.user_id).await? {
        return Err(ApiError::Conflict { code: "host_exists", detail: "The host is on the list already.".into() });
    }
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("webhook_host", &host).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(WebhookHost { host }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn from_pattern() -> impl Strategy<Value = String> {
        proptest::string::string_regex(HOST_PATTERN.trim_start_matches('^').trim_end_matches('$')).unwrap()
    }

    proptest! {
        /// Whatever the document's pattern allows, the check takes; with a character the
        /// pattern does not allow, or one too many, it does not.
        #[test]
        fn the_host_pattern_and_the_check_agree(host in from_pattern(), bad in "[^A-Za-z0-9.:\\-\\s]", at in any::<prop::sample::Index>()) {
            prop_assert!(valid_host(&host.to_ascii_lowercase()));
            let mut broken: Vec<char> = host.chars().collect();
            broken.insert(at.index(broken.len() + 1), bad.chars().next().unwrap());
            let broken: String = broken.into_iter().collect();
            prop_assert!(!valid_host(&broken.to_ascii_lowercase()), "{:?}", broken);
            prop_assert!(!valid_host(&"a".repeat(254)));
        }
    }
}
