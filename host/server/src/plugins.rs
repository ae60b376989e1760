//! The server's plugins: one [`PluginHost`] per process, the registry of installed plugins in
//! the database, the trust store, and the one way the rest of the server finds a plugin to
//! call ([`Plugins::resolve`]).
//!
//! - **At start** the built-ins (shipped in the binary) load, then every enabled installed
//!   plugin loads from the database in the background. Compiled code comes from the host's
//!   cache (`plugin_dir`, keyed by wasm hash + engine hash), so a restart costs milliseconds.
//! - **Replicas** share only the database. A plugin installed on another replica is found on
//!   first use (by id + version, or id → newest enabled version); enable, disable, limits and
//!   removals made elsewhere are noticed by re-reading the registry at most every
//!   [`REFRESH_EVERY`] while plugins are being used.
//! - **Automatic disables** (repeated faults, decided by the host) are persisted by a task fed
//!   from the host's [`DisableSink`]: the record, a `plugin.disabled` event and an audit entry
//!   with actor System, so every replica stops calling the plugin and admins see why.
//! - **Built-ins** have a stored record only once an admin changed them. Such a change made to
//!   an older built-in version carries over to the version this binary ships.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use gatehouse_core::{
    Error, Result, StoreError,
    audit::{AuditContext, Target},
    change::Change,
    clock::Clock,
    plugin::{InstalledPlugin, PluginKind, PluginLimits, TrustedKey},
    principal::Principal,
    services::Caller,
    store::Store,
};
use gatehouse_plugin_host::{
    Call, CallResult, DisableSink, HostConfig, Limits, LoadError, Plugin, PluginHost, PluginInfo,
    PluginSpec, builtin_plugins,
    package::{self, PackageError, compare_versions},
    signing,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::ToSchema;

/// How stale this replica's view of the registry may get while plugins are in use.
pub const REFRESH_EVERY: Duration = Duration::from_secs(3);
/// A lookup that misses re-reads the registry (the plugin may have just been installed on
/// another replica), at most this often.
const MISS_REFRESH_EVERY: Duration = Duration::from_millis(250);
const SYSTEM: Principal = Principal::System {
    component: "plugin-host",
};
const MAX_REASON_LEN: usize = 500;
const MAX_KEY_NAME_LEN: usize = 100;

type Key = (String, String);

fn key(id: &str, version: &str) -> Key {
    (id.to_owned(), version.to_owned())
}

/// The plugins of this server. Cheap to clone.
#[derive(Clone)]
pub struct Plugins {
    inner: Arc<Inner>,
}

struct Inner {
    host: PluginHost,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The built-ins' records as shipped (before admins' changes).
    builtins: BTreeMap<Key, InstalledPlugin>,
    refresh_every: Duration,
    registry: Mutex<Registry>,
    /// One registry read at a time; others use the current view meanwhile.
    refreshing: tokio::sync::Mutex<()>,
    /// One compile at a time, so concurrent first calls do not compile the same plugin twice.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Registry {
    /// Every plugin (built-ins with their stored changes applied) as of `refreshed_at`.
    records: BTreeMap<Key, InstalledPlugin>,
    refreshed_at: Option<Instant>,
    loaded: HashMap<Key, Loaded>,
}

struct Loaded {
    plugin: Plugin,
    /// The stored state last applied to `plugin`. The host may disable a plugin on its own
    /// before the disable is persisted; comparing with what was *applied* (not with the
    /// plugin's live state) keeps a refresh from undoing that.
    applied: Applied,
}

#[derive(Clone, Debug, PartialEq)]
struct Applied {
    sha256: String,
    disabled: Option<String>,
    limits: PluginLimits,
}

impl Applied {
    fn of(record: &InstalledPlugin) -> Self {
        Self {
            sha256: record.sha256.clone(),
            disabled: disabled_reason(record),
            limits: record.effective_limits(),
        }
    }

    fn apply_to(&self, plugin: &Plugin) {
        plugin.set_limits(&self.limits);
        if plugin.disabled_reason() != self.disabled {
            plugin.set_disabled(self.disabled.clone());
        }
    }
}

fn disabled_reason(record: &InstalledPlugin) -> Option<String> {
    (!record.enabled).then(|| {
        record
            .disabled_reason
            .clone()
            .unwrap_or_else(|| "disabled by an admin".into())
    })
}

/// A plugin as the API shows it: its record and the limits each call runs under.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PluginView {
    #[serde(flatten)]
    pub plugin: InstalledPlugin,
    pub effective_limits: EffectiveLimits,
}

/// What one call of the plugin may use now: the kind's defaults lowered by the manifest and
/// by ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EffectiveLimits {
    pub deadline_ms: u64,
    pub memory_mib: u64,
    pub max_input_kib: u64,
    pub max_output_kib: u64,
    pub max_log_kib: u64,
}

impl EffectiveLimits {
    pub fn of(kind: PluginKind, limits: &PluginLimits) -> Self {
        let limits = Limits::defaults(kind).tightened(limits);
        Self {
            deadline_ms: limits.deadline.as_millis() as u64,
            memory_mib: limits.memory_bytes / (1024 * 1024),
            max_input_kib: (limits.max_input_bytes / 1024) as u64,
            max_output_kib: (limits.max_output_bytes / 1024) as u64,
            max_log_kib: (limits.max_log_bytes / 1024) as u64,
        }
    }
}

impl From<InstalledPlugin> for PluginView {
    fn from(plugin: InstalledPlugin) -> Self {
        let effective_limits = EffectiveLimits::of(plugin.kind, &plugin.effective_limits());
        Self {
            plugin,
            effective_limits,
        }
    }
}

/// `PATCH …/limits`: absent fields stay as they are, `null` goes back to the default (the
/// manifest's value or the kind's), a number lowers the limit.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub deadline_ms: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub memory_mib: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub max_input_kib: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub max_output_kib: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub max_log_kib: Option<Option<u32>>,
}

/// A field that is present (even as `null`) becomes `Some(…)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What a state change touches.
#[derive(Clone, Copy, Debug)]
enum Changed {
    Enabled,
    Limits,
}

/// Why an install was refused.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The package failed a check; the message says which. Nothing was written.
    #[error(transparent)]
    Refused(PackageError),
    #[error(transparent)]
    Other(#[from] Error),
}

/// Tells the persisting task about automatic disables (the host calls it on a blocking
/// thread, so it only queues).
struct QueueSink(mpsc::UnboundedSender<(String, String, String)>);

impl DisableSink for QueueSink {
    fn plugin_disabled(&self, id: &str, version: &str, reason: &str) {
        let _ = self
            .0
            .send((id.to_owned(), version.to_owned(), reason.to_owned()));
    }
}

impl Plugins {
    /// Creates the plugin host (compile cache in `cache_dir`), loads the built-ins, and starts
    /// loading the enabled installed plugins and persisting automatic disables in the
    /// background. Needs a tokio runtime.
    pub async fn start(
        cache_dir: std::path::PathBuf,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> std::result::Result<Self, gatehouse_plugin_host::HostError> {
        let plugins = Self::new(
            HostConfig {
                cache_dir: Some(cache_dir),
                ..HostConfig::default()
            },
            store,
            clock,
            REFRESH_EVERY,
        )?;
        plugins.load_builtins().await;
        let background = plugins.clone();
        tokio::spawn(async move { background.load_installed().await });
        Ok(plugins)
    }

    /// A registry over `store` with its own host (`config.disable_sink` is replaced).
    pub fn new(
        mut config: HostConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        refresh_every: Duration,
    ) -> std::result::Result<Self, gatehouse_plugin_host::HostError> {
        let (tx, rx) = mpsc::unbounded_channel();
        config.disable_sink = Some(Arc::new(QueueSink(tx)));
        let host = PluginHost::new(config)?;
        let now = clock.now();
        let builtins = builtin_plugins()
            .iter()
            .map(|builtin| {
                let record = InstalledPlugin {
                    id: builtin.id.to_owned(),
                    version: builtin.version.to_owned(),
                    kind: builtin.kind,
                    wit_version: String::new(),
                    sha256: builtin.sha256(),
                    signer_key_id: None,
                    description: String::new(),
                    author: "Gatehouse".into(),
                    capabilities: vec!["log".into()],
                    manifest_limits: PluginLimits::default(),
                    limits: PluginLimits::default(),
                    enabled: true,
                    disabled_reason: None,
                    installed_at: now,
                    updated_at: now,
                    builtin: true,
                };
                (key(builtin.id, builtin.version), record)
            })
            .collect();
        let inner = Arc::new(Inner {
            host,
            store,
            clock,
            builtins,
            refresh_every,
            registry: Mutex::new(Registry::default()),
            refreshing: tokio::sync::Mutex::new(()),
            loading: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(persist_disables(Arc::downgrade(&inner), rx));
        Ok(Self { inner })
    }

    pub fn host(&self) -> &PluginHost {
        &self.inner.host
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Loads every built-in (they ship in the binary: a failure is a bug, logged loudly) and
    /// fills in what they say about themselves.
    async fn load_builtins(&self) {
        let started = Instant::now();
        let mut failed = 0;
        for builtin in builtin_plugins() {
            if let Err(err) = self.resolve(builtin.id, Some(builtin.version)).await {
                failed += 1;
                tracing::error!(plugin = builtin.id, %err, "a built-in plugin failed to load");
            }
        }
        tracing::info!(
            count = builtin_plugins().len() - failed,
            duration_ms = started.elapsed().as_millis() as u64,
            "built-in plugins loaded"
        );
    }

    /// Loads every enabled installed plugin, so first calls do not wait for a compile.
    async fn load_installed(&self) {
        let started = Instant::now();
        if let Err(err) = self.refresh(true).await {
            tracing::warn!(%err, "could not read the plugin registry; plugins load on first use");
            return;
        }
        let enabled: Vec<Key> = self
            .registry()
            .records
            .values()
            .filter(|r| !r.builtin && r.enabled)
            .map(|r| key(&r.id, &r.version))
            .collect();
        let mut loaded = 0;
        for (id, version) in &enabled {
            match self.resolve(id, Some(version)).await {
                Ok(_) => loaded += 1,
                Err(err) => {
                    tracing::error!(plugin = %id, %version, %err, "an installed plugin failed to load")
                }
            }
        }
        tracing::info!(
            count = loaded,
            duration_ms = started.elapsed().as_millis() as u64,
            "installed plugins loaded"
        );
    }

    // ---- the registry view ----

    /// Re-reads the registry if the view is older than the refresh interval (or always, with
    /// `force`), and brings loaded plugins in line with it.
    async fn refresh(&self, force: bool) -> Result<()> {
        let fresh = |registry: &Registry, max_age: Duration| {
            registry
                .refreshed_at
                .is_some_and(|at| at.elapsed() < max_age)
        };
        let max_age = if force {
            MISS_REFRESH_EVERY
        } else {
            self.inner.refresh_every
        };
        if fresh(&self.registry(), max_age) {
            return Ok(());
        }
        let _guard = if force {
            self.inner.refreshing.lock().await
        } else {
            match self.inner.refreshing.try_lock() {
                Ok(guard) => guard,
                // Someone else is reading it; use the current view meanwhile, unless there is
                // none yet.
                Err(_) if self.registry().refreshed_at.is_some() => return Ok(()),
                Err(_) => self.inner.refreshing.lock().await,
            }
        };
        if fresh(&self.registry(), max_age) {
            return Ok(());
        }
        let records = self.read_records().await?;
        let mut registry = self.registry();
        registry.loaded.retain(|key, loaded| {
            let Some(record) = records.get(key) else {
                tracing::info!(plugin = %key.0, version = %key.1, "plugin removed; unloading");
                return false;
            };
            let wanted = Applied::of(record);
            if wanted.sha256 != loaded.applied.sha256 {
                // Removed and installed again with other code: load afresh on next use.
                return false;
            }
            if wanted != loaded.applied {
                wanted.apply_to(&loaded.plugin);
                loaded.applied = wanted;
            }
            true
        });
        registry.records = records;
        registry.refreshed_at = Some(Instant::now());
        Ok(())
    }

    /// Every plugin: stored ones, and the built-ins this binary ships with their stored
    /// changes applied.
    async fn read_records(&self) -> Result<BTreeMap<Key, InstalledPlugin>> {
        let stored = self.inner.store.list_plugins().await?;
        let mut records = BTreeMap::new();
        let mut builtin_rows: HashMap<&str, Vec<&InstalledPlugin>> = HashMap::new();
        for record in &stored {
            if record.builtin {
                builtin_rows.entry(&record.id).or_default().push(record);
            } else {
                records.insert(key(&record.id, &record.version), record.clone());
            }
        }
        for (key, shipped) in &self.inner.builtins {
            let rows = builtin_rows.get(shipped.id.as_str());
            let exact = rows.and_then(|rows| rows.iter().find(|r| r.version == shipped.version));
            // A change to an older built-in version carries over (the newest change wins).
            let carried = rows.and_then(|rows| rows.iter().max_by_key(|r| r.updated_at));
            let mut record = shipped.clone();
            if let Some(row) = exact.or(carried) {
                record.enabled = row.enabled;
                record.disabled_reason = row.disabled_reason.clone();
                record.limits = row.limits;
                record.updated_at = row.updated_at;
            }
            records.insert(key.clone(), record);
        }
        self.fill_builtin_details(&mut records);
        Ok(records)
    }

    /// Built-in records carry the WIT version and description of their loaded plugin.
    fn fill_builtin_details(&self, records: &mut BTreeMap<Key, InstalledPlugin>) {
        let descriptions = BUILTIN_DETAILS.lock().unwrap_or_else(|p| p.into_inner());
        for record in records.values_mut().filter(|r| r.builtin) {
            if let Some((wit, description)) = descriptions.get(&record.sha256) {
                record.wit_version.clone_from(wit);
                record.description.clone_from(description);
            }
        }
    }

    fn record(&self, id: &str, version: &str) -> Option<InstalledPlugin> {
        self.registry().records.get(&key(id, version)).cloned()
    }

    /// The record of `id` + `version`, re-reading the registry once if this view lacks it.
    async fn find(&self, id: &str, version: &str) -> Result<InstalledPlugin> {
        self.refresh(false).await?;
        if let Some(record) = self.record(id, version) {
            return Ok(record);
        }
        self.refresh(true).await?;
        self.record(id, version)
            .ok_or(Error::NotFound { what: "plugin" })
    }

    /// The newest enabled version of `id` (the newest disabled one if none is enabled, so
    /// callers learn why it cannot run).
    fn newest(&self, id: &str) -> Option<InstalledPlugin> {
        let registry = self.registry();
        registry
            .records
            .values()
            .filter(|r| r.id == id)
            .max_by(|a, b| {
                a.enabled
                    .cmp(&b.enabled)
                    .then_with(|| compare_versions(&a.version, &b.version))
            })
            .cloned()
    }

    // ---- resolving and calling ----

    /// The plugin to call for `id` at `version`, or at its newest enabled version. Loads it on
    /// first use (from the cache, or compiling it once). A disabled plugin is returned too:
    /// calls to it fail with `PluginError::Disabled` and its reason.
    pub async fn resolve(&self, id: &str, version: Option<&str>) -> Result<Plugin> {
        let record = match version {
            Some(version) => self.find(id, version).await?,
            None => {
                self.refresh(false).await?;
                match self.newest(id) {
                    Some(record) => record,
                    None => {
                        self.refresh(true).await?;
                        self.newest(id).ok_or(Error::NotFound { what: "plugin" })?
                    }
                }
            }
        };
        let key = key(&record.id, &record.version);
        if let Some(loaded) = self.registry().loaded.get(&key) {
            return Ok(loaded.plugin.clone());
        }
        let _loading = self.inner.loading.lock().await;
        if let Some(loaded) = self.registry().loaded.get(&key) {
            return Ok(loaded.plugin.clone());
        }
        let plugin = self.load(&record).await?;
        let mut registry = self.registry();
        // The view may have moved on while compiling; apply what it says now.
        let current = registry.records.get(&key).cloned().unwrap_or(record);
        let applied = Applied::of(&current);
        applied.apply_to(&plugin);
        registry.loaded.insert(
            key,
            Loaded {
                plugin: plugin.clone(),
                applied,
            },
        );
        Ok(plugin)
    }

    async fn load(&self, record: &InstalledPlugin) -> Result<Plugin> {
        let wasm = if record.builtin {
            builtin_plugins()
                .iter()
                .find(|b| b.id == record.id && b.version == record.version)
                .map(|b| b.wasm.to_vec())
        } else {
            self.inner
                .store
                .get_plugin_wasm(&record.id, &record.version)
                .await?
        };
        let Some(wasm) = wasm else {
            // Removed between the listing and now.
            return Err(Error::NotFound { what: "plugin" });
        };
        // Loaded enabled: the caller applies the stored state before anyone can call it (a
        // built-in must describe itself first).
        let mut spec = PluginSpec::new(record.id.clone(), record.version.clone(), wasm);
        spec.expected_kind = Some(record.kind);
        spec.expected_sha256 = Some(record.sha256.clone());
        spec.limits = record.effective_limits();
        let started = Instant::now();
        let plugin = self.inner.host.load(spec).await.map_err(|err| match err {
            LoadError::Cache(err) => Error::internal(format!("plugin cache: {err}")),
            other => Error::internal(format!(
                "plugin {} {} does not load: {other}",
                record.id, record.version
            )),
        })?;
        tracing::debug!(plugin = %record.id, version = %record.version, from_cache = plugin.loaded_from_cache(), duration_ms = started.elapsed().as_millis() as u64, "plugin loaded");
        if record.builtin {
            self.remember_builtin(&plugin).await;
        }
        Ok(plugin)
    }

    /// Notes a built-in's WIT version and self-description for its record.
    async fn remember_builtin(&self, plugin: &Plugin) {
        let description = match self.inner.host.describe(plugin).await {
            Ok(PluginInfo::Provider(info)) => info.description,
            Ok(PluginInfo::Widget(info)) => info.description,
            Ok(PluginInfo::Webhook(info)) => info.description,
            Err(err) => {
                tracing::error!(plugin = plugin.id(), %err, "a built-in plugin failed to describe itself");
                String::new()
            }
        };
        let wit = plugin.wit_version().version.to_string();
        BUILTIN_DETAILS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(plugin.sha256().to_owned(), (wit, description));
        let mut registry = self.registry();
        self.fill_builtin_details(&mut registry.records);
    }

    /// Runs one call under the plugin's production limits (for admins: `POST …/test`). It
    /// counts toward automatic disabling like any other call.
    pub async fn test(&self, id: &str, version: &str, call: Call) -> Result<CallResult> {
        let plugin = self.resolve(id, Some(version)).await?;
        Ok(self.inner.host.call_with_report(&plugin, call).await)
    }

    // ---- admin operations ----

    /// Every plugin: built-ins first, then by id and version (read fresh from the database).
    pub async fn list(&self) -> Result<Vec<PluginView>> {
        self.refresh(true).await?;
        let registry = self.registry();
        let mut records: Vec<InstalledPlugin> = registry.records.values().cloned().collect();
        records.sort_by(|a, b| {
            b.builtin
                .cmp(&a.builtin)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| compare_versions(&a.version, &b.version))
        });
        Ok(records.into_iter().map(PluginView::from).collect())
    }

    /// Every version of `id`, oldest first.
    pub async fn versions(&self, id: &str) -> Result<Vec<PluginView>> {
        let all = self.list().await?;
        let versions: Vec<PluginView> = all.into_iter().filter(|p| p.plugin.id == id).collect();
        if versions.is_empty() {
            return Err(Error::NotFound { what: "plugin" });
        }
        Ok(versions)
    }

    pub async fn get(&self, id: &str, version: &str) -> Result<PluginView> {
        self.refresh(true).await?;
        self.record(id, version)
            .map(PluginView::from)
            .ok_or(Error::NotFound { what: "plugin" })
    }

    /// Verifies and installs a package (see `package::check_install` for the checks, in
    /// order). On any refusal nothing is written.
    pub async fn install(
        &self,
        caller: Caller<'_>,
        package: &[u8],
    ) -> std::result::Result<PluginView, InstallError> {
        caller.principal.require_platform()?;
        let store = self.inner.store.as_ref();
        let (verified, plugin) = package::check_install(package, store, store, &self.inner.host)
            .await
            .map_err(|err| match err {
                PackageError::TrustStore(cause) | PackageError::Registry(cause) => {
                    InstallError::Other(Error::Unavailable(cause))
                }
                PackageError::Component(LoadError::Cache(err)) => {
                    InstallError::Other(Error::internal(format!("plugin cache: {err}")))
                }
                refused => InstallError::Refused(refused),
            })?;
        let record = verified.record(caller.now);
        let change = Change::new(
            "plugin.installed",
            caller.principal,
            caller.context,
            None,
            caller.now,
        )
        .target(target(&record))
        .target(Target::new(
            "trusted_key",
            &verified.signer.key_id,
            Some(&verified.signer.name),
        ))
        .meta("sha256", record.sha256.as_str())
        .event("plugin.installed", event_data(&record, None));
        self.inner
            .store
            .insert_plugin(&record, &verified.wasm, &change)
            .await
            .map_err(|err| match err {
                StoreError::UniqueViolation { .. } => {
                    InstallError::Refused(PackageError::Duplicate {
                        id: record.id.clone(),
                        version: record.version.clone(),
                    })
                }
                other => InstallError::Other(other.into()),
            })?;
        tracing::info!(plugin = %record.id, version = %record.version, signer = %verified.signer.key_id, "plugin installed");
        let mut registry = self.registry();
        let key = key(&record.id, &record.version);
        registry.records.insert(key.clone(), record.clone());
        registry.loaded.insert(
            key,
            Loaded {
                plugin,
                applied: Applied::of(&record),
            },
        );
        Ok(record.into())
    }

    /// Enables a plugin (forgetting its past faults), or disables it with a reason.
    pub async fn set_enabled(
        &self,
        caller: Caller<'_>,
        id: &str,
        version: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<PluginView> {
        caller.principal.require_platform()?;
        let reason = match (enabled, reason.map(str::trim)) {
            (true, _) => None,
            (false, Some(reason)) if !reason.is_empty() && reason.len() <= MAX_REASON_LEN => {
                Some(reason.to_owned())
            }
            (false, _) => {
                return Err(Error::invalid(
                    "reason",
                    format!("give a reason of 1-{MAX_REASON_LEN} characters (admins see it)"),
                ));
            }
        };
        let mut record = self.find(id, version).await?;
        if enabled && let Some(signer) = &record.signer_key_id {
            let trusted = self.inner.store.get_trusted_key(signer).await?;
            if !trusted.is_some_and(|key| key.is_active()) {
                return Err(Error::Precondition {
                    code: "signer_not_trusted",
                    message: format!(
                        "{id} {version} is signed by key {signer}, which is not in the trust \
                         store (any more): add the key again, or install a package signed by a \
                         trusted key"
                    ),
                });
            }
        }
        let action = if enabled {
            "plugin.enabled"
        } else {
            "plugin.disabled"
        };
        let mut change = Change::new(action, caller.principal, caller.context, None, caller.now)
            .target(target(&record));
        if let Some(reason) = &reason {
            change = change.meta("reason", reason.as_str());
        }
        change = change.event(action, event_data(&record, reason.as_deref()));
        record.enabled = enabled;
        record.disabled_reason = reason;
        record.updated_at = caller.now;
        self.save_state(&record, Changed::Enabled, &change).await?;
        Ok(record.into())
    }

    /// Lowers (or gives back, with `null`) a plugin's limits. Values may not exceed the kind's
    /// defaults or the manifest's limits.
    pub async fn set_limits(
        &self,
        caller: Caller<'_>,
        id: &str,
        version: &str,
        patch: &LimitsPatch,
    ) -> Result<PluginView> {
        caller.principal.require_platform()?;
        let mut record = self.find(id, version).await?;
        let ceiling = EffectiveLimits::of(record.kind, &record.manifest_limits);
        let defaults = EffectiveLimits::of(record.kind, &PluginLimits::default());
        let mut limits = record.limits;
        let kind = record.kind;
        for (name, requested, slot, ceiling, default) in [
            (
                "deadline_ms",
                patch.deadline_ms,
                &mut limits.deadline_ms,
                ceiling.deadline_ms,
                defaults.deadline_ms,
            ),
            (
                "memory_mib",
                patch.memory_mib,
                &mut limits.memory_mib,
                ceiling.memory_mib,
                defaults.memory_mib,
            ),
            (
                "max_input_kib",
                patch.max_input_kib,
                &mut limits.max_input_kib,
                ceiling.max_input_kib,
                defaults.max_input_kib,
            ),
            (
                "max_output_kib",
                patch.max_output_kib,
                &mut limits.max_output_kib,
                ceiling.max_output_kib,
                defaults.max_output_kib,
            ),
            (
                "max_log_kib",
                patch.max_log_kib,
                &mut limits.max_log_kib,
                ceiling.max_log_kib,
                defaults.max_log_kib,
            ),
        ] {
            *slot = patched_limit(name, requested, *slot, ceiling, default, kind)?;
        }
        let change = Change::new(
            "plugin.limits_updated",
            caller.principal,
            caller.context,
            None,
            caller.now,
        )
        .target(target(&record))
        .meta("limits", serde_json::to_value(limits).unwrap_or_default())
        .meta(
            "previous",
            serde_json::to_value(record.limits).unwrap_or_default(),
        )
        .event(
            "plugin.limits_updated",
            json!({ "id": record.id, "version": record.version, "limits": limits }),
        );
        record.limits = limits;
        record.updated_at = caller.now;
        self.save_state(&record, Changed::Limits, &change).await?;
        Ok(record.into())
    }

    /// Writes a changed enabled state or limits (creating a built-in's record on its first
    /// change) and applies it to this replica at once.
    async fn save_state(
        &self,
        record: &InstalledPlugin,
        what: Changed,
        change: &Change,
    ) -> Result<()> {
        let store = self.inner.store.as_ref();
        let stored = store.get_plugin(&record.id, &record.version).await?;
        match stored {
            None if record.builtin => match store.insert_plugin(record, &[], change).await {
                Ok(()) => {}
                // Another replica created it meanwhile: update it instead.
                Err(StoreError::UniqueViolation { .. }) => {
                    self.update_state(record, what, change).await?
                }
                Err(err) => return Err(err.into()),
            },
            None => return Err(Error::NotFound { what: "plugin" }),
            Some(_) => self.update_state(record, what, change).await?,
        }
        self.apply_locally(record);
        Ok(())
    }

    async fn update_state(
        &self,
        record: &InstalledPlugin,
        what: Changed,
        change: &Change,
    ) -> Result<()> {
        let store = self.inner.store.as_ref();
        let (id, version) = (&record.id, &record.version);
        let result = match what {
            Changed::Limits => {
                store
                    .set_plugin_limits(id, version, &record.limits, change)
                    .await
            }
            Changed::Enabled => {
                let reason = record.disabled_reason.as_deref();
                store
                    .set_plugin_enabled(id, version, record.enabled, reason, change)
                    .await
            }
        };
        result.map_err(|err| match err {
            StoreError::NotFound => Error::NotFound { what: "plugin" },
            other => other.into(),
        })
    }

    fn apply_locally(&self, record: &InstalledPlugin) {
        let mut registry = self.registry();
        let key = key(&record.id, &record.version);
        if let Some(loaded) = registry.loaded.get_mut(&key) {
            let wanted = Applied::of(record);
            wanted.apply_to(&loaded.plugin);
            loaded.applied = wanted;
        }
        registry.records.insert(key, record.clone());
    }

    /// Removes an installed plugin. Refused for built-ins, and while a webhook endpoint uses
    /// the plugin's id and no other enabled version of it would remain.
    pub async fn remove(&self, caller: Caller<'_>, id: &str, version: &str) -> Result<()> {
        caller.principal.require_platform()?;
        let record = self.find(id, version).await?;
        if record.builtin {
            return Err(Error::Precondition {
                code: "builtin_plugin",
                message: format!("{id} is built in and cannot be removed; disable it instead"),
            });
        }
        let others_enabled = self
            .registry()
            .records
            .values()
            .any(|r| r.id == id && r.version != version && r.enabled);
        if !others_enabled {
            let users = self.inner.store.plugin_users(id).await?;
            if !users.is_empty() {
                let named: Vec<String> = users
                    .iter()
                    .take(5)
                    .map(|u| match &u.tenant_id {
                        Some(tenant) => format!("{} {} (tenant {tenant})", u.object, u.id),
                        None => format!("{} {}", u.object, u.id),
                    })
                    .collect();
                let more = users.len().saturating_sub(named.len());
                return Err(Error::Conflict {
                    code: "plugin_in_use",
                    message: format!(
                        "{id} {version} is the last enabled version of a plugin in use by {}{}: \
                         change or delete them first",
                        named.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    ),
                    field: None,
                });
            }
        }
        let change = Change::new(
            "plugin.removed",
            caller.principal,
            caller.context,
            None,
            caller.now,
        )
        .target(target(&record))
        .event("plugin.removed", event_data(&record, None));
        self.inner
            .store
            .delete_plugin(id, version, &change)
            .await
            .map_err(|err| match err {
                StoreError::NotFound => Error::NotFound { what: "plugin" },
                other => other.into(),
            })?;
        let mut registry = self.registry();
        let key = key(id, version);
        registry.records.remove(&key);
        registry.loaded.remove(&key);
        Ok(())
    }

    /// Persists an automatic disable decided by the host (called by the persisting task).
    async fn record_automatic_disable(&self, id: &str, version: &str, reason: &str) -> Result<()> {
        // The freshest state: an admin may have disabled it meanwhile (their reason stays).
        self.refresh(true).await?;
        let mut record = match self.find(id, version).await {
            Ok(record) => record,
            // Removed meanwhile: nothing to record.
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(err) => return Err(err),
        };
        if !record.enabled {
            return Ok(());
        }
        let now = self.inner.clock.now();
        let change = Change::new(
            "plugin.disabled",
            &SYSTEM,
            &AuditContext::default(),
            None,
            now,
        )
        .target(target(&record))
        .meta("reason", reason)
        .meta("automatic", true)
        .event("plugin.disabled", {
            let mut data = event_data(&record, Some(reason));
            data["automatic"] = json!(true);
            data
        });
        record.enabled = false;
        record.disabled_reason = Some(reason.to_owned());
        record.updated_at = now;
        self.save_state(&record, Changed::Enabled, &change).await
    }

    // ---- the trust store ----

    pub async fn trusted_keys(&self) -> Result<Vec<TrustedKey>> {
        Ok(self.inner.store.list_trusted_keys().await?)
    }

    /// Trusts a minisign public key (a `.pub` file's text or its base64 line) under `name`.
    /// A key removed earlier comes back.
    pub async fn trust_key(
        &self,
        caller: Caller<'_>,
        name: &str,
        public_key: &str,
    ) -> Result<TrustedKey> {
        caller.principal.require_platform()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_LEN || name.contains('\n') {
            return Err(Error::invalid(
                "name",
                format!("`name` must be 1-{MAX_KEY_NAME_LEN} characters on one line"),
            ));
        }
        if public_key.len() > 4096 {
            return Err(Error::invalid(
                "public_key",
                "`public_key` is too long for a minisign public key",
            ));
        }
        let pk = signing::parse_public_key(public_key)
            .map_err(|err| Error::invalid("public_key", err.to_string()))?;
        let key = TrustedKey {
            key_id: signing::key_id(pk.keynum()),
            name: name.to_owned(),
            public_key: pk.to_base64(),
            added_at: caller.now,
            removed_at: None,
        };
        let change = Change::new(
            "trusted_key.added",
            caller.principal,
            caller.context,
            None,
            caller.now,
        )
        .target(Target::new("trusted_key", &key.key_id, Some(&key.name)))
        .event(
            "trusted_key.added",
            json!({ "key_id": key.key_id, "name": key.name }),
        );
        self.inner
            .store
            .add_trusted_key(&key, &change)
            .await
            .map_err(|err| match err {
                StoreError::UniqueViolation { .. } => Error::Conflict {
                    code: "key_exists",
                    message: format!("key {} is already trusted", key.key_id),
                    field: Some("public_key".into()),
                },
                other => other.into(),
            })?;
        Ok(key)
    }

    /// Removes a key from the trust store. New installs signed with it are refused, and every
    /// enabled plugin it signed is disabled in the same transaction (they stay installed; an
    /// admin may enable them again only after trusting the key again).
    pub async fn remove_key(
        &self,
        caller: Caller<'_>,
        key_id: &str,
    ) -> Result<(TrustedKey, Vec<(String, String)>)> {
        caller.principal.require_platform()?;
        let key_id = key_id.to_ascii_uppercase();
        let store = self.inner.store.as_ref();
        let key = store
            .get_trusted_key(&key_id)
            .await?
            .filter(TrustedKey::is_active)
            .ok_or(Error::NotFound {
                what: "trusted key",
            })?;
        let reason = format!(
            "its signing key {} ({}) was removed from the trust store",
            key.key_id, key.name
        );
        // The plugins the store will disable, for the change's events; the store disables
        // exactly the enabled ones in its transaction.
        let signed: Vec<InstalledPlugin> = store
            .list_plugins()
            .await?
            .into_iter()
            .filter(|p| p.enabled && p.signer_key_id.as_deref() == Some(key.key_id.as_str()))
            .collect();
        let mut change = Change::new(
            "trusted_key.removed",
            caller.principal,
            caller.context,
            None,
            caller.now,
        )
        .target(Target::new("trusted_key", &key.key_id, Some(&key.name)))
        .event(
            "trusted_key.removed",
            json!({ "key_id": key.key_id, "name": key.name }),
        );
        for plugin in &signed {
            change = change
                .target(target(plugin))
                .event("plugin.disabled", event_data(plugin, Some(&reason)));
        }
        let disabled = store
            .remove_trusted_key(&key.key_id, caller.now, &reason, &change)
            .await
            .map_err(|err| match err {
                StoreError::NotFound => Error::NotFound {
                    what: "trusted key",
                },
                other => other.into(),
            })?;
        for (id, version) in &disabled {
            if let Some(mut record) = self.record(id, version) {
                record.enabled = false;
                record.disabled_reason = Some(reason.clone());
                record.updated_at = caller.now;
                self.apply_locally(&record);
            }
        }
        let removed = TrustedKey {
            removed_at: Some(caller.now),
            ..key
        };
        Ok((removed, disabled))
    }
}

/// One field of a limits patch: `None` keeps `current`, `Some(None)` drops it, a value must be
/// between 1 and `ceiling` (the kind's default, or the manifest's limit when lower).
fn patched_limit(
    name: &'static str,
    requested: Option<Option<u32>>,
    current: Option<u32>,
    ceiling: u64,
    default: u64,
    kind: PluginKind,
) -> Result<Option<u32>> {
    match requested {
        None => Ok(current),
        Some(None) => Ok(None),
        Some(Some(0)) => Err(Error::invalid(name, format!("`{name}` must be at least 1"))),
        Some(Some(value)) if u64::from(value) > ceiling => {
            let why = if ceiling < default {
                format!("the package's manifest sets {ceiling}")
            } else {
                format!("the {kind} default is {default}")
            };
            Err(Error::invalid(
                name,
                format!("`{name}` can only lower the limit: at most {ceiling} ({why})"),
            ))
        }
        Some(Some(value)) => Ok(Some(value)),
    }
}

/// WIT version and description of each built-in, by wasm hash: the same for every server in
/// the process, learnt when one first loads it.
static BUILTIN_DETAILS: Mutex<BTreeMap<String, (String, String)>> = Mutex::new(BTreeMap::new());

fn target(record: &InstalledPlugin) -> Target {
    Target::new(
        "plugin",
        format!("{}@{}", record.id, record.version),
        Some(&record.id),
    )
}

fn event_data(record: &InstalledPlugin, reason: Option<&str>) -> serde_json::Value {
    let mut data = json!({
        "id": record.id,
        "version": record.version,
        "kind": record.kind,
        "sha256": record.sha256,
        "signer_key_id": record.signer_key_id,
        "builtin": record.builtin,
    });
    if let Some(reason) = reason {
        data["reason"] = json!(reason);
    }
    data
}

/// Persists the host's automatic disables, retrying while the database is unavailable. Ends
/// when the registry is dropped (the host, and with it the queue's sender, goes too).
async fn persist_disables(
    registry: Weak<Inner>,
    mut queue: mpsc::UnboundedReceiver<(String, String, String)>,
) {
    const ATTEMPTS: u32 = 6;
    while let Some((id, version, reason)) = queue.recv().await {
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let Some(inner) = registry.upgrade() else {
                return;
            };
            let result = Plugins { inner }
                .record_automatic_disable(&id, &version, &reason)
                .await;
            match result {
                Ok(()) => {
                    tracing::warn!(plugin = %id, %version, %reason, "automatic plugin disable recorded");
                    break;
                }
                Err(err) if attempt < ATTEMPTS => {
                    tracing::warn!(plugin = %id, %version, %err, attempt, "could not record an automatic plugin disable; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(err) => {
                    tracing::error!(plugin = %id, %version, %err, "could not record an automatic plugin disable; it holds on this replica only, until restart");
                }
            }
        }
    }
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins").finish_non_exhaustive()
    }
}
