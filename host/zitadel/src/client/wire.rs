//! protojson conventions shared by every ZITADEL endpoint: 64-bit integers as strings, enums as
//! their proto names, durations as `"10s"`, the `details` objects and list queries.

use std::{fmt, time::Duration};

use gatehouse_core::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Declares an enum that travels as its protojson name (`default X` also implements `Default`). Values this client does not know (a
/// newer ZITADEL adds enum values) deserialize into `Unknown` instead of failing the response.
macro_rules! proto_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident default $default:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $crate::client::wire::proto_enum! {
            $(#[$meta])*
            pub enum $name {
                $( $(#[$vmeta])* $variant = $text, )+
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::$default
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this client does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The protojson name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Unknown(text) => text,
                }
            }

            /// Parses a protojson name; unknown names become `Unknown`.
            pub fn from_name(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::client::wire::deserialize_enum_name(deserializer).map(|name| Self::from_name(&name))
            }
        }
    };
}
pub(crate) use proto_enum;

/// protojson writes enum names, but also accepts (and some proxies emit) the numeric value; a
/// number is kept as its decimal text so it lands in `Unknown`.
pub(crate) fn deserialize_enum_name<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    struct Name;
    impl de::Visitor<'_> for Name {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an enum name")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(Name)
}

/// `uint64`/`int64` fields: written as strings (protojson), read from a string or a number.
pub(crate) mod u64_string {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(v),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        struct Int;
        impl de::Visitor<'_> for Int {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an unsigned integer or its decimal string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse()
                    .map(Some)
                    .map_err(|_| E::custom(format!("`{v}` is not an unsigned integer")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(Some)
                    .map_err(|_| E::custom("negative value for an unsigned integer"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        deserializer.deserialize_any(Int)
    }
}

/// A `google.protobuf.Duration` in its JSON form (`"10s"`, `"0.5s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtoDuration(pub Duration);

impl ProtoDuration {
    pub fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    pub fn parse(text: &str) -> Option<Self> {
        let number = text.strip_suffix('s')?;
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number, ""),
        };
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let secs: u64 = whole.parse().ok()?;
        let nanos: u32 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<9}").parse().ok()?
        };
        Some(Self(Duration::new(secs, nanos)))
    }
}

impl fmt::Display for ProtoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.subsec_nanos();
        if nanos == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            let fraction = format!("{nanos:09}");
            write!(
                f,
                "{}.{}s",
                self.0.as_secs(),
                fraction.trim_end_matches('0')
            )
        }
    }
}

impl Serialize for ProtoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProtoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| de::Error::custom(format!("`{text}` is not a protobuf duration")))
    }
}

/// The `details` of a v1 or v2 object: when and by which organization it was last written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectDetails {
    #[serde(with = "u64_string", skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_date: Option<Timestamp>,
    /// The organization (or instance) owning the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
}

/// The `details` of a list response (v1 `viewTimestamp`, v2 `timestamp`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListDetails {
    #[serde(with = "u64_string", skip_serializing_if = "Option::is_none")]
    pub total_result: Option<u64>,
    #[serde(with = "u64_string", skip_serializing_if = "Option::is_none")]
    pub processed_sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// `zitadel.filter.v2.PaginationResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaginationResponse {
    #[serde(with = "u64_string", skip_serializing_if = "Option::is_none")]
    pub total_result: Option<u64>,
    #[serde(with = "u64_string", skip_serializing_if = "Option::is_none")]
    pub applied_limit: Option<u64>,
}

/// Paging of v1 and object-v2 list requests (`query`). ZITADEL's default limit is 100, the
/// maximum 1000.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListQuery {
    #[serde(with = "u64_string", skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub asc: bool,
}

impl ListQuery {
    pub fn limit(limit: u32) -> Self {
        Self {
            limit: Some(limit),
            ..Self::default()
        }
    }
}

/// `zitadel.filter.v2.PaginationRequest` (Actions v2 and newer services).
pub type PaginationRequest = ListQuery;

proto_enum! {
    /// Text comparison of v1 and object-v2 queries.
    pub enum TextQueryMethod {
        Equals = "TEXT_QUERY_METHOD_EQUALS",
        EqualsIgnoreCase = "TEXT_QUERY_METHOD_EQUALS_IGNORE_CASE",
        StartsWith = "TEXT_QUERY_METHOD_STARTS_WITH",
        StartsWithIgnoreCase = "TEXT_QUERY_METHOD_STARTS_WITH_IGNORE_CASE",
        Contains = "TEXT_QUERY_METHOD_CONTAINS",
        ContainsIgnoreCase = "TEXT_QUERY_METHOD_CONTAINS_IGNORE_CASE",
        EndsWith = "TEXT_QUERY_METHOD_ENDS_WITH",
        EndsWithIgnoreCase = "TEXT_QUERY_METHOD_ENDS_WITH_IGNORE_CASE",
    }
}

proto_enum! {
    /// Text comparison of `zitadel.filter.v2` filters.
    pub enum TextFilterMethod {
        Equals = "TEXT_FILTER_METHOD_EQUALS",
        EqualsIgnoreCase = "TEXT_FILTER_METHOD_EQUALS_IGNORE_CASE",
        StartsWith = "TEXT_FILTER_METHOD_STARTS_WITH",
        StartsWithIgnoreCase = "TEXT_FILTER_METHOD_STARTS_WITH_IGNORE_CASE",
        Contains = "TEXT_FILTER_METHOD_CONTAINS",
        ContainsIgnoreCase = "TEXT_FILTER_METHOD_CONTAINS_IGNORE_CASE",
        EndsWith = "TEXT_FILTER_METHOD_ENDS_WITH",
        EndsWithIgnoreCase = "TEXT_FILTER_METHOD_ENDS_WITH_IGNORE_CASE",
    }
}

/// A `{name, method}` text query, shared by many list requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameQuery {
    pub name: String,
    pub method: TextQueryMethod,
}

impl NameQuery {
    pub fn equals(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            method: TextQueryMethod::Equals,
        }
    }
}

/// An empty protobuf message (`{}`), for oneof members without fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sixty_four_bit_integers_are_strings_on_the_wire() {
        let details: ObjectDetails = serde_json::from_value(json!({
            "sequence": "18446744073709551615",
            "resourceOwner": "123",
            "creationDate": "2025-01-23T10:34:18.051Z",
            "someFutureField": {"x": 1}
        }))
        .unwrap();
        assert_eq!(details.sequence, Some(u64::MAX));
        assert_eq!(details.resource_owner.as_deref(), Some("123"));
        let back = serde_json::to_value(&details).unwrap();
        assert_eq!(back["sequence"], json!("18446744073709551615"));

        // Numbers are accepted too; garbage is an error, not a silent zero.
        let from_number: ListDetails = serde_json::from_value(json!({"totalResult": 3})).unwrap();
        assert_eq!(from_number.total_result, Some(3));
        assert!(serde_json::from_value::<ListDetails>(json!({"totalResult": "three"})).is_err());
        assert!(serde_json::from_value::<ListDetails>(json!({"totalResult": -1})).is_err());

        let query = serde_json::to_value(ListQuery {
            offset: Some(10),
            limit: Some(5),
            asc: false,
        })
        .unwrap();
        assert_eq!(query, json!({"offset": "10", "limit": 5}));
    }

    #[test]
    fn enums_travel_as_names_and_tolerate_new_values() {
        assert_eq!(
            serde_json::to_value(TextQueryMethod::EqualsIgnoreCase).unwrap(),
            json!("TEXT_QUERY_METHOD_EQUALS_IGNORE_CASE")
        );
        let known: TextQueryMethod =
            serde_json::from_value(json!("TEXT_QUERY_METHOD_EQUALS")).unwrap();
        assert_eq!(known, TextQueryMethod::Equals);
        let unknown: TextQueryMethod =
            serde_json::from_value(json!("TEXT_QUERY_METHOD_FUZZY")).unwrap();
        assert_eq!(
            unknown,
            TextQueryMethod::Unknown("TEXT_QUERY_METHOD_FUZZY".into())
        );
        assert_eq!(
            serde_json::to_value(&unknown).unwrap(),
            json!("TEXT_QUERY_METHOD_FUZZY")
        );
        let numeric: TextQueryMethod = serde_json::from_value(json!(7)).unwrap();
        assert_eq!(numeric, TextQueryMethod::Unknown("7".into()));
    }

    #[test]
    fn durations_round_trip_in_protojson_form() {
        for (text, duration) in [
            ("10s", Duration::from_secs(10)),
            ("0s", Duration::ZERO),
            ("0.5s", Duration::from_millis(500)),
            ("1.000340012s", Duration::new(1, 340_012)),
        ] {
            let parsed = ProtoDuration::parse(text).unwrap();
            assert_eq!(parsed.0, duration, "{text}");
            assert_eq!(parsed.to_string(), text);
        }
        for bad in ["10", "s", "-1s", "1.s5", "1.0000000001s", "ten s", ""] {
            assert!(ProtoDuration::parse(bad).is_none(), "{bad}");
        }
    }
}
