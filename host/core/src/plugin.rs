//! Plugin records shared by the plugin host, the server and the store: installed plugins, the
//! trust store of signing keys, and the store traits the database implements.
//!
//! The plugin host (`host/plugin-host`) verifies packages and runs plugins; it reads trusted
//! keys and checks for duplicates through [`TrustStore`] and [`PluginStore`]. The server
//! persists what the host decides (installs, automatic disables) through the same traits.

use std::{fmt, str::FromStr};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Timestamp, change::Change, store::StoreResult};

/// The three kinds of plugin, one WIT world each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Login-provider wizard (`gatehouse:provider`).
    Provider,
    /// Login-widget theme (`gatehouse:widget`).
    Widget,
    /// Webhook payload transform (`gatehouse:webhook`).
    Webhook,
}

impl PluginKind {
    pub const ALL: [PluginKind; 3] = [Self::Provider, Self::Widget, Self::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Widget => "widget",
            Self::Webhook => "webhook",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown plugin kind `{0}` (expected provider, widget or webhook)")]
pub struct UnknownKind(pub String);

impl FromStr for PluginKind {
    type Err = UnknownKind;

    fn from_str(text: &str) -> Result<Self, UnknownKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownKind(text.chars().take(40).collect()))
    }
}

/// Limits ops set for one plugin. Each value can only *lower* the kind's default (the host
/// clamps); `None` keeps the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Wall-clock deadline per call, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u32>,
    /// Linear-memory cap, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// Input size cap per call, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_kib: Option<u32>,
    /// Output size cap per call, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_kib: Option<u32>,
    /// Log cap per call, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_log_kib: Option<u32>,
}

impl PluginLimits {
    /// The tighter of two sets of limits, value by value. `None` and `0` both mean "no limit
    /// set", as the host reads them (`Limits::tightened`): a manifest's `0` must not hide the
    /// lower value ops set.
    pub fn tightest(&self, other: &PluginLimits) -> PluginLimits {
        fn min(a: Option<u32>, b: Option<u32>) -> Option<u32> {
            match (a.filter(|v| *v != 0), b.filter(|v| *v != 0)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        PluginLimits {
            deadline_ms: min(self.deadline_ms, other.deadline_ms),
            memory_mib: min(self.memory_mib, other.memory_mib),
            max_input_kib: min(self.max_input_kib, other.max_input_kib),
            max_output_kib: min(self.max_output_kib, other.max_output_kib),
            max_log_kib: min(self.max_log_kib, other.max_log_kib),
        }
    }
}

/// An installed plugin (one id + version). The wasm bytes are stored beside the record; the
/// compiled code lives only in the host's cache.
///
/// Built-in plugins ship inside the binary; the store keeps a record for one only once an admin
/// changed it (disabled it or lowered its limits), and never its wasm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstalledPlugin {
    /// Package id, e.g. `acme.okta` (built-ins: `gatehouse.google`, …).
    pub id: String,
    /// Semantic version of the package.
    pub version: String,
    pub kind: PluginKind,
    /// WIT API version the component was built against, e.g. `0.1.0`.
    pub wit_version: String,
    /// Hex SHA-256 of `plugin.wasm`.
    pub sha256: String,
    /// minisign key id (16 hex digits) of the signer; `None` for built-ins.
    pub signer_key_id: Option<String>,
    /// From the package manifest (built-ins: from the plugin's own description).
    #[serde(default)]
    pub description: String,
    /// From the package manifest (built-ins: `Gatehouse`).
    #[serde(default)]
    pub author: String,
    /// Capabilities the package requested and ops granted (e.g. `log`).
    pub capabilities: Vec<String>,
    /// Limits the package's manifest asks for (they can only lower the kind's defaults).
    #[serde(default)]
    pub manifest_limits: PluginLimits,
    /// Limits ops set (they can only lower the kind's defaults and the manifest's limits). The
    /// plugin runs under the tightest of the kind's defaults, these and `manifest_limits`.
    pub limits: PluginLimits,
    pub enabled: bool,
    /// Why the plugin is disabled (by an admin, or automatically after repeated traps).
    pub disabled_reason: Option<String>,
    pub installed_at: Timestamp,
    /// When the record last changed (install, enable, disable, limits).
    pub updated_at: Timestamp,
    /// Shipped inside the binary (cannot be removed, only disabled).
    pub builtin: bool,
}

impl InstalledPlugin {
    /// The limits the plugin runs under, as ops and manifest values (each still only lowers
    /// the kind's defaults; the host applies them).
    pub fn effective_limits(&self) -> PluginLimits {
        self.limits.tightest(&self.manifest_limits)
    }
}

/// Something configured to use a plugin (today: a webhook endpoint's transform).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PluginUser {
    /// What kind of object, e.g. `webhook_endpoint`.
    pub object: String,
    pub id: String,
    pub tenant_id: Option<String>,
}

/// A public key trusted to sign plugin packages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrustedKey {
    /// minisign key id: 16 uppercase hex digits.
    pub key_id: String,
    /// Who the key belongs to, for admins.
    pub name: String,
    /// The minisign public key (the base64 line of a `.pub` file).
    pub public_key: String,
    pub added_at: Timestamp,
    /// Set when the key was removed. Removed keys are kept so that an install signed with one
    /// is refused as "removed signer" rather than "unknown signer".
    pub removed_at: Option<Timestamp>,
}

impl TrustedKey {
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }
}

/// Trusted signing keys. Implemented by the store (and in memory by the plugin host for the CLI
/// and tests).
#[async_trait]
pub trait TrustStore: Send + Sync {
    /// The key with `key_id`, removed keys included.
    async fn get_trusted_key(&self, key_id: &str) -> StoreResult<Option<TrustedKey>>;
    /// Every key, removed ones included, oldest first.
    async fn list_trusted_keys(&self) -> StoreResult<Vec<TrustedKey>>;
    /// Adds a key, or re-activates a removed key with the same id (taking the new name,
    /// public key text and `added_at`). Adding a key that is active is a unique violation on
    /// `trusted_keys.key_id`.
    async fn add_trusted_key(&self, key: &TrustedKey, change: &Change) -> StoreResult<()>;
    /// Marks a key removed (`NotFound` if unknown or already removed) and, in the same
    /// transaction, disables with `plugin_reason` every enabled plugin the key signed, so
    /// code from a signer ops no longer trust stops running everywhere at once. Returns the
    /// `(id, version)` of the plugins it disabled. (A trust store that holds no plugins, like
    /// the in-memory one, disables none.)
    async fn remove_trusted_key(
        &self,
        key_id: &str,
        at: Timestamp,
        plugin_reason: &str,
        change: &Change,
    ) -> StoreResult<Vec<(String, String)>>;
}

/// Installed plugins. The registry the plugin host consults for duplicates at install.
#[async_trait]
pub trait PluginStore: Send + Sync {
    /// Stores the record and its wasm (ignored for built-ins, which ship in the binary); a
    /// duplicate id + version is a unique violation on `plugins.id, plugins.version`.
    async fn insert_plugin(
        &self,
        plugin: &InstalledPlugin,
        wasm: &[u8],
        change: &Change,
    ) -> StoreResult<()>;
    async fn get_plugin(&self, id: &str, version: &str) -> StoreResult<Option<InstalledPlugin>>;
    /// Every record (built-in records included), ordered by id then installation time; without
    /// the wasm, so servers can poll it cheaply.
    async fn list_plugins(&self) -> StoreResult<Vec<InstalledPlugin>>;
    /// The stored `plugin.wasm` of a plugin (`None` for built-ins and unknown plugins).
    async fn get_plugin_wasm(&self, id: &str, version: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Enables (clearing the reason) or disables with a reason; `updated_at` becomes the
    /// change's time.
    async fn set_plugin_enabled(
        &self,
        id: &str,
        version: &str,
        enabled: bool,
        reason: Option<&str>,
        change: &Change,
    ) -> StoreResult<()>;
    async fn set_plugin_limits(
        &self,
        id: &str,
        version: &str,
        limits: &PluginLimits,
        change: &Change,
    ) -> StoreResult<()>;
    async fn delete_plugin(&self, id: &str, version: &str, change: &Change) -> StoreResult<()>;
    /// Objects configured to use plugin `id` (any version): webhook endpoints whose transform
    /// names it. A registry without such objects (the in-memory one) returns none.
    async fn plugin_users(&self, id: &str) -> StoreResult<Vec<PluginUser>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in PluginKind::ALL {
            assert_eq!(kind.as_str().parse::<PluginKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("theme".parse::<PluginKind>().is_err());
    }

    #[test]
    fn limits_reject_unknown_fields() {
        let limits: PluginLimits = serde_json::from_str(r#"{"deadline_ms":20}"#).unwrap();
        assert_eq!(limits.deadline_ms, Some(20));
        assert!(serde_json::from_str::<PluginLimits>(r#"{"deadline":20}"#).is_err());
        assert_eq!(
            serde_json::to_string(&PluginLimits::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn a_zero_is_no_limit_and_never_wins() {
        let ops = PluginLimits {
            max_log_kib: Some(2),
            ..PluginLimits::default()
        };
        let manifest = PluginLimits {
            max_log_kib: Some(0),
            deadline_ms: Some(0),
            ..PluginLimits::default()
        };
        assert_eq!(manifest.tightest(&ops), ops);
        assert_eq!(ops.tightest(&manifest), ops);
    }

    #[test]
    fn tightest_takes_the_lower_value_of_each() {
        let ops = PluginLimits {
            deadline_ms: Some(20),
            memory_mib: Some(16),
            ..PluginLimits::default()
        };
        let manifest = PluginLimits {
            deadline_ms: Some(50),
            memory_mib: Some(8),
            max_log_kib: Some(1),
            ..PluginLimits::default()
        };
        let both = ops.tightest(&manifest);
        assert_eq!(both, manifest.tightest(&ops));
        assert_eq!(
            both,
            PluginLimits {
                deadline_ms: Some(20),
                memory_mib: Some(8),
                max_input_kib: None,
                max_output_kib: None,
                max_log_kib: Some(1),
            }
        );
    }
}
