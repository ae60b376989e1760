//! JWKS bundles: a key set with its issuer and fetch time in one JSON file. The cache persists its
//! keys as a bundle (the seed for cold starts) and `gatehouse jwks export` writes one for app SDKs
//! that cannot reach the IdP.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::{
    FetchError, FetchRequest, JwksError, JwksFetcher, KeySet, KeySetLimits, ReqwestFetcher,
};

/// The `format` marker of a bundle file.
pub const BUNDLE_FORMAT: &str = "gatehouse-jwks-bundle";
/// The bundle layout version this crate writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// Discovery documents are small; this caps what the exporter reads.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// A JWKS plus where and when it came from.
///
/// ```json
/// {"format":"gatehouse-jwks-bundle","version":1,"issuer":"https://idp.example",
///  "jwks_uri":"https://idp.example/oauth/v2/keys","fetched_at":"2026-01-02T03:04:05Z",
///  "jwks":{"keys":[{"kty":"RSA","kid":"…","n":"…","e":"AQAB"}]}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JwksBundle {
    pub format: String,
    pub version: u32,
    /// The issuer the keys belong to; `None` when exported from a bare JWKS URL.
    pub issuer: Option<String>,
    pub jwks_uri: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
    /// A standard JWKS document (`{"keys":[…]}`), directly usable by JOSE libraries.
    pub jwks: Jwks,
}

/// A JWKS document as a bundle stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Value>,
}

impl JwksBundle {
    /// A bundle of the usable keys of `keys`.
    pub fn new(
        issuer: Option<String>,
        jwks_uri: Option<String>,
        fetched_at: SystemTime,
        keys: &KeySet,
    ) -> Self {
        Self {
            format: BUNDLE_FORMAT.to_owned(),
            version: BUNDLE_VERSION,
            issuer,
            jwks_uri,
            fetched_at: OffsetDateTime::from(fetched_at),
            jwks: Jwks {
                keys: keys.raw_keys().to_vec(),
            },
        }
    }

    /// Parses and checks a bundle: format marker, version, limits, and every key usable.
    pub fn from_json(bytes: &[u8], limits: &KeySetLimits) -> Result<Self, JwksError> {
        let invalid = |reason: String| JwksError::InvalidBundle { path: None, reason };
        // The document limit covers the whole file; the keys are the bulk of it.
        if bytes.len() > limits.max_document_bytes {
            return Err(invalid(format!(
                "{} bytes, over the {}-byte limit",
                bytes.len(),
                limits.max_document_bytes
            )));
        }
        let bundle: JwksBundle =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("not a bundle: {e}")))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(invalid(format!(
                "format is `{}`, not `{BUNDLE_FORMAT}`",
                bundle.format
            )));
        }
        if bundle.version != BUNDLE_VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this build reads version {BUNDLE_VERSION})",
                bundle.version
            )));
        }
        bundle.key_set(limits)?;
        Ok(bundle)
    }

    /// The bundle's keys, parsed and checked. Every key must be usable: a bundle is written from
    /// usable keys only, so an unusable one means the file was edited or corrupted.
    pub fn key_set(&self, limits: &KeySetLimits) -> Result<KeySet, JwksError> {
        let set = KeySet::from_jwks(self.jwks.keys.clone(), limits)?;
        if let Some(skipped) = set.skipped().first() {
            return Err(JwksError::InvalidBundle {
                path: None,
                reason: format!(
                    "key {} is unusable: {}",
                    skipped.kid.as_deref().unwrap_or("(no kid)"),
                    skipped.reason
                ),
            });
        }
        Ok(set)
    }

    pub fn fetched_at_system_time(&self) -> SystemTime {
        self.fetched_at.into()
    }

    /// Reads a bundle file.
    pub fn read(path: &Path, limits: &KeySetLimits) -> Result<Self, JwksError> {
        let bytes = std::fs::read(path).map_err(|e| JwksError::io("read", path, e))?;
        Self::from_json(&bytes, limits).map_err(|e| match e {
            JwksError::InvalidBundle { reason, .. } => JwksError::InvalidBundle {
                path: Some(path.to_owned()),
                reason,
            },
            other => other,
        })
    }

    /// Writes the bundle atomically: a temporary file in the same directory, flushed to disk,
    /// then renamed over `path`, so readers see the old file or the new one, never a torn one.
    pub fn write(&self, path: &Path) -> Result<(), JwksError> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| JwksError::InvalidBundle {
            path: Some(path.to_owned()),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        write_atomic(path, &json)
    }
}

fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), JwksError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".jwks-bundle-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| JwksError::io("create a temporary file in", &dir, e))?;
    tmp.write_all(contents)
        .map_err(|e| JwksError::io("write", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| JwksError::io("sync", tmp.path(), e))?;
    // Public keys only; readable like any other configuration file (tempfile creates 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| JwksError::io("set permissions on", tmp.path(), e))?;
    }
    tmp.persist(path)
        .map_err(|e| JwksError::io("replace", path, e.error))?;
    // The rename itself must survive a crash too.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Options for [`fetch_bundle`] / [`export_with`].
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The issuer to record when the source is a bare JWKS URL (discovery supplies its own).
    pub issuer: Option<String>,
    pub limits: KeySetLimits,
    pub timeout: Duration,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            issuer: None,
            limits: KeySetLimits::default(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Writes a bundle for offline app SDKs from an issuer URL (OpenID discovery finds the JWKS) or a
/// JWKS URL, using the default HTTP client. Returns what was written.
pub async fn export(
    issuer_or_jwks_url: &str,
    out_path: impl AsRef<Path>,
) -> Result<JwksBundle, JwksError> {
    let fetcher = ReqwestFetcher::new().map_err(|source| JwksError::Fetch {
        url: issuer_or_jwks_url.to_owned(),
        source,
    })?;
    export_with(
        &fetcher,
        issuer_or_jwks_url,
        out_path,
        &ExportOptions::default(),
    )
    .await
}

/// [`export`] with a caller-supplied fetcher and options.
pub async fn export_with(
    fetcher: &dyn JwksFetcher,
    issuer_or_jwks_url: &str,
    out_path: impl AsRef<Path>,
    options: &ExportOptions,
) -> Result<JwksBundle, JwksError> {
    let bundle = fetch_bundle(fetcher, issuer_or_jwks_url, options).await?;
    bundle.write(out_path.as_ref())?;
    Ok(bundle)
}

/// Writes a bundle file (atomically). The same as [`JwksBundle::write`].
pub fn export_bundle(bundle: &JwksBundle, out_path: impl AsRef<Path>) -> Result<(), JwksError> {
    bundle.write(out_path.as_ref())
}

/// Fetches the keys behind an issuer or JWKS URL into a bundle, without writing it.
///
/// The source is tried as an issuer first (`<url>/.well-known/openid-configuration`, whose
/// `issuer` must equal the URL, OpenID Discovery §4.3); when no discovery document is there, the
/// URL itself must serve a JWKS. A URL ending in `/.well-known/openid-configuration` is read as a
/// discovery document directly. At least one usable key is required.
pub async fn fetch_bundle(
    fetcher: &dyn JwksFetcher,
    issuer_or_jwks_url: &str,
    options: &ExportOptions,
) -> Result<JwksBundle, JwksError> {
    let source = issuer_or_jwks_url.trim();
    let parsed = url::Url::parse(source)
        .map_err(|e| JwksError::Config(format!("`{source}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(JwksError::Config(format!(
            "`{source}` is not an http(s) URL"
        )));
    }
    const WELL_KNOWN: &str = "/.well-known/openid-configuration";
    let (issuer, jwks_uri) = if let Some(issuer) = source.strip_suffix(WELL_KNOWN) {
        let (issuer, jwks_uri) =
            discover(fetcher, issuer, options)
                .await?
                .ok_or_else(|| JwksError::Discovery {
                    url: source.to_owned(),
                    reason: "no discovery document at this URL".into(),
                })?;
        (Some(issuer), jwks_uri)
    } else {
        match discover(fetcher, source, options).await? {
            Some((issuer, jwks_uri)) => (Some(issuer), jwks_uri),
            None => (options.issuer.clone(), source.to_owned()),
        }
    };
    let fetched_at = SystemTime::now();
    let response = get(
        fetcher,
        &jwks_uri,
        options.limits.max_document_bytes,
        options.timeout,
    )
    .await
    .map_err(|source| JwksError::Fetch {
        url: jwks_uri.clone(),
        source,
    })?;
    let keys = KeySet::from_jwks_json(&response, &options.limits)?;
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys {
            skipped: keys.skipped().len(),
        });
    }
    Ok(JwksBundle::new(issuer, Some(jwks_uri), fetched_at, &keys))
}

/// OpenID discovery: `Ok(None)` when the server has no discovery document (404, or not JSON),
/// so the caller can treat the URL as a JWKS URL instead.
async fn discover(
    fetcher: &dyn JwksFetcher,
    issuer: &str,
    options: &ExportOptions,
) -> Result<Option<(String, String)>, JwksError> {
    let issuer = issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    let fail = |reason: String| JwksError::Discovery {
        url: url.clone(),
        reason,
    };
    let response = fetcher
        .fetch(FetchRequest {
            url: &url,
            max_body_bytes: MAX_DISCOVERY_BYTES,
            timeout: options.timeout,
        })
        .await;
    let response = match response {
        Ok(r) if r.status == 200 => r,
        Ok(r) if matches!(r.status, 404 | 405 | 410) => return Ok(None),
        Ok(r) => return Err(fail(format!("HTTP status {}", r.status))),
        Err(e) => return Err(fail(e.to_string())),
    };
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&response.body) else {
        return Ok(None);
    };
    let (Some(found), Some(jwks_uri)) = (
        doc.get("issuer").and_then(Value::as_str),
        doc.get("jwks_uri").and_then(Value::as_str),
    ) else {
        return Err(fail("the document lacks `issuer` or `jwks_uri`".into()));
    };
    // Exact match as OpenID Discovery requires, forgiving only a trailing slash typed by a human.
    if found.trim_end_matches('/') != issuer {
        return Err(fail(format!(
            "the document's issuer `{found}` is not `{issuer}`"
        )));
    }
    let jwks = url::Url::parse(jwks_uri).map_err(|e| fail(format!("bad `jwks_uri`: {e}")))?;
    if !matches!(jwks.scheme(), "https" | "http") {
        return Err(fail("`jwks_uri` is not an http(s) URL".into()));
    }
    Ok(Some((found.to_owned(), jwks_uri.to_owned())))
}

/// A GET that must answer 200 within the limits.
pub(crate) async fn get(
    fetcher: &dyn JwksFetcher,
    url: &str,
    max_body_bytes: usize,
    timeout: Duration,
) -> Result<Vec<u8>, FetchError> {
    let response = fetch_checked(fetcher, url, max_body_bytes, timeout).await?;
    Ok(response.body)
}

/// Calls the fetcher under our own deadline and size check, whatever the implementation does.
pub(crate) async fn fetch_checked(
    fetcher: &dyn JwksFetcher,
    url: &str,
    max_body_bytes: usize,
    timeout: Duration,
) -> Result<crate::FetchResponse, FetchError> {
    let request = FetchRequest {
        url,
        max_body_bytes,
        timeout,
    };
    let response = tokio::time::timeout(timeout, fetcher.fetch(request))
        .await
        .map_err(|_| FetchError::Timeout(timeout))??;
    if response.status != 200 {
        return Err(FetchError::Status(response.status));
    }
    if response.body.len() > max_body_bytes {
        return Err(FetchError::TooLarge {
            max: max_body_bytes,
        });
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ED_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"e1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    fn bundle() -> JwksBundle {
        let keys = KeySet::from_jwks_json(
            format!(r#"{{"keys":[{ED_JWK}]}}"#).as_bytes(),
            &KeySetLimits::default(),
        )
        .unwrap();
        JwksBundle::new(
            Some("https://idp.example".into()),
            Some("https://idp.example/oauth/v2/keys".into()),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045),
            &keys,
        )
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let b = bundle();
        b.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#""fetched_at": "2026-01-02T03:04:05Z""#),
            "{text}"
        );
        assert_eq!(
            JwksBundle::read(&path, &KeySetLimits::default()).unwrap(),
            b
        );
        // Overwrite in place; no temporary files are left behind.
        b.write(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["jwks.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn refuses_foreign_or_damaged_bundles() {
        let limits = KeySetLimits::default();
        let good = serde_json::to_value(bundle()).unwrap();
        let mut cases = Vec::new();
        let mut v = good.clone();
        v["format"] = json!("something-else");
        cases.push((v, "format"));
        let mut v = good.clone();
        v["version"] = json!(2);
        cases.push((v, "version 2"));
        let mut v = good.clone();
        v["jwks"]["keys"][0]["x"] = json!("AAAA");
        cases.push((v, "unusable"));
        let mut v = good.clone();
        v["fetched_at"] = json!("yesterday");
        cases.push((v, "not a bundle"));
        for (value, needle) in cases {
            let err =
                JwksBundle::from_json(&serde_json::to_vec(&value).unwrap(), &limits).unwrap_err();
            assert!(matches!(err, JwksError::InvalidBundle { .. }), "{err}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, b"{").unwrap();
        let err = JwksBundle::read(&path, &limits).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(matches!(
            JwksBundle::read(&dir.path().join("missing.json"), &limits),
            Err(JwksError::Io { op: "read", .. })
        ));
    }

    #[test]
    fn write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = bundle()
            .write(&dir.path().join("no/such/dir/b.json"))
            .unwrap_err();
        assert!(matches!(err, JwksError::Io { .. }), "{err}");
    }
}
