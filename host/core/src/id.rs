//! Prefixed, time-ordered identifiers (`ten_01J…`), WorkOS style: the prefix says what an id
//! names, so a tenant id pasted where an app id belongs fails fast with a clear message.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize};
use ulid::Ulid;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by 26 characters)")]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            pub const KIND: &'static str = $kind;

            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, Ulid::new()))
            }

            pub fn parse(value: &str) -> Result<Self, IdError> {
                let valid = value
                    .strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|rest| Ulid::from_string(rest).is_ok());
                if valid {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(IdError { kind: $kind, prefix: $prefix, value: value.chars().take(80).collect() })
                }
            }

            /// For values read back from our own store, which only ever holds valid ids.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9A-HJKMNP-TV-Z]{26}$")))
                    .examples([serde_json::json!(concat!($prefix, "_01JDQ8X9W3N2D3V0T2K5Q7R8S9"))])
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

define_id!(
    /// A tenant: one customer organisation, mirrored as a ZITADEL organization.
    TenantId, "ten", "tenant"
);
define_id!(
    /// An application registered for a tenant, mirrored as a ZITADEL project + OIDC app.
    AppId, "app", "app"
);
define_id!(
    /// An admin API key.
    ApiKeyId, "key", "API key"
);
define_id!(
    /// One audit-log entry.
    AuditId, "aud", "audit entry"
);
define_id!(
    /// One normalized event in the events feed.
    EventId, "evt", "event"
);
define_id!(
    /// A webhook endpoint.
    WebhookEndpointId, "whe", "webhook endpoint"
);
define_id!(
    /// One delivery of one event to one endpoint (stable across retries: the `webhook-id`).
    DeliveryId, "msg", "delivery"
);
define_id!(
    /// One HTTP attempt of a delivery.
    AttemptId, "att", "delivery attempt"
);
define_id!(
    /// Deliveries one fan-out pass handed straight to a worker, not yet written.
    HandoffId, "hnd", "delivery handoff"
);
define_id!(
    /// A login provider connected to a tenant.
    ProviderId, "idp", "provider"
);
define_id!(
    /// An admin portal session.
    SessionId, "ses", "session"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_carry_their_prefix() {
        let id = TenantId::generate();
        assert!(id.as_str().starts_with("ten_"));
        assert_eq!(TenantId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn wrong_prefix_or_garbage_is_refused_with_the_kind() {
        let app = AppId::generate();
        let err = TenantId::parse(app.as_str()).unwrap_err();
        assert!(err.to_string().contains("tenant id"));
        assert!(TenantId::parse("ten_nope").is_err());
        assert!(TenantId::parse("").is_err());
    }
}
