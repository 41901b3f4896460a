//! Request bodies and query strings, parsed strictly: JSON only, a size limit, unknown
//! fields refused, objects only where the schema says object, no NUL character in any text,
//! and every error naming the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sitrep_domain::Invalid;

use crate::error::ApiError;

mod strict;
use strict::{NUL_MESSAGE, Strict};

/// Largest JSON body accepted by the account and auth endpoints.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body of type `T`: `415` unless `application/json`, `413` above the limit,
/// `400` for malformed JSON, `422` naming the field for a wrong shape.
#[derive(Debug)]
pub struct Json<T, const LIMIT: usize = BODY_LIMIT>(pub T);

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for Json<T, LIMIT> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Json<T, LIMIT>, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared.is_some_and(|n| n > LIMIT) {
                return Err(ApiError::PayloadTooLarge { limit: LIMIT });
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::BadRequest {
                    code: "body_unreadable",
                    detail: "The request body could not be read.".into(),
                })?;
                if body.len() + chunk.len() > LIMIT {
                    return Err(ApiError::PayloadTooLarge { limit: LIMIT });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(Json)
        })
    }
}

/// Parses JSON, reporting data errors with the path of the field. A struct is read from
/// an object only (serde would also take an array of its fields in order), and a string
/// with a NUL character is refused.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(Strict(&mut de)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => field_error(&path, &inner.to_string()),
            _ => ApiError::BadRequest {
                code: "malformed_json",
                detail: format!("The body is not valid JSON (line {}, column {}).", inner.line(), inner.column()),
            },
        }
    })?;
    de.end().map_err(|_| ApiError::BadRequest {
        code: "malformed_json",
        detail: "The body has data after the JSON value.".into(),
    })?;
    Ok(value)
}

/// Turns a JSON value (a body already parsed, or one merged from a patch) into `T`,
/// reporting errors as [`parse_json`] does for the value's text: the same field, code and
/// message, without writing the value out and reading it again.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner().to_string())
    })
}

/// Turns a serde data error into a `422` naming the field. Serde's messages name types
/// and fields of the wire schema only; the position suffix is dropped.
fn field_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let message: &str = &without_text(message);
    let base = if path == "." { String::new() } else { path.to_owned() };
    let join = |name: &str| if base.is_empty() { name.to_owned() } else { format!("{base}.{name}") };
    let quoted = message.split('`').nth(1).unwrap_or("");
    let (field, code) = if message == NUL_MESSAGE {
        (base, "control_character")
    } else if message.starts_with("unknown field") {
        // The path already ends with the unknown field's name.
        let named = base.rsplit(['.', '[']).next() == Some(quoted);
        (if named { base } else { join(quoted) }, "unknown_field")
    } else if message.starts_with("missing field") {
        (join(quoted), "required")
    } else if message.starts_with("duplicate field") {
        (join(quoted), "duplicate_field")
    } else if message.starts_with("unknown variant") {
        (base, "invalid_value")
    } else {
        (base, "invalid_type")
    };
    let field = if field.is_empty() { "body".to_owned() } else { field };
    ApiError::Invalid(Invalid::new(field, code, message).into())
}

/// Serde names the text it refused (`invalid type: string "…", expected …`): a secret
/// sent where an object was expected (`"credentials": "sitrep_live_…"`) would come back in
/// the answer. The text is left out; the field and what was expected stay.
fn without_text(message: &str) -> std::borrow::Cow<'_, str> {
    for kind in ["invalid type: string \"", "invalid value: string \""] {
        if let Some(rest) = message.strip_prefix(kind)
            && let Some(end) = rest.rfind("\", expected")
        {
            let head = &kind[..kind.len() - 1];
            return format!("{head}(not shown){}", &rest[end + 1..]).into();
        }
    }
    message.into()
}

/// A query string of type `T` (which should deny unknown fields): `400` for a repeated
/// or unknown parameter, `422` naming a parameter with a bad value.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Query<T>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        let result = serde_path_to_error::deserialize::<_, T>(Strict(de)).map(Query).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let quoted = message.split('`').nth(1).unwrap_or("").to_owned();
            if message.starts_with("duplicate field") || message.starts_with("unknown field") {
                ApiError::BadRequest {
                    code: "invalid_query",
                    detail: format!("Query parameter {quoted:?} is unknown or repeated."),
                }
            } else {
                let field = if path == "." || path.is_empty() { quoted } else { path };
                let code = if message == NUL_MESSAGE { "control_character" } else { "invalid_value" };
                ApiError::Invalid(Invalid::new(field, code, message).into())
            }
        });
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        lang: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u8,
        inner: Option<Inner>,
        roles: Option<Vec<sitrep_types::Role>>,
    }

    fn field_of(body: &str) -> (String, String) {
        match parse_json::<Body>(body.as_bytes()).unwrap_err() {
            ApiError::Invalid(f) => (f.0[0].field.clone(), f.0[0].code.to_owned()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_text_is_not_written_back() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Secretive {
            credentials: Option<Inner>,
            count: Option<u8>,
        }
        for body in [r#"{"credentials": "sitrep_live_s3cret\", expected x"}"#, r#"{"count": "sitrep_live_s3cret"}"#] {
            let ApiError::Invalid(f) = parse_json::<Secretive>(body.as_bytes()).unwrap_err() else { panic!() };
            let message = &f.0[0].message;
            assert!(!message.contains("s3cret"), "{message}");
            assert!(message.starts_with("invalid type: string (not shown), expected"), "{message}");
        }
    }

    #[test]
    fn field_errors_name_the_field() {
        assert_eq!(field_of(r#"{"name":"a","count":1,"foo":1}"#), ("foo".into(), "unknown_field".into()));
        assert_eq!(field_of(r#"{"count":1}"#), ("name".into(), "required".into()));
        assert_eq!(field_of(r#"{"name":"a","count":"x"}"#), ("count".into(), "invalid_type".into()));
        assert_eq!(field_of(r#"{"name":"a","count":300}"#), ("count".into(), "invalid_type".into()));
        assert_eq!(field_of(r#"{"name":"a","count":1,"inner":{"x":1}}"#), ("inner.x".into(), "unknown_field".into()));
        assert_eq!(
            field_of(r#"{"name":"a","count":1,"roles":["reader","king"]}"#),
            ("roles[1]".into(), "invalid_value".into())
        );
    }

    #[test]
    fn a_value_is_refused_as_its_text_is() {
        let bodies = [
            r#"{"name":"a","count":1,"foo":1}"#,
            r#"{"count":1}"#,
            r#"{}"#,
            r#"[]"#,
            r#""text""#,
            r#"{"name":"a","count":"x"}"#,
            r#"{"name":"a","count":300}"#,
            r#"{"name":"a","count":-1}"#,
            r#"{"name":"a","count":1.5}"#,
            r#"{"name":{"x":[1]},"count":1}"#,
            r#"{"name":"a","count":1,"inner":{"x":1}}"#,
            r#"{"name":"a","count":1,"inner":{"lang":7}}"#,
            r#"{"name":"a","count":1,"inner":[]}"#,
            r#"{"zzz":1,"name":"a","count":"x"}"#,
            r#"{"name":"a","count":1,"roles":["reader","king"]}"#,
            r#"{"name":"a","count":1,"roles":"reader"}"#,
            r#"["a",1,null,null]"#,
            r#"{"name":"a","count":1,"inner":["fi"]}"#,
            r#"{"name":"a\u0000","count":1}"#,
            r#"{"name":"a","count":1,"inner":{"lang":"\u0000"}}"#,
        ];
        fn same_refusal<T: DeserializeOwned + std::fmt::Debug>(body: &str) {
            let value: serde_json::Value = serde_json::from_str(body).unwrap();
            let from_text = parse_json::<T>(value.to_string().as_bytes()).unwrap_err();
            let from_value = from_value::<T>(value).unwrap_err();
            assert_eq!(format!("{from_value:?}"), format!("{from_text:?}"), "{body}");
        }
        for body in bodies {
            same_refusal::<Body>(body);
        }
        for body in [
            r#"{}"#,
            r#"{"kind":"nope"}"#,
            r#"{"kind":"alert","is_exercise":"yes"}"#,
            r#"{"kind":"alert","title":{"xx":"a"},"tlp":"AMBER"}"#,
            r#"{"kind":"alert","indicators":[{"type":"domain","value":1}]}"#,
        ] {
            same_refusal::<sitrep_types::PictureContent>(body);
        }
        let value = serde_json::json!({"name": "a", "count": 3, "inner": {"lang": "fi"}, "roles": ["reader"]});
        let body: Body = from_value(value).unwrap();
        assert_eq!((body.name.as_str(), body.count), ("a", 3));
    }

    fn refusal(body: &str) -> (String, String) {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::Invalid(f)) => (f.0[0].field.clone(), f.0[0].code.to_owned()),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_struct_is_read_from_an_object_only() {
        assert_eq!(refusal(r#"["a", 1, null, null]"#), ("body".into(), "invalid_type".into()));
        assert_eq!(refusal(r#"[]"#), ("body".into(), "invalid_type".into()));
        assert_eq!(refusal(r#"{"name":"a","count":1,"inner":["fi"]}"#), ("inner".into(), "invalid_type".into()));
        let ok: Body = parse_json(br#"{"name":"a","count":1,"inner":{"lang":"fi"},"roles":["reader"]}"#).unwrap();
        assert_eq!(ok.roles.map(|r| r.len()), Some(1));
        // Arrays where the schema says array are still arrays.
        let list: Vec<Inner> = parse_json(br#"[{"lang":"fi"},{}]"#).unwrap();
        assert_eq!(list.len(), 2);
        assert!(parse_json::<Vec<Inner>>(br#"[["fi"]]"#).is_err());
        let tuple: (String, u8) = parse_json(br#"["a",1]"#).unwrap();
        assert_eq!(tuple.1, 1);
    }

    #[test]
    fn a_nul_character_is_refused_naming_the_field() {
        assert_eq!(refusal(r#"{"name":"a\u0000b","count":1}"#), ("name".into(), "control_character".into()));
        assert_eq!(
            refusal(r#"{"name":"a","count":1,"inner":{"lang":"\u0000"}}"#),
            ("inner.lang".into(), "control_character".into())
        );
        assert_eq!(
            refusal(r#"{"name":"a","count":1,"roles":["reader","\u0000"]}"#),
            ("roles[1]".into(), "control_character".into())
        );
        assert_eq!(refusal(r#"{"na\u0000me":"a","count":1}"#).1, "control_character");
        let any = parse_json::<serde_json::Value>(br#"{"deep":[{"x":"\u0000"}]}"#).unwrap_err();
        assert!(matches!(any, ApiError::Invalid(f) if f.0[0].field == "deep[0].x"));
        assert!(from_value::<serde_json::Value>(serde_json::json!({"k": ["\u{0}"]})).is_err());
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Filters {
        q: Option<String>,
        limit: Option<u32>,
    }

    fn query(uri: &str) -> Result<Filters, ApiError> {
        let req = actix_web::test::TestRequest::with_uri(uri).to_http_request();
        Query::<Filters>::from_request(&req, &mut Payload::None).into_inner().map(|q| q.0)
    }

    #[test]
    fn a_nul_in_a_query_parameter_is_refused_naming_it() {
        match query("/x?q=a%00b") {
            Err(ApiError::Invalid(f)) => assert_eq!((f.0[0].field.as_str(), f.0[0].code), ("q", "control_character")),
            other => panic!("{other:?}"),
        }
        assert_eq!(query("/x?q=caf%C3%A9&limit=3").unwrap().q.as_deref(), Some("café"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn no_struct_is_read_from_its_positional_form(
                name in "\\PC{0,12}",
                count in any::<u8>(),
                lang in proptest::option::of("[a-z]{2}"),
                roles in proptest::option::of(proptest::collection::vec(prop_oneof![Just("reader"), Just("author")], 0..3)),
                inner_positional in any::<bool>(),
            ) {
                let inner = lang.as_ref().map(|l| serde_json::json!({"lang": l}));
                let object = serde_json::json!({"name": name, "count": count, "inner": inner, "roles": roles});
                prop_assert!(parse_json::<Body>(object.to_string().as_bytes()).is_ok());
                let inner = lang.map(|l| if inner_positional { serde_json::json!([l]) } else { serde_json::json!({"lang": l}) });
                let positional = serde_json::json!([name, count, inner, roles]);
                for refused in [
                    parse_json::<Body>(positional.to_string().as_bytes()).unwrap_err(),
                    from_value::<Body>(positional).unwrap_err(),
                ] {
                    prop_assert!(matches!(&refused, ApiError::Invalid(f) if f.0[0].field == "body"), "{refused:?}");
                }
            }

            #[test]
            fn a_nul_anywhere_in_any_text_is_refused(text in "\\PC{0,12}", at in any::<prop::sample::Index>(), key in any::<bool>()) {
                let mut chars: Vec<char> = text.chars().collect();
                chars.insert(at.index(chars.len() + 1), '\0');
                let with_nul: String = chars.into_iter().collect();
                let body = if key {
                    serde_json::json!({"name": "a", "count": 1, "inner": {with_nul.clone(): 1}})
                } else {
                    serde_json::json!({"name": "a", "count": 1, "inner": {"lang": with_nul}})
                };
                let refused = parse_json::<Body>(body.to_string().as_bytes()).unwrap_err();
                prop_assert!(
                    matches!(&refused, ApiError::Invalid(f) if f.0[0].code == "control_character" && f.0[0].field.starts_with("inner")),
                    "{refused:?}"
                );
                prop_assert!(parse_json::<serde_json::Value>(body.to_string().as_bytes()).is_err());
            }
        }
    }

    #[test]
    fn malformed_json_and_trailing_garbage_are_bad_requests() {
        for body in [r#"{"name":"a""#, r#"{"name":"a","count":1} x"#, "\u{0}"] {
            assert!(matches!(parse_json::<Body>(body.as_bytes()), Err(ApiError::BadRequest { .. })), "{body}");
        }
        let deep = "[".repeat(10_000);
        assert!(parse_json::<serde_json::Value>(deep.as_bytes()).is_err());
    }
}
