//! An in-memory [`TrustStore`] and [`PluginStore`], for the CLI, tests and embedders without a
//! database. The server backs the same traits with its store.

use std::{collections::BTreeMap, sync::Mutex};

use async_trait::async_trait;
use gatehouse_core::{
    StoreError, Timestamp,
    change::Change,
    plugin::{InstalledPlugin, PluginLimits, PluginStore, PluginUser, TrustStore, TrustedKey},
    store::StoreResult,
};

use crate::signing;

/// Trusted keys kept in memory.
#[derive(Default)]
pub struct MemoryTrustStore {
    keys: Mutex<Vec<TrustedKey>>,
}

impl MemoryTrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a public key (a `.pub` file's contents or its base64 line) under `name`.
    pub fn trust(&self, name: &str, public_key: &str) -> Result<TrustedKey, signing::SigningError> {
        let pk = signing::parse_public_key(public_key)?;
        let key = TrustedKey {
            key_id: signing::key_id(pk.keynum()),
            name: name.to_owned(),
            public_key: pk.to_base64(),
            added_at: Timestamp::now(),
            removed_at: None,
        };
        self.lock().push(key.clone());
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TrustedKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl TrustStore for MemoryTrustStore {
    async fn get_trusted_key(&self, key_id: &str) -> StoreResult<Option<TrustedKey>> {
        Ok(self.lock().iter().find(|k| k.key_id == key_id).cloned())
    }

    async fn list_trusted_keys(&self) -> StoreResult<Vec<TrustedKey>> {
        Ok(self.lock().clone())
    }

    async fn add_trusted_key(&self, key: &TrustedKey, _change: &Change) -> StoreResult<()> {
        let mut keys = self.lock();
        match keys.iter_mut().find(|k| k.key_id == key.key_id) {
            Some(existing) if existing.is_active() => Err(StoreError::UniqueViolation {
                constraint: "trusted_keys.key_id".into(),
            }),
            Some(removed) => {
                *removed = TrustedKey {
                    removed_at: None,
                    ..key.clone()
                };
                Ok(())
            }
            None => {
                keys.push(key.clone());
                Ok(())
            }
        }
    }

    async fn remove_trusted_key(
        &self,
        key_id: &str,
        at: Timestamp,
        _plugin_reason: &str,
        _change: &Change,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut keys = self.lock();
        match keys
            .iter_mut()
            .find(|k| k.key_id == key_id && k.removed_at.is_none())
        {
            Some(key) => {
                key.removed_at = Some(at);
                // This store holds no plugins (MemoryPluginStore is a separate registry).
                Ok(Vec::new())
            }
            None => Err(StoreError::NotFound),
        }
    }
}

/// `(id, version)` → record and wasm.
type PluginMap = BTreeMap<(String, String), (InstalledPlugin, Vec<u8>)>;

/// Installed plugins kept in memory.
#[derive(Default)]
pub struct MemoryPluginStore {
    plugins: Mutex<PluginMap>,
}

impl MemoryPluginStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PluginMap> {
        self.plugins.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with<T>(
        &self,
        id: &str,
        version: &str,
        f: impl FnOnce(&mut InstalledPlugin) -> T,
    ) -> StoreResult<T> {
        let mut plugins = self.lock();
        plugins
            .get_mut(&(id.to_owned(), version.to_owned()))
            .map(|(plugin, _)| f(plugin))
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl PluginStore for MemoryPluginStore {
    async fn insert_plugin(
        &self,
        plugin: &InstalledPlugin,
        wasm: &[u8],
        _change: &Change,
    ) -> StoreResult<()> {
        let mut plugins = self.lock();
        let key = (plugin.id.clone(), plugin.version.clone());
        if plugins.contains_key(&key) {
            return Err(StoreError::UniqueViolation {
                constraint: "plugins.id, plugins.version".into(),
            });
        }
        let wasm = if plugin.builtin {
            Vec::new()
        } else {
            wasm.to_vec()
        };
        plugins.insert(key, (plugin.clone(), wasm));
        Ok(())
    }

    async fn get_plugin(&self, id: &str, version: &str) -> StoreResult<Option<InstalledPlugin>> {
        Ok(self
            .lock()
            .get(&(id.to_owned(), version.to_owned()))
            .map(|(plugin, _)| plugin.clone()))
    }

    async fn list_plugins(&self) -> StoreResult<Vec<InstalledPlugin>> {
        Ok(self
            .lock()
            .values()
            .map(|(plugin, _)| plugin.clone())
            .collect())
    }

    async fn get_plugin_wasm(&self, id: &str, version: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .lock()
            .get(&(id.to_owned(), version.to_owned()))
            .filter(|(plugin, _)| !plugin.builtin)
            .map(|(_, wasm)| wasm.clone()))
    }

    async fn set_plugin_enabled(
        &self,
        id: &str,
        version: &str,
        enabled: bool,
        reason: Option<&str>,
        change: &Change,
    ) -> StoreResult<()> {
        self.with(id, version, |plugin| {
            plugin.enabled = enabled;
            plugin.disabled_reason = if enabled {
                None
            } else {
                reason.map(str::to_owned)
            };
            plugin.updated_at = change.audit.occurred_at;
        })
    }

    async fn set_plugin_limits(
        &self,
        id: &str,
        version: &str,
        limits: &PluginLimits,
        change: &Change,
    ) -> StoreResult<()> {
        self.with(id, version, |plugin| {
            plugin.limits = *limits;
            plugin.updated_at = change.audit.occurred_at;
        })
    }

    async fn delete_plugin(&self, id: &str, version: &str, _change: &Change) -> StoreResult<()> {
        self.lock()
            .remove(&(id.to_owned(), version.to_owned()))
            .map(drop)
            .ok_or(StoreError::NotFound)
    }

    async fn plugin_users(&self, _id: &str) -> StoreResult<Vec<PluginUser>> {
        Ok(Vec::new())
    }
}
