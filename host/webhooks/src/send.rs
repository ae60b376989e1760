//! One attempt: transform (if any), sign, send through the egress client, and judge the answer
//! the Standard Webhooks way (2xx succeeds, 3xx fails and is not followed, 410 disables the
//! endpoint, 429/503 may say when to come back).

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use gatehouse_core::webhook::{AttemptStatus, Transform, response_excerpt, valid_header_name};
use gatehouse_egress::{EgressClient, EgressRequest};
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::{
    signing::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret},
    transform::{TransformError, Transformed, Transformer},
};

/// The longest `Retry-After` honoured; a receiver asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

const JSON: &str = "application/json";

/// Where and how to send.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub url: &'a str,
    pub transform: Option<&'a Transform>,
}

/// What the attempt means for the delivery and the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// The transform dropped the message; nothing was sent.
    Dropped {
        reason: String,
    },
    /// Retry on the schedule, but not before `retry_after` (429/503 with `Retry-After`).
    Failed {
        retry_after: Option<Duration>,
    },
    /// 410 Gone: the receiver asks to stop; the endpoint is disabled.
    Gone,
    /// The URL or the egress policy refuses the request: retrying cannot help.
    Permanent,
    /// The transform plugin is disabled: the endpoint stops until it is enabled again.
    PluginDisabled {
        reason: String,
    },
}

/// The outcome of one attempt, ready to be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendReport {
    pub status: AttemptStatus,
    /// The HTTP exchange, from sending to the end of the (capped) body.
    pub latency: Duration,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    /// Why it failed or was skipped, in words safe to show the tenant.
    pub error: Option<String>,
    pub verdict: Verdict,
}

impl SendReport {
    /// An attempt that ended before any request was sent.
    pub(crate) fn without_request(status: AttemptStatus, error: String, verdict: Verdict) -> Self {
        Self {
            status,
            latency: Duration::ZERO,
            response_status: None,
            response_body: None,
            error: Some(error),
            verdict,
        }
    }

    pub fn latency_ms(&self) -> u32 {
        u32::try_from(self.latency.as_millis()).unwrap_or(u32::MAX)
    }
}

/// Transforms, signs and sends messages. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    egress: EgressClient,
    transformer: Arc<dyn Transformer>,
    timeout: Duration,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("egress", &self.egress)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub fn new(egress: EgressClient, transformer: Arc<dyn Transformer>, timeout: Duration) -> Self {
        Self {
            egress,
            transformer,
            timeout,
        }
    }

    pub fn egress(&self) -> &EgressClient {
        &self.egress
    }

    pub fn transformer(&self) -> &Arc<dyn Transformer> {
        &self.transformer
    }

    /// Makes one attempt of message `msg_id` (the `webhook-id`) carrying `event_json`, signed
    /// with `secrets` at `timestamp` (Unix seconds).
    pub async fn send(
        &self,
        msg_id: &str,
        timestamp: i64,
        event_json: &str,
        target: Target<'_>,
        secrets: &[Secret],
    ) -> SendReport {
        let (body, content_type, extra) = match target.transform {
            None => (event_json.to_owned(), JSON.to_owned(), Vec::new()),
            Some(transform) => match self.transformer.transform(transform, event_json).await {
                Ok(Transformed::Deliver {
                    body,
                    content_type,
                    headers,
                }) => (body, content_type, headers),
                Ok(Transformed::Drop { reason }) => {
                    return SendReport::without_request(
                        AttemptStatus::Skipped,
                        format!("dropped by transform {}: {reason}", transform.plugin),
                        Verdict::Dropped { reason },
                    );
                }
                Err(err @ TransformError::Disabled { .. }) => {
                    return SendReport::without_request(
                        AttemptStatus::Failed,
                        err.to_string(),
                        Verdict::PluginDisabled {
                            reason: err.to_string(),
                        },
                    );
                }
                Err(err @ TransformError::Failed { .. }) => {
                    return SendReport::without_request(
                        AttemptStatus::Failed,
                        err.to_string(),
                        Verdict::Failed { retry_after: None },
                    );
                }
            },
        };

        let signature = match signing::sign(msg_id, timestamp, body.as_bytes(), secrets) {
            Ok(signature) => signature,
            Err(err) => {
                // Only reachable through a bug (ids and clocks are ours); never send unsigned.
                tracing::error!(%err, msg_id, "cannot sign webhook message");
                return SendReport::without_request(
                    AttemptStatus::Failed,
                    "internal error: the message could not be signed".into(),
                    Verdict::Failed { retry_after: None },
                );
            }
        };
        let Ok(content_type) = HeaderValue::from_str(&content_type) else {
            return SendReport::without_request(
                AttemptStatus::Failed,
                format!(
                    "transform {} returned an invalid content type",
                    target.transform.map(|t| t.plugin.as_str()).unwrap_or("")
                ),
                Verdict::Failed { retry_after: None },
            );
        };

        let mut request = EgressRequest::post(target.url, body)
            .timeout(self.timeout)
            .header(header::CONTENT_TYPE, content_type);
        for (name, value) in extra {
            if let Some((name, value)) = plugin_header(&name, &value) {
                request = request.header(name, value);
            }
        }
        // Values we produced ourselves: ASCII by construction.
        for (name, value) in [
            (HEADER_ID, msg_id.to_owned()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (HEADER_SIGNATURE, signature),
        ] {
            let value = HeaderValue::from_str(&value).expect("ASCII header value");
            request = request.header(HeaderName::from_static(name), value);
        }

        let started = Instant::now();
        let result = self.egress.send(request).await;
        let latency = started.elapsed();
        match result {
            Ok(response) => judge(response.status, &response.headers, &response.body, latency),
            Err(err) => {
                let verdict = if err.is_permanent() {
                    Verdict::Permanent
                } else {
                    Verdict::Failed { retry_after: None }
                };
                SendReport {
                    status: AttemptStatus::Failed,
                    latency,
                    response_status: None,
                    response_body: None,
                    // EgressError's Display is written for tenants (no internals).
                    error: Some(err.to_string()),
                    verdict,
                }
            }
        }
    }
}

/// A header a transform asked for, unless it would override one the pipeline controls.
fn plugin_header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    let lower = name.to_ascii_lowercase();
    if gatehouse_core::webhook::reserved_transform_header(&lower) || !valid_header_name(&lower) {
        return None;
    }
    Some((
        HeaderName::from_bytes(lower.as_bytes()).ok()?,
        HeaderValue::from_str(value).ok()?,
    ))
}

fn judge(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    latency: Duration,
) -> SendReport {
    let response_body = Some(response_excerpt(body));
    let code = Some(status.as_u16());
    if status.is_success() {
        return SendReport {
            status: AttemptStatus::Succeeded,
            latency,
            response_status: code,
            response_body,
            error: None,
            verdict: Verdict::Delivered,
        };
    }
    let reason = status.canonical_reason().unwrap_or("");
    let (error, verdict) = if status == StatusCode::GONE {
        (
            format!(
                "the endpoint answered {} {reason}; it has been disabled",
                status.as_u16()
            ),
            Verdict::Gone,
        )
    } else if status.is_redirection() {
        (
            format!(
                "the endpoint answered {} {reason}; redirects are not followed",
                status.as_u16()
            ),
            Verdict::Failed { retry_after: None },
        )
    } else {
        let retry_after = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
        .then(|| retry_after(headers, SystemTime::now()))
        .flatten();
        let mut error = format!("the endpoint answered {} {reason}", status.as_u16());
        if let Some(wait) = retry_after {
            error.push_str(&format!(" and asked to retry after {} s", wait.as_secs()));
        }
        (error, Verdict::Failed { retry_after })
    };
    SendReport {
        status: AttemptStatus::Failed,
        latency,
        response_status: code,
        response_body,
        error: Some(error.trim_end().to_owned()),
        verdict,
    }
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`, capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        map.insert(header::RETRY_AFTER, value.parse().unwrap());
        map
    }

    #[test]
    fn retry_after_seconds_dates_and_caps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("99999999999999999999"), now),
            Some(MAX_RETRY_AFTER)
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&date), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-5"), now), None);
        assert_eq!(retry_after(&http::HeaderMap::new(), now), None);
    }

    #[test]
    fn statuses_are_judged_like_standard_webhooks() {
        let none = http::HeaderMap::new();
        let ok = judge(StatusCode::NO_CONTENT, &none, b"", Duration::ZERO);
        assert_eq!(
            (ok.status, ok.verdict),
            (AttemptStatus::Succeeded, Verdict::Delivered)
        );
        let moved = judge(StatusCode::FOUND, &none, b"", Duration::ZERO);
        assert_eq!(moved.verdict, Verdict::Failed { retry_after: None });
        assert!(moved.error.unwrap().contains("redirects are not followed"));
        assert_eq!(
            judge(StatusCode::GONE, &none, b"", Duration::ZERO).verdict,
            Verdict::Gone
        );
        let busy = judge(
            StatusCode::TOO_MANY_REQUESTS,
            &headers("7"),
            b"slow down",
            Duration::ZERO,
        );
        assert_eq!(
            busy.verdict,
            Verdict::Failed {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(busy.response_body.as_deref(), Some("slow down"));
        // Retry-After on other statuses is not a throttle signal.
        let error = judge(
            StatusCode::INTERNAL_SERVER_ERROR,
            &headers("7"),
            b"",
            Duration::ZERO,
        );
        assert_eq!(error.verdict, Verdict::Failed { retry_after: None });
        assert_eq!(
            error.error.as_deref(),
            Some("the endpoint answered 500 Internal Server Error")
        );
    }

    #[test]
    fn plugin_headers_cannot_override_ours() {
        for name in [
            "webhook-signature",
            "Webhook-Id",
            "content-type",
            "Host",
            "user-agent",
            "bad header",
        ] {
            assert!(plugin_header(name, "x").is_none(), "{name}");
        }
        let (name, value) = plugin_header("X-Slack-Thing", "v").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-slack-thing", "v")
        );
        assert!(plugin_header("x-ok", "bad\nvalue").is_none());
    }
}
