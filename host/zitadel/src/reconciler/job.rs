//! One claimed object being synced: its record, the ZITADEL ids found or created so far, and
//! drift bookkeeping.

use std::sync::Arc;

use gatehouse_core::{Timestamp, sync::SyncRecord};
use serde_json::{Map, Value};

use super::{Inner, failure::SyncError};
use crate::client::ZitadelError;

/// What a handler achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// ZITADEL matches the desired state.
    Synced,
    /// The object is gone from ZITADEL (desired = absent); forget its record.
    Removed,
}

pub struct Job {
    pub inner: Arc<Inner>,
    pub record: SyncRecord,
    /// ZITADEL's ids for the object, updated as the handler goes so that a failure keeps what
    /// was created (the next attempt continues from there instead of creating duplicates).
    pub ids: Map<String, Value>,
    /// The object was synced at its current generation: this run is a drift check, and every
    /// write it makes repairs something changed by hand in ZITADEL.
    pub verifying: bool,
    /// Differences found during a drift check, for the log.
    pub drift: Vec<String>,
}

impl Job {
    pub fn new(inner: Arc<Inner>, record: SyncRecord) -> Self {
        Self {
            verifying: record.is_current(),
            ids: record.status.zitadel_ids.clone(),
            inner,
            record,
            drift: Vec::new(),
        }
    }

    pub fn id(&self, key: &str) -> Option<String> {
        self.ids
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    pub fn number(&self, key: &str) -> Option<u64> {
        self.ids.get(key).and_then(Value::as_u64)
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.ids.insert(key.to_owned(), value.into());
    }

    pub fn unset(&mut self, key: &str) {
        self.ids.remove(key);
    }

    /// Records that Gatehouse just changed something in ZITADEL (see [`Self::missing`]).
    pub fn wrote(&mut self) {
        let now = self.inner.clock.now();
        self.set("written_at", now.to_string());
    }

    /// `what`, recorded in the ids, reads as missing. ZITADEL's reads lag its writes, so right
    /// after Gatehouse wrote (within [`super::ReconcilerConfig::consistency_grace`]) that means
    /// "not visible yet": an error that retries soon. Later it really is gone: `Ok` (and the
    /// handler recreates it).
    pub fn missing(&self, step: &'static str, what: &str) -> Result<(), SyncError> {
        let grace = self.inner.config.consistency_grace;
        let written = self
            .ids
            .get("written_at")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse_rfc3339);
        let now = self.inner.clock.now();
        match written {
            Some(at) if now < at.plus(grace) => Err(SyncError::zitadel(
                step,
                ZitadelError::NotConsistent {
                    what: what.to_owned(),
                    waited: std::time::Duration::from_millis(
                        (now.unix_millis() - at.unix_millis()).max(0) as u64,
                    ),
                },
            )),
            _ => Ok(()),
        }
    }

    /// Notes that ZITADEL's copy differs from what Gatehouse last synced. During a drift check,
    /// the first difference marks the object `pending` with a message saying what is repaired.
    pub async fn drift(&mut self, what: impl Into<String>) -> Result<(), SyncError> {
        let what = what.into();
        if !self.verifying {
            return Ok(());
        }
        tracing::warn!(drift = %what, "ZITADEL's copy differs from Gatehouse's; repairing");
        if self.drift.is_empty() {
            let message =
                format!("ZITADEL's copy was changed outside Gatehouse ({what}); repairing");
            self.inner
                .store
                .mark_sync_pending(&self.record, &message)
                .await
                .map_err(|e| SyncError::store("recording the drift", e))?;
        }
        self.drift.push(what);
        Ok(())
    }
}
