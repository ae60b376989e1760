//! JWS compact serialization: splitting, strict base64url, and JSON objects without duplicate
//! members. Nothing here trusts the token; the verifier decides what the parsed parts mean.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, Visitor},
};
use serde_json::{Map, Value};

use crate::VerifyError;

/// The three segments of a compact JWS, still encoded.
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    /// `header.payload`: the bytes the signature covers.
    pub(crate) signing_input: &'a str,
}

pub(crate) fn split(token: &str) -> Result<Segments<'_>, VerifyError> {
    if token.is_empty() {
        return Err(VerifyError::Malformed("empty token"));
    }
    if !is_compact_alphabet(token.as_bytes()) {
        return Err(VerifyError::Malformed(
            "token contains characters outside base64url and `.`",
        ));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "expected three `.`-separated segments",
        ));
    };
    match parts.count() {
        0 => {}
        2 => {
            return Err(VerifyError::Malformed(
                "encrypted tokens (JWE) are not supported",
            ));
        }
        _ => {
            return Err(VerifyError::Malformed(
                "expected three `.`-separated segments",
            ));
        }
    }
    if header.is_empty() || payload.is_empty() {
        return Err(VerifyError::Malformed("empty header or payload segment"));
    }
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// Whether every byte is base64url or `.`. Branch-free per byte (no early exit), so the compiler
/// vectorises it: this runs on every token, before anything else is known about it.
fn is_compact_alphabet(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| {
        let alnum =
            (b.wrapping_sub(b'a') < 26) | (b.wrapping_sub(b'A') < 26) | (b.wrapping_sub(b'0') < 10);
        ok & (alnum | (b == b'-') | (b == b'_') | (b == b'.'))
    })
}

/// Strict base64url: no padding, no whitespace, canonical trailing bits.
pub(crate) fn b64_decode(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Why a segment is not an acceptable JSON object.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ObjectError {
    NotJson,
    NotObject,
    Duplicate,
}

/// Parses a JSON object, refusing duplicate member names (RFC 7515 §4 and RFC 7519 §4 allow
/// either refusing or taking the last; refusing removes any parser-differential doubt).
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ObjectError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let object = match StrictObject::deserialize(&mut de) {
        Ok(StrictObject(Some(map))) => map,
        Ok(StrictObject(None)) => return Err(ObjectError::Duplicate),
        Err(e) if e.is_data() => return Err(ObjectError::NotObject),
        Err(_) => return Err(ObjectError::NotJson),
    };
    de.end().map_err(|_| ObjectError::NotJson)?;
    Ok(object)
}

/// `None` when a member name repeats.
struct StrictObject(Option<Map<String, Value>>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StrictObjectVisitor)
    }
}

struct StrictObjectVisitor;

impl<'de> Visitor<'de> for StrictObjectVisitor {
    type Value = StrictObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            // One map operation per member (this runs on every token's header and payload).
            if map.insert(key, value).is_some() {
                // Keep consuming so the error is "duplicate", not a syntax error.
                while access
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                return Ok(StrictObject(None));
            }
        }
        Ok(StrictObject(Some(map)))
    }
}

/// The header parameters the verifier acts on. Everything else — including `jku`, `x5u`, `jwk`
/// and `x5c` — is read past and never used: keys come only from the configured key set.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
}

/// Header parameters registered by RFC 7515/7516/7519; `crit` must not list them (RFC 7515
/// §4.1.11).
const REGISTERED: [&str; 14] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
    "zip", "epk",
];

pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header, VerifyError> {
    let mut map = parse_object(bytes).map_err(|e| match e {
        ObjectError::Duplicate => VerifyError::Malformed("duplicate header parameter"),
        ObjectError::NotObject => VerifyError::Malformed("header is not a JSON object"),
        ObjectError::NotJson => VerifyError::Malformed("header is not valid JSON"),
    })?;
    let alg = match map.remove("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(VerifyError::Malformed("header `alg` is not a string")),
        None => return Err(VerifyError::Malformed("header has no `alg`")),
    };
    let kid = match map.remove("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => return Err(VerifyError::Malformed("header `kid` is not a string")),
    };
    if let Some(crit) = map.get("crit") {
        check_crit(crit, &map)?;
    }
    Ok(Header { alg, kid })
}

/// RFC 7515 §4.1.11: a recipient must refuse a JWS whose `crit` lists an extension it does not
/// understand. This verifier understands none, so a well-formed `crit` is refused by name and a
/// malformed one as malformed.
fn check_crit(crit: &Value, header: &Map<String, Value>) -> Result<(), VerifyError> {
    let malformed = |why| Err(VerifyError::InvalidCrit(why));
    let Some(list) = crit.as_array() else {
        return malformed("`crit` is not an array");
    };
    if list.is_empty() {
        return malformed("`crit` is empty");
    }
    let mut names = Vec::with_capacity(list.len());
    for item in list {
        let Some(name) = item.as_str() else {
            return malformed("`crit` lists a non-string");
        };
        if names.contains(&name) {
            return malformed("`crit` lists a name twice");
        }
        if REGISTERED.contains(&name) {
            return malformed("`crit` lists a registered header parameter");
        }
        if !header.contains_key(name) {
            return malformed("`crit` lists a parameter the header does not have");
        }
        names.push(name);
    }
    Err(VerifyError::UnsupportedCritical(
        names.into_iter().map(str::to_owned).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_segments_only() {
        let s = split("aGVh.cGF5.c2ln").unwrap();
        assert_eq!((s.header, s.payload, s.signature), ("aGVh", "cGF5", "c2ln"));
        assert_eq!(s.signing_input, "aGVh.cGF5");
        assert!(
            split("aGVh.cGF5.").is_ok(),
            "empty signature is judged later, after `alg`"
        );
        for bad in [
            "", "a", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.c d", "a.b.c=", "a+b.c.d",
        ] {
            assert!(
                matches!(split(bad), Err(VerifyError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            split("a.b.c.d.e"),
            Err(VerifyError::Malformed(
                "encrypted tokens (JWE) are not supported"
            ))
        ));
    }

    #[test]
    fn compact_alphabet_is_base64url_and_dot() {
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
            assert_eq!(is_compact_alphabet(&[b]), expected, "byte {b:#04x}");
            // Anywhere in a long input (the vectorised body and the tail).
            for at in [0, 31, 32, 63, 99] {
                let mut long = vec![b'a'; 100];
                long[at] = b;
                assert_eq!(
                    is_compact_alphabet(&long),
                    expected,
                    "byte {b:#04x} at {at}"
                );
            }
        }
        assert!(is_compact_alphabet(b""));
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("aGk").unwrap(), b"hi");
        assert!(b64_decode("aGk=").is_none(), "padding");
        assert!(b64_decode("aGl").is_none(), "non-canonical trailing bits");
        assert!(b64_decode("a+/b").is_none(), "standard alphabet");
    }

    #[test]
    fn objects_refuse_duplicates_and_non_objects() {
        assert_eq!(
            parse_object(br#"{"a":1,"b":{"a":2,"a":3}}"#).unwrap().len(),
            2
        );
        assert_eq!(
            parse_object(br#"{"a":1,"a":1}"#),
            Err(ObjectError::Duplicate)
        );
        assert_eq!(
            parse_object(br#"{"a":1,"b":2,"a":3,"c":4}"#),
            Err(ObjectError::Duplicate)
        );
        assert_eq!(parse_object(b"[1]"), Err(ObjectError::NotObject));
        assert_eq!(parse_object(b"\"x\""), Err(ObjectError::NotObject));
        assert_eq!(parse_object(b"{\"a\":"), Err(ObjectError::NotJson));
        assert_eq!(parse_object(b"{} {}"), Err(ObjectError::NotJson));
        assert_eq!(parse_object(b"\xff"), Err(ObjectError::NotJson));
    }

    #[test]
    fn header_fields_and_crit() {
        let h = parse_header(br#"{"alg":"RS256","kid":"k","jku":"https://evil","x":1}"#).unwrap();
        assert_eq!((h.alg.as_str(), h.kid.as_deref()), ("RS256", Some("k")));
        assert!(matches!(
            parse_header(br#"{"kid":"k"}"#),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse_header(br#"{"alg":1}"#),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse_header(br#"{"alg":"RS256","kid":5}"#),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse_header(br#"{"alg":"RS256","b64":false,"crit":["b64"]}"#),
            Err(VerifyError::UnsupportedCritical(names)) if names == ["b64"]
        ));
        for crit in [
            r#""b64""#,
            "[]",
            "[1]",
            r#"["x","x"]"#,
            r#"["alg"]"#,
            r#"["missing"]"#,
            "null",
        ] {
            let header = format!(r#"{{"alg":"RS256","x":true,"crit":{crit}}}"#);
            assert!(
                matches!(
                    parse_header(header.as_bytes()),
                    Err(VerifyError::InvalidCrit(_))
                ),
                "{crit}"
            );
        }
    }
}
