//! [`PluginHost`]: loading components and calling them, each call in a fresh instance on a
//! fixed set of call threads, under the plugin's limits.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use gatehouse_core::plugin::{PluginKind, PluginLimits};
use wasmtime::{Engine, Store, Trap, component::Linker};

use crate::{
    bindings::{self, Binding, Pre},
    cache::{Cache, sha256_hex},
    call::{Call, CallReport, CallResult, Output, Request},
    engine::{self, Ticker},
    error::{HostError, LoadError, PluginError},
    health::{DisableSink, Health},
    inspect::{self, WitVersion},
    limits::Limits,
    pool::CallPool,
    state::{self, CallState},
    types::{
        EgressHost, PluginInfo, ProviderInfo, RenderRequest, Rendered, TenantContext,
        TransformOutcome, WebhookInfo, WidgetInfo, ZitadelRequest,
    },
    validate,
};

/// Sizing of the pooling allocator. Every slot reserves `memory_reservation` bytes of virtual
/// address space (plus guards), so `max_instances × memory_reservation` is what one host
/// reserves — about 256 GiB with the defaults, fine on 64-bit Linux unless `ulimit -v` is set.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Instances alive at once (one per running call).
    pub max_instances: u32,
    /// Virtual address space reserved per linear memory. 4 GiB lets compiled code skip bounds
    /// checks; lower it (to ≥ the largest memory cap, 32 MiB) where address space is limited.
    pub memory_reservation: u64,
    /// Bytes of each memory slot kept mapped between instances (see docs/performance.md).
    pub keep_resident_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_instances: 64,
            memory_reservation: 4 << 30,
            keep_resident_bytes: 1024 * 1024,
        }
    }
}

/// Configuration of a [`PluginHost`].
#[derive(Clone)]
pub struct HostConfig {
    /// Where compiled components are cached (created 0700). `None` compiles in memory on every
    /// load (tests, `plugin test`).
    pub cache_dir: Option<PathBuf>,
    /// Calls running at once (one call thread each); more wait in a queue without blocking
    /// the async runtime.
    /// At most `pool.max_instances`.
    pub max_concurrent_calls: usize,
    pub pool: PoolConfig,
    /// Epoch tick: deadlines are enforced with this granularity.
    pub epoch_tick: Duration,
    /// Faults (deadline, memory, trap, bad output) within `fault_window` that disable a plugin;
    /// 0 never disables.
    pub fault_limit: u32,
    pub fault_window: Duration,
    /// Count instructions with fuel. Only for `gatehouse plugin test`: fuel slows every call.
    pub metering: bool,
    /// Told when a plugin is disabled automatically.
    pub disable_sink: Option<Arc<dyn DisableSink>>,
}

impl Default for HostConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            cache_dir: None,
            max_concurrent_calls: (cores * 2).clamp(4, 32),
            pool: PoolConfig::default(),
            epoch_tick: Duration::from_millis(1),
            fault_limit: 5,
            fault_window: Duration::from_secs(60),
            metering: false,
            disable_sink: None,
        }
    }
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConfig")
            .field("cache_dir", &self.cache_dir)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("pool", &self.pool)
            .field("epoch_tick", &self.epoch_tick)
            .field("fault_limit", &self.fault_limit)
            .field("fault_window", &self.fault_window)
            .field("metering", &self.metering)
            .finish_non_exhaustive()
    }
}

/// The plugin runtime. Cheap to clone (an `Arc` inside); share one per process.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Cache,
    calls: CallPool,
    config: HostConfig,
    // Last: stops the ticker thread when the host goes away.
    ticker: Ticker,
}

/// What to load: a component and its identity and limits.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    pub id: String,
    pub version: String,
    pub wasm: Vec<u8>,
    /// Refuse the component unless it is of this kind (the manifest's).
    pub expected_kind: Option<PluginKind>,
    /// Refuse the component unless its hex SHA-256 is this (the recorded one): the check costs
    /// no second pass over the bytes, since the host hashes them anyway for its cache.
    pub expected_sha256: Option<String>,
    /// Ops' limits (each only lowers the kind's default).
    pub limits: PluginLimits,
    /// `Some(reason)` loads it disabled.
    pub disabled_reason: Option<String>,
    /// Hex SHA-256 of bytes this crate has validated already (a verified package): a load of
    /// the same bytes need not validate them again before compiling.
    validated_sha256: Option<String>,
}

impl PluginSpec {
    pub fn new(id: impl Into<String>, version: impl Into<String>, wasm: Vec<u8>) -> Self {
        Self {
            id: id.into(),
            version: version.into(),
            wasm,
            expected_kind: None,
            expected_sha256: None,
            limits: PluginLimits::default(),
            disabled_reason: None,
            validated_sha256: None,
        }
    }

    /// Notes that bytes with this SHA-256 were validated (only this crate can say so); it
    /// counts only if `wasm` still hashes to it when loaded.
    pub(crate) fn validated(mut self, sha256: &str) -> Self {
        self.validated_sha256 = Some(sha256.to_owned());
        self
    }
}

/// A loaded plugin. Cheap to clone; every call gets a fresh instance from it.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

struct Loaded {
    id: String,
    version: String,
    wit: WitVersion,
    sha256: String,
    limits: Mutex<Limits>,
    health: Health,
    pre: Pre,
    from_cache: bool,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.inner.id)
            .field("version", &self.inner.version)
            .field("wit", &self.inner.wit.to_string())
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn version(&self) -> &str {
        &self.inner.version
    }

    pub fn kind(&self) -> PluginKind {
        self.inner.wit.kind
    }

    pub fn wit_version(&self) -> &WitVersion {
        &self.inner.wit
    }

    /// Hex SHA-256 of the component.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// Whether the compiled code came from the cache (not compiled by this load).
    pub fn loaded_from_cache(&self) -> bool {
        self.inner.from_cache
    }

    pub fn limits(&self) -> Limits {
        *self.inner.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies ops' limits, starting again from the kind's defaults.
    pub fn set_limits(&self, limits: &PluginLimits) {
        let tightened = Limits::defaults(self.kind()).tightened(limits);
        *self.inner.limits.lock().unwrap_or_else(|p| p.into_inner()) = tightened;
    }

    /// `Some(reason)` while disabled.
    pub fn disabled_reason(&self) -> Option<String> {
        self.inner.health.disabled()
    }

    /// Enables the plugin (forgetting past faults) or disables it with a reason.
    pub fn set_disabled(&self, reason: Option<String>) {
        self.inner.health.set_disabled(reason);
    }
}

impl PluginHost {
    /// Creates the engine (reserving the pool's address space), the linker, the cache directory
    /// and the epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        if config.max_concurrent_calls == 0
            || config.max_concurrent_calls > config.pool.max_instances as usize
        {
            return Err(HostError::Config(format!(
                "max_concurrent_calls must be between 1 and pool.max_instances ({})",
                config.pool.max_instances
            )));
        }
        if config.epoch_tick.is_zero() || config.epoch_tick > Duration::from_millis(100) {
            return Err(HostError::Config(
                "epoch_tick must be between 1 ns and 100 ms".into(),
            ));
        }
        let engine = engine::build(&config.pool, config.metering)?;
        let mut linker = Linker::new(&engine);
        state::add_wasi(&mut linker).map_err(|err| HostError::Engine(format!("{err:#}")))?;
        bindings::add_to_linker(&mut linker)
            .map_err(|err| HostError::Engine(format!("{err:#}")))?;
        let cache = Cache::new(&engine, config.cache_dir.clone())?;
        let ticker = Ticker::start(engine.clone(), config.epoch_tick)?;
        let calls = CallPool::start(config.max_concurrent_calls)
            .map_err(|err| HostError::Engine(format!("starting the plugin call threads: {err}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                calls,
                config,
                ticker,
            }),
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// Checks, compiles (or loads from the cache) and links a component. CPU-heavy on a cache
    /// miss (tens of milliseconds): call from a blocking context, or use [`load`](Self::load).
    pub fn load_blocking(&self, spec: &PluginSpec) -> Result<Plugin, LoadError> {
        // Integrity first: bytes that are not the recorded ones are not even parsed.
        let sha256 = sha256_hex(&spec.wasm);
        if let Some(expected) = &spec.expected_sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError::HashMismatch {
                expected: expected.clone(),
                actual: sha256,
            });
        }
        // Validation (the costly part) only if this has to be compiled.
        let info = inspect::read_interface(&spec.wasm)?;
        if let Some(expected) = spec.expected_kind
            && expected != info.wit.kind
        {
            return Err(LoadError::KindMismatch {
                expected,
                actual: info.wit.kind,
            });
        }
        let binding = Binding::select(&info.wit)?;
        let validated = spec
            .validated_sha256
            .as_deref()
            .is_some_and(|hash| hash.eq_ignore_ascii_case(&sha256));
        let (component, from_cache) =
            self.inner
                .cache
                .load(&self.inner.engine, &spec.wasm, &sha256, || {
                    if validated {
                        Ok(())
                    } else {
                        inspect::validate(&spec.wasm)
                    }
                })?;
        let pre = Pre::new(binding, info.wit.kind, &self.inner.linker, &component)?;
        let plugin = Plugin {
            inner: Arc::new(Loaded {
                id: spec.id.clone(),
                version: spec.version.clone(),
                limits: Mutex::new(Limits::defaults(info.wit.kind).tightened(&spec.limits)),
                wit: info.wit,
                sha256,
                health: Health::default(),
                pre,
                from_cache,
            }),
        };
        plugin.set_disabled(spec.disabled_reason.clone());
        tracing::debug!(plugin = %spec.id, version = %spec.version, wit = %plugin.wit_version(), from_cache, "plugin loaded");
        Ok(plugin)
    }

    /// [`load_blocking`](Self::load_blocking) on the blocking pool.
    pub async fn load(&self, spec: PluginSpec) -> Result<Plugin, LoadError> {
        let host = self.clone();
        tokio::task::spawn_blocking(move || host.load_blocking(&spec))
            .await
            .unwrap_or_else(|err| Err(LoadError::Compile(format!("load task failed: {err}"))))
    }

    /// Loads every built-in plugin.
    pub fn load_builtins_blocking(&self) -> Result<Vec<Plugin>, LoadError> {
        crate::builtin::builtin_plugins()
            .iter()
            .map(|builtin| {
                let mut spec = PluginSpec::new(builtin.id, builtin.version, builtin.wasm.to_vec());
                spec.expected_kind = Some(builtin.kind);
                self.load_blocking(&spec)
            })
            .collect()
    }

    /// Makes one call on the current thread (which it blocks for up to the deadline) and
    /// reports its cost. For `gatehouse plugin test` and benchmarks; servers use the async
    /// methods.
    pub fn call_blocking(&self, plugin: &Plugin, call: Call) -> CallResult {
        self.execute(plugin, &Request::from(call))
    }

    /// [`call_webhook_transform`](Self::call_webhook_transform) on the current thread.
    pub fn webhook_transform_blocking(
        &self,
        plugin: &Plugin,
        event: &str,
        config: &str,
    ) -> Result<TransformOutcome, PluginError> {
        let request = Request::WebhookTransform(event.to_owned(), config.to_owned());
        match self.execute(plugin, &request).output? {
            Output::Transformed(outcome) => Ok(outcome),
            other => Err(unexpected(other)),
        }
    }

    /// Makes one call on the call threads.
    pub async fn call(&self, plugin: &Plugin, call: Call) -> Result<Output, PluginError> {
        self.dispatch(plugin, Request::from(call)).await
    }

    /// [`call`](Self::call) with what it cost (wall time, peak memory, the captured log), for
    /// admin tools that run a plugin on a server. Same pool, limits and fault counting.
    pub async fn call_with_report(&self, plugin: &Plugin, call: Call) -> CallResult {
        self.dispatch_with_report(plugin, Request::from(call)).await
    }

    /// Any kind: the plugin's self-description.
    pub async fn describe(&self, plugin: &Plugin) -> Result<PluginInfo, PluginError> {
        match self.dispatch(plugin, Request::Describe).await? {
            Output::Info(info) => Ok(info),
            other => Err(unexpected(other)),
        }
    }

    pub async fn describe_provider(&self, plugin: &Plugin) -> Result<ProviderInfo, PluginError> {
        expect_kind(plugin, PluginKind::Provider)?;
        match self.describe(plugin).await? {
            PluginInfo::Provider(info) => Ok(info),
            _ => Err(PluginError::bad_output("describe returned another kind")),
        }
    }

    pub async fn describe_widget(&self, plugin: &Plugin) -> Result<WidgetInfo, PluginError> {
        expect_kind(plugin, PluginKind::Widget)?;
        match self.describe(plugin).await? {
            PluginInfo::Widget(info) => Ok(info),
            _ => Err(PluginError::bad_output("describe returned another kind")),
        }
    }

    pub async fn describe_webhook(&self, plugin: &Plugin) -> Result<WebhookInfo, PluginError> {
        expect_kind(plugin, PluginKind::Webhook)?;
        match self.describe(plugin).await? {
            PluginInfo::Webhook(info) => Ok(info),
            _ => Err(PluginError::bad_output("describe returned another kind")),
        }
    }

    /// Validates a provider configuration (a JSON object, secrets included).
    pub async fn provider_validate(
        &self,
        plugin: &Plugin,
        ctx: &TenantContext,
        config_json: &str,
    ) -> Result<(), PluginError> {
        let request = Request::ProviderValidate(ctx.clone(), config_json.to_owned());
        match self.dispatch(plugin, request).await? {
            Output::Validated => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    pub async fn provider_redirect_uris(
        &self,
        plugin: &Plugin,
        ctx: &TenantContext,
        config_json: &str,
    ) -> Result<Vec<String>, PluginError> {
        let request = Request::ProviderRedirectUris(ctx.clone(), config_json.to_owned());
        match self.dispatch(plugin, request).await? {
            Output::RedirectUris { uris } => Ok(uris),
            other => Err(unexpected(other)),
        }
    }

    pub async fn provider_egress(
        &self,
        plugin: &Plugin,
        config_json: &str,
    ) -> Result<Vec<EgressHost>, PluginError> {
        let request = Request::ProviderEgress(config_json.to_owned());
        match self.dispatch(plugin, request).await? {
            Output::Egress { hosts } => Ok(hosts),
            other => Err(unexpected(other)),
        }
    }

    /// The checked ZITADEL request creating (`existing_id == None`) or updating the IdP.
    pub async fn provider_zitadel_idp(
        &self,
        plugin: &Plugin,
        ctx: &TenantContext,
        config_json: &str,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {
        let request = Request::ProviderZitadelIdp(
            ctx.clone(),
            config_json.to_owned(),
            existing_id.map(str::to_owned),
        );
        match self.dispatch(plugin, request).await? {
            Output::ZitadelIdp(request) => Ok(request),
            other => Err(unexpected(other)),
        }
    }

    pub async fn widget_render(
        &self,
        plugin: &Plugin,
        ctx: &TenantContext,
        request: &RenderRequest,
    ) -> Result<Rendered, PluginError> {
        let request = Request::WidgetRender(ctx.clone(), Box::new(request.clone()));
        match self.dispatch(plugin, request).await? {
            Output::Rendered(rendered) => Ok(rendered),
            other => Err(unexpected(other)),
        }
    }

    /// Transforms one event for one endpoint.
    pub async fn call_webhook_transform(
        &self,
        plugin: &Plugin,
        event_json: &str,
        config_json: &str,
    ) -> Result<TransformOutcome, PluginError> {
        let request = Request::WebhookTransform(event_json.to_owned(), config_json.to_owned());
        match self.dispatch(plugin, request).await? {
            Output::Transformed(outcome) => Ok(outcome),
            other => Err(unexpected(other)),
        }
    }

    /// Queues the call for the call threads (at most `max_concurrent_calls` run at once, in
    /// arrival order) and waits for it.
    async fn dispatch(&self, plugin: &Plugin, request: Request) -> Result<Output, PluginError> {
        self.dispatch_with_report(plugin, request).await.output
    }

    /// [`dispatch`](Self::dispatch) with the call's report.
    async fn dispatch_with_report(&self, plugin: &Plugin, request: Request) -> CallResult {
        // Cheap checks first, so a disabled or wrong-kind plugin costs no queue slot.
        if let Err(err) = precheck(plugin, &request) {
            return CallResult {
                output: Err(err),
                report: CallReport::default(),
            };
        }
        let host = self.clone();
        let plugin = plugin.clone();
        self.inner
            .calls
            .run(move || host.execute(&plugin, &request))
            .await
            .unwrap_or_else(|| CallResult {
                output: Err(PluginError::Host(
                    "the plugin call failed in the host".into(),
                )),
                report: CallReport::default(),
            })
    }

    fn execute(&self, plugin: &Plugin, request: &Request) -> CallResult {
        let started = Instant::now();
        let mut report = CallReport::default();
        let output = self.run(plugin, request, &mut report);
        report.wall_time = started.elapsed();
        let loaded = &plugin.inner;
        for line in &report.log {
            let (id, version, message) = (&loaded.id, &loaded.version, &line.message);
            match line.level {
                "debug" => {
                    tracing::debug!(target: "gatehouse::plugin", plugin = %id, %version, "{message}")
                }
                "warn" | "stderr" => {
                    tracing::warn!(target: "gatehouse::plugin", plugin = %id, %version, stream = line.level, "{message}")
                }
                "error" => {
                    tracing::error!(target: "gatehouse::plugin", plugin = %id, %version, "{message}")
                }
                _ => {
                    tracing::info!(target: "gatehouse::plugin", plugin = %id, %version, stream = line.level, "{message}")
                }
            }
        }
        let outcome = output.as_ref().map_or_else(PluginError::code, |_| "ok");
        crate::metrics::call(
            &loaded.id,
            &loaded.version,
            request.name(),
            outcome,
            report.wall_time,
        );
        match &output {
            Ok(_) => {
                tracing::debug!(plugin = %loaded.id, version = %loaded.version, call = request.name(), duration_us = report.wall_time.as_micros() as u64, "plugin call ok");
            }
            Err(err) => {
                tracing::info!(plugin = %loaded.id, version = %loaded.version, call = request.name(), duration_us = report.wall_time.as_micros() as u64, code = err.code(), error = %err, "plugin call failed");
                if err.is_fault() {
                    self.record_fault(plugin, err);
                }
            }
        }
        CallResult { output, report }
    }

    fn record_fault(&self, plugin: &Plugin, err: &PluginError) {
        let config = &self.inner.config;
        let disabled = plugin.inner.health.record_fault(
            Instant::now(),
            config.fault_limit,
            config.fault_window,
            &err.to_string(),
        );
        if let Some(reason) = disabled {
            tracing::warn!(plugin = %plugin.id(), version = %plugin.version(), %reason, "plugin disabled");
            if let Some(sink) = &config.disable_sink {
                sink.plugin_disabled(plugin.id(), plugin.version(), &reason);
            }
        }
    }

    fn run(
        &self,
        plugin: &Plugin,
        request: &Request,
        report: &mut CallReport,
    ) -> Result<Output, PluginError> {
        precheck(plugin, request)?;
        let limits = plugin.limits();
        let size = request.input_size();
        if size > limits.max_input_bytes {
            return Err(PluginError::InputTooLarge {
                size,
                limit: limits.max_input_bytes,
            });
        }
        let inner = &self.inner;
        let _active = inner.ticker.active();
        let mut store = Store::new(
            &inner.engine,
            CallState::new(limits.memory_bytes, limits.max_log_bytes, limits.deadline),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks(limits.deadline, inner.config.epoch_tick));
        store.epoch_deadline_trap();
        if inner.config.metering {
            store
                .set_fuel(u64::MAX)
                .map_err(|err| PluginError::Host(format!("{err:#}")))?;
        }
        let result = plugin.inner.pre.call(&mut store, request);
        report.peak_memory_bytes = store.data().limiter.peak;
        if inner.config.metering {
            report.fuel_consumed = store.get_fuel().ok().map(|left| u64::MAX - left);
        }
        let (log, truncated) = store.data().log.take();
        report.log = log;
        report.log_truncated = truncated;
        if store
            .data()
            .slept_to_deadline
            .load(std::sync::atomic::Ordering::Acquire)
        {
            // The guest slept until its deadline; whatever it did afterwards is too late.
            return Err(PluginError::Deadline {
                deadline_ms: limits.deadline.as_millis() as u64,
            });
        }
        match result {
            Ok(Ok(mut output)) => {
                validate::output(&mut output, limits.max_output_bytes)?;
                Ok(output)
            }
            Ok(Err(failure)) => Err(PluginError::Plugin(failure)),
            Err(err) => Err(classify(&err, store.data(), &limits)),
        }
    }
}

/// Epoch ticks for a deadline: rounded up, plus one because the first tick may come at any
/// moment within a tick.
fn deadline_ticks(deadline: Duration, tick: Duration) -> u64 {
    let ticks = deadline.as_nanos().div_ceil(tick.as_nanos().max(1));
    u64::try_from(ticks).unwrap_or(u64::MAX - 1).max(1) + 1
}

fn precheck(plugin: &Plugin, request: &Request) -> Result<(), PluginError> {
    if let Some(reason) = plugin.disabled_reason() {
        return Err(PluginError::Disabled {
            plugin: plugin.id().to_owned(),
            reason,
        });
    }
    match request.kind() {
        Some(expected) => expect_kind(plugin, expected),
        None => Ok(()),
    }
}

fn expect_kind(plugin: &Plugin, expected: PluginKind) -> Result<(), PluginError> {
    if plugin.kind() == expected {
        Ok(())
    } else {
        Err(PluginError::WrongKind {
            plugin: plugin.id().to_owned(),
            expected,
            actual: plugin.kind(),
        })
    }
}

fn unexpected(output: Output) -> PluginError {
    PluginError::Host(format!("unexpected output {output:?}"))
}

/// Sorts a failed call: the epoch interrupt is the deadline; a refused memory growth (even if
/// the guest then aborts) is the memory cap; other traps are traps; anything else broke the
/// interface contract (e.g. a string that is not UTF-8).
fn classify(err: &wasmtime::Error, state: &CallState, limits: &Limits) -> PluginError {
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt => PluginError::Deadline {
                deadline_ms: limits.deadline.as_millis() as u64,
            },
            _ if state.limiter.hit => PluginError::Memory {
                limit_bytes: limits.memory_bytes,
            },
            Trap::StackOverflow => PluginError::Trap {
                message: "stack overflow".into(),
            },
            other => PluginError::Trap {
                message: other.to_string(),
            },
        };
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return PluginError::Trap {
            message: format!("the plugin exited with status {}", exit.0),
        };
    }
    if state.limiter.hit {
        return PluginError::Memory {
            limit_bytes: limits.memory_bytes,
        };
    }
    if err
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return PluginError::Host(format!("{err:#}"));
    }
    PluginError::BadOutput {
        message: format!("{err:#}"),
    }
}

/// Benchmark support: a webhook instance kept alive across calls. Production never reuses
/// instances (state would leak between events and tenants); this exists only to measure what
/// fresh instances cost (`cargo bench -p gatehouse-plugin-host`).
#[doc(hidden)]
pub struct ReusedWebhook {
    store: Store<CallState>,
    instance: bindings::v0_1::WebhookInstance,
}

#[doc(hidden)]
impl ReusedWebhook {
    pub fn new(host: &PluginHost, plugin: &Plugin) -> Result<Self, PluginError> {
        let Pre::V0_1(pre) = &plugin.inner.pre;
        let limits = plugin.limits();
        let mut store = Store::new(
            &host.inner.engine,
            CallState::new(limits.memory_bytes, limits.max_log_bytes, limits.deadline),
        );
        store.limiter(|state| &mut state.limiter);
        // Epoch checks stay compiled in; the deadline is pushed far out.
        store.set_epoch_deadline(u64::MAX / 2);
        store.epoch_deadline_trap();
        let instance = pre
            .instantiate_webhook(&mut store)
            .map_err(|err| PluginError::Host(format!("{err:#}")))?;
        Ok(Self { store, instance })
    }

    pub fn transform(
        &mut self,
        event: &str,
        config: &str,
    ) -> Result<TransformOutcome, PluginError> {
        self.instance
            .transform(&mut self.store, event, config)
            .map_err(|err| PluginError::Host(format!("{err:#}")))?
            .map_err(PluginError::Plugin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_plus_one() {
        let ms = Duration::from_millis;
        assert_eq!(deadline_ticks(ms(100), ms(1)), 101);
        assert_eq!(deadline_ticks(ms(5), ms(2)), 4);
        assert_eq!(deadline_ticks(Duration::ZERO, ms(1)), 2);
    }

    #[test]
    fn config_is_validated() {
        let bad = HostConfig {
            max_concurrent_calls: 100,
            pool: PoolConfig {
                max_instances: 10,
                ..PoolConfig::default()
            },
            ..HostConfig::default()
        };
        assert!(matches!(PluginHost::new(bad), Err(HostError::Config(_))));
    }

    /// A component whose every section parses but whose first function body ends in `nop`
    /// instead of `end`: only validation finds it.
    fn invalid_body(wasm: &[u8]) -> Vec<u8> {
        use wasmparser::{Parser, Payload};
        let end = Parser::new(0)
            .parse_all(wasm)
            .find_map(|payload| match payload.unwrap() {
                Payload::CodeSectionEntry(body) => Some(body.range().end),
                _ => None,
            })
            .expect("a function body");
        assert_eq!(wasm[end - 1], 0x0b, "bodies end with `end`");
        let mut out = wasm.to_vec();
        out[end - 1] = 0x01; // `nop`
        out
    }

    fn small_host(cache_dir: Option<std::path::PathBuf>) -> PluginHost {
        PluginHost::new(HostConfig {
            cache_dir,
            max_concurrent_calls: 2,
            pool: PoolConfig {
                max_instances: 4,
                ..PoolConfig::default()
            },
            ..HostConfig::default()
        })
        .unwrap()
    }

    fn cloudevents() -> &'static [u8] {
        crate::builtin::builtin_plugins()
            .iter()
            .find(|b| b.kind == PluginKind::Webhook)
            .expect("a built-in webhook transform")
            .wasm
    }

    #[test]
    fn validates_before_compiling_with_or_without_a_cache() {
        let bad = invalid_body(cloudevents());
        assert!(matches!(inspect::inspect(&bad), Err(LoadError::Invalid(_))));
        let dir = tempfile::tempdir().unwrap();
        for cache_dir in [None, Some(dir.path().join("cache"))] {
            let host = small_host(cache_dir.clone());
            let err = host
                .load_blocking(&PluginSpec::new("bad", "1.0.0", bad.clone()))
                .unwrap_err();
            assert!(matches!(err, LoadError::Invalid(_)), "{err:?}");
            if let Some(cache) = cache_dir {
                let cached = std::fs::read_dir(&cache).map_or(0, |d| d.count());
                assert_eq!(cached, 0, "nothing compiled, nothing cached");
            }
        }
    }

    #[test]
    fn a_validation_note_counts_only_for_the_bytes_it_names() {
        let good = cloudevents();
        let bad = invalid_body(good);
        let host = small_host(None);
        // Noted for other bytes: validated as usual, refused before compiling.
        let spec = PluginSpec::new("bad", "1.0.0", bad.clone()).validated(&sha256_hex(good));
        assert!(matches!(
            host.load_blocking(&spec),
            Err(LoadError::Invalid(_))
        ));
        // Noted for these bytes: our validation is skipped (wasmtime's compiler still refuses
        // them, as a compile error rather than ours).
        let spec = PluginSpec::new("bad", "1.0.0", bad.clone()).validated(&sha256_hex(&bad));
        let err = host.load_blocking(&spec).unwrap_err();
        assert!(matches!(err, LoadError::Compile(_)), "{err:?}");
        // And a noted valid component loads.
        let spec = PluginSpec::new("good", "1.0.0", good.to_vec()).validated(&sha256_hex(good));
        assert!(host.load_blocking(&spec).is_ok());
    }
}
