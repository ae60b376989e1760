use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON → 400; wrong types, missing or unknown fields → 422 naming the
/// field (e.g. `redirect_uris[1]`); too large → 413; not JSON → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is too large",
                )
            } else {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            );
        }
        let message = inner.to_string();
        // serde reports unknown fields at the parent's path; name the field itself.
        let field = match message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(unknown) if path == "." => unknown.to_owned(),
            Some(unknown) if !path.ends_with(unknown) => format!("{path}.{unknown}"),
            _ => path,
        };
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ApiError::invalid(field, message)
    })?;
    deserializer.end().map_err(|_| {
        ApiError::bad_request("malformed_json", "unexpected data after the JSON value")
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use gatehouse_core::tenant::CreateTenant;

    use super::parse;

    #[test]
    fn errors_name_the_field() {
        let err = parse::<CreateTenant>(br#"{"name":"a","slug":"b","extra":1}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("extra"));
        assert_eq!(err.status.as_u16(), 422);
        let err = parse::<CreateTenant>(br#"{"name":1,"slug":"b"}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("name"));
        let err = parse::<CreateTenant>(br#"{"name":"a","slug":"b","domains":["x",2]}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("domains[1]"));
        let err = parse::<CreateTenant>(br#"{"name":"a""#).err().unwrap();
        assert_eq!(err.status.as_u16(), 400);
        let err = parse::<CreateTenant>(br#"{"slug":"b"}"#).err().unwrap();
        assert!(
            err.message.contains("missing field `name`"),
            "{}",
            err.message
        );
    }
}
