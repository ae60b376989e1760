//! When to retry a ZITADEL call, and how long to wait.
//!
//! Retried: 429, 5xx (except 501 Not Implemented, which will not change), and connection
//! errors. A timeout or a connection that broke after the request was sent is retried only for
//! idempotent calls (reads, PUT, DELETE), because ZITADEL may already have applied it. Waits grow
//! exponentially with jitter and are bounded; a `Retry-After` longer than the policy allows ends
//! the retries instead of blocking the caller (the reconciler schedules the next attempt).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::{OffsetDateTime, format_description::well_known::Rfc2822};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Base of the exponential backoff (the first retry waits between half of it and it).
    pub initial_backoff: Duration,
    /// Upper bound of any computed backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one stops retrying.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || ((500..=599).contains(&status) && status != 501)
}

impl RetryPolicy {
    /// One attempt only.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before retry number `retry` (1 = the first retry), with a random jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        self.backoff_with_jitter(retry, rand::rng().random::<f64>())
    }

    /// `jitter` in [0, 1] picks a point in [ceiling / 2, ceiling], where the ceiling doubles with
    /// every retry from `initial_backoff` up to `max_backoff`. Keeping half the ceiling as a floor
    /// guarantees progress; the random half spreads clients that failed together.
    pub fn backoff_with_jitter(&self, retry: u32, jitter: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let jitter = jitter.clamp(0.0, 1.0);
        ceiling.mul_f64(0.5 + jitter / 2.0)
    }

    /// How long to wait before retry number `retry`, or `None` to give up. `retry_after` is the
    /// server's `Retry-After`, which wins over the computed backoff when it is acceptable.
    pub fn delay_before(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_attempts {
            return None;
        }
        match retry_after {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(retry)),
        }
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (IMF-fixdate). A date in the past means
/// "now".
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    let now = OffsetDateTime::from(now);
    Some(if at > now {
        (at - now).try_into().unwrap_or_default()
    } else {
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retries_throttling_and_server_errors_only() {
        for status in [429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 201, 301, 400, 401, 403, 404, 409, 412, 422, 501] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn backoff_doubles_within_jittered_bounds() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(30),
        };
        let expected_ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
        for (i, ceiling) in expected_ceilings.into_iter().enumerate() {
            let retry = i as u32 + 1;
            let ceiling = Duration::from_millis(ceiling);
            assert_eq!(policy.backoff_with_jitter(retry, 0.0), ceiling / 2);
            assert_eq!(policy.backoff_with_jitter(retry, 1.0), ceiling);
            for _ in 0..200 {
                let wait = policy.backoff(retry);
                assert!(
                    wait >= ceiling / 2 && wait <= ceiling,
                    "retry {retry}: {wait:?}"
                );
            }
        }
        // Absurd retry numbers neither overflow nor exceed the cap.
        assert_eq!(
            policy.backoff_with_jitter(u32::MAX, 1.0),
            Duration::from_millis(1000)
        );
        // Out-of-range jitter is clamped.
        assert_eq!(
            policy.backoff_with_jitter(1, 7.0),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn jitter_actually_varies() {
        let policy = RetryPolicy::default();
        let samples: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(3)).collect();
        assert!(
            samples.len() > 10,
            "only {} distinct backoffs",
            samples.len()
        );
    }

    #[test]
    fn gives_up_after_max_attempts_or_a_long_retry_after() {
        let policy = RetryPolicy::default();
        assert!(policy.delay_before(1, None).is_some());
        assert!(policy.delay_before(3, None).is_some());
        assert_eq!(policy.delay_before(4, None), None);
        assert_eq!(
            policy.delay_before(1, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.delay_before(1, Some(Duration::from_secs(31))), None);
        assert_eq!(RetryPolicy::never().delay_before(1, None), None);
    }

    #[test]
    fn parses_both_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37Z
        let mut headers = HeaderMap::new();
        assert_eq!(parse_retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(Duration::from_secs(7))
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:47 GMT"),
        );
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(Duration::from_secs(10))
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:00:00 GMT"),
        );
        assert_eq!(parse_retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-5"));
        assert_eq!(parse_retry_after(&headers, now), None);
    }
}
