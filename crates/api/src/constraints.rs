//! What the OpenAPI document says of the rules the server checks beyond a field's type:
//! lengths and patterns of texts, codes and passwords, non-empty role lists, the bounds of
//! `limit` and of cursors, search and filter lengths, and the TAXII media type `Accept`
//! must name. Every figure is the constant the check itself reads, so that a client
//! generated from the document does not send what the server refuses. What a schema
//! cannot say (Unicode normalisation, a date in the future, an election that exists)
//! stays in the descriptions.

use serde_json::{Map, Value, json};
use sitrep_domain::account::{
    API_KEY_NAME, DISPLAY_NAME, MAX_ROLES, ORG_CODE_PATTERN, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS,
    SERVICE_ACCOUNT_DESCRIPTION, SUBMITTED_USERNAME, USERNAME_PATTERN,
};
use sitrep_domain::validation::TextRule;
use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

use crate::pagination::{CURSOR_PATTERN, MAX_CURSOR_CHARS, MAX_LIMIT};
use crate::routes::{access_log, peers, pictures, reference, subscriptions, taxii, threads};
use crate::taxii::TAXII_MEDIA_TYPE;

/// One rule as a schema states it.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// A text checked by a [`TextRule`]: its lengths and the characters it refuses.
    Text(TextRule),
    /// A text checked by a [`TextRule`] that may also be empty (then it means none).
    TextOrEmpty(TextRule),
    /// A code or a name of a fixed form (the pattern bounds its length).
    Pattern(&'static str),
    /// Any characters, `min` to `max` of them (passwords: no composition rules).
    Length(usize, usize),
    /// A filter: 1 to `max` characters.
    Filter(usize),
    /// A search: at most `max` characters, not only white space.
    Search(usize),
    /// A list of one to `max` items.
    Items(usize),
    /// An integer from `min` up to `max`; without one, any larger integer (then the
    /// type's format, which would bound it, is left out).
    Range(u32, Option<u32>),
    /// A string of this format (e.g. `date-time`: RFC 3339).
    Format(&'static str),
    /// A cursor the server issued: base64url, at most this many characters.
    Cursor,
    /// Exactly one of these values.
    OneOf(&'static str),
}

impl Rule {
    fn apply(self, schema: &mut Map<String, Value>) {
        let mut set = |k: &str, v: Value| {
            schema.insert(k.to_owned(), v);
        };
        match self {
            Rule::Text(t) => {
                if t.min > 0 {
                    set("minLength", json!(t.min));
                }
                if t.max < usize::MAX {
                    set("maxLength", json!(t.max));
                }
                set("pattern", json!(t.pattern()));
            }
            Rule::TextOrEmpty(t) => {
                set("maxLength", json!(t.max));
                set("pattern", json!(TextRule { min: 0, ..t }.pattern()));
            }
            Rule::Pattern(p) => set("pattern", json!(p)),
            Rule::Length(min, max) => {
                set("minLength", json!(min));
                set("maxLength", json!(max));
            }
            Rule::Filter(max) => {
                set("minLength", json!(1));
                set("maxLength", json!(max));
            }
            Rule::Search(max) => {
                set("minLength", json!(1));
                set("maxLength", json!(max));
                set("pattern", json!(r"\S"));
            }
            Rule::Items(max) => {
                set("minItems", json!(1));
                set("maxItems", json!(max));
            }
            Rule::Range(min, max) => {
                set("minimum", json!(min));
                match max {
                    Some(max) => set("maximum", json!(max)),
                    None => {
                        schema.remove("format");
                    }
                }
            }
            Rule::Format(f) => set("format", json!(f)),
            Rule::Cursor => {
                set("minLength", json!(1));
                set("maxLength", json!(MAX_CURSOR_CHARS));
                set("pattern", json!(CURSOR_PATTERN));
            }
            Rule::OneOf(v) => set("enum", json!([v])),
        }
    }
}

/// The fields of request bodies: (schema, property, rule).
pub const FIELDS: &[(&str, &str, Rule)] = &[
    ("Login", "username", Rule::Text(SUBMITTED_USERNAME)),
    ("ChangePassword", "new_password", Rule::Length(PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS)),
    ("CreateUser", "username", Rule::Pattern(USERNAME_PATTERN)),
    ("CreateUser", "display_name", Rule::Text(DISPLAY_NAME)),
    ("CreateUser", "password", Rule::Length(PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS)),
    ("CreateUser", "roles", Rule::Items(MAX_ROLES)),
    ("UpdateUser", "display_name", Rule::Text(DISPLAY_NAME)),
    ("UpdateUser", "password", Rule::Length(PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS)),
    ("CreateMembership", "roles", Rule::Items(MAX_ROLES)),
    ("UpdateMembership", "roles", Rule::Items(MAX_ROLES)),
    ("CreateOrganisation", "code", Rule::Pattern(ORG_CODE_PATTERN)),
    ("CreateServiceAccount", "name", Rule::Pattern(USERNAME_PATTERN)),
    ("CreateServiceAccount", "description", Rule::TextOrEmpty(SERVICE_ACCOUNT_DESCRIPTION)),
    ("CreateServiceAccount", "roles", Rule::Items(MAX_ROLES)),
    ("UpdateServiceAccount", "description", Rule::TextOrEmpty(SERVICE_ACCOUNT_DESCRIPTION)),
    ("UpdateServiceAccount", "roles", Rule::Items(MAX_ROLES)),
    ("CreateApiKey", "name", Rule::Text(API_KEY_NAME)),
    ("CreateCommunity", "code", Rule::Pattern(reference::CODE_PATTERN)),
    ("CreateCommunity", "name_en", Rule::Text(reference::NAME)),
    ("CreateCommunity", "description", Rule::Text(reference::DESCRIPTION)),
    ("CreateElection", "code", Rule::Pattern(reference::CODE_PATTERN)),
    ("CreateElection", "name_en", Rule::Text(reference::NAME)),
    ("UpdateElection", "name_en", Rule::Text(reference::NAME)),
    ("CreateAcknowledgement", "note", Rule::Text(reference::ACKNOWLEDGEMENT_NOTE)),
    ("CreateReleaseDecision", "note", Rule::Text(reference::RELEASE_NOTE)),
    ("LifecycleNote", "note", Rule::Text(pictures::RETURN_NOTE)),
    ("CreateThreadMessage", "body", Rule::Text(threads::BODY)),
    ("CreateSubscription", "name", Rule::Text(subscriptions::NAME)),
    ("WebhookHost", "host", Rule::Pattern(subscriptions::HOST_PATTERN)),
    ("CreatePeer", "name", Rule::Text(peers::NAME)),
    ("CreatePeer", "api_root", Rule::Pattern(peers::API_ROOT_PATTERN)),
    ("CreatePeer", "collection_id", Rule::Pattern(peers::COLLECTION_ID_PATTERN)),
    ("CreatePeer", "poll_interval_secs", Rule::Range(peers::POLL_INTERVAL_SECS.0, Some(peers::POLL_INTERVAL_SECS.1))),
    ("CreatePeer", "ca_pem", Rule::Length(1, peers::CA_PEM_MAX)),
    ("UpdatePeer", "name", Rule::Text(peers::NAME)),
    ("UpdatePeer", "api_root", Rule::Pattern(peers::API_ROOT_PATTERN)),
    ("UpdatePeer", "collection_id", Rule::Pattern(peers::COLLECTION_ID_PATTERN)),
    ("UpdatePeer", "poll_interval_secs", Rule::Range(peers::POLL_INTERVAL_SECS.0, Some(peers::POLL_INTERVAL_SECS.1))),
    ("UpdatePeer", "ca_pem", Rule::Length(1, peers::CA_PEM_MAX)),
    ("PeerCredentials", "secret", Rule::Pattern(peers::SECRET_PATTERN)),
    ("PeerCredentials", "username", Rule::Pattern(peers::USERNAME_PATTERN)),
];

/// Parameters: (path prefix, where, name, rule), for every operation under the prefix.
pub const PARAMETERS: &[(&str, ParameterIn, &str, Rule)] = &[
    ("/api/", ParameterIn::Query, "limit", Rule::Range(1, Some(MAX_LIMIT))),
    ("/api/", ParameterIn::Query, "cursor", Rule::Cursor),
    ("/api/v1/pictures", ParameterIn::Query, "q", Rule::Search(pictures::SEARCH_CHARS)),
    ("/api/v1/access-log", ParameterIn::Query, "actor", Rule::Filter(access_log::FILTER_CHARS)),
    ("/api/v1/access-log", ParameterIn::Query, "reference", Rule::Filter(access_log::FILTER_CHARS)),
    ("/api/v1/access-log", ParameterIn::Query, "object_type", Rule::Filter(access_log::FILTER_CHARS)),
    ("/api/v1/access-log", ParameterIn::Query, "action", Rule::Filter(access_log::FILTER_CHARS)),
    ("/api/v1/access-log", ParameterIn::Query, "object_id", Rule::Filter(access_log::OBJECT_ID_CHARS)),
    // TAXII: a larger `limit` is served as the most a page holds.
    ("/taxii2/", ParameterIn::Query, "limit", Rule::Range(1, None)),
    ("/taxii2/", ParameterIn::Query, "next", Rule::Cursor),
    ("/taxii2/", ParameterIn::Query, "added_after", Rule::Format("date-time")),
    ("/taxii2/", ParameterIn::Query, "match[version]", Rule::Pattern(taxii::VERSION_PATTERN)),
    ("/taxii2/", ParameterIn::Header, "Accept", Rule::OneOf(TAXII_MEDIA_TYPE)),
];

/// Edits a schema as JSON (the shapes utoipa gives an optional field, a list or a
/// reference all read the same way there). References are left alone.
fn edit(schema: &mut RefOr<Schema>, rule: Rule) {
    let Ok(Value::Object(mut map)) = serde_json::to_value(&*schema) else { return };
    if map.contains_key("$ref") || map.contains_key("oneOf") {
        return;
    }
    rule.apply(&mut map);
    if let Ok(edited) = serde_json::from_value(Value::Object(map)) {
        *schema = edited;
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Puts [`FIELDS`] and [`PARAMETERS`] into the document.
pub struct Constraints;

impl Modify for Constraints {
    fn modify(&self, doc: &mut OpenApi) {
        if let Some(components) = doc.components.as_mut() {
            for (name, field, rule) in FIELDS {
                if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name)
                    && let Some(property) = object.properties.get_mut(*field)
                {
                    edit(property, *rule);
                }
            }
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in operations(item) {
                for param in op.parameters.iter_mut().flatten() {
                    for (prefix, place, name, rule) in PARAMETERS {
                        if path.starts_with(prefix)
                            && param.parameter_in == *place
                            && param.name == *name
                            && let Some(schema) = param.schema.as_mut()
                        {
                            edit(schema, *rule);
                        }
                    }
                }
            }
        }
    }
}
