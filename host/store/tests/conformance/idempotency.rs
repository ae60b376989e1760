use gatehouse_core::{
    Timestamp,
    idempotency::{Claim, StoredResponse},
    store::IdempotencyStore,
};

use crate::backends::for_each_backend;

#[tokio::test]
async fn idempotency_keys_replay_mismatch_and_release() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let now = Timestamp::now();
        assert_eq!(
            s.claim_idempotency_key("key_a", "k1", "fp1", now)
                .await
                .unwrap(),
            Claim::Fresh
        );
        assert_eq!(
            s.claim_idempotency_key("key_a", "k1", "fp1", now)
                .await
                .unwrap(),
            Claim::InFlight,
            "{}",
            b.name
        );
        assert_eq!(
            s.claim_idempotency_key("key_a", "k1", "fp2", now)
                .await
                .unwrap(),
            Claim::Mismatch
        );
        // Scoped per caller.
        assert_eq!(
            s.claim_idempotency_key("key_b", "k1", "fp1", now)
                .await
                .unwrap(),
            Claim::Fresh
        );

        let response = StoredResponse {
            status: 201,
            content_type: Some("application/json".into()),
            body: b"{\"ok\":true}".to_vec(),
        };
        s.complete_idempotency_key("key_a", "k1", &response)
            .await
            .unwrap();
        assert_eq!(
            s.claim_idempotency_key("key_a", "k1", "fp1", now)
                .await
                .unwrap(),
            Claim::Replay(response),
            "{}",
            b.name
        );

        s.release_idempotency_key("key_b", "k1").await.unwrap();
        assert_eq!(
            s.claim_idempotency_key("key_b", "k1", "fp9", now)
                .await
                .unwrap(),
            Claim::Fresh
        );
        // Completed keys are not released by a failing retry.
        s.release_idempotency_key("key_a", "k1").await.unwrap();
        assert!(matches!(
            s.claim_idempotency_key("key_a", "k1", "fp1", now)
                .await
                .unwrap(),
            Claim::Replay(_)
        ));

        let purged = s
            .purge_idempotency_keys(now.plus(std::time::Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(purged, 2, "{}", b.name);
    })
    .await;
}
