//! The action name the access log records for each route: one table, used by handlers
//! for their own records and by the envelope for refusals.

use actix_web::http::Method;

/// `(method, route pattern, action)` for every route that touches data.
pub const ACTIONS: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/auth/login", "auth.login"),
    ("POST", "/api/v1/auth/refresh", "auth.refresh"),
    ("POST", "/api/v1/auth/logout", "auth.logout"),
    ("GET", "/api/v1/me", "me.view"),
    ("POST", "/api/v1/me/password", "me.password_change"),
    ("GET", "/api/v1/organisations", "organisation.list"),
    ("POST", "/api/v1/organisations", "organisation.create"),
    ("GET", "/api/v1/organisations/{id}", "organisation.view"),
    ("PATCH", "/api/v1/organisations/{id}", "organisation.update"),
    ("GET", "/api/v1/users", "user.list"),
    ("POST", "/api/v1/users", "user.create"),
    ("GET", "/api/v1/users/{id}", "user.view"),
    ("PATCH", "/api/v1/users/{id}", "user.update"),
    ("GET", "/api/v1/users/{id}/memberships", "membership.list"),
    ("POST", "/api/v1/users/{id}/memberships", "membership.create"),
    ("PATCH", "/api/v1/users/{id}/memberships/{membership_id}", "membership.update"),
    ("GET", "/api/v1/pictures", "picture.list"),
    ("GET", "/api/v1/pictures/summary", "picture.summary"),
    ("POST", "/api/v1/pictures", "picture.create"),
    ("GET", "/api/v1/pictures/{id}", "picture.view"),
    ("PATCH", "/api/v1/pictures/{id}", "picture.revise"),
    ("POST", "/api/v1/pictures/{id}/submit", "picture.submit"),
    ("POST", "/api/v1/pictures/{id}/approve", "picture.approve"),
    ("POST", "/api/v1/pictures/{id}/return", "picture.return"),
    ("POST", "/api/v1/pictures/{id}/publish", "picture.publish"),
    ("POST", "/api/v1/pictures/{id}/withdraw", "picture.withdraw"),
    ("POST", "/api/v1/pictures/{id}/close", "picture.close"),
    ("GET", "/api/v1/pictures/{id}/revisions", "picture.revisions"),
    ("GET", "/api/v1/pictures/{id}/revisions/{n}", "picture.revision_view"),
    ("GET", "/api/v1/pictures/{id}/acknowledgements", "acknowledgement.list"),
    ("POST", "/api/v1/pictures/{id}/acknowledgements", "acknowledgement.create"),
    ("GET", "/api/v1/pictures/{id}/release-decisions", "release_decision.list"),
    ("POST", "/api/v1/pictures/{id}/release-decisions", "release_decision.create"),
    ("GET", "/api/v1/elections", "election.list"),
    ("POST", "/api/v1/elections", "election.create"),
    ("GET", "/api/v1/elections/{id}", "election.view"),
    ("PATCH", "/api/v1/elections/{id}", "election.update"),
    ("GET", "/api/v1/communities", "community.list"),
    ("GET", "/api/v1/feed", "feed.read"),
    ("GET", "/api/v1/stream", "stream.open"),
    ("GET", "/api/v1/subscriptions", "subscription.list"),
    ("POST", "/api/v1/subscriptions", "subscription.create"),
    ("GET", "/api/v1/subscriptions/{id}", "subscription.view"),
    ("PATCH", "/api/v1/subscriptions/{id}", "subscription.update"),
    ("GET", "/api/v1/subscriptions/{id}/deliveries", "subscription.deliveries"),
    ("POST", "/api/v1/subscriptions/{id}/replay", "subscription.replay"),
    ("GET", "/api/v1/webhook-hosts", "webhook_host.list"),
    ("POST", "/api/v1/webhook-hosts", "webhook_host.create"),
    ("GET", "/api/v1/peers", "peer.list"),
    ("POST", "/api/v1/peers", "peer.create"),
    ("GET", "/api/v1/peers/{id}", "peer.view"),
    ("PATCH", "/api/v1/peers/{id}", "peer.update"),
    ("POST", "/api/v1/peers/{id}/poll", "peer.poll_now"),
    ("POST", "/api/v1/communities", "community.create"),
    ("GET", "/api/v1/access-log", "access_log.list"),
    ("GET", "/api/v1/access-log/export", "access_log.export"),
    ("GET", "/api/v1/access-log/checkpoints", "access_log.checkpoints"),
    ("GET", "/api/v1/access-log/checkpoint-key", "access_log.checkpoint_key"),
    ("GET", "/api/v1/organisations/{id}/policy", "organisation.policy_view"),
    ("PATCH", "/api/v1/organisations/{id}/policy", "organisation.policy_update"),
    ("GET", "/api/v1/service-accounts", "service_account.list"),
    ("POST", "/api/v1/service-accounts", "service_account.create"),
    ("GET", "/api/v1/service-accounts/{id}", "service_account.view"),
    ("PATCH", "/api/v1/service-accounts/{id}", "service_account.update"),
    ("GET", "/api/v1/service-accounts/{id}/keys", "api_key.list"),
    ("POST", "/api/v1/service-accounts/{id}/keys", "api_key.create"),
    ("GET", "/api/v1/service-accounts/{id}/keys/{key_id}", "api_key.view"),
    ("POST", "/api/v1/service-accounts/{id}/keys/{key_id}/revoke", "api_key.revoke"),
    ("GET", "/api/v1/me/totp", "totp.view"),
    ("POST", "/api/v1/me/totp", "totp.enrol"),
    ("POST", "/api/v1/me/totp/confirm", "totp.confirm"),
    ("POST", "/api/v1/me/totp/recovery-codes", "totp.recovery_codes"),
    ("POST", "/api/v1/me/totp/disable", "totp.disable"),
    ("POST", "/api/v1/users/{id}/totp/reset", "totp.reset"),
    ("GET", "/api/v1/.well-known/jwks.json", "jwks.view"),
    ("GET", "/api/v1/signing-keys", "signing_key.list"),
    ("POST", "/api/v1/signing-keys", "signing_key.rotate"),
    ("GET", "/taxii2/", "taxii.discovery"),
    ("GET", "/taxii2/api/", "taxii.api_root"),
    ("GET", "/taxii2/api/collections/", "taxii.collections"),
    ("GET", "/taxii2/api/collections/{collection}/", "taxii.collection"),
    ("GET", "/taxii2/api/collections/{collection}/manifest/", "taxii.manifest"),
    ("GET", "/taxii2/api/collections/{collection}/objects/", "taxii.objects"),
    ("POST", "/taxii2/api/collections/{collection}/objects/", "taxii.add_objects"),
    ("GET", "/taxii2/api/collections/{collection}/objects/{object}/", "taxii.object"),
    ("GET", "/taxii2/api/collections/{collection}/objects/{object}/versions/", "taxii.versions"),
    ("GET", "/taxii2/api/status/{status}/", "taxii.status"),
    ("PUT", "/api/v1/me/language", "me.language_set"),
    ("POST", "/api/v1/pictures/{id}/attachments", "attachment.upload"),
    ("GET", "/api/v1/pictures/{id}/attachments/{aid}/content", "attachment.download"),
    ("GET", "/api/v1/techniques", "technique.list"),
    ("GET", "/api/v1/pictures/{id}/related-by-indicator", "picture.related_by_indicator"),
    ("GET", "/api/v1/me/notifications", "notification_preferences.view"),
    ("PUT", "/api/v1/me/notifications", "notification_preferences.update"),
    ("GET", "/api/v1/organisations/{id}/duty-addresses", "duty_address.list"),
    ("PUT", "/api/v1/organisations/{id}/duty-addresses", "duty_address.update"),
    ("POST", "/api/v1/email-confirmations", "email.confirm"),
    ("GET", "/api/v1/notifications/messages", "mail_message.list"),
    ("GET", "/api/v1/me/notifications/inbox", "notification.list"),
    ("POST", "/api/v1/me/notifications/inbox/read", "notification.read"),
    ("GET", "/api/v1/notifications/escalations", "escalation.list"),
    ("GET", "/api/v1/acknowledgements/overdue", "acknowledgement.list_overdue"),
    ("GET", "/api/v1/pictures/{id}/threads", "thread.list"),
    ("POST", "/api/v1/pictures/{id}/threads", "thread.ask"),
    ("GET", "/api/v1/pictures/{id}/threads/{thread_id}", "thread.view"),
    ("POST", "/api/v1/pictures/{id}/threads/{thread_id}/messages", "thread.message"),
    ("GET", "/api/v1/me/threads", "thread.list_mine"),
    ("GET", "/api/v1/pictures/{id}/render", "picture.render"),
    ("GET", "/api/v1/reports/{id}/render", "report.render"),
    ("GET", "/api/v1/reports", "report.list"),
    ("POST", "/api/v1/reports", "report.create"),
    ("GET", "/api/v1/reports/{id}", "report.view"),
    ("PATCH", "/api/v1/reports/{id}", "report.revise"),
    ("POST", "/api/v1/reports/{id}/submit", "report.submit"),
    ("POST", "/api/v1/reports/{id}/return", "report.return"),
    ("POST", "/api/v1/reports/{id}/approve", "report.approve"),
    ("POST", "/api/v1/reports/{id}/publish", "report.publish"),
    ("POST", "/api/v1/reports/{id}/withdraw", "report.withdraw"),
    ("GET", "/api/v1/pictures/{id}/attachments/{aid}/thumbnail", "attachment.thumbnail"),
];

/// The action of a request; `request` for a route not in the table (unknown paths,
/// methods a route does not offer).
pub fn action(method: &Method, pattern: Option<&str>) -> &'static str {
    let Some(pattern) = pattern else { return "request" };
    ACTIONS.iter().find(|(m, p, _)| *m == method.as_str() && *p == pattern).map_or("request", |(_, _, action)| action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes_have_their_action_and_others_are_requests() {
        assert_eq!(action(&Method::POST, Some("/api/v1/auth/login")), "auth.login");
        assert_eq!(action(&Method::DELETE, Some("/api/v1/auth/login")), "request");
        assert_eq!(action(&Method::GET, None), "request");
    }

    #[test]
    fn actions_are_unique() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.2).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ACTIONS.len());
    }
}
