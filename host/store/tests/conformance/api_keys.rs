use gatehouse_core::{
    StoreError, Timestamp,
    api_key::{ApiKey, KeyScope, NewToken},
    id::{ApiKeyId, TenantId},
    page::PageRequest,
    store::{ApiKeyStore, TenantStore},
};

use crate::backends::{change, for_each_backend, tenant};

fn key(scope: KeyScope, tenant: Option<&TenantId>) -> (ApiKey, NewToken) {
    let token = NewToken::generate();
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name: "ci".into(),
        scope,
        tenant_id: tenant.cloned(),
        token_prefix: token.display_prefix.clone(),
        created_at: Timestamp::now(),
        last_used_at: None,
        revoked_at: None,
    };
    (key, token)
}

#[tokio::test]
async fn keys_are_found_by_hash_listed_by_tenant_and_revoked() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = tenant("keys");
        s.insert_tenant(&t, &change("tenant.created", Some(&t.id)))
            .await
            .unwrap();
        let (platform, platform_token) = key(KeyScope::Platform, None);
        let (scoped, _) = key(KeyScope::Tenant, Some(&t.id));
        s.insert_api_key(
            &platform,
            &platform_token.hash,
            &change("api_key.created", None),
        )
        .await
        .unwrap();
        s.insert_api_key(
            &scoped,
            &NewToken::generate().hash,
            &change("api_key.created", Some(&t.id)),
        )
        .await
        .unwrap();

        let found = s
            .find_api_key_by_hash(&platform_token.hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, platform, "{}", b.name);
        assert!(s.find_api_key_by_hash(&[0u8; 32]).await.unwrap().is_none());

        let all = s
            .list_api_keys(None, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(all.data.len(), 2);
        let only = s
            .list_api_keys(Some(&t.id), &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(only.data, vec![scoped.clone()], "{}", b.name);

        let now = Timestamp::now();
        s.touch_api_key(&platform.id, now).await.unwrap();
        s.revoke_api_key(&platform.id, now, &change("api_key.revoked", None))
            .await
            .unwrap();
        let revoked = s.get_api_key(&platform.id).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(now));
        assert_eq!(revoked.last_used_at, Some(now));
        let twice = s
            .revoke_api_key(&platform.id, now, &change("api_key.revoked", None))
            .await;
        assert!(matches!(twice, Err(StoreError::NotFound)), "{}", b.name);

        // Tenant keys go with their tenant.
        s.delete_tenant(&t.id, &change("tenant.deleted", Some(&t.id)))
            .await
            .unwrap();
        assert!(
            s.get_api_key(&scoped.id).await.unwrap().is_none(),
            "{}",
            b.name
        );
    })
    .await;
}

#[tokio::test]
async fn bootstrap_key_is_issued_once() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let (k1, t1) = key(KeyScope::Platform, None);
        let (k2, t2) = key(KeyScope::Platform, None);
        assert!(
            s.insert_bootstrap_key(&k1, &t1.hash, &change("api_key.created", None))
                .await
                .unwrap()
        );
        assert!(
            !s.insert_bootstrap_key(&k2, &t2.hash, &change("api_key.created", None))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(s.get_api_key(&k2.id).await.unwrap().is_none());
    })
    .await;
}
