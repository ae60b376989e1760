use gatehouse_core::{
    StoreError, Timestamp,
    app::{App, AppType},
    id::{AppId, TenantId},
    page::PageRequest,
    secret::{Keyring, MasterKey},
    store::{AppStore, TenantStore},
    sync::SyncStatus,
};

use crate::backends::{change, for_each_backend, tenant};

fn app(tenant: &TenantId, name: &str) -> App {
    let now = Timestamp::now();
    App {
        id: AppId::generate(),
        tenant_id: tenant.clone(),
        name: name.into(),
        app_type: AppType::Web,
        redirect_uris: vec!["https://app.example/cb".into()],
        post_logout_redirect_uris: vec![],
        dev_mode: false,
        client_id: None,
        has_client_secret: false,
        created_at: now,
        updated_at: now,
        sync: SyncStatus::pending(),
    }
}

#[tokio::test]
async fn apps_belong_to_one_tenant() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t1 = tenant("apps-one");
        let t2 = tenant("apps-two");
        for t in [&t1, &t2] {
            s.insert_tenant(t, &change("tenant.created", Some(&t.id)))
                .await
                .unwrap();
        }
        let a = app(&t1.id, "portal");
        s.insert_app(&a, &change("app.created", Some(&t1.id)))
            .await
            .unwrap();
        assert_eq!(
            s.get_app(&t1.id, &a.id).await.unwrap().unwrap(),
            a,
            "{}",
            b.name
        );
        // Reading through the wrong tenant finds nothing.
        assert!(
            s.get_app(&t2.id, &a.id).await.unwrap().is_none(),
            "{}",
            b.name
        );
        // Same name in another tenant is fine; in the same tenant it is a named conflict.
        s.insert_app(&app(&t2.id, "portal"), &change("app.created", Some(&t2.id)))
            .await
            .unwrap();
        let err = s
            .insert_app(&app(&t1.id, "portal"), &change("app.created", Some(&t1.id)))
            .await
            .unwrap_err();
        assert!(
            err.is_unique("apps.tenant_id, apps.name"),
            "{}: {err:?}",
            b.name
        );
        // Unknown tenant: foreign key.
        let orphan = app(&TenantId::generate(), "orphan");
        let err = s
            .insert_app(&orphan, &change("app.created", None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ForeignKeyViolation),
            "{}: {err:?}",
            b.name
        );

        let mut updated = a.clone();
        updated
            .redirect_uris
            .push("http://localhost:3000/cb".into());
        updated.dev_mode = true;
        s.update_app(&updated, &change("app.updated", Some(&t1.id)))
            .await
            .unwrap();
        assert_eq!(
            s.get_app(&t1.id, &a.id).await.unwrap().unwrap(),
            updated,
            "{}",
            b.name
        );
        let page = s.list_apps(&t1.id, &PageRequest::default()).await.unwrap();
        assert_eq!(page.data.len(), 1);

        // Deleting the tenant takes its apps along.
        s.delete_tenant(&t1.id, &change("tenant.deleted", Some(&t1.id)))
            .await
            .unwrap();
        assert!(s.get_app(&t1.id, &a.id).await.unwrap().is_none());
        let err = s
            .delete_app(&t1.id, &a.id, &change("app.deleted", Some(&t1.id)))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn client_secret_is_revealed_exactly_once() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let ring = Keyring::new(MasterKey::generate(), vec![]);
        let t = tenant("secrets");
        s.insert_tenant(&t, &change("tenant.created", Some(&t.id)))
            .await
            .unwrap();
        let a = app(&t.id, "web");
        s.insert_app(&a, &change("app.created", Some(&t.id)))
            .await
            .unwrap();
        assert!(
            s.take_app_secret(&t.id, &a.id, Timestamp::now())
                .await
                .unwrap()
                .is_none()
        );

        let sealed = ring.seal(b"first-secret", "ctx");
        s.set_app_credentials(&t.id, &a.id, "client-1", Some(&sealed))
            .await
            .unwrap();
        let got = s.get_app(&t.id, &a.id).await.unwrap().unwrap();
        assert_eq!(got.client_id.as_deref(), Some("client-1"), "{}", b.name);
        assert!(got.has_client_secret);

        let taken = s
            .take_app_secret(&t.id, &a.id, Timestamp::now())
            .await
            .unwrap()
            .expect("first reveal");
        assert_eq!(ring.open(&taken, "ctx").unwrap(), b"first-secret");
        assert!(
            s.take_app_secret(&t.id, &a.id, Timestamp::now())
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );

        // Updating the client id alone keeps the (revealed) secret; a new secret is revealable.
        s.set_app_credentials(&t.id, &a.id, "client-1", None)
            .await
            .unwrap();
        assert!(
            s.take_app_secret(&t.id, &a.id, Timestamp::now())
                .await
                .unwrap()
                .is_none()
        );
        let rotated = ring.seal(b"second-secret", "ctx");
        s.set_app_credentials(&t.id, &a.id, "client-1", Some(&rotated))
            .await
            .unwrap();
        let taken = s
            .take_app_secret(&t.id, &a.id, Timestamp::now())
            .await
            .unwrap()
            .expect("second");
        assert_eq!(ring.open(&taken, "ctx").unwrap(), b"second-secret");

        s.request_secret_rotation(&t.id, &a.id, &change("app.secret_rotated", Some(&t.id)))
            .await
            .unwrap();
        let err = s
            .set_app_credentials(&t.id, &AppId::generate(), "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound));
    })
    .await;
}
