//! Checks on what plugins return, before anything reaches the server: sizes, JSON validity,
//! header and path allowlists, URL and host syntax.

use crate::{
    call::Output,
    error::PluginError,
    types::{Delivery, EgressHost, HttpMethod, PluginInfo, TransformOutcome, ZitadelRequest},
};

const MAX_HEADERS: usize = 20;
const MAX_LIST: usize = 100;

/// Validates `output` in place (the ZITADEL body is parsed into JSON) against `max_bytes`.
pub(crate) fn output(output: &mut Output, max_bytes: usize) -> Result<(), PluginError> {
    let size = output_size(output);
    if size > max_bytes {
        return Err(PluginError::bad_output(format!(
            "{size} bytes of output, over the limit of {max_bytes} bytes"
        )));
    }
    match output {
        Output::Info(info) => describe(info),
        Output::Validated | Output::Rendered(_) => Ok(()),
        Output::RedirectUris { uris } => redirect_uris(uris),
        Output::Egress { hosts } => egress(hosts),
        Output::ZitadelIdp(request) => zitadel_request(request),
        Output::Transformed(TransformOutcome::Deliver(delivery)) => deliver(delivery),
        Output::Transformed(TransformOutcome::Drop { reason }) => {
            if reason.len() > 1024 {
                return Err(PluginError::bad_output(
                    "drop reason longer than 1024 bytes",
                ));
            }
            Ok(())
        }
    }
}

/// The bytes a plugin returned. The per-call shapes (a transform's delivery, a rendered
/// screen) are counted directly, without serializing their bodies on every call; the rarer
/// shapes (describe, validate, …) use their serialized size, a simple measure for nested data.
fn output_size(output: &Output) -> usize {
    match output {
        Output::Transformed(TransformOutcome::Deliver(d)) => {
            d.body.len()
                + d.content_type.len()
                + d.headers
                    .iter()
                    .map(|h| h.key.len() + h.value.len())
                    .sum::<usize>()
        }
        Output::Transformed(TransformOutcome::Drop { reason }) => reason.len(),
        Output::Rendered(r) => r.html.len() + r.css.len(),
        other => serde_json::to_vec(other).map_or(usize::MAX, |json| json.len()),
    }
}

fn describe(info: &PluginInfo) -> Result<(), PluginError> {
    let id = match info {
        PluginInfo::Provider(p) => &p.id,
        PluginInfo::Widget(w) => &w.id,
        PluginInfo::Webhook(h) => &h.id,
    };
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
    {
        return Err(PluginError::bad_output(format!(
            "describe: id `{}` must be 1-64 characters of a-z, 0-9, `-`, `_`, `.`",
            id.chars().take(64).collect::<String>()
        )));
    }
    let fields = match info {
        PluginInfo::Provider(p) => &p.fields,
        PluginInfo::Webhook(h) => &h.config_schema,
        PluginInfo::Widget(_) => return Ok(()),
    };
    for field in fields {
        if let Some(default) = &field.default_json {
            serde_json::from_str::<serde::de::IgnoredAny>(default).map_err(|_| {
                PluginError::bad_output(format!(
                    "describe: default of field `{}` is not JSON",
                    field.name
                ))
            })?;
        }
    }
    Ok(())
}

fn is_json_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn deliver(delivery: &Delivery) -> Result<(), PluginError> {
    let content_type = &delivery.content_type;
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let valid_type = essence
        .split_once('/')
        .is_some_and(|(a, b)| is_token(a) && is_token(b));
    if !valid_type || content_type.len() > 200 || content_type.chars().any(char::is_control) {
        return Err(PluginError::bad_output(format!(
            "content type `{}` is not a valid media type",
            content_type.chars().take(64).collect::<String>()
        )));
    }
    if is_json_type(content_type) {
        serde_json::from_str::<serde::de::IgnoredAny>(&delivery.body).map_err(|err| {
            PluginError::bad_output(format!("body is not valid JSON ({content_type}): {err}"))
        })?;
    }
    if delivery.headers.len() > MAX_HEADERS {
        return Err(PluginError::bad_output(format!(
            "{} headers, at most {MAX_HEADERS} allowed",
            delivery.headers.len()
        )));
    }
    for header in &delivery.headers {
        if !is_token(&header.key) || header.key.len() > 64 {
            return Err(PluginError::bad_output(format!(
                "header name `{}` is not valid",
                header.key.chars().take(64).collect::<String>()
            )));
        }
        if gatehouse_core::webhook::reserved_transform_header(&header.key) {
            return Err(PluginError::bad_output(format!(
                "header `{}` is set by the host and may not come from a plugin",
                header.key
            )));
        }
        if header.value.len() > 1024 || header.value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(PluginError::bad_output(format!(
                "value of header `{}` is too long or contains control characters",
                header.key
            )));
        }
    }
    Ok(())
}

/// ZITADEL IdP types the management API v1 accepts under `/management/v1/idps/`.
const IDP_TYPES: &[&str] = &[
    "google",
    "github",
    "github_es",
    "gitlab",
    "gitlab_self_hosted",
    "azure",
    "generic_oidc",
    "generic_oauth",
    "jwt",
    "ldap",
    "apple",
    "saml",
];

fn zitadel_request(request: &mut ZitadelRequest) -> Result<(), PluginError> {
    let rest = request
        .path
        .strip_prefix("/management/v1/idps/")
        .ok_or_else(|| {
            PluginError::bad_output(format!(
                "ZITADEL request path `{}` is not an IdP path (/management/v1/idps/…)",
                request.path.chars().take(100).collect::<String>()
            ))
        })?;
    let (idp_type, id) = match rest.split_once('/') {
        Some((idp_type, id)) => (idp_type, Some(id)),
        None => (rest, None),
    };
    if !IDP_TYPES.contains(&idp_type) {
        return Err(PluginError::bad_output(format!(
            "unknown ZITADEL IdP type `{}`",
            idp_type.chars().take(40).collect::<String>()
        )));
    }
    match (request.method, id) {
        (HttpMethod::Post, None) => {}
        (HttpMethod::Put, Some(id))
            if !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric()) => {}
        _ => {
            return Err(PluginError::bad_output(format!(
                "ZITADEL request must be `POST /management/v1/idps/{{type}}` or `PUT \
                 /management/v1/idps/{{type}}/{{id}}`, got {:?} {}",
                request.method,
                request.path.chars().take(100).collect::<String>()
            )));
        }
    }
    let body = match &request.body {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(value @ serde_json::Value::Object(_)) => {
            request.body = value;
            Ok(())
        }
        _ => Err(PluginError::bad_output(
            "ZITADEL request body is not a JSON object",
        )),
    }
}

fn redirect_uris(uris: &[String]) -> Result<(), PluginError> {
    if uris.len() > MAX_LIST {
        return Err(PluginError::bad_output("too many redirect URIs"));
    }
    for uri in uris {
        let rest = uri
            .strip_prefix("https://")
            .or_else(|| uri.strip_prefix("http://"));
        let host_ok = rest
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .is_some_and(|authority| !authority.is_empty());
        if !host_ok || uri.len() > 2048 || uri.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(PluginError::bad_output(format!(
                "redirect URI `{}` is not an absolute http(s) URL",
                uri.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

fn egress(hosts: &[EgressHost]) -> Result<(), PluginError> {
    if hosts.len() > MAX_LIST {
        return Err(PluginError::bad_output("too many egress hosts"));
    }
    for host in hosts {
        let name = host.host.as_str();
        let dns = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let ip = name.parse::<std::net::IpAddr>().is_ok();
        if !(dns || ip) || host.port == 0 {
            return Err(PluginError::bad_output(format!(
                "egress host `{}:{}` is not a DNS name or IP address with a port",
                name.chars().take(100).collect::<String>(),
                host.port
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::KeyValue;

    fn delivery(content_type: &str, body: &str, headers: &[(&str, &str)]) -> Output {
        Output::Transformed(TransformOutcome::Deliver(Delivery {
            body: body.into(),
            content_type: content_type.into(),
            headers: headers
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
        }))
    }

    #[test]
    fn deliveries() {
        output(
            &mut delivery("application/json", "{}", &[("X-Event", "a")]),
            1000,
        )
        .unwrap();
        output(&mut delivery("text/plain", "{", &[]), 1000).unwrap();
        output(
            &mut delivery("application/cloudevents+json; charset=utf-8", "[]", &[]),
            1000,
        )
        .unwrap();
        for bad in [
            delivery("application/json", "{", &[]),
            delivery("json", "{}", &[]),
            delivery("application/json", "{}", &[("Host", "x")]),
            delivery("application/json", "{}", &[("webhook-signature", "x")]),
            delivery("application/json", "{}", &[("X-A", "b\r\nX-B: c")]),
            delivery("application/json", "{}", &[("bad name", "x")]),
            delivery(
                "application/json",
                &format!("\"{}\"", "x".repeat(2000)),
                &[],
            ),
        ] {
            let mut bad = bad;
            assert!(matches!(
                output(&mut bad, 1000),
                Err(PluginError::BadOutput { .. })
            ));
        }
    }

    fn idp(method: HttpMethod, path: &str, body: &str) -> Output {
        Output::ZitadelIdp(ZitadelRequest {
            method,
            path: path.into(),
            body: serde_json::Value::String(body.into()),
        })
    }

    #[test]
    fn zitadel_requests() {
        let mut ok = idp(
            HttpMethod::Put,
            "/management/v1/idps/azure/123",
            r#"{"a":1}"#,
        );
        output(&mut ok, 1000).unwrap();
        let Output::ZitadelIdp(req) = ok else {
            unreachable!()
        };
        assert_eq!(req.body, serde_json::json!({"a": 1}), "body parsed");
        for bad in [
            idp(HttpMethod::Post, "/admin/v1/idps/google", "{}"),
            idp(HttpMethod::Post, "/management/v1/idps/google/1", "{}"),
            idp(HttpMethod::Put, "/management/v1/idps/google", "{}"),
            idp(HttpMethod::Put, "/management/v1/idps/google/../x", "{}"),
            idp(HttpMethod::Post, "/management/v1/idps/users", "{}"),
            idp(HttpMethod::Post, "/management/v1/idps/google", "[1]"),
        ] {
            let mut bad = bad;
            assert!(output(&mut bad, 1000).is_err());
        }
    }

    #[test]
    fn uris_and_hosts() {
        output(
            &mut Output::RedirectUris {
                uris: vec!["https://a.example/cb".into()],
            },
            1000,
        )
        .unwrap();
        assert!(
            output(
                &mut Output::RedirectUris {
                    uris: vec!["javascript:x".into()]
                },
                1000
            )
            .is_err()
        );
        let host = |h: &str, port| EgressHost {
            host: h.into(),
            port,
            purpose: String::new(),
        };
        output(
            &mut Output::Egress {
                hosts: vec![host("login.example.com", 443), host("10.0.0.1", 8443)],
            },
            1000,
        )
        .unwrap();
        for bad in [
            host("a b", 443),
            host("x.example", 0),
            host("-x.example", 443),
            host("", 443),
        ] {
            assert!(output(&mut Output::Egress { hosts: vec![bad] }, 1000).is_err());
        }
    }
}
