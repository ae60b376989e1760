//! Redirect-URI rules, as ZITADEL enforces them at authorize time (see
//! `../shared/reference/zitadel-api.md` §2), applied when an app is saved so a bad URI is refused
//! with the field named instead of failing at login:
//! - `https://` is always allowed;
//! - `http://` only for loopback hosts (`localhost`, `127.0.0.1`, `[::1]`) or apps in dev mode;
//! - custom schemes (`com.example.app:/cb`) only for native apps;
//! - no fragments, no userinfo, no wildcards outside dev mode.

use url::{Host, Url};

use crate::{Error, app::AppType};

pub const MAX_URI_LEN: usize = 2048;

pub fn validate(
    field: String,
    value: &str,
    app_type: AppType,
    dev_mode: bool,
) -> Result<String, Error> {
    let fail = |message: String| Err(Error::invalid(field.clone(), message));
    if value.len() > MAX_URI_LEN {
        return fail(format!("must be at most {MAX_URI_LEN} characters"));
    }
    let Ok(url) = Url::parse(value) else {
        return fail(format!(
            "`{}` is not an absolute URI",
            crate::validate::truncate(value)
        ));
    };
    if url.fragment().is_some() {
        return fail("must not contain a fragment (#…)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return fail("must not contain user credentials".into());
    }
    if value.contains('*') && !dev_mode {
        return fail("wildcards are only allowed for apps in dev mode".into());
    }
    match url.scheme() {
        "https" => {
            if url.host().is_none() {
                return fail("https URIs need a host".into());
            }
        }
        "http" => {
            if !is_loopback(&url) && !dev_mode {
                return fail(
                    "http is only allowed for loopback hosts (localhost, 127.0.0.1, [::1]) or \
                     apps in dev mode; use https"
                        .into(),
                );
            }
        }
        "javascript" | "data" | "file" | "vbscript" | "blob" => {
            return fail(format!("the `{}` scheme is not allowed", url.scheme()));
        }
        _ => {
            if app_type != AppType::Native {
                return fail(format!(
                    "custom schemes such as `{}:` are only allowed for native apps",
                    url.scheme()
                ));
            }
        }
    }
    Ok(value.to_owned())
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str, t: AppType, dev: bool) -> bool {
        validate("redirect_uris[0]".into(), uri, t, dev).is_ok()
    }

    #[test]
    fn https_always() {
        for t in [AppType::Web, AppType::Spa, AppType::Native] {
            assert!(ok("https://app.example.com/callback", t, false));
        }
    }

    #[test]
    fn http_only_loopback_or_dev_mode() {
        assert!(ok("http://localhost:3000/cb", AppType::Spa, false));
        assert!(ok("http://127.0.0.1:8080/cb", AppType::Web, false));
        assert!(ok("http://[::1]/cb", AppType::Native, false));
        assert!(!ok("http://app.example.com/cb", AppType::Web, false));
        assert!(ok("http://app.example.com/cb", AppType::Web, true));
    }

    #[test]
    fn custom_schemes_only_native() {
        assert!(ok("com.example.app:/oauth", AppType::Native, false));
        assert!(!ok("com.example.app:/oauth", AppType::Web, false));
        assert!(!ok("javascript:alert(1)", AppType::Native, false));
    }

    #[test]
    fn junk_is_refused_with_the_field() {
        let err =
            validate("redirect_uris[2]".into(), "/relative", AppType::Web, false).unwrap_err();
        assert!(matches!(err, Error::Invalid { field: Some(f), .. } if f == "redirect_uris[2]"));
        assert!(!ok("https://a.example/cb#frag", AppType::Web, false));
        assert!(!ok("https://user:pw@a.example/cb", AppType::Web, false));
        assert!(!ok("https://*.example.com/cb", AppType::Web, false));
    }
}
