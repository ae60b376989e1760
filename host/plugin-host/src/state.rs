//! The per-call store data: an empty WASI context whose stdout/stderr feed the capped log, a
//! memory limiter that records the peak, and the deadline that bounds guest sleeps.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use wasmtime::{
    ResourceLimiter,
    component::{Linker, Resource, ResourceTable},
};
use wasmtime_wasi::{
    WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
    cli::{IsTerminal, StdoutStream},
    p2::{DynPollable, OutputStream, Pollable, StreamResult},
};

use crate::call::LogLine;

/// WASI randomness a call may request at once (the default is far larger).
const MAX_RANDOM_BYTES: u64 = 64 * 1024;

pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) log: SharedLog,
    /// Guest sleeps end by then at the latest (the epoch deadline then traps the call).
    deadline_at: tokio::time::Instant,
    /// Origin of the guest's monotonic clock.
    clock_origin: std::time::Instant,
    /// Set when a guest sleep was cut short at the deadline: the call has run out of time
    /// even if the epoch ticker (a separate clock) has not caught up yet.
    pub(crate) slept_to_deadline: Arc<AtomicBool>,
}

impl CallState {
    pub(crate) fn new(memory_cap: u64, max_log_bytes: usize, deadline: Duration) -> Self {
        let log = SharedLog::new(max_log_bytes);
        let clock_origin = std::time::Instant::now();
        let wasi = WasiCtxBuilder::new()
            .monotonic_clock(GuestClock(clock_origin))
            .stdout(LogStream {
                log: log.clone(),
                level: "stdout",
            })
            .stderr(LogStream {
                log: log.clone(),
                level: "stderr",
            })
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
            log,
            // A little slack so the epoch deadline, not the clock, ends a sleeping call.
            deadline_at: tokio::time::Instant::now() + deadline + Duration::from_millis(2),
            clock_origin,
            slept_to_deadline: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory (and tables) of one instance and remembers the peak.
pub(crate) struct MemoryLimiter {
    cap: u64,
    pub(crate) peak: u64,
    pub(crate) hit: bool,
}

impl MemoryLimiter {
    fn new(cap: u64) -> Self {
        Self {
            cap,
            peak: 0,
            hit: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.cap {
            self.hit = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired as u64);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        4
    }

    fn tables(&self) -> usize {
        16
    }
}

/// The per-call log, shared by the `log` import and the stdio streams; bytes past the cap are
/// dropped and the truncation is recorded.
#[derive(Clone)]
pub(crate) struct SharedLog(Arc<Mutex<LogBuffer>>);

#[derive(Default)]
pub(crate) struct LogBuffer {
    pub(crate) lines: Vec<LogLine>,
    pub(crate) bytes: usize,
    pub(crate) cap: usize,
    pub(crate) truncated: bool,
}

impl SharedLog {
    fn new(cap: usize) -> Self {
        Self(Arc::new(Mutex::new(LogBuffer {
            cap,
            ..LogBuffer::default()
        })))
    }

    fn lock(&self) -> MutexGuard<'_, LogBuffer> {
        // A poisoned log only means a panic elsewhere mid-write; the data is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn push(&self, level: &'static str, message: &[u8]) {
        let mut log = self.lock();
        let room = log.cap.saturating_sub(log.bytes);
        if room == 0 {
            log.truncated |= !message.is_empty();
            return;
        }
        let take = message.len().min(room);
        if take < message.len() {
            log.truncated = true;
        }
        let text = String::from_utf8_lossy(&message[..take]).into_owned();
        log.bytes += take;
        // Consecutive stdio writes (often one per line fragment) join into one entry.
        match log.lines.last_mut() {
            Some(last) if last.level == level && level.starts_with("std") => {
                last.message.push_str(&text);
            }
            _ => log.lines.push(LogLine {
                level,
                message: text,
            }),
        }
    }

    pub(crate) fn take(&self) -> (Vec<LogLine>, bool) {
        let mut log = self.lock();
        (std::mem::take(&mut log.lines), log.truncated)
    }
}

/// stdout/stderr of a plugin: always ready, never blocks, never fails; writes past the cap
/// vanish.
struct LogStream {
    log: SharedLog,
    level: &'static str,
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LogWriter {
            log: self.log.clone(),
            level: self.level,
        })
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LogWriter {
            log: self.log.clone(),
            level: self.level,
        })
    }
}

struct LogWriter {
    log: SharedLog,
    level: &'static str,
}

impl OutputStream for LogWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.log.push(self.level, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogWriter {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.log.push(self.level, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The guest's monotonic clock: nanoseconds since the call started (so `subscribe-instant`
/// can convert the guest's instants back).
struct GuestClock(std::time::Instant);

impl wasmtime_wasi::HostMonotonicClock for GuestClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// A guest sleep, cut short at the call's deadline.
struct CappedSleep {
    until: tokio::time::Instant,
    /// `Some` when `until` is the deadline rather than what the guest asked for.
    capped: Option<Arc<AtomicBool>>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedSleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.until).await;
        if let Some(flag) = &self.capped {
            flag.store(true, Ordering::Release);
        }
    }
}

/// The version of `wasi:clocks` wasmtime-wasi 48 provides (guests importing any 0.2.x link
/// against it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Links WASI p2 over the empty context, then replaces the monotonic clock's `subscribe-*`
/// so that no guest sleep outlives the call's deadline: a sleeping guest blocks in the host,
/// where epoch interruption cannot reach it.
pub(crate) fn add_wasi(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: wasmtime::StoreContextMut<'_, CallState>, (nanos,): (u64,)| {
            let state = store.data_mut();
            let wanted = tokio::time::Instant::now().checked_add(Duration::from_nanos(nanos));
            Ok((subscribe_sleep(state, wanted)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: wasmtime::StoreContextMut<'_, CallState>, (when,): (u64,)| {
            let state = store.data_mut();
            let now_nanos = state.clock_origin.elapsed().as_nanos() as u64;
            let wait = Duration::from_nanos(when.saturating_sub(now_nanos));
            let wanted = tokio::time::Instant::now().checked_add(wait);
            Ok((subscribe_sleep(state, wanted)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A pollable for a sleep until `wanted` (`None`: beyond representable time), ending at the
/// call's deadline at the latest.
fn subscribe_sleep(
    state: &mut CallState,
    wanted: Option<tokio::time::Instant>,
) -> wasmtime::Result<Resource<DynPollable>> {
    let sleep = match wanted {
        Some(until) if until <= state.deadline_at => CappedSleep {
            until,
            capped: None,
        },
        _ => CappedSleep {
            until: state.deadline_at,
            capped: Some(state.slept_to_deadline.clone()),
        },
    };
    let sleep = state.table.push(sleep)?;
    wasmtime_wasi::p2::subscribe(&mut state.table, sleep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_caps_and_joins_stdio() {
        let log = SharedLog::new(10);
        log.push("stdout", b"abc");
        log.push("stdout", b"def");
        log.push("info", b"ghijkl");
        log.push("info", b"more");
        let (lines, truncated) = log.take();
        assert!(truncated);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].message, "abcdef");
        assert_eq!(lines[1].message, "ghij");
    }

    #[test]
    fn limiter_records_peak_and_refuses_past_the_cap() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 65536, None).unwrap());
        assert!(limiter.memory_growing(65536, 1 << 20, None).unwrap());
        assert!(
            !limiter
                .memory_growing(1 << 20, (1 << 20) + 65536, None)
                .unwrap()
        );
        assert_eq!(limiter.peak, 1 << 20);
        assert!(limiter.hit);
    }
}
