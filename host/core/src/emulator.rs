//! Persistence for the embedded ZITADEL emulator: it keeps its state as one document (its own
//! table), so `make run` survives restarts without the emulator knowing the database.

use async_trait::async_trait;

use crate::store::StoreResult;

#[async_trait]
pub trait EmulatorStateStore: Send + Sync {
    /// The last saved state document, if any.
    async fn load_emulator_state(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Replaces the saved state document.
    async fn save_emulator_state(&self, state: &[u8]) -> StoreResult<()>;
}
