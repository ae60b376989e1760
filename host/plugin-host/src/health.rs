//! Automatic disabling: a plugin that faults (deadline, memory, trap, bad output) `limit` times
//! within `window` is disabled with a reason; the server learns it through [`DisableSink`] and
//! persists it so admins see why.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Told when the host disables a plugin on its own. The server implements it by recording
/// `enabled = false` and the reason (`PluginStore::set_plugin_enabled`) and auditing it.
/// Called on the blocking thread that made the failing call: hand slow work to a task.
pub trait DisableSink: Send + Sync {
    fn plugin_disabled(&self, id: &str, version: &str, reason: &str);
}

#[derive(Default)]
pub(crate) struct Health {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    faults: VecDeque<Instant>,
    disabled: Option<String>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reason the plugin is disabled, if it is.
    pub(crate) fn disabled(&self) -> Option<String> {
        self.lock().disabled.clone()
    }

    pub(crate) fn set_disabled(&self, reason: Option<String>) {
        let mut state = self.lock();
        state.disabled = reason;
        state.faults.clear();
    }

    /// Records a fault; returns the reason if this fault disabled the plugin.
    pub(crate) fn record_fault(
        &self,
        now: Instant,
        limit: u32,
        window: Duration,
        fault: &str,
    ) -> Option<String> {
        let mut state = self.lock();
        if state.disabled.is_some() || limit == 0 {
            return None;
        }
        while state
            .faults
            .front()
            .is_some_and(|at| now.duration_since(*at) > window)
        {
            state.faults.pop_front();
        }
        state.faults.push_back(now);
        if state.faults.len() >= limit as usize {
            let reason = format!(
                "disabled automatically after {limit} faults within {}s; last: {fault}",
                window.as_secs()
            );
            state.disabled = Some(reason.clone());
            state.faults.clear();
            return Some(reason);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disables_after_limit_within_window() {
        let health = Health::default();
        let start = Instant::now();
        let window = Duration::from_secs(60);
        assert!(health.record_fault(start, 3, window, "trap").is_none());
        // Outside the window: the first fault no longer counts.
        let later = start + Duration::from_secs(61);
        assert!(health.record_fault(later, 3, window, "trap").is_none());
        assert!(health.record_fault(later, 3, window, "trap").is_none());
        let reason = health.record_fault(later, 3, window, "deadline").unwrap();
        assert!(
            reason.contains("3 faults") && reason.contains("deadline"),
            "{reason}"
        );
        assert_eq!(health.disabled(), Some(reason));
        assert!(health.record_fault(later, 3, window, "trap").is_none());
        health.set_disabled(None);
        assert!(health.disabled().is_none());
    }
}
