use gatehouse_core::{emulator::EmulatorStateStore, store::Health};

use crate::backends::for_each_backend;

#[tokio::test]
async fn migrations_are_current_and_idempotent() {
    for_each_backend(|b| async move {
        let s = &b.store;
        assert_eq!(s.pending_migrations().await.unwrap(), 0, "{}", b.name);
        let again = s.migrate().await.unwrap();
        assert!(again.applied.is_empty(), "{}", b.name);
        assert!(again.total >= 1);
        s.ping().await.unwrap();
        assert_eq!(s.backend(), b.name);
    })
    .await;
}

#[tokio::test]
async fn emulator_state_is_one_document() {
    for_each_backend(|b| async move {
        let s = &b.store;
        assert!(s.load_emulator_state().await.unwrap().is_none());
        s.save_emulator_state(b"{\"v\":1}").await.unwrap();
        s.save_emulator_state(b"{\"v\":2}").await.unwrap();
        assert_eq!(
            s.load_emulator_state().await.unwrap().unwrap(),
            b"{\"v\":2}",
            "{}",
            b.name
        );
    })
    .await;
}
