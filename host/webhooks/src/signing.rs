//! Standard Webhooks v1 signatures (symmetric, HMAC-SHA256).
//!
//! - Secrets are `whsec_` + base64 of 24–64 random bytes ([`Secret`]); Gatehouse generates 32.
//! - The signed content is `"{webhook-id}.{webhook-timestamp}.{raw body}"`; the signature is
//!   `v1,<base64 HMAC-SHA256>`.
//! - During secret rotation the `webhook-signature` header carries one signature per secret,
//!   space-separated; a receiver accepts the message if any of them matches a secret it knows.
//! - [`verify`] compares in constant time and accepts timestamps within a tolerance in both
//!   directions (5 minutes, like the reference libraries).
//!
//! Output is checked against the reference `standardwebhooks` library in
//! `tests/it/standard_webhooks.rs`.

use std::{fmt, str::FromStr, time::Duration};

use base64::{
    Engine,
    engine::{
        DecodePaddingMode,
        general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD},
    },
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header carrying the message id: stable across retries, the receiver's idempotency key.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the attempt's Unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

pub const SECRET_PREFIX: &str = "whsec_";
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;
pub const DEFAULT_SECRET_BYTES: usize = 32;
/// How far a timestamp may be from the verifier's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const VERSION: &str = "v1";

/// Secrets written by hand or other tools sometimes drop the `=` padding; accept both forms.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// A symmetric signing secret. `Debug` never shows the key; the key bytes are zeroed on drop.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

/// A user-supplied secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("webhook secret must start with `whsec_`")]
    MissingPrefix,
    #[error("webhook secret: the part after `whsec_` is not valid base64")]
    InvalidBase64,
    #[error(
        "webhook secret decodes to {len} bytes; it must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes"
    )]
    BadLength { len: usize },
}

impl Secret {
    /// A fresh secret of [`DEFAULT_SECRET_BYTES`] random bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; DEFAULT_SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    /// Parses `whsec_<base64>`, checking the prefix, the encoding and the 24–64 byte length.
    /// Surrounding whitespace (a pasted newline) is ignored.
    pub fn parse(value: &str) -> Result<Self, SecretError> {
        let encoded = value
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = BASE64_LENIENT
            .decode(encoded)
            .map_err(|_| SecretError::InvalidBase64)?;
        Self::from_bytes(key)
    }

    /// Wraps raw key bytes (24–64 of them).
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SecretError> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength { len: key.len() });
        }
        Ok(Self { key })
    }

    /// The `whsec_…` form: to encrypt at rest or to show the admin once. Named so that every
    /// call site is an obvious, reviewable disclosure.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length")
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Constant-time, like every other comparison involving key material.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({SECRET_PREFIX}…, {} bytes)", self.key.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.key.fill(0);
    }
}

/// Signing inputs that would produce an ambiguous or unusable header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("at least one secret is needed to sign")]
    NoSecrets,
    #[error("message id must be non-empty printable ASCII without `.` or spaces")]
    InvalidMessageId,
    #[error("timestamp must be Unix seconds, not negative")]
    NegativeTimestamp,
}

/// The `webhook-signature` value for a message: `v1,<base64>` per secret, space-separated, in
/// the order given (sign with the old and the new secret during rotation).
pub fn sign(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[Secret],
) -> Result<String, SignError> {
    if secrets.is_empty() {
        return Err(SignError::NoSecrets);
    }
    if !valid_msg_id(msg_id) {
        return Err(SignError::InvalidMessageId);
    }
    if timestamp < 0 {
        return Err(SignError::NegativeTimestamp);
    }
    let timestamp = timestamp.to_string();
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| {
            let tag = tag(secret, msg_id, &timestamp, body);
            format!("{VERSION},{}", STANDARD.encode(tag))
        })
        .collect();
    Ok(signatures.join(" "))
}

/// The id and timestamp are joined with `.` in the signed content, so a `.` inside the id
/// would make two different messages sign the same bytes (the spec forbids it). Header values
/// must also be plain ASCII.
fn valid_msg_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic() && b != b'.')
}

fn tag(secret: &Secret, msg_id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = secret.mac();
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The three header values of a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads the `webhook-*` headers (names are case-insensitive in `HeaderMap`).
    pub fn from_header_map(headers: &'a http::HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &'static str| {
            let value = headers.get(name).ok_or(VerifyError::MissingHeader(name))?;
            value
                .to_str()
                .map_err(|_| VerifyError::MalformedHeader(name))
        };
        Ok(Self {
            id: get(HEADER_ID)?,
            timestamp: get(HEADER_TIMESTAMP)?,
            signature: get(HEADER_SIGNATURE)?,
        })
    }
}

/// Why a message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    #[error("malformed `{0}` header")]
    MalformedHeader(&'static str),
    #[error("no secret to verify with")]
    NoSecrets,
    #[error("message timestamp is too old")]
    TooOld,
    #[error("message timestamp is too far in the future")]
    TooNew,
    #[error("no matching signature")]
    NoMatchingSignature,
}

/// Verifies a received message: timestamp within `tolerance` of `now` (Unix seconds) in either
/// direction, then any `v1` signature matching any of `secrets`, compared in constant time.
/// Entries with other versions (e.g. `v1a`) are ignored, as the spec requires.
pub fn verify(
    headers: &SignatureHeaders<'_>,
    body: &[u8],
    secrets: &[Secret],
    tolerance: Duration,
    now: i64,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    if !valid_msg_id(headers.id) {
        return Err(VerifyError::MalformedHeader(HEADER_ID));
    }
    let timestamp = parse_timestamp(headers.timestamp)?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.saturating_sub(timestamp) > tolerance {
        return Err(VerifyError::TooOld);
    }
    if timestamp.saturating_sub(now) > tolerance {
        return Err(VerifyError::TooNew);
    }

    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|s| tag(s, headers.id, headers.timestamp, body))
        .collect();
    let mut matched = false;
    for entry in headers.signature.split_ascii_whitespace() {
        let Some((VERSION, encoded)) = entry.split_once(',') else {
            continue;
        };
        let Ok(candidate) = STANDARD.decode(encoded) else {
            continue;
        };
        // No early exit: the time taken does not reveal which secret or entry matched.
        for tag in &expected {
            matched |= bool::from(tag.as_slice().ct_eq(&candidate));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// Unix seconds as plain ASCII digits (no sign, no fraction).
fn parse_timestamp(value: &str) -> Result<i64, VerifyError> {
    let malformed = VerifyError::MalformedHeader(HEADER_TIMESTAMP);
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    value.parse().map_err(|_| malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from the Standard Webhooks specification's test vectors.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> Secret {
        Secret::parse(SPEC_SECRET).unwrap()
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders {
            id,
            timestamp: ts,
            signature: sig,
        }
    }

    #[test]
    fn matches_the_spec_example() {
        assert_eq!(
            sign(SPEC_ID, SPEC_TS, SPEC_BODY, &[secret()]).unwrap(),
            SPEC_SIG
        );
        let ts = SPEC_TS.to_string();
        verify(
            &headers(SPEC_ID, &ts, SPEC_SIG),
            SPEC_BODY,
            &[secret()],
            DEFAULT_TOLERANCE,
            SPEC_TS + 10,
        )
        .unwrap();
    }

    #[test]
    fn secrets_round_trip_and_are_validated() {
        let s = Secret::generate();
        let shown = s.expose();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(Secret::parse(&shown).unwrap(), s);
        assert_eq!(Secret::parse(&format!(" {shown}\n")).unwrap(), s);
        assert_eq!(s.key.len(), 32);
        assert_ne!(Secret::generate(), s);

        // Unpadded base64 is accepted.
        let unpadded = shown.trim_end_matches('=');
        assert_eq!(Secret::parse(unpadded).unwrap(), s);

        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(Secret::parse("whsec_***"), Err(SecretError::InvalidBase64));
        let short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
        assert_eq!(
            Secret::parse(&short),
            Err(SecretError::BadLength { len: 23 })
        );
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(
            Secret::parse(&long),
            Err(SecretError::BadLength { len: 65 })
        );
        assert!(Secret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 24]))).is_ok());
        assert!(Secret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).is_ok());
        assert_eq!(
            SecretError::BadLength { len: 3 }.to_string(),
            "webhook secret decodes to 3 bytes; it must be 24 to 64 random bytes"
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = secret();
        let debug = format!("{s:?}");
        assert_eq!(debug, "Secret(whsec_…, 24 bytes)");
        assert!(!debug.contains("MfKQ"));
    }

    #[test]
    fn rotation_header_verifies_with_either_secret() {
        let old = Secret::generate();
        let new = Secret::generate();
        let header = sign("msg_1", 1_700_000_000, b"{}", &[old.clone(), new.clone()]).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        for secrets in [
            vec![old.clone()],
            vec![new.clone()],
            vec![Secret::generate(), new],
        ] {
            verify(
                &headers("msg_1", "1700000000", &header),
                b"{}",
                &secrets,
                DEFAULT_TOLERANCE,
                1_700_000_000,
            )
            .unwrap();
        }
        assert_eq!(
            verify(
                &headers("msg_1", "1700000000", &header),
                b"{}",
                &[Secret::generate()],
                DEFAULT_TOLERANCE,
                1_700_000_000,
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn rejects_tampering_and_stale_or_future_timestamps() {
        let s = [secret()];
        let ts = SPEC_TS.to_string();
        let ok = |id: &str, ts: &str, sig: &str, body: &[u8], now: i64| {
            verify(&headers(id, ts, sig), body, &s, DEFAULT_TOLERANCE, now)
        };
        assert_eq!(
            ok(SPEC_ID, &ts, SPEC_SIG, br#"{"test": 2432232315}"#, SPEC_TS),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            ok("msg_other", &ts, SPEC_SIG, SPEC_BODY, SPEC_TS),
            Err(VerifyError::NoMatchingSignature)
        );
        let later = (SPEC_TS + 1).to_string();
        assert_eq!(
            ok(SPEC_ID, &later, SPEC_SIG, SPEC_BODY, SPEC_TS),
            Err(VerifyError::NoMatchingSignature)
        );
        // Tolerance: exactly 5 minutes either way is accepted, one second more is not.
        assert!(ok(SPEC_ID, &ts, SPEC_SIG, SPEC_BODY, SPEC_TS + 300).is_ok());
        assert!(ok(SPEC_ID, &ts, SPEC_SIG, SPEC_BODY, SPEC_TS - 300).is_ok());
        assert_eq!(
            ok(SPEC_ID, &ts, SPEC_SIG, SPEC_BODY, SPEC_TS + 301),
            Err(VerifyError::TooOld)
        );
        assert_eq!(
            ok(SPEC_ID, &ts, SPEC_SIG, SPEC_BODY, SPEC_TS - 301),
            Err(VerifyError::TooNew)
        );
        // Malformed inputs.
        for bad_ts in [
            "",
            "-1",
            "+1614265330",
            "1614265330.5",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(
                ok(SPEC_ID, bad_ts, SPEC_SIG, SPEC_BODY, SPEC_TS),
                Err(VerifyError::MalformedHeader(HEADER_TIMESTAMP)),
                "{bad_ts:?}"
            );
        }
        assert_eq!(
            ok("msg.1", &ts, SPEC_SIG, SPEC_BODY, SPEC_TS),
            Err(VerifyError::MalformedHeader(HEADER_ID))
        );
        // Unknown versions, junk and a valid entry among them.
        let mixed = format!("v1a,AAAA junk v1,%%% {SPEC_SIG}");
        assert!(ok(SPEC_ID, &ts, &mixed, SPEC_BODY, SPEC_TS).is_ok());
        let only_v1a = SPEC_SIG.replacen("v1,", "v1a,", 1);
        assert_eq!(
            ok(SPEC_ID, &ts, &only_v1a, SPEC_BODY, SPEC_TS),
            Err(VerifyError::NoMatchingSignature)
        );
        // A truncated signature never matches.
        assert_eq!(
            ok(SPEC_ID, &ts, "v1,g0hM9SsE+OTPJTGt", SPEC_BODY, SPEC_TS),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(
                &headers(SPEC_ID, &ts, SPEC_SIG),
                SPEC_BODY,
                &[],
                DEFAULT_TOLERANCE,
                SPEC_TS
            ),
            Err(VerifyError::NoSecrets)
        );
    }

    #[test]
    fn sign_rejects_ambiguous_inputs() {
        assert_eq!(sign("m", 1, b"", &[]), Err(SignError::NoSecrets));
        assert_eq!(
            sign("m", -1, b"", &[secret()]),
            Err(SignError::NegativeTimestamp)
        );
        for id in ["", "msg.1", "msg 1", "msg\n1", "msgé"] {
            assert_eq!(
                sign(id, 1, b"", &[secret()]),
                Err(SignError::InvalidMessageId),
                "{id:?}"
            );
        }
    }

    #[test]
    fn reads_headers_from_a_header_map() {
        let mut map = http::HeaderMap::new();
        map.insert("Webhook-Id", SPEC_ID.parse().unwrap());
        map.insert("WEBHOOK-TIMESTAMP", SPEC_TS.to_string().parse().unwrap());
        assert_eq!(
            SignatureHeaders::from_header_map(&map),
            Err(VerifyError::MissingHeader(HEADER_SIGNATURE))
        );
        map.insert(HEADER_SIGNATURE, SPEC_SIG.parse().unwrap());
        let h = SignatureHeaders::from_header_map(&map).unwrap();
        verify(&h, SPEC_BODY, &[secret()], DEFAULT_TOLERANCE, SPEC_TS).unwrap();
        map.insert(
            HEADER_SIGNATURE,
            http::HeaderValue::from_bytes(b"v1,\xff").unwrap(),
        );
        assert_eq!(
            SignatureHeaders::from_header_map(&map),
            Err(VerifyError::MalformedHeader(HEADER_SIGNATURE))
        );
    }
}
