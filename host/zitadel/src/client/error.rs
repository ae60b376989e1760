//! Errors of the ZITADEL client, and the parser for ZITADEL's error bodies.
//!
//! ZITADEL answers errors in three shapes:
//! - REST / grpc-gateway (`/management/v1`, `/admin/v1`, `/v2/...`):
//!   `{"code":5,"message":"Login Policy not found (Org-Ffgw2)","details":[{"@type":
//!   "type.googleapis.com/zitadel.v1.ErrorDetail","id":"Org-Ffgw2","message":"Login Policy not found"}]}`
//! - Connect (`/zitadel.x.v2.XService/Method`): `{"code":"not_found","message":"…","details":
//!   [{"type":"zitadel.v1.ErrorDetail","value":"<base64 protobuf>"}]}`
//! - OAuth endpoints (`/oauth/v2/token`): `{"error":"invalid_grant","error_description":"…"}`
//!
//! Anything else (a proxy's HTML page) is classified by its HTTP status alone.

use std::{fmt, time::Duration};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};
use serde_json::Value;

/// gRPC status codes, which ZITADEL uses for every API error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

impl Code {
    const ALL: [(Code, i64, &'static str); 16] = [
        (Code::Cancelled, 1, "canceled"),
        (Code::Unknown, 2, "unknown"),
        (Code::InvalidArgument, 3, "invalid_argument"),
        (Code::DeadlineExceeded, 4, "deadline_exceeded"),
        (Code::NotFound, 5, "not_found"),
        (Code::AlreadyExists, 6, "already_exists"),
        (Code::PermissionDenied, 7, "permission_denied"),
        (Code::ResourceExhausted, 8, "resource_exhausted"),
        (Code::FailedPrecondition, 9, "failed_precondition"),
        (Code::Aborted, 10, "aborted"),
        (Code::OutOfRange, 11, "out_of_range"),
        (Code::Unimplemented, 12, "unimplemented"),
        (Code::Internal, 13, "internal"),
        (Code::Unavailable, 14, "unavailable"),
        (Code::DataLoss, 15, "data_loss"),
        (Code::Unauthenticated, 16, "unauthenticated"),
    ];

    /// The numeric gRPC code (REST bodies); 0 (OK) and unknown numbers are `None`.
    pub fn from_grpc(code: i64) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == code)
            .map(|(c, _, _)| *c)
    }

    /// The Connect name (`"not_found"`; Connect spells cancelled with one `l`).
    pub fn from_connect(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        Self::ALL
            .iter()
            .find(|(_, _, text)| *text == name || (name == "cancelled" && *text == "canceled"))
            .map(|(c, _, _)| *c)
    }

    /// Best guess from the HTTP status when the body says nothing (grpc-gateway's mapping).
    pub fn from_http_status(status: u16) -> Self {
        match status {
            400 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            409 => Self::AlreadyExists,
            412 => Self::FailedPrecondition,
            429 => Self::ResourceExhausted,
            499 => Self::Cancelled,
            501 => Self::Unimplemented,
            502..=503 => Self::Unavailable,
            504 => Self::DeadlineExceeded,
            500..=599 => Self::Internal,
            _ => Self::Unknown,
        }
    }

    pub fn grpc(self) -> i64 {
        Self::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or(2, |(_, n, _)| *n)
    }

    /// The Connect / snake_case name.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("unknown", |(_, _, t)| t)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error ZITADEL answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: u16,
    pub code: Code,
    /// ZITADEL's message without the trailing `(ID)`: localized text on REST paths (this client
    /// asks for English), the i18n key (`Errors.Org.LoginPolicy.NotFound`) where ZITADEL does
    /// not translate.
    pub message: String,
    /// ZITADEL's message id, e.g. `COMMAND-1m88i` or `Org-Ffgw2`.
    pub id: Option<String>,
    /// `Retry-After` from a 429/503, if given.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.code, self.status, self.message)?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        Ok(())
    }
}

/// The most of an unknown body that goes into an error message.
const SNIPPET_CHARS: usize = 200;

impl ApiError {
    /// Parses an error response body (any of the shapes in the module docs).
    pub fn parse(status: u16, body: &[u8]) -> Self {
        let fallback_code = Code::from_http_status(status);
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Self {
                status,
                code: fallback_code,
                message: snippet(body, status),
                id: None,
                retry_after: None,
            };
        };

        // OAuth error (`/oauth/v2/*`).
        if let Some(error) = map.get("error").and_then(Value::as_str)
            && map.get("code").is_none()
        {
            let message = match map.get("error_description").and_then(Value::as_str) {
                Some(description) if !description.is_empty() => format!("{error}: {description}"),
                _ => error.to_owned(),
            };
            let code = match error {
                "invalid_request" | "invalid_scope" | "unsupported_grant_type" => {
                    Code::InvalidArgument
                }
                "invalid_client" | "invalid_grant" | "unauthorized_client" => Code::Unauthenticated,
                "access_denied" => Code::PermissionDenied,
                "server_error" => Code::Internal,
                "temporarily_unavailable" => Code::Unavailable,
                _ => fallback_code,
            };
            return Self {
                status,
                code,
                message: clean(&message),
                id: None,
                retry_after: None,
            };
        }

        let code = match map.get("code") {
            Some(Value::Number(n)) => n.as_i64().and_then(Code::from_grpc),
            Some(Value::String(name)) => Code::from_connect(name),
            _ => None,
        }
        .unwrap_or(fallback_code);

        let raw_message = map
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (message_text, message_id) = split_message_id(raw_message);
        let detail = map
            .get("details")
            .and_then(Value::as_array)
            .and_then(|details| details.iter().find_map(error_detail));

        let (detail_id, detail_message) = detail.unwrap_or_default();
        let id = detail_id.or(message_id);
        let message = match detail_message {
            Some(text) if message_text.is_empty() => text,
            _ if !message_text.is_empty() => message_text.to_owned(),
            _ => snippet(body, status),
        };
        Self {
            status,
            code,
            message: clean(&message),
            id: id.map(|id| clean(&id)),
            retry_after: None,
        }
    }

    /// ZITADEL refused an update because nothing would change. ZITADEL raises this with many
    /// keys (`Errors.NoChangesFound` "No changes", `Errors.Org.NotChanged` "Organisation not
    /// changed", `Errors.User.NoChanges` "No changes found", "… has not been changed"), many
    /// ids and even different codes (FailedPrecondition mostly, NotFound for an app rename), so
    /// the text decides: the i18n key where ZITADEL does not translate, the English message
    /// where it does (the client asks for English).
    pub fn is_no_changes(&self) -> bool {
        let message = self.message.trim().to_ascii_lowercase();
        message.contains("nochangesfound")
            || message.contains(".notchanged")
            || message.ends_with(".nochanges")
            || message == "no changes"
            || message == "no changes found"
            || message.ends_with(" not changed")
            || message.ends_with(" has not been changed")
    }
}

/// `(id, message)` of a `zitadel.v1.ErrorDetail` in either the REST or the Connect shape.
fn error_detail(detail: &Value) -> Option<(Option<String>, Option<String>)> {
    let detail = detail.as_object()?;
    let type_name = detail
        .get("@type")
        .or_else(|| detail.get("type"))
        .and_then(Value::as_str)?;
    if !type_name.ends_with("zitadel.v1.ErrorDetail") {
        return None;
    }
    if let Some(encoded) = detail.get("value").and_then(Value::as_str) {
        let trimmed = encoded.trim_end_matches('=');
        let bytes = STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
            .ok()?;
        return decode_error_detail_proto(&bytes);
    }
    let text = |key: &str| {
        detail
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Some((text("id"), text("message")))
}

/// Decodes the protobuf `message ErrorDetail { string id = 1; string message = 2; }` that Connect
/// ships base64-encoded. Unknown fields are skipped; malformed input yields `None`.
fn decode_error_detail_proto(mut bytes: &[u8]) -> Option<(Option<String>, Option<String>)> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
        if bytes.len() < len {
            return None;
        }
        let (head, rest) = bytes.split_at(len);
        *bytes = rest;
        Some(head)
    }

    let (mut id, mut message) = (None, None);
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        match key & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => {
                take(&mut bytes, 8)?;
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let value = take(&mut bytes, len)?;
                let text = || String::from_utf8(value.to_vec()).ok();
                match key >> 3 {
                    1 => id = text(),
                    2 => message = text(),
                    _ => {}
                }
            }
            5 => {
                take(&mut bytes, 4)?;
            }
            _ => return None,
        }
    }
    Some((
        id.filter(|s| !s.is_empty()),
        message.filter(|s| !s.is_empty()),
    ))
}

/// ZITADEL appends the message id in parentheses: `"User already exists (SQL-M0dsf)"`.
fn split_message_id(message: &str) -> (&str, Option<String>) {
    let trimmed = message.trim_end();
    if let Some(open) = trimmed.rfind(" (")
        && let Some(inner) = trimmed[open + 2..].strip_suffix(')')
        && looks_like_message_id(inner)
    {
        return (trimmed[..open].trim_end(), Some(inner.to_owned()));
    }
    (trimmed, None)
}

/// `COMMAND-1m88i`, `Org-Ffgw2`, `QUERY-n0wng`, `AUTH-AWfge`.
fn looks_like_message_id(text: &str) -> bool {
    let Some((prefix, suffix)) = text.split_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && !suffix.is_empty()
        && prefix.len() <= 20
        && suffix.len() <= 20
        && prefix.chars().all(|c| c.is_ascii_alphanumeric())
        && suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Text from the other side goes into logs: strip control characters and bound the length.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(1000)
        .collect()
}

fn snippet(body: &[u8], status: u16) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET_CHARS)
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        format!("HTTP {status} without a body")
    } else {
        text
    }
}

/// Everything the ZITADEL client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ZitadelError {
    /// ZITADEL answered with an error.
    #[error("{op}: ZITADEL answered {error}")]
    Api { op: &'static str, error: ApiError },

    /// No answer within the request timeout.
    #[error("{op}: no answer from ZITADEL within {timeout:?}")]
    Timeout { op: &'static str, timeout: Duration },

    /// ZITADEL could not be reached or the connection broke.
    #[error("{op}: cannot reach ZITADEL: {message}")]
    Transport { op: &'static str, message: String },

    /// ZITADEL answered 2xx with a body this client cannot read.
    #[error("{op}: unexpected response from ZITADEL: {message}")]
    Decode { op: &'static str, message: String },

    /// The credentials are unusable (malformed key file, unparsable private key). Never
    /// contains key material.
    #[error("ZITADEL credentials: {0}")]
    Credentials(String),

    /// The client configuration is unusable (e.g. the base URL).
    #[error("ZITADEL client configuration: {0}")]
    Config(String),

    /// The request was refused before anything was sent.
    #[error("{op}: invalid request: {message}")]
    InvalidRequest { op: &'static str, message: String },

    /// ZITADEL acted on another organization than the one named in `x-zitadel-orgid`
    /// (zitadel/zitadel#12482: management v1 REST may ignore the header). When `resource_id`
    /// is set, the object was created in `actual` and the caller should remove it.
    #[error(
        "{op}: ZITADEL acted on organization `{actual}` instead of `{expected}` \
         (x-zitadel-orgid ignored, see zitadel/zitadel#12482)"
    )]
    WrongOrganization {
        op: &'static str,
        expected: String,
        actual: String,
        resource_id: Option<String>,
    },

    /// A read did not reflect a write within the consistency timeout.
    #[error("{what} was not visible in ZITADEL after {waited:?} (its read models lag writes)")]
    NotConsistent { what: String, waited: Duration },
}

impl ZitadelError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The gRPC code ZITADEL answered, if it answered.
    pub fn code(&self) -> Option<Code> {
        self.api().map(|e| e.code)
    }

    /// ZITADEL's message id (`COMMAND-xyz`), if any.
    pub fn message_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.id.as_deref())
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(Code::NotFound)
    }

    pub fn is_already_exists(&self) -> bool {
        self.code() == Some(Code::AlreadyExists)
    }

    /// See [`ApiError::is_no_changes`].
    pub fn is_no_changes(&self) -> bool {
        self.api().is_some_and(ApiError::is_no_changes)
    }

    /// Worth trying again later (by the reconciler; the client already retried).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { error, .. } => super::retry::is_retryable_status(error.status),
            Self::Timeout { .. } | Self::Transport { .. } | Self::NotConsistent { .. } => true,
            Self::Decode { .. }
            | Self::Credentials(_)
            | Self::Config(_)
            | Self::InvalidRequest { .. }
            | Self::WrongOrganization { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    use super::*;

    fn parse(status: u16, body: Value) -> ApiError {
        ApiError::parse(status, body.to_string().as_bytes())
    }

    #[test]
    fn rest_body_with_error_detail() {
        let err = parse(
            409,
            json!({
                "code": 6,
                "message": "User already exists (SQL-M0dsf)",
                "details": [{
                    "@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
                    "id": "SQL-M0dsf",
                    "message": "User already exists"
                }]
            }),
        );
        assert_eq!(err.code, Code::AlreadyExists);
        assert_eq!(err.status, 409);
        assert_eq!(err.id.as_deref(), Some("SQL-M0dsf"));
        assert_eq!(err.message, "User already exists");
        assert_eq!(
            err.to_string(),
            "already_exists (HTTP 409): User already exists (SQL-M0dsf)"
        );
    }

    #[test]
    fn rest_body_without_details_takes_the_id_from_the_message() {
        let err = parse(
            404,
            json!({"code": 5, "message": "Errors.Org.LoginPolicy.NotFound (Org-Ffgw2)"}),
        );
        assert_eq!(err.code, Code::NotFound);
        assert_eq!(err.message, "Errors.Org.LoginPolicy.NotFound");
        assert_eq!(err.id.as_deref(), Some("Org-Ffgw2"));

        // Parentheses that are not an id stay in the message.
        let err = parse(
            400,
            json!({"code": 3, "message": "invalid name (too long)"}),
        );
        assert_eq!(err.message, "invalid name (too long)");
        assert_eq!(err.id, None);
    }

    #[test]
    fn connect_body_with_base64_protobuf_detail() {
        // ErrorDetail{id: "COMMAND-JLK35", message: "Errors.User.Locked"} as protobuf.
        let mut proto = vec![0x0a, 13];
        proto.extend_from_slice(b"COMMAND-JLK35");
        proto.extend_from_slice(&[0x12, 18]);
        proto.extend_from_slice(b"Errors.User.Locked");
        // An unknown varint field (number 3) must be skipped.
        proto.extend_from_slice(&[0x18, 0x96, 0x01]);
        let encoded = STANDARD.encode(&proto);
        let err = parse(
            400,
            json!({
                "code": "failed_precondition",
                "message": "Errors.User.Locked (COMMAND-JLK35)",
                "details": [{"type": "zitadel.v1.ErrorDetail", "value": encoded.trim_end_matches('=')}]
            }),
        );
        assert_eq!(err.code, Code::FailedPrecondition);
        assert_eq!(err.id.as_deref(), Some("COMMAND-JLK35"));
        assert_eq!(err.message, "Errors.User.Locked");

        // Only the detail carries the id.
        let err = parse(
            404,
            json!({
                "code": "not_found",
                "message": "",
                "details": [{"type": "zitadel.v1.ErrorDetail", "value": encoded}]
            }),
        );
        assert_eq!(err.code, Code::NotFound);
        assert_eq!(err.id.as_deref(), Some("COMMAND-JLK35"));
        assert_eq!(err.message, "Errors.User.Locked");
    }

    #[test]
    fn malformed_connect_detail_is_ignored_not_fatal() {
        let err = parse(
            503,
            json!({
                "code": "unavailable",
                "message": "try later",
                "details": [{"type": "zitadel.v1.ErrorDetail", "value": "!!!not base64"},
                            {"type": "zitadel.v1.ErrorDetail", "value": STANDARD.encode([0x0a, 50, 1])}]
            }),
        );
        assert_eq!(err.code, Code::Unavailable);
        assert_eq!(err.message, "try later");
        assert_eq!(err.id, None);
    }

    #[test]
    fn oauth_error_body() {
        let err = parse(
            400,
            json!({"error": "invalid_grant", "error_description": "assertion expired"}),
        );
        assert_eq!(err.code, Code::Unauthenticated);
        assert_eq!(err.message, "invalid_grant: assertion expired");
        let err = parse(400, json!({"error": "invalid_scope"}));
        assert_eq!(err.code, Code::InvalidArgument);
    }

    #[test]
    fn non_json_bodies_fall_back_to_the_status() {
        let err = ApiError::parse(502, b"<html>\n<body>Bad Gateway</body>\n</html>");
        assert_eq!(err.code, Code::Unavailable);
        assert_eq!(err.message, "<html> <body>Bad Gateway</body> </html>");
        let err = ApiError::parse(404, b"");
        assert_eq!(err.code, Code::NotFound);
        assert_eq!(err.message, "HTTP 404 without a body");
        let long = "x".repeat(10_000);
        assert_eq!(
            ApiError::parse(500, long.as_bytes()).message.len(),
            SNIPPET_CHARS
        );
        // A JSON array is not an error object either.
        assert_eq!(ApiError::parse(429, b"[1,2]").code, Code::ResourceExhausted);
    }

    #[test]
    fn unknown_numeric_code_uses_the_http_status() {
        let err = parse(
            403,
            json!({"code": 99, "message": "No matching permissions found (AUTH-AWfge)"}),
        );
        assert_eq!(err.code, Code::PermissionDenied);
        assert_eq!(err.id.as_deref(), Some("AUTH-AWfge"));
    }

    #[test]
    fn code_tables_agree() {
        for n in 1..=16 {
            let code = Code::from_grpc(n).unwrap();
            assert_eq!(code.grpc(), n);
            assert_eq!(Code::from_connect(code.as_str()), Some(code));
        }
        assert_eq!(Code::from_grpc(0), None);
        assert_eq!(Code::from_connect("cancelled"), Some(Code::Cancelled));
        assert_eq!(Code::from_http_status(409), Code::AlreadyExists);
        assert_eq!(Code::from_http_status(418), Code::Unknown);
    }

    #[test]
    fn no_changes_is_recognised_in_its_spellings() {
        for (code, message) in [
            (9, "No changes (COMMAND-1m88i)"),
            (5, "Errors.NoChangesFound (COMMAND-2m8vx)"),
            (9, "No changes found (USER-3n8fs)"),
            (9, "Organisation not changed (EVENT-4VSdf)"),
            (9, "Errors.Org.NotChanged (EVENT-4VSdf)"),
            (9, "Errors.User.NoChanges (COMMAND-2n8vs)"),
            (9, "Private Label Policy has not been changed (Org-8nfSr)"),
        ] {
            assert!(
                parse(400, json!({"code": code, "message": message})).is_no_changes(),
                "{message}"
            );
        }
        for other in [
            "Project not found",
            "Errors.Changes.Forbidden",
            "changes were rejected",
        ] {
            assert!(
                !parse(400, json!({"code": 9, "message": other})).is_no_changes(),
                "{other}"
            );
        }
    }
}
