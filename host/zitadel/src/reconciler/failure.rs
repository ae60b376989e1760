//! Why an attempt failed, in words fit for admins (no secrets, no internals: those go to the
//! log), whether ZITADEL was unreachable, and when to try again.

use std::time::Duration;

use gatehouse_core::StoreError;
use rand::Rng;

use crate::client::{Code, ZitadelError};

/// What went wrong in one step of a sync.
#[derive(Debug)]
pub enum Cause {
    Zitadel(ZitadelError),
    Store(StoreError),
    /// Another object must be synced first (an app needs its tenant's organization).
    Waiting(String),
    /// The fast path of an open circuit breaker: no call was made.
    Unreachable,
    /// Something Gatehouse cannot fix by retrying soon (bad stored data, a sealing error).
    Internal(String),
}

/// A failed step: `step` says what Gatehouse was doing ("creating the organization").
#[derive(Debug)]
pub struct SyncError {
    pub step: &'static str,
    pub cause: Cause,
}

impl SyncError {
    pub fn zitadel(step: &'static str, error: ZitadelError) -> Self {
        Self {
            step,
            cause: Cause::Zitadel(error),
        }
    }

    pub fn store(step: &'static str, error: StoreError) -> Self {
        Self {
            step,
            cause: Cause::Store(error),
        }
    }

    pub fn waiting(step: &'static str, why: impl Into<String>) -> Self {
        Self {
            step,
            cause: Cause::Waiting(why.into()),
        }
    }

    pub fn internal(step: &'static str, why: impl Into<String>) -> Self {
        Self {
            step,
            cause: Cause::Internal(why.into()),
        }
    }

    pub fn unreachable() -> Self {
        Self {
            step: "contacting ZITADEL",
            cause: Cause::Unreachable,
        }
    }

    /// ZITADEL did not answer at all (counts against the circuit breaker).
    pub fn is_unreachable(&self) -> bool {
        match &self.cause {
            Cause::Unreachable => true,
            Cause::Zitadel(error) => zitadel_unreachable(error),
            _ => false,
        }
    }

    /// ZITADEL answered (so it is reachable), whatever it said.
    pub fn zitadel_answered(&self) -> bool {
        matches!(&self.cause, Cause::Zitadel(error) if !zitadel_unreachable(error))
    }

    /// Worth retrying soon; otherwise retries slow down to the long backoff.
    pub fn is_transient(&self) -> bool {
        match &self.cause {
            Cause::Zitadel(error) => error.is_transient(),
            Cause::Store(StoreError::Unavailable(_)) => true,
            Cause::Store(_) | Cause::Internal(_) => false,
            Cause::Waiting(_) | Cause::Unreachable => true,
        }
    }

    /// A wait ZITADEL asked for (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.cause {
            Cause::Zitadel(ZitadelError::Api { error, .. }) => error.retry_after,
            _ => None,
        }
    }

    /// The message stored with the sync state and shown by the API.
    pub fn admin_message(&self) -> String {
        format!("{}: {}", self.step, self.cause_text())
    }

    fn cause_text(&self) -> String {
        match &self.cause {
            Cause::Unreachable => {
                "ZITADEL is unreachable; the change is saved and will be synced when it is back"
                    .into()
            }
            Cause::Waiting(why) => why.clone(),
            Cause::Internal(_) => "internal error (see the server log)".into(),
            Cause::Store(StoreError::Unavailable(_)) => {
                "Gatehouse's database is unavailable; will retry".into()
            }
            Cause::Store(_) => "internal error (see the server log)".into(),
            Cause::Zitadel(error) => zitadel_text(error),
        }
    }
}

fn zitadel_unreachable(error: &ZitadelError) -> bool {
    match error {
        ZitadelError::Transport { .. } | ZitadelError::Timeout { .. } => true,
        ZitadelError::Api { error, .. } => matches!(error.status, 502..=504),
        _ => false,
    }
}

fn zitadel_text(error: &ZitadelError) -> String {
    if zitadel_unreachable(error) {
        return "ZITADEL is unreachable; the change is saved and will be synced when it is back"
            .into();
    }
    match error {
        ZitadelError::Api { error, .. } => match error.code {
            Code::Unauthenticated => {
                "ZITADEL refused Gatehouse's credentials (check the PAT or key file)".into()
            }
            Code::PermissionDenied => {
                "ZITADEL denied the request: Gatehouse's service user needs the IAM_OWNER role"
                    .into()
            }
            Code::ResourceExhausted => "ZITADEL is rate limiting Gatehouse; will retry".into(),
            _ => {
                let id = error
                    .id
                    .as_deref()
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default();
                format!("ZITADEL refused it: {}{id}", error.message)
            }
        },
        ZitadelError::NotConsistent { .. } => {
            "ZITADEL did not show the change in time (its read models lag writes); will retry"
                .into()
        }
        ZitadelError::WrongOrganization { .. } => {
            "ZITADEL ignored the organization header (zitadel/zitadel#12482) and acted on another \
             organization; upgrade ZITADEL"
                .into()
        }
        ZitadelError::Decode { .. } => {
            "ZITADEL answered in an unexpected format (see the server log)".into()
        }
        ZitadelError::Credentials(_) | ZitadelError::Config(_) => {
            "Gatehouse's ZITADEL connection settings are unusable (see the server log)".into()
        }
        ZitadelError::InvalidRequest { .. } => "internal error (see the server log)".into(),
        // Handled above; kept for exhaustiveness.
        ZitadelError::Transport { .. } | ZitadelError::Timeout { .. } => {
            "ZITADEL is unreachable".into()
        }
    }
}

/// Waits between attempts of one object: exponential from `base`, capped, with jitter so
/// objects that failed together do not retry together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    /// Cap for transient failures (outages, timeouts, rate limits).
    pub max_transient: Duration,
    /// Cap for failures that need a person (refused requests, bad credentials).
    pub max_permanent: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max_transient: Duration::from_secs(300),
            max_permanent: Duration::from_secs(1800),
        }
    }
}

impl Backoff {
    /// The wait after the failure numbered `failures` (1 = the first).
    pub fn delay(&self, failures: u32, error: &SyncError) -> Duration {
        self.delay_with_jitter(failures, error, rand::rng().random::<f64>())
    }

    /// `jitter` in [0, 1] picks a point between 75 % and 100 % of the exponential ceiling.
    pub fn delay_with_jitter(&self, failures: u32, error: &SyncError, jitter: f64) -> Duration {
        let cap = if error.is_transient() {
            self.max_transient
        } else {
            self.max_permanent
        };
        let exponent = failures.saturating_sub(1).min(20);
        let ceiling = self
            .base
            .saturating_mul(1u32 << exponent)
            .min(cap)
            .max(self.base.min(cap));
        let delay = ceiling.mul_f64(0.75 + 0.25 * jitter.clamp(0.0, 1.0));
        match error.retry_after() {
            // ZITADEL said how long; asking earlier would only be refused again.
            Some(wait) if wait > delay => wait,
            _ => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ApiError;

    fn api(status: u16, code: Code, message: &str) -> SyncError {
        SyncError::zitadel(
            "creating the organization",
            ZitadelError::Api {
                op: "create_org",
                error: ApiError {
                    status,
                    code,
                    message: message.into(),
                    id: Some("COMMAND-1".into()),
                    retry_after: None,
                },
            },
        )
    }

    #[test]
    fn messages_name_the_step_and_hide_internals() {
        let down = SyncError::zitadel(
            "creating the organization",
            ZitadelError::Transport {
                op: "create_org",
                message: "error sending request for url (http://10.0.0.7:8080/v2/organizations): connection refused".into(),
            },
        );
        assert!(down.is_unreachable());
        assert!(!down.zitadel_answered());
        let text = down.admin_message();
        assert!(text.starts_with("creating the organization: ZITADEL is unreachable"));
        assert!(!text.contains("10.0.0.7"), "no internal addresses: {text}");

        let refused = api(409, Code::AlreadyExists, "Organisation already exists");
        assert!(!refused.is_unreachable());
        assert!(refused.zitadel_answered());
        assert_eq!(
            refused.admin_message(),
            "creating the organization: ZITADEL refused it: Organisation already exists (COMMAND-1)"
        );
        assert!(
            api(403, Code::PermissionDenied, "No matching permissions found")
                .admin_message()
                .contains("IAM_OWNER")
        );
        assert!(api(503, Code::Unavailable, "").is_unreachable());
        assert!(!api(500, Code::Internal, "boom").is_unreachable());

        let db = SyncError::store(
            "saving",
            StoreError::Other("syntax error near SELECT".into()),
        );
        assert_eq!(
            db.admin_message(),
            "saving: internal error (see the server log)"
        );
        let sealed = SyncError::internal("sealing the client secret", "aead failure with key k1");
        assert!(!sealed.admin_message().contains("k1"));
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let backoff = Backoff::default();
        let transient = api(503, Code::Unavailable, "");
        let permanent = api(400, Code::InvalidArgument, "bad name");
        assert_eq!(
            backoff.delay_with_jitter(1, &transient, 1.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            backoff.delay_with_jitter(1, &transient, 0.0),
            Duration::from_millis(1500)
        );
        assert_eq!(
            backoff.delay_with_jitter(4, &transient, 1.0),
            Duration::from_secs(16)
        );
        assert_eq!(
            backoff.delay_with_jitter(30, &transient, 1.0),
            Duration::from_secs(300)
        );
        assert_eq!(
            backoff.delay_with_jitter(30, &permanent, 1.0),
            Duration::from_secs(1800)
        );
        let mut limited = api(429, Code::ResourceExhausted, "");
        if let Cause::Zitadel(ZitadelError::Api { error, .. }) = &mut limited.cause {
            error.retry_after = Some(Duration::from_secs(90));
        }
        assert_eq!(
            backoff.delay_with_jitter(1, &limited, 0.0),
            Duration::from_secs(90)
        );
    }
}
