//! The signature ZITADEL puts on Actions v2 calls to a target.
//!
//! Header `ZITADEL-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` where each `v1` is
//! `hex(HMAC-SHA256(signingKey, "<t>." + raw body))`, one per active signing key (several while
//! a key is rotated). The receiver checks the timestamp against a tolerance (ZITADEL's default is
//! 300 s) and compares signatures in constant time. (ZITADEL's docs say `X-ZITADEL-Signature`;
//! its code sends `ZITADEL-Signature`. Header names are case-insensitive either way.)

use std::time::Duration;

use gatehouse_core::Timestamp;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header ZITADEL sends.
pub const HEADER: &str = "ZITADEL-Signature";

/// ZITADEL's default tolerance for the signature timestamp.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Longer headers are refused without parsing (ZITADEL sends one or two signatures).
const MAX_HEADER_LEN: usize = 4096;
/// More `v1` entries than this are refused, bounding the HMAC work per request.
const MAX_SIGNATURES: usize = 8;
const SIGNATURE_LEN: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the ZITADEL-Signature header is missing or empty")]
    Missing,
    #[error("the ZITADEL-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature is too old (older than the tolerance)")]
    Expired,
    #[error("the signature timestamp lies in the future (beyond the tolerance)")]
    FromFuture,
    #[error("no signature matches the body and the signing keys")]
    Mismatch,
    #[error("no signing key is configured to verify the signature")]
    NoKeys,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &str, timestamp: i64, body: &[u8]) -> [u8; SIGNATURE_LEN] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

struct Parsed {
    timestamp: i64,
    signatures: Vec<[u8; SIGNATURE_LEN]>,
}

fn parse(header_value: &str) -> Result<Parsed, SignatureError> {
    let header_value = header_value.trim();
    if header_value.is_empty() {
        return Err(SignatureError::Missing);
    }
    if header_value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed("too long"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut v1_entries = 0usize;
    for part in header_value.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("an entry is not `key=value`"))?;
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed("more than one timestamp"));
                }
                let value = value.trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignatureError::Malformed("the timestamp is not a number"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("the timestamp is out of range"))?,
                );
            }
            "v1" => {
                v1_entries += 1;
                if v1_entries > MAX_SIGNATURES {
                    return Err(SignatureError::Malformed("too many signatures"));
                }
                // An undecodable entry is skipped (as ZITADEL's own verifier does), so one bad
                // entry cannot hide a good one.
                if let Ok(bytes) = hex::decode(value.trim())
                    && let Ok(signature) = <[u8; SIGNATURE_LEN]>::try_from(bytes.as_slice())
                {
                    signatures.push(signature);
                }
            }
            // Other schemes (future versions) are not ours to check.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no valid v1 signature"));
    }
    Ok(Parsed {
        timestamp,
        signatures,
    })
}

/// Verifies a `ZITADEL-Signature` header against the raw request body. `signing_keys` are the
/// target's current keys (more than one during a rotation); any match is accepted. The
/// timestamp must lie within `tolerance` of `now`, in either direction.
pub fn verify(
    header_value: &str,
    body: &[u8],
    signing_keys: &[&str],
    now: Timestamp,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let keys: Vec<&str> = signing_keys
        .iter()
        .copied()
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Err(SignatureError::NoKeys);
    }
    let parsed = parse(header_value)?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    let now = now.unix_seconds();
    if now.saturating_sub(parsed.timestamp) > tolerance {
        return Err(SignatureError::Expired);
    }
    if parsed.timestamp.saturating_sub(now) > tolerance {
        return Err(SignatureError::FromFuture);
    }
    // Every key is compared with every signature, without stopping early, so the time taken
    // does not depend on which (if any) matched.
    let mut matched = subtle::Choice::from(0);
    for key in keys {
        let expected = mac(key, parsed.timestamp, body);
        for signature in &parsed.signatures {
            matched |= expected.ct_eq(signature);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Builds the header ZITADEL would send for `body` at `at`, one `v1` per key (for tests and
/// emulators).
pub fn sign(body: &[u8], signing_keys: &[&str], at: Timestamp) -> String {
    let timestamp = at.unix_seconds();
    let mut header = format!("t={timestamp}");
    for key in signing_keys {
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac(key, timestamp, body)));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"aggregateID":"123","event_type":"user.human.added","event_payload":{}}"#;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(seconds * 1000)
    }

    #[test]
    fn valid_signature_verifies() {
        let header = sign(BODY, &["key-1"], at(1_700_000_000));
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify(
                &header,
                BODY,
                &["key-1"],
                at(1_700_000_000),
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
        // Within the tolerance on both sides.
        assert_eq!(
            verify(
                &header,
                BODY,
                &["key-1"],
                at(1_700_000_300),
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &header,
                BODY,
                &["key-1"],
                at(1_699_999_700),
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
    }

    #[test]
    fn matches_zitadel_reference_computation() {
        // hex(HMAC-SHA256("secret", "1700000000.{}")), computed independently with openssl:
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        let header = sign(b"{}", &["secret"], at(1_700_000_000));
        assert_eq!(
            header,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn tampered_body_timestamp_or_key_fails() {
        let header = sign(BODY, &["key-1"], at(1_700_000_000));
        let now = at(1_700_000_010);
        assert_eq!(
            verify(
                &header,
                b"{\"aggregateID\":\"124\"}",
                &["key-1"],
                now,
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, BODY, &["key-2"], now, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        let shifted = header.replacen("t=1700000000", "t=1700000001", 1);
        assert_eq!(
            verify(&shifted, BODY, &["key-1"], now, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        let mut flipped = header.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            verify(&flipped, BODY, &["key-1"], now, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn expired_and_future_timestamps_fail() {
        let header = sign(BODY, &["key-1"], at(1_700_000_000));
        assert_eq!(
            verify(
                &header,
                BODY,
                &["key-1"],
                at(1_700_000_301),
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(
                &header,
                BODY,
                &["key-1"],
                at(1_699_999_699),
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::FromFuture)
        );
        // A custom tolerance applies.
        assert_eq!(
            verify(
                &header,
                BODY,
                &["key-1"],
                at(1_700_000_031),
                Duration::from_secs(30)
            ),
            Err(SignatureError::Expired)
        );
        // An absurd tolerance does not overflow.
        assert_eq!(
            verify(&header, BODY, &["key-1"], at(0), Duration::MAX),
            Ok(())
        );
    }

    #[test]
    fn rotation_sends_several_v1_and_any_key_matches() {
        let header = sign(BODY, &["old-key", "new-key"], at(1_700_000_000));
        assert_eq!(header.matches(",v1=").count(), 2);
        let now = at(1_700_000_000);
        assert_eq!(
            verify(&header, BODY, &["new-key"], now, DEFAULT_TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(&header, BODY, &["old-key"], now, DEFAULT_TOLERANCE),
            Ok(())
        );
        // The receiver may hold several keys too.
        let single = sign(BODY, &["new-key"], at(1_700_000_000));
        assert_eq!(
            verify(
                &single,
                BODY,
                &["old-key", "new-key"],
                now,
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
        // A broken entry does not hide a good one; unknown schemes are ignored.
        let noisy = format!("v0=abc,{single},v1=zz-not-hex,v2=ffff");
        assert_eq!(
            verify(&noisy, BODY, &["new-key"], now, DEFAULT_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn garbage_headers_are_refused_clearly() {
        let now = at(1_700_000_000);
        let good_sig = sign(BODY, &["k"], now);
        let v1 = good_sig.split_once(",v1=").unwrap().1;
        let cases: Vec<(String, SignatureError)> = vec![
            ("".into(), SignatureError::Missing),
            ("   ".into(), SignatureError::Missing),
            (
                "garbage".into(),
                SignatureError::Malformed("an entry is not `key=value`"),
            ),
            (
                format!("v1={v1}"),
                SignatureError::Malformed("no timestamp"),
            ),
            (
                "t=1700000000".into(),
                SignatureError::Malformed("no valid v1 signature"),
            ),
            (
                "t=1700000000,v1=abcd".into(),
                SignatureError::Malformed("no valid v1 signature"),
            ),
            (
                format!("t=-5,v1={v1}"),
                SignatureError::Malformed("the timestamp is not a number"),
            ),
            (
                format!("t=soon,v1={v1}"),
                SignatureError::Malformed("the timestamp is not a number"),
            ),
            (
                format!("t=99999999999999999999,v1={v1}"),
                SignatureError::Malformed("the timestamp is out of range"),
            ),
            (
                format!("t=1700000000,t=1700000000,v1={v1}"),
                SignatureError::Malformed("more than one timestamp"),
            ),
            (
                format!(
                    "t=1700000000{}",
                    format!(",v1={v1}").repeat(MAX_SIGNATURES + 1)
                ),
                SignatureError::Malformed("too many signatures"),
            ),
            ("t=1,".repeat(2000), SignatureError::Malformed("too long")),
        ];
        for (header, expected) in cases {
            assert_eq!(
                verify(&header, BODY, &["k"], now, DEFAULT_TOLERANCE),
                Err(expected),
                "{header:.80}"
            );
        }
        assert_eq!(
            verify(&good_sig, BODY, &[], now, DEFAULT_TOLERANCE),
            Err(SignatureError::NoKeys)
        );
        assert_eq!(
            verify(&good_sig, BODY, &[""], now, DEFAULT_TOLERANCE),
            Err(SignatureError::NoKeys)
        );
        // Whitespace around entries is tolerated.
        let spaced = good_sig.replace(",", " , ");
        assert_eq!(
            verify(&spaced, BODY, &["k"], now, DEFAULT_TOLERANCE),
            Ok(())
        );
    }
}
