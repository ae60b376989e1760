use async_trait::async_trait;
use gatehouse_core::{Timestamp, emulator::EmulatorStateStore, store::StoreResult};

use crate::{SqlStore, error::interpret};

#[async_trait]
impl EmulatorStateStore for SqlStore {
    async fn load_emulator_state(&self) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT state FROM emulator_state WHERE id = 1")
            .fetch_optional(self.reader())
            .await
            .map_err(interpret)
    }

    async fn save_emulator_state(&self, state: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO emulator_state (id, state, updated_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(state.to_vec())
        .bind(Timestamp::now().unix_millis())
        .execute(self.writer())
        .await
        .map_err(interpret)?;
        Ok(())
    }
}
