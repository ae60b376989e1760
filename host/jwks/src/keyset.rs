//! A parsed JWKS: the public signing keys a verifier may use, each checked and parsed into an
//! aws-lc public key once when the document is loaded, so the per-token path only compares
//! strings and checks a signature.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, ParsedPublicKey,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512, RsaParameters,
    RsaPublicKeyComponents,
};
use base64::{
    Engine,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use serde_json::{Map, Value};

use crate::{
    JwksError,
    alg::{Alg, KeyKind},
};

/// Limits applied to a JWKS document before any key is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySetLimits {
    /// Largest accepted document, in bytes.
    pub max_document_bytes: usize,
    /// Most keys a document may list (usable or not).
    pub max_keys: usize,
}

impl Default for KeySetLimits {
    fn default() -> Self {
        Self {
            max_document_bytes: 256 * 1024,
            max_keys: 100,
        }
    }
}

/// A key the document listed but the verifier will never use, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    pub kid: Option<String>,
    pub reason: &'static str,
}

/// One usable public key.
#[derive(Clone, Debug)]
pub(crate) struct VerifyingKey {
    pub(crate) kid: Option<String>,
    pub(crate) kind: KeyKind,
    /// The JWK's own `alg`, when it names one; the key then verifies only that algorithm.
    pub(crate) alg: Option<Alg>,
    /// The key parsed by aws-lc for each algorithm it may verify: the JWK's `alg`, or every
    /// algorithm of its key type when it names none. Parsing once here, not per token, is what
    /// keeps RSA verification cheap (aws-lc also caches the modulus's Montgomery form in the key).
    parsed: Box<[(Alg, ParsedPublicKey)]>,
}

impl VerifyingKey {
    /// The parsed key for `alg`; `None` exactly when the key's type or `alg` does not fit.
    fn parsed_for(&self, alg: Alg) -> Option<&ParsedPublicKey> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, k)| k)
    }

    fn fits(&self, alg: Alg) -> bool {
        self.parsed_for(alg).is_some()
    }

    /// Checks `signature` over `message` with `alg`. False for a bad signature, and for an `alg`
    /// the key does not fit (which [`KeySet::select`] has already ruled out).
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        self.parsed_for(alg)
            .is_some_and(|key| key.verify_sig(message, signature).is_ok())
    }

    fn describe(&self) -> String {
        match self.alg {
            Some(a) => format!("{} (alg {a})", self.kind),
            None => self.kind.to_string(),
        }
    }
}

/// The public signing keys of one JWKS document.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    /// The accepted JWKs exactly as received, for bundles and seeds.
    raw: Vec<Value>,
    skipped: Vec<SkippedKey>,
}

/// The outcome of looking a token's key up.
pub(crate) enum Selection<'a> {
    Found(&'a VerifyingKey),
    UnknownKid,
    MissingKid,
    NoKeys,
    Mismatch { key: String },
    Ambiguous,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[…]}`), keeping the keys that can verify one of the
    /// supported algorithms and recording why the others were skipped.
    ///
    /// A document over the limits, or that is not a JWKS at all, is an error; a well-formed
    /// document whose keys are all unusable gives an empty set.
    pub fn from_jwks_json(document: &[u8], limits: &KeySetLimits) -> Result<Self, JwksError> {
        if document.len() > limits.max_document_bytes {
            return Err(JwksError::DocumentTooLarge {
                len: document.len(),
                max: limits.max_document_bytes,
            });
        }
        let value: Value = serde_json::from_slice(document)
            .map_err(|e| JwksError::InvalidDocument(format!("not JSON: {e}")))?;
        Self::from_jwks_value(value, limits)
    }

    /// As [`KeySet::from_jwks_json`], from an already parsed document.
    pub fn from_jwks_value(document: Value, limits: &KeySetLimits) -> Result<Self, JwksError> {
        let Value::Object(mut doc) = document else {
            return Err(JwksError::InvalidDocument("not a JSON object".into()));
        };
        let Some(Value::Array(keys)) = doc.remove("keys") else {
            return Err(JwksError::InvalidDocument("no `keys` array".into()));
        };
        Self::from_jwks(keys, limits)
    }

    pub(crate) fn from_jwks(keys: Vec<Value>, limits: &KeySetLimits) -> Result<Self, JwksError> {
        if keys.len() > limits.max_keys {
            return Err(JwksError::TooManyKeys {
                count: keys.len(),
                max: limits.max_keys,
            });
        }
        let mut set = KeySet::default();
        for jwk in keys {
            match parse_jwk(&jwk) {
                Ok(key) => {
                    set.keys.push(key);
                    set.raw.push(jwk);
                }
                Err(reason) => {
                    let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
                    set.skipped.push(SkippedKey { kid, reason });
                }
            }
        }
        Ok(set)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of the usable keys (keys without one are left out).
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().filter_map(|k| k.kid.clone()).collect()
    }

    /// Whether a usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Keys the document listed that will never be used.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// The usable keys as a JWKS document (`{"keys":[…]}`), each JWK as received.
    pub fn to_jwks_value(&self) -> Value {
        serde_json::json!({ "keys": self.raw })
    }

    pub(crate) fn raw_keys(&self) -> &[Value] {
        &self.raw
    }

    /// Finds the one key that may verify a token signed with `alg` and naming `kid`.
    pub(crate) fn select(&self, alg: Alg, kid: Option<&str>) -> Selection<'_> {
        let Some(kid) = kid else {
            // Without a kid the choice is only unambiguous when there is a single key.
            return match self.keys.as_slice() {
                [] => Selection::NoKeys,
                [only] if only.fits(alg) => Selection::Found(only),
                [only] => Selection::Mismatch {
                    key: only.describe(),
                },
                _ => Selection::MissingKid,
            };
        };
        let mut named = self
            .keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .peekable();
        let Some(first) = named.peek().copied() else {
            return Selection::UnknownKid;
        };
        let mut fitting = named.filter(|k| k.fits(alg));
        match (fitting.next(), fitting.next()) {
            (Some(key), None) => Selection::Found(key),
            (Some(_), Some(_)) => Selection::Ambiguous,
            (None, _) => Selection::Mismatch {
                key: first.describe(),
            },
        }
    }
}

/// base64url as JWK members use it; some IdPs pad, so padding is tolerated here (never in tokens).
const JWK_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn b64_member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, &'static str> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or("missing key parameter")?;
    JWK_B64
        .decode(text)
        .map_err(|_| "key parameter is not base64url")
}

/// Members that only private or symmetric keys have; a public JWKS must not carry them.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn parse_jwk(jwk: &Value) -> Result<VerifyingKey, &'static str> {
    let jwk = jwk.as_object().ok_or("not a JSON object")?;
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("`kid` is not a string"),
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err("private or symmetric key material");
    }
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err("`use` is not \"sig\""),
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array().ok_or("`key_ops` is not an array")?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err("`key_ops` does not allow \"verify\"");
        }
    }
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.parse::<Alg>().map_err(|_| "`alg` is not supported")?),
        Some(_) => return Err("`alg` is not a string"),
    };
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or("missing `kty`")?;
    let crv = jwk.get("crv").and_then(Value::as_str);
    let (kind, material) = match (kty, crv) {
        ("RSA", _) => (KeyKind::Rsa, rsa_key(jwk)?),
        ("EC", Some("P-256")) => (KeyKind::EcP256, ec_point(jwk, 32)?),
        ("EC", Some("P-384")) => (KeyKind::EcP384, ec_point(jwk, 48)?),
        ("EC", _) => return Err("unsupported EC curve"),
        ("OKP", Some("Ed25519")) => (KeyKind::Ed25519, ed25519_key(jwk)?),
        ("OKP", _) => return Err("unsupported OKP curve"),
        ("oct", _) => return Err("symmetric key"),
        _ => return Err("unsupported `kty`"),
    };
    if let Some(a) = alg
        && a.key_kind() != kind
    {
        return Err("`alg` does not match the key type");
    }
    let parsed = match alg {
        Some(a) => vec![(a, material.parse(a)?)],
        None => Alg::ALL
            .into_iter()
            .filter(|a| a.key_kind() == kind)
            .map(|a| Ok((a, material.parse(a)?)))
            .collect::<Result<_, &'static str>>()?,
    };
    Ok(VerifyingKey {
        kid,
        kind,
        alg,
        parsed: parsed.into_boxed_slice(),
    })
}

/// A JWK's public key bytes, checked but not yet bound to an algorithm.
enum Material {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed EC point (`04 ‖ x ‖ y`).
    EcPoint(Vec<u8>),
    /// A raw 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
}

#[cfg(test)]
thread_local! {
    /// aws-lc key parses on this thread, so a test can prove they happen only at load.
    pub(crate) static PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Material {
    /// Parses the key for one algorithm with aws-lc. These are the verification algorithms
    /// jsonwebtoken's aws-lc backend uses (a unit test checks they accept the same signatures).
    fn parse(&self, alg: Alg) -> Result<ParsedPublicKey, &'static str> {
        #[cfg(test)]
        PARSES.with(|n| n.set(n.get() + 1));
        let rsa = |params: &'static RsaParameters| match self {
            Self::Rsa { n, e } => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(params)
            .map_err(|_| "invalid RSA public key"),
            _ => Err("`alg` does not match the key type"),
        };
        match (alg, self) {
            (Alg::RS256, _) => rsa(&RSA_PKCS1_2048_8192_SHA256),
            (Alg::RS384, _) => rsa(&RSA_PKCS1_2048_8192_SHA384),
            (Alg::RS512, _) => rsa(&RSA_PKCS1_2048_8192_SHA512),
            (Alg::PS256, _) => rsa(&RSA_PSS_2048_8192_SHA256),
            (Alg::PS384, _) => rsa(&RSA_PSS_2048_8192_SHA384),
            (Alg::PS512, _) => rsa(&RSA_PSS_2048_8192_SHA512),
            // Rejects points that are not on the curve now, rather than failing every signature
            // later.
            (Alg::ES256, Self::EcPoint(p)) => ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p)
                .map_err(|_| "EC point is not on the curve"),
            (Alg::ES384, Self::EcPoint(p)) => ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, p)
                .map_err(|_| "EC point is not on the curve"),
            (Alg::EdDSA, Self::Ed25519(x)) => {
                ParsedPublicKey::new(&ED25519, x).map_err(|_| "invalid Ed25519 public key")
            }
            _ => Err("`alg` does not match the key type"),
        }
    }
}

fn rsa_key(jwk: &Map<String, Value>) -> Result<Material, &'static str> {
    let n = b64_member(jwk, "n")?;
    let e = b64_member(jwk, "e")?;
    let n_sig = strip_leading_zeros(&n);
    let e_sig = strip_leading_zeros(&e);
    let bits = n_sig.len() * 8 - n_sig.first().map_or(8, |b| b.leading_zeros() as usize);
    // The verifier refuses RSA below 2048 bits (RFC 8725 §3.5 / NIST); aws-lc's limit is 8192.
    if bits < 2048 {
        return Err("RSA modulus shorter than 2048 bits");
    }
    if bits > 8192 {
        return Err("RSA modulus longer than 8192 bits");
    }
    if e_sig.is_empty() || e_sig.len() > 4 || e_sig.last().is_some_and(|b| b & 1 == 0) {
        return Err("RSA exponent is not a small odd number");
    }
    if e_sig == [1] {
        return Err("RSA exponent is 1");
    }
    Ok(Material::Rsa {
        n: n_sig.to_vec(),
        e: e_sig.to_vec(),
    })
}

fn ec_point(jwk: &Map<String, Value>, coord_len: usize) -> Result<Material, &'static str> {
    let x = b64_member(jwk, "x")?;
    let y = b64_member(jwk, "y")?;
    if x.len() != coord_len || y.len() != coord_len {
        return Err("EC coordinates have the wrong length for the curve");
    }
    let mut point = Vec::with_capacity(1 + 2 * coord_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(Material::EcPoint(point))
}

fn ed25519_key(jwk: &Map<String, Value>) -> Result<Material, &'static str> {
    let x = b64_member(jwk, "x")?;
    if x.len() != 32 {
        return Err("Ed25519 public key is not 32 bytes");
    }
    Ok(Material::Ed25519(x))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::{
        rsa::KeySize,
        signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
            RsaPublicKeyComponents,
        },
    };
    use serde_json::json;

    use super::*;
    use crate::testkeys;
    use base64::engine::general_purpose;

    fn b64url(bytes: &[u8]) -> String {
        general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa_jwk(bits: KeySize, kid: &str) -> Value {
        let pair = RsaKeyPair::generate(bits).unwrap();
        let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        json!({"kty":"RSA","kid":kid,"use":"sig","alg":"RS256","n":b64url(&c.n),"e":b64url(&c.e)})
    }

    fn ec_jwk(kid: &str) -> Value {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let p = pair.public_key().as_ref();
        json!({"kty":"EC","crv":"P-256","kid":kid,"x":b64url(&p[1..33]),"y":b64url(&p[33..])})
    }

    fn ed_jwk(kid: &str) -> Value {
        let pair = Ed25519KeyPair::generate().unwrap();
        json!({"kty":"OKP","crv":"Ed25519","kid":kid,"x":b64url(pair.public_key().as_ref())})
    }

    fn set(keys: Vec<Value>) -> KeySet {
        KeySet::from_jwks_value(json!({ "keys": keys }), &KeySetLimits::default()).unwrap()
    }

    #[test]
    fn accepts_rsa_ec_and_ed25519_keys() {
        let s = set(vec![
            rsa_jwk(KeySize::Rsa2048, "r"),
            ec_jwk("e"),
            ed_jwk("d"),
        ]);
        assert_eq!(s.len(), 3);
        assert!(s.skipped().is_empty());
        assert_eq!(s.key_ids(), ["r", "e", "d"]);
        assert!(matches!(
            s.select(Alg::RS256, Some("r")),
            Selection::Found(_)
        ));
        assert!(matches!(
            s.select(Alg::ES256, Some("e")),
            Selection::Found(_)
        ));
        assert!(matches!(
            s.select(Alg::EdDSA, Some("d")),
            Selection::Found(_)
        ));
    }

    #[test]
    fn skips_unusable_keys_with_reasons() {
        let mut bad_curve = ec_jwk("bc");
        bad_curve["crv"] = json!("secp256k1");
        let mut off_curve = ec_jwk("oc");
        off_curve["y"] = off_curve["x"].clone();
        let mut private = rsa_jwk(KeySize::Rsa2048, "priv");
        private["d"] = json!("AAAA");
        let mut enc = ec_jwk("enc");
        enc["use"] = json!("enc");
        let mut hs = rsa_jwk(KeySize::Rsa2048, "hs");
        hs["alg"] = json!("HS256");
        let mut wrong_alg = ec_jwk("wa");
        wrong_alg["alg"] = json!("RS256");
        let mut no_verify = ed_jwk("nv");
        no_verify["key_ops"] = json!(["sign"]);
        let keys = vec![
            json!({"kty":"oct","kid":"sym","k":"c2VjcmV0"}),
            bad_curve,
            off_curve,
            private,
            enc,
            hs,
            wrong_alg,
            no_verify,
            json!({"kty":"RSA","kid":"short","n":b64url(&[0xff; 128]),"e":"AQAB"}),
            json!({"kty":"RSA","kid":"even-e","n":b64url(&[0xff; 256]),"e":b64url(&[2])}),
            json!("not an object"),
            json!({"kid": 7, "kty": "RSA"}),
        ];
        let s = set(keys);
        assert!(s.is_empty());
        let reasons: Vec<_> = s
            .skipped()
            .iter()
            .map(|k| (k.kid.as_deref(), k.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (Some("sym"), "private or symmetric key material"),
                (Some("bc"), "unsupported EC curve"),
                (Some("oc"), "EC point is not on the curve"),
                (Some("priv"), "private or symmetric key material"),
                (Some("enc"), "`use` is not \"sig\""),
                (Some("hs"), "`alg` is not supported"),
                (Some("wa"), "`alg` does not match the key type"),
                (Some("nv"), "`key_ops` does not allow \"verify\""),
                (Some("short"), "RSA modulus shorter than 2048 bits"),
                (Some("even-e"), "RSA exponent is not a small odd number"),
                (None, "not a JSON object"),
                (None, "`kid` is not a string"),
            ]
        );
    }

    #[test]
    fn enforces_document_limits() {
        let limits = KeySetLimits {
            max_document_bytes: 64,
            max_keys: 2,
        };
        let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(64));
        assert!(matches!(
            KeySet::from_jwks_json(big.as_bytes(), &limits),
            Err(JwksError::DocumentTooLarge { max: 64, .. })
        ));
        let many = r#"{"keys":[{},{},{}]}"#;
        assert!(matches!(
            KeySet::from_jwks_json(many.as_bytes(), &limits),
            Err(JwksError::TooManyKeys { count: 3, max: 2 })
        ));
        for doc in ["[]", "{}", r#"{"keys":{}}"#, "nope"] {
            assert!(
                matches!(
                    KeySet::from_jwks_json(doc.as_bytes(), &limits),
                    Err(JwksError::InvalidDocument(_))
                ),
                "{doc}"
            );
        }
    }

    #[test]
    fn selection_rules() {
        let single = set(vec![rsa_jwk(KeySize::Rsa2048, "r")]);
        // One key: kid may be omitted, but the key type must still fit.
        assert!(matches!(
            single.select(Alg::RS256, None),
            Selection::Found(_)
        ));
        assert!(matches!(
            single.select(Alg::PS256, None),
            Selection::Mismatch { .. }
        ));
        assert!(matches!(
            single.select(Alg::ES256, None),
            Selection::Mismatch { .. }
        ));
        assert!(matches!(
            single.select(Alg::RS256, Some("x")),
            Selection::UnknownKid
        ));

        let two = set(vec![rsa_jwk(KeySize::Rsa2048, "r"), ec_jwk("e")]);
        assert!(matches!(
            two.select(Alg::RS256, None),
            Selection::MissingKid
        ));
        assert!(matches!(
            two.select(Alg::ES256, Some("r")),
            Selection::Mismatch { .. }
        ));
        assert!(matches!(
            two.select(Alg::RS256, Some("e")),
            Selection::Mismatch { .. }
        ));

        // The same kid on an RSA and an EC key is resolved by the algorithm.
        let shared = set(vec![rsa_jwk(KeySize::Rsa2048, "k"), ec_jwk("k")]);
        assert!(
            matches!(shared.select(Alg::ES256, Some("k")), Selection::Found(k) if k.kind == KeyKind::EcP256)
        );
        assert!(
            matches!(shared.select(Alg::RS256, Some("k")), Selection::Found(k) if k.kind == KeyKind::Rsa)
        );
        let dup = set(vec![ec_jwk("k"), ec_jwk("k")]);
        assert!(matches!(
            dup.select(Alg::ES256, Some("k")),
            Selection::Ambiguous
        ));

        assert!(matches!(
            set(vec![]).select(Alg::RS256, None),
            Selection::NoKeys
        ));
    }

    #[test]
    fn rsa_below_2048_bits_is_refused_at_load() {
        // 2047 bits: one bit short of the floor.
        let mut n = vec![0xff; 256];
        n[0] = 0x7f;
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n);
        let keys = vec![
            json!({"kty":"RSA","kid":"2047","n":b64url(&n),"e":"AQAB"}),
            // Leading zero bytes do not count towards the size.
            json!({"kty":"RSA","kid":"2047-padded","n":b64url(&padded),"e":"AQAB"}),
            json!({"kty":"RSA","kid":"1024","alg":"RS256","n":b64url(&[0xc5; 128]),"e":"AQAB"}),
            rsa_jwk(KeySize::Rsa2048, "2048"),
        ];
        let s = set(keys);
        assert_eq!(s.key_ids(), ["2048"]);
        assert!(
            s.skipped()
                .iter()
                .all(|k| k.reason == "RSA modulus shorter than 2048 bits"),
            "{:?}",
            s.skipped()
        );
        assert_eq!(s.skipped().len(), 3);
        assert!(matches!(
            s.select(Alg::RS256, Some("1024")),
            Selection::UnknownKid
        ));
    }

    #[test]
    fn keys_are_parsed_once_per_algorithm_at_load() {
        let k = testkeys::keys();
        let mut rs256 = k.jwk(Alg::RS256, "rs256");
        rs256["alg"] = json!("RS256");
        let keys = vec![
            rs256,
            // No `alg`: usable with every RSA algorithm, so parsed for each of the six.
            k.jwk(Alg::PS256, "rsa-any"),
            k.jwk(Alg::ES256, "p256"),
            k.jwk(Alg::ES384, "p384"),
            k.jwk(Alg::EdDSA, "ed"),
        ];
        let before = PARSES.with(|n| n.get());
        let s = set(keys);
        assert_eq!(s.len(), 5);
        assert_eq!(PARSES.with(|n| n.get()) - before, 1 + 6 + 1 + 1 + 1);
        let loaded = PARSES.with(|n| n.get());

        let message = b"header.payload";
        for (alg, kid) in [
            (Alg::RS256, "rs256"),
            (Alg::RS384, "rsa-any"),
            (Alg::PS512, "rsa-any"),
            (Alg::ES256, "p256"),
            (Alg::ES384, "p384"),
            (Alg::EdDSA, "ed"),
        ] {
            let Selection::Found(key) = s.select(alg, Some(kid)) else {
                panic!("{alg} {kid}: no key");
            };
            let sig = k.sign(alg, message);
            for _ in 0..10 {
                assert!(key.verify(alg, message, &sig), "{alg} {kid}");
            }
            assert!(!key.verify(alg, b"header.payloaD", &sig), "{alg} {kid}");
        }
        assert_eq!(PARSES.with(|n| n.get()), loaded, "a key was parsed per use");
        // The parsed keys are shared by clones of the set (snapshots), not parsed again.
        let clone = s.clone();
        assert_eq!(clone.len(), 5);
        assert_eq!(PARSES.with(|n| n.get()), loaded);
    }

    /// Differential check against the previous path: jsonwebtoken's own JWK parsing and its
    /// aws-lc verifiers must accept and refuse exactly the same signatures as the keys parsed
    /// here, for every algorithm (a wrong algorithm mapping would show as a disagreement).
    #[test]
    fn agrees_with_jsonwebtoken_on_every_algorithm() {
        use jsonwebtoken::{
            Algorithm as J, DecodingKey, crypto::aws_lc::DEFAULT_PROVIDER, jwk::Jwk,
        };

        let to_j = |a: Alg| match a {
            Alg::RS256 => J::RS256,
            Alg::RS384 => J::RS384,
            Alg::RS512 => J::RS512,
            Alg::PS256 => J::PS256,
            Alg::PS384 => J::PS384,
            Alg::PS512 => J::PS512,
            Alg::ES256 => J::ES256,
            Alg::ES384 => J::ES384,
            Alg::EdDSA => J::EdDSA,
        };
        let k = testkeys::keys();
        let message = b"eyJhbGciOi.eyJzdWIiOi";
        for signed_with in Alg::ALL {
            let jwk = k.jwk(signed_with, "k");
            let ours = set(vec![jwk.clone()]);
            let theirs =
                DecodingKey::from_jwk(&serde_json::from_value::<Jwk>(jwk).unwrap()).unwrap();
            let good = k.sign(signed_with, message);
            let mut flipped = good.clone();
            *flipped.last_mut().unwrap() ^= 1;
            for checked_as in Alg::ALL {
                for (sig, msg) in [
                    (&good, &message[..]),
                    (&flipped, &message[..]),
                    (&good, &b"eyJhbGciOi.eyJzdWIiOj"[..]),
                    (&good[..good.len() - 1].to_vec(), &message[..]),
                ] {
                    let ours_ok = match ours.select(checked_as, None) {
                        Selection::Found(key) => key.verify(checked_as, msg, sig),
                        _ => false,
                    };
                    let theirs_ok = (DEFAULT_PROVIDER.verifier_factory)(&to_j(checked_as), &theirs)
                        .is_ok_and(|v| v.verify(msg, sig).is_ok());
                    assert_eq!(
                        ours_ok, theirs_ok,
                        "signed with {signed_with}, checked as {checked_as}"
                    );
                    if ours_ok {
                        // Only the untouched signature over the right message of the right alg.
                        assert!(
                            checked_as == signed_with && sig == &good && msg == message,
                            "signed with {signed_with}, checked as {checked_as}"
                        );
                    }
                }
            }
            // And the genuine signature verifies.
            let Selection::Found(key) = ours.select(signed_with, None) else {
                panic!("{signed_with}: no key");
            };
            assert!(key.verify(signed_with, message, &good), "{signed_with}");
        }
    }

    #[test]
    fn raw_keys_round_trip() {
        let jwk = ec_jwk("e");
        let s = set(vec![jwk.clone(), json!({"kty":"oct","k":"AA"})]);
        assert_eq!(s.to_jwks_value(), json!({ "keys": [jwk] }));
    }
}
