//! The verified claims: the registered and common OIDC claims typed, plus the whole JSON object.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::VerifyError;

/// Claims of a verified token.
///
/// Registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`) of the wrong JSON type make
/// the token invalid. The other typed fields are conveniences: a value of an unexpected type is
/// left as `None` here and is still available in [`Claims::raw`].
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// Issuer; equal to the configured issuer.
    pub iss: String,
    /// Subject (the user or machine id).
    pub sub: Option<String>,
    /// Audiences; at least one is a configured audience. A single-string `aud` becomes one entry.
    pub aud: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not before, Unix seconds.
    pub nbf: Option<i64>,
    /// Issued at, Unix seconds.
    pub iat: Option<i64>,
    pub jti: Option<String>,
    /// Authorized party (the client the token was issued to).
    pub azp: Option<String>,
    /// Client id (RFC 9068 access tokens; ZITADEL JWT access tokens).
    pub client_id: Option<String>,
    /// Space-separated scopes, as issued.
    pub scope: Option<String>,
    pub nonce: Option<String>,
    /// Session id.
    pub sid: Option<String>,
    /// Time of the user's authentication, Unix seconds.
    pub auth_time: Option<i64>,
    /// Authentication methods references.
    pub amr: Vec<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// Every claim of the token, including the ones above.
    pub raw: Map<String, Value>,
}

impl Claims {
    /// The individual scopes of `scope`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// One claim by name, as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// Deserializes the whole claim set into an application type.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.raw.clone()))
    }

    /// Reads the claims out of a payload object; `exp` is required, `iss` and `aud` are checked by
    /// the caller against the configuration.
    pub(crate) fn from_map(raw: Map<String, Value>) -> Result<Self, VerifyError> {
        let iss = match raw.get("iss") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(invalid("iss", "not a string")),
            None => return Err(VerifyError::MissingClaim("iss")),
        };
        let aud = match raw.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("aud", "array holds a non-string"))?,
            Some(_) => return Err(invalid("aud", "not a string or an array of strings")),
            None => return Err(VerifyError::MissingClaim("aud")),
        };
        let exp = numeric_date(&raw, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        Ok(Claims {
            iss,
            sub: registered_string(&raw, "sub")?,
            aud,
            exp,
            nbf: numeric_date(&raw, "nbf")?,
            iat: numeric_date(&raw, "iat")?,
            jti: registered_string(&raw, "jti")?,
            azp: loose_string(&raw, "azp"),
            client_id: loose_string(&raw, "client_id"),
            scope: loose_string(&raw, "scope"),
            nonce: loose_string(&raw, "nonce"),
            sid: loose_string(&raw, "sid"),
            auth_time: raw.get("auth_time").and_then(as_numeric_date),
            amr: raw
                .get("amr")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            email: loose_string(&raw, "email"),
            email_verified: raw.get("email_verified").and_then(Value::as_bool),
            name: loose_string(&raw, "name"),
            preferred_username: loose_string(&raw, "preferred_username"),
            raw,
        })
    }
}

fn invalid(claim: &'static str, reason: &'static str) -> VerifyError {
    VerifyError::InvalidClaim { claim, reason }
}

fn registered_string(
    raw: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<String>, VerifyError> {
    match raw.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(claim, "not a string")),
    }
}

fn loose_string(raw: &Map<String, Value>, claim: &str) -> Option<String> {
    raw.get(claim).and_then(Value::as_str).map(str::to_owned)
}

fn numeric_date(raw: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, VerifyError> {
    match raw.get(claim) {
        None => Ok(None),
        Some(v) => as_numeric_date(v)
            .map(Some)
            .ok_or(invalid(claim, "not a NumericDate")),
    }
}

/// RFC 7519 NumericDate: seconds, possibly fractional; fractions are truncated toward the past.
fn as_numeric_date(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // Out-of-range values are refused rather than saturated, so `exp: 1e300` is not "forever".
    (f.is_finite() && f > i64::MIN as f64 && f < i64::MAX as f64).then(|| f.floor() as i64)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Result<Claims, VerifyError> {
        let Value::Object(map) = v else {
            unreachable!()
        };
        Claims::from_map(map)
    }

    #[test]
    fn reads_zitadel_style_claims() {
        let c = claims(json!({
            "iss": "https://idp.example", "sub": "2781", "aud": ["client@proj", "3141"],
            "exp": 1_900_000_000, "iat": 1_899_999_000, "nbf": 1_899_999_000.75,
            "jti": "j", "azp": "client@proj", "client_id": "client@proj",
            "scope": "openid  profile email", "amr": ["pwd", 5], "email_verified": true,
            "auth_time": 1_899_998_000,
            "urn:zitadel:iam:org:project:roles": {"admin": {"org1": "example.com"}}
        }))
        .unwrap();
        assert_eq!(c.iss, "https://idp.example");
        assert_eq!(c.aud, ["client@proj", "3141"]);
        assert_eq!(
            (c.exp, c.nbf, c.iat),
            (1_900_000_000, Some(1_899_999_000), Some(1_899_999_000))
        );
        assert_eq!(
            c.scopes().collect::<Vec<_>>(),
            ["openid", "profile", "email"]
        );
        assert_eq!(c.amr, ["pwd"]);
        assert_eq!(c.email_verified, Some(true));
        assert_eq!(c.auth_time, Some(1_899_998_000));
        assert!(
            c.get("urn:zitadel:iam:org:project:roles")
                .unwrap()
                .is_object()
        );

        #[derive(Deserialize)]
        struct Mine {
            sub: String,
            #[serde(rename = "urn:zitadel:iam:org:project:roles")]
            roles: std::collections::BTreeMap<String, Value>,
        }
        let mine: Mine = c.deserialize().unwrap();
        assert_eq!(mine.sub, "2781");
        assert!(mine.roles.contains_key("admin"));
    }

    #[test]
    fn single_string_audience() {
        let c = claims(json!({"iss":"i","aud":"a","exp":1})).unwrap();
        assert_eq!(c.aud, ["a"]);
        assert_eq!(c.sub, None);
    }

    #[test]
    fn registered_claims_must_have_their_types() {
        let base = json!({"iss":"i","aud":"a","exp":1});
        let cases = [
            ("iss", json!(5), "iss"),
            ("aud", json!({"a":1}), "aud"),
            ("aud", json!(["a", 1]), "aud"),
            ("exp", json!("1900000000"), "exp"),
            ("exp", json!(1e300), "exp"),
            ("nbf", json!(true), "nbf"),
            ("iat", json!(null), "iat"),
            ("sub", json!(42), "sub"),
            ("jti", json!([]), "jti"),
        ];
        for (name, value, expected) in cases {
            let mut v = base.clone();
            v[name] = value;
            match claims(v) {
                Err(VerifyError::InvalidClaim { claim, .. }) => assert_eq!(claim, expected),
                other => panic!("{name}: {other:?}"),
            }
        }
        for missing in ["iss", "aud", "exp"] {
            let mut v = base.clone();
            v.as_object_mut().unwrap().remove(missing);
            assert!(
                matches!(claims(v), Err(VerifyError::MissingClaim(c)) if c == missing),
                "{missing}"
            );
        }
    }

    #[test]
    fn loose_claims_of_the_wrong_type_stay_raw() {
        let c =
            claims(json!({"iss":"i","aud":"a","exp":1,"email":7,"email_verified":"yes"})).unwrap();
        assert_eq!((c.email.as_deref(), c.email_verified), (None, None));
        assert_eq!(c.get("email"), Some(&json!(7)));
    }
}
