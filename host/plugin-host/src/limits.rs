//! Per-call limits: kind defaults, which ops may only lower.

use std::time::Duration;

use gatehouse_core::plugin::{PluginKind, PluginLimits};
use serde::Serialize;

const KIB: usize = 1024;
const MIB: u64 = 1024 * 1024;

/// The limits one call runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    #[serde(rename = "deadline_ms", serialize_with = "as_millis")]
    pub deadline: Duration,
    pub memory_bytes: u64,
    pub max_input_bytes: usize,
    pub max_output_bytes: usize,
    pub max_log_bytes: usize,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Limits {
    /// Provider 100 ms / 16 MiB; widget 50 ms / 32 MiB; webhook 100 ms / 32 MiB. Input 128 KiB;
    /// output 64 KiB (provider) or 256 KiB (widget HTML, webhook bodies); log 4 KiB.
    pub fn defaults(kind: PluginKind) -> Self {
        let (deadline_ms, memory_mib, output_kib) = match kind {
            PluginKind::Provider => (100, 16, 64),
            PluginKind::Widget => (50, 32, 256),
            PluginKind::Webhook => (100, 32, 256),
        };
        Self {
            deadline: Duration::from_millis(deadline_ms),
            memory_bytes: memory_mib * MIB,
            max_input_bytes: 128 * KIB,
            max_output_bytes: output_kib * KIB,
            max_log_bytes: 4 * KIB,
        }
    }

    /// The largest memory cap of any kind: the pooling allocator's slot size.
    pub fn largest_memory_bytes() -> u64 {
        PluginKind::ALL
            .into_iter()
            .map(|kind| Self::defaults(kind).memory_bytes)
            .max()
            .unwrap_or(32 * MIB)
    }

    /// Applies ops' (or a manifest's) values, each only if lower than the current one; zero
    /// is ignored (it would make the plugin unusable rather than safer).
    pub fn tightened(mut self, requested: &PluginLimits) -> Self {
        fn lower<T: Ord + Copy>(current: T, requested: Option<T>, zero: T) -> T {
            match requested {
                Some(value) if value != zero => current.min(value),
                _ => current,
            }
        }
        self.deadline = lower(
            self.deadline,
            requested
                .deadline_ms
                .map(|ms| Duration::from_millis(u64::from(ms))),
            Duration::ZERO,
        );
        self.memory_bytes = lower(
            self.memory_bytes,
            requested.memory_mib.map(|m| u64::from(m) * MIB),
            0,
        );
        let kib = |v: Option<u32>| v.map(|k| (k as usize).saturating_mul(KIB));
        self.max_input_bytes = lower(self.max_input_bytes, kib(requested.max_input_kib), 0);
        self.max_output_bytes = lower(self.max_output_bytes, kib(requested.max_output_kib), 0);
        self.max_log_bytes = lower(self.max_log_bytes, kib(requested.max_log_kib), 0);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_kind() {
        let provider = Limits::defaults(PluginKind::Provider);
        assert_eq!(provider.deadline, Duration::from_millis(100));
        assert_eq!(provider.memory_bytes, 16 * MIB);
        let widget = Limits::defaults(PluginKind::Widget);
        assert_eq!(widget.deadline, Duration::from_millis(50));
        assert_eq!(widget.memory_bytes, 32 * MIB);
        assert_eq!(Limits::defaults(PluginKind::Webhook).memory_bytes, 32 * MIB);
        assert_eq!(Limits::largest_memory_bytes(), 32 * MIB);
    }

    #[test]
    fn ops_can_only_lower() {
        let base = Limits::defaults(PluginKind::Webhook);
        let lowered = base.tightened(&PluginLimits {
            deadline_ms: Some(20),
            memory_mib: Some(8),
            max_input_kib: Some(1),
            max_output_kib: Some(2),
            max_log_kib: Some(0),
        });
        assert_eq!(lowered.deadline, Duration::from_millis(20));
        assert_eq!(lowered.memory_bytes, 8 * MIB);
        assert_eq!(lowered.max_input_bytes, 1024);
        assert_eq!(lowered.max_output_bytes, 2048);
        assert_eq!(lowered.max_log_bytes, base.max_log_bytes, "zero is ignored");
        let raised = base.tightened(&PluginLimits {
            deadline_ms: Some(60_000),
            memory_mib: Some(4096),
            ..PluginLimits::default()
        });
        assert_eq!(raised, base);
    }
}
