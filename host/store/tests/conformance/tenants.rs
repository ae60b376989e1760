use gatehouse_core::{
    StoreError,
    page::{Order, PageRequest},
    store::{AuditStore, TenantStore},
    sync::{ObjectKind, SyncRef, SyncState},
    tenant::TenantStatus,
};

use crate::backends::{change, for_each_backend, tenant};

#[tokio::test]
async fn tenant_crud_round_trips() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = tenant("acme");
        s.insert_tenant(&t, &change("tenant.created", Some(&t.id)))
            .await
            .unwrap();
        let got = s.get_tenant(&t.id).await.unwrap().expect("stored");
        assert_eq!(got, t, "{}", b.name);

        let mut updated = got.clone();
        updated.name = "Acme Corp".into();
        updated.status = TenantStatus::Suspended;
        updated.domains = vec!["acme.test".into(), "acme.example".into()];
        s.update_tenant(&updated, &change("tenant.updated", Some(&t.id)))
            .await
            .unwrap();
        assert_eq!(
            s.get_tenant(&t.id).await.unwrap().unwrap(),
            updated,
            "{}",
            b.name
        );

        s.delete_tenant(&t.id, &change("tenant.deleted", Some(&t.id)))
            .await
            .unwrap();
        assert!(s.get_tenant(&t.id).await.unwrap().is_none());
        let missing = s
            .delete_tenant(&t.id, &change("tenant.deleted", Some(&t.id)))
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound)),
            "{}: {missing:?}",
            b.name
        );
        let missing = s
            .update_tenant(&updated, &change("tenant.updated", Some(&t.id)))
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn duplicate_slug_is_a_named_unique_violation_and_writes_nothing() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let first = tenant("dup");
        s.insert_tenant(&first, &change("tenant.created", Some(&first.id)))
            .await
            .unwrap();
        let second = tenant("dup");
        let err = s
            .insert_tenant(&second, &change("tenant.created", Some(&second.id)))
            .await
            .unwrap_err();
        assert!(err.is_unique("tenants.slug"), "{}: {err:?}", b.name);
        // The failed insert's audit entry rolled back with it.
        let filter = gatehouse_core::audit::AuditFilter {
            tenant_id: Some(second.id.clone()),
            ..Default::default()
        };
        let audit = s
            .list_audit(&filter, &PageRequest::default())
            .await
            .unwrap();
        assert!(audit.data.is_empty(), "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn listing_pages_by_cursor_in_both_orders() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let mut ids = Vec::new();
        for i in 0..5 {
            let t = tenant(&format!("page-{i}"));
            s.insert_tenant(&t, &change("tenant.created", Some(&t.id)))
                .await
                .unwrap();
            ids.push(t.id);
        }
        ids.sort();
        for order in [Order::Asc, Order::Desc] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = PageRequest::new(Some(2), after.clone(), Some(order)).unwrap();
                let got = s.list_tenants(&page).await.unwrap();
                assert!(got.data.len() <= 2);
                seen.extend(got.data.into_iter().map(|t| t.id));
                match got.after {
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
            }
            let mut expected = ids.clone();
            if order == Order::Desc {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{} {order:?}", b.name);
        }
    })
    .await;
}

#[tokio::test]
async fn changes_mark_objects_for_sync() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = tenant("sync");
        let c = change("tenant.created", Some(&t.id)).resync(SyncRef::upsert(
            ObjectKind::Tenant,
            &t.id,
            Some(&t.id),
        ));
        s.insert_tenant(&t, &c).await.unwrap();
        let got = s.get_tenant(&t.id).await.unwrap().unwrap();
        assert_eq!(got.sync.state, SyncState::Pending, "{}", b.name);
        assert_eq!(got.sync.attempts, 0);
        // A second change to the same object is an upsert, not a duplicate-key failure.
        let c = change("tenant.updated", Some(&t.id)).resync(SyncRef::upsert(
            ObjectKind::Tenant,
            &t.id,
            Some(&t.id),
        ));
        s.update_tenant(&got, &c).await.unwrap();
    })
    .await;
}
