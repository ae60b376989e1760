//! The one wasmtime engine and the epoch ticker that enforces deadlines.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::{error::HostError, host::PoolConfig, limits::Limits};

/// Wasm stack for one call (native stack used by wasm frames); deeper recursion traps.
const MAX_WASM_STACK: usize = 512 * 1024;

pub(crate) fn build(pool: &PoolConfig, metering: bool) -> Result<Engine, HostError> {
    if pool.max_instances == 0 {
        return Err(HostError::Config(
            "pool.max_instances must be at least 1".into(),
        ));
    }
    let instances = pool.max_instances;
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(instances)
        // A Rust component holds its main module plus a few shim modules.
        .total_core_instances(instances.saturating_mul(8))
        .max_core_instances_per_component(16)
        // One linear memory per Rust component; the pool reserves address space per memory.
        .total_memories(instances)
        .max_memories_per_component(2)
        .total_tables(instances.saturating_mul(4))
        .max_tables_per_component(8)
        .max_memory_size(Limits::largest_memory_bytes() as usize)
        // Keep the first pages of each slot mapped: a fresh instance then costs a memset
        // instead of page faults (docs/performance.md).
        .linear_memory_keep_resident(pool.keep_resident_bytes)
        .table_keep_resident(64 * 1024)
        // Where the kernel can tell (Linux 6.7+), reset only the pages a call dirtied instead
        // of the whole resident prefix.
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(metering)
        .max_wasm_stack(MAX_WASM_STACK)
        .memory_reservation(pool.memory_reservation)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(|err| HostError::Engine(format!("{err:#}")))
}

/// Increments the engine's epoch every `tick` while calls are running; parks when idle.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> Result<Self, HostError> {
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::Builder::new()
            .name("gatehouse-plugin-epoch".into())
            .spawn({
                let stop = stop.clone();
                let active = active.clone();
                move || run(engine, tick, &stop, &active)
            })
            .map_err(|err| HostError::Engine(format!("starting the epoch ticker: {err}")))?;
        Ok(Self {
            stop,
            active,
            thread: Some(thread),
        })
    }

    /// Marks a call running until the guard drops (wakes the ticker if it was idle).
    pub(crate) fn active(&self) -> ActiveGuard<'_> {
        if self.active.fetch_add(1, Ordering::AcqRel) == 0
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
        }
        ActiveGuard(&self.active)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

pub(crate) struct ActiveGuard<'a>(&'a AtomicUsize);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

// A dedicated OS thread, not a task: it must tick even when every runtime thread is busy.
#[allow(clippy::disallowed_methods)]
fn run(engine: Engine, tick: Duration, stop: &AtomicBool, active: &AtomicUsize) {
    let mut next = Instant::now() + tick;
    while !stop.load(Ordering::Acquire) {
        if active.load(Ordering::Acquire) == 0 {
            std::thread::park_timeout(Duration::from_millis(250));
            next = Instant::now() + tick;
            continue;
        }
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        engine.increment_epoch();
        // Schedule from the previous tick, not from now, so oversleeping does not drift;
        // after a long stall, restart the schedule instead of bursting.
        next += tick;
        if next + tick < Instant::now() {
            next = Instant::now() + tick;
        }
    }
}
