use std::time::Duration;

use gatehouse_core::{
    Timestamp,
    admin::{AdminClient, AdminSession, AdminStore},
    audit::AuditFilter,
    page::PageRequest,
    secret::Sealed,
    store::AuditStore,
};

use crate::backends::{change, for_each_backend};

fn client(client_id: &str) -> AdminClient {
    AdminClient {
        issuer: "http://127.0.0.1:8080/zitadel".into(),
        org_id: "org1".into(),
        project_id: "p1".into(),
        app_id: "a1".into(),
        client_id: client_id.into(),
        client_secret: Sealed::from_stored(format!("gh1.k.{client_id}.x")),
        redirect_uri: "http://127.0.0.1:8080/admin/callback".into(),
        post_logout_redirect_uri: "http://127.0.0.1:8080/admin/".into(),
        updated_at: Timestamp::from_unix_millis(1_700_000_000_000),
    }
}

fn session(now: Timestamp) -> AdminSession {
    AdminSession {
        user_id: "3141".into(),
        name: "Ada Admin".into(),
        email: Some("ada@example.com".into()),
        org_id: "org1".into(),
        id_token: Some(Sealed::from_stored("gh1.k.token.x".into())),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3600)),
        last_seen_at: now,
    }
}

async fn audit_actions(s: &dyn AuditStore) -> Vec<String> {
    s.list_audit(&AuditFilter::default(), &PageRequest::default())
        .await
        .unwrap()
        .data
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn registration_lease_is_exclusive_and_saving_needs_it() {
    for_each_backend(|b| async move {
        let s = &b.store;
        assert_eq!(s.get_admin_client().await.unwrap(), None, "{}", b.name);
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let until = now.plus(Duration::from_secs(60));
        assert!(
            s.claim_admin_client_registration("a", now, until)
                .await
                .unwrap()
        );
        // A lease row alone is no registration.
        assert_eq!(s.get_admin_client().await.unwrap(), None);
        // Held by a: b is refused, a may renew.
        assert!(
            !s.claim_admin_client_registration("b", now, until)
                .await
                .unwrap()
        );
        assert!(
            s.claim_admin_client_registration("a", now, until)
                .await
                .unwrap()
        );
        // Only the holder saves.
        assert!(!s.save_admin_client(&client("from-b"), "b").await.unwrap());
        assert!(s.save_admin_client(&client("from-a"), "a").await.unwrap());
        assert_eq!(s.get_admin_client().await.unwrap(), Some(client("from-a")));
        // Saving released the lease: a second save by a is refused, b may claim now.
        assert!(!s.save_admin_client(&client("again"), "a").await.unwrap());
        assert!(
            s.claim_admin_client_registration("b", now, until)
                .await
                .unwrap()
        );
        // An expired lease is taken over.
        let later = until.plus(Duration::from_millis(1));
        assert!(
            s.claim_admin_client_registration("c", later, later.plus(Duration::from_secs(60)))
                .await
                .unwrap()
        );
        assert!(!s.save_admin_client(&client("late-b"), "b").await.unwrap());
        assert!(s.save_admin_client(&client("from-c"), "c").await.unwrap());
        assert_eq!(
            s.get_admin_client().await.unwrap().unwrap().client_id,
            "from-c"
        );
    })
    .await;
}

#[tokio::test]
async fn admin_user_provisioning_is_recorded_once() {
    for_each_backend(|b| async move {
        let s = &b.store;
        assert!(!s.admin_user_provisioned().await.unwrap(), "{}", b.name);
        let now = Timestamp::now();
        assert!(s.mark_admin_user_provisioned(now).await.unwrap());
        assert!(s.admin_user_provisioned().await.unwrap());
        assert!(!s.mark_admin_user_provisioned(now).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn sessions_are_found_by_hash_touched_ended_and_purged() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let now = Timestamp::from_unix_millis(Timestamp::now().unix_millis());
        let hash = [7u8; 32];
        let stored = session(now);
        s.insert_admin_session(&hash, &stored, &change("admin.signed_in", None))
            .await
            .unwrap();
        assert_eq!(
            s.find_admin_session(&hash).await.unwrap(),
            Some(stored.clone()),
            "{}",
            b.name
        );
        assert_eq!(s.find_admin_session(&[8u8; 32]).await.unwrap(), None);

        // Touch moves last_seen forward only.
        let later = now.plus(Duration::from_secs(30));
        s.touch_admin_session(&hash, later).await.unwrap();
        s.touch_admin_session(&hash, now).await.unwrap();
        assert_eq!(
            s.find_admin_session(&hash)
                .await
                .unwrap()
                .unwrap()
                .last_seen_at,
            later
        );

        // Ending is audited once; ending a missing session writes nothing.
        assert!(
            s.end_admin_session(&hash, &change("admin.signed_out", None))
                .await
                .unwrap()
        );
        assert_eq!(s.find_admin_session(&hash).await.unwrap(), None);
        assert!(
            !s.end_admin_session(&hash, &change("admin.signed_out", None))
                .await
                .unwrap()
        );
        s.record_admin_audit(&change("admin.sign_in_refused", None))
            .await
            .unwrap();
        let actions = audit_actions(s).await;
        assert!(actions.contains(&"admin.signed_in".to_owned()));
        assert!(actions.contains(&"admin.sign_in_refused".to_owned()));
        assert_eq!(
            actions.iter().filter(|a| *a == "admin.signed_out").count(),
            1
        );

        // Purge: expired and idle sessions go, active ones stay.
        let fresh = [1u8; 32];
        let expired = [2u8; 32];
        let idle = [3u8; 32];
        s.insert_admin_session(&fresh, &session(now), &change("admin.signed_in", None))
            .await
            .unwrap();
        let mut old = session(now);
        old.expires_at = now;
        s.insert_admin_session(&expired, &old, &change("admin.signed_in", None))
            .await
            .unwrap();
        let mut quiet = session(now);
        quiet.last_seen_at = now.minus(Duration::from_secs(3000));
        s.insert_admin_session(&idle, &quiet, &change("admin.signed_in", None))
            .await
            .unwrap();
        let purged = s
            .purge_admin_sessions(now, now.minus(Duration::from_secs(1800)))
            .await
            .unwrap();
        assert_eq!(purged, 2);
        assert!(s.find_admin_session(&fresh).await.unwrap().is_some());
        assert!(s.find_admin_session(&expired).await.unwrap().is_none());
        assert!(s.find_admin_session(&idle).await.unwrap().is_none());
    })
    .await;
}
