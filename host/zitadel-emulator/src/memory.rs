//! An in-memory [`EmulatorStateStore`] for tests (the server uses `host/store`'s SQL one).

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use async_trait::async_trait;
use gatehouse_core::{StoreError, emulator::EmulatorStateStore, store::StoreResult};

#[derive(Debug, Default)]
pub struct MemoryStateStore {
    doc: Mutex<Option<Vec<u8>>>,
    failing: AtomicBool,
    saves: AtomicUsize,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every following save fail with `Unavailable` (to test that failures change
    /// nothing), or succeed again.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many saves succeeded.
    pub fn saves(&self) -> usize {
        self.saves.load(Ordering::SeqCst)
    }

    /// The saved document, if any.
    pub fn document(&self) -> Option<Vec<u8>> {
        self.doc.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl EmulatorStateStore for MemoryStateStore {
    async fn load_emulator_state(&self) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.document())
    }

    async fn save_emulator_state(&self, state: &[u8]) -> StoreResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("memory store set to fail".into()));
        }
        *self.doc.lock().unwrap_or_else(|p| p.into_inner()) = Some(state.to_vec());
        self.saves.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
