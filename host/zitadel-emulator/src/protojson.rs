//! protojson as ZITADEL's gateway speaks it: lowerCamel names (snake_case accepted on input),
//! enums as names, 64-bit integers as strings, RFC 3339 timestamps, `"10s"` durations, and
//! default values omitted from responses.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};
use gatehouse_core::Timestamp;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::{Map, Value, json};

use crate::{error::ApiError, model::Meta};

/// Largest request body the API accepts.
pub const MAX_BODY: usize = 1024 * 1024;

/// A JSON request body parsed with protojson's input rules; failures are ZITADEL-style
/// InvalidArgument errors.
pub struct ZJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ZJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::validation(format!("cannot read request body: {e}")))?;
        parse_body(&bytes).map(ZJson)
    }
}

pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY {
        return Err(ApiError::validation("request body too large"));
    }
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::validation(format!("invalid JSON body: {e}")))?
    };
    if !value.is_object() {
        return Err(ApiError::validation("request body must be a JSON object"));
    }
    serde_json::from_value(camelize(value))
        .map_err(|e| ApiError::validation(format!("invalid request: {e}")))
}

/// Rewrites snake_case object keys to lowerCamel, as protojson accepts both. Keys of free-form
/// maps (`metadata`, `header`) are user data and stay as they are.
pub fn camelize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let keep = matches!(key.as_str(), "metadata" | "header");
                let v = if keep { v } else { camelize(v) };
                out.insert(to_camel(&key), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(camelize).collect()),
        other => other,
    }
}

fn to_camel(key: &str) -> String {
    if !key.contains('_') || key.starts_with('@') {
        return key.to_owned();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Drops default values (null, false, "", 0, []) the way protojson omits them. Empty objects
/// stay: a set message such as `loginV1: {}` is rendered even when empty.
pub fn prune(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| !is_default(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
        other => other,
    }
}

fn is_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// A uint64/int64 field: a decimal string; zero is the default and left out.
pub fn u64s(n: u64) -> Value {
    if n == 0 {
        Value::Null
    } else {
        Value::String(n.to_string())
    }
}

pub fn ts(t: Timestamp) -> Value {
    Value::String(t.to_string())
}

/// `details` of v1 objects (`v1ObjectDetails`) and v2 objects (`objectv2Details`): same fields.
pub fn details(meta: &Meta) -> Value {
    json!({
        "sequence": u64s(meta.sequence),
        "creationDate": ts(meta.created),
        "changeDate": ts(meta.changed),
        "resourceOwner": meta.owner,
    })
}

/// `details` of a mutation response: the change's sequence and time.
pub fn change_details(sequence: u64, at: Timestamp, owner: &str) -> Value {
    json!({
        "sequence": u64s(sequence),
        "changeDate": ts(at),
        "resourceOwner": owner,
    })
}

/// `details` of a response that created something as part of a change.
pub fn created_details(sequence: u64, at: Timestamp, owner: &str) -> Value {
    json!({
        "sequence": u64s(sequence),
        "creationDate": ts(at),
        "changeDate": ts(at),
        "resourceOwner": owner,
    })
}

/// `zitadelv1ListDetails`.
pub fn list_details_v1(total: usize, sequence: u64, at: Timestamp) -> Value {
    json!({
        "totalResult": u64s(total as u64),
        "processedSequence": u64s(sequence),
        "viewTimestamp": ts(at),
    })
}

/// `objectv2ListDetails`.
pub fn list_details_v2(total: usize, sequence: u64, at: Timestamp) -> Value {
    json!({
        "totalResult": u64s(total as u64),
        "processedSequence": u64s(sequence),
        "timestamp": ts(at),
    })
}

/// Accepts a 64-bit integer as JSON number or decimal string (protojson accepts both).
pub fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::N(n)) => Ok(Some(n)),
        Some(Raw::S(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{s}` is not an unsigned integer"))),
    }
}

/// `query: {offset, limit, asc}` of v1/v2 list requests.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    #[serde(deserialize_with = "de_u64")]
    pub offset: Option<u64>,
    #[serde(deserialize_with = "de_u64")]
    pub limit: Option<u64>,
    pub asc: bool,
}

impl ListQuery {
    /// Applies offset and limit (default 100, max 1000) to an already sorted list.
    pub fn page<T>(&self, items: Vec<T>) -> Result<Vec<T>, ApiError> {
        let limit = self.limit.unwrap_or(0);
        if limit > 1000 {
            return Err(ApiError::invalid(
                "EMU-LimitExceeded",
                "Limit exceeds default limit",
            ));
        }
        let limit = if limit == 0 { 100 } else { limit as usize };
        let offset = self.offset.unwrap_or(0) as usize;
        Ok(items.into_iter().skip(offset).take(limit).collect())
    }
}

/// `TEXT_QUERY_METHOD_*` / `TEXT_FILTER_METHOD_*` matching.
pub fn text_matches(method: Option<&str>, value: &str, query: &str) -> Result<bool, ApiError> {
    let method = method.unwrap_or("TEXT_QUERY_METHOD_EQUALS");
    let op = method
        .strip_prefix("TEXT_QUERY_METHOD_")
        .or_else(|| method.strip_prefix("TEXT_FILTER_METHOD_"))
        .ok_or_else(|| ApiError::validation(format!("unknown text method `{method}`")))?;
    let (op, ignore_case) = match op.strip_suffix("_IGNORE_CASE") {
        Some(op) => (op, true),
        None => (op, false),
    };
    let (v, q) = if ignore_case {
        (value.to_lowercase(), query.to_lowercase())
    } else {
        (value.to_owned(), query.to_owned())
    };
    Ok(match op {
        "EQUALS" => v == q,
        "STARTS_WITH" => v.starts_with(&q),
        "CONTAINS" => v.contains(&q),
        "ENDS_WITH" => v.ends_with(&q),
        _ => {
            return Err(ApiError::validation(format!(
                "unknown text method `{method}`"
            )));
        }
    })
}

/// Parses a protojson Duration (`"10s"`, `"1.5s"`, `"0.000001s"`) into seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let secs = text.strip_suffix('s')?;
    if secs.is_empty()
        || !secs
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
    {
        return None;
    }
    let value: f64 = secs.parse().ok()?;
    value.is_finite().then_some(value)
}

/// Formats seconds as a protojson Duration.
pub fn format_duration(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}s", secs as i64)
    } else {
        let text = format!("{secs:.9}");
        format!("{}s", text.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_input_is_accepted_but_map_keys_are_kept() {
        let v = camelize(json!({
            "redirect_uris": ["x"],
            "login_version": {"login_v2": {"base_uri": "b"}},
            "metadata": {"my_key": "dmFs"},
            "already_camel": 1,
            "alreadyCamel2": 2,
        }));
        assert_eq!(v["redirectUris"], json!(["x"]));
        assert_eq!(v["loginVersion"]["loginV2"]["baseUri"], "b");
        assert_eq!(v["metadata"]["my_key"], "dmFs");
        assert_eq!(v["alreadyCamel2"], 2);
    }

    #[test]
    fn prune_omits_defaults_but_keeps_set_messages() {
        let v = prune(json!({
            "a": false, "b": "", "c": 0, "d": [], "e": null,
            "f": {}, "g": {"h": true, "i": ""}, "j": "0", "k": [{"l": false}]
        }));
        assert_eq!(v, json!({"f": {}, "g": {"h": true}, "j": "0", "k": [{}]}));
    }

    #[test]
    fn text_methods() {
        assert!(text_matches(None, "Acme", "Acme").unwrap());
        assert!(!text_matches(None, "Acme", "acme").unwrap());
        assert!(
            text_matches(Some("TEXT_QUERY_METHOD_EQUALS_IGNORE_CASE"), "Acme", "acme").unwrap()
        );
        assert!(text_matches(Some("TEXT_QUERY_METHOD_STARTS_WITH"), "Acme", "Ac").unwrap());
        assert!(
            text_matches(
                Some("TEXT_FILTER_METHOD_CONTAINS_IGNORE_CASE"),
                "Acme",
                "CM"
            )
            .unwrap()
        );
        assert!(text_matches(Some("TEXT_QUERY_METHOD_ENDS_WITH"), "Acme", "me").unwrap());
        assert!(text_matches(Some("BOGUS"), "a", "a").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(10.0));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("1e3s"), None);
        assert_eq!(format_duration(10.0), "10s");
        assert_eq!(format_duration(1.5), "1.5s");
    }

    #[test]
    fn list_query_accepts_strings_and_numbers_and_caps_limit() {
        let q: ListQuery = serde_json::from_value(json!({"offset": "2", "limit": 1})).unwrap();
        assert_eq!(q.page(vec![1, 2, 3, 4]).unwrap(), vec![3]);
        let q: ListQuery = serde_json::from_value(json!({"limit": 1001})).unwrap();
        assert!(q.page(vec![1]).is_err());
        assert!(serde_json::from_value::<ListQuery>(json!({"offset": "x"})).is_err());
    }

    #[test]
    fn bodies_parse_with_clear_errors() {
        #[derive(Deserialize, Debug)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            name: String,
        }
        let ok: Req = parse_body(br#"{"name":"a"}"#).unwrap();
        assert_eq!(ok.name, "a");
        let err = parse_body::<Req>(b"[1]").unwrap_err();
        assert_eq!(err.code, crate::error::Code::InvalidArgument);
        let err = parse_body::<Req>(b"{").unwrap_err();
        assert!(err.message.contains("invalid JSON"));
        assert!(parse_body::<Req>(b"").is_err()); // `name` missing
    }
}
