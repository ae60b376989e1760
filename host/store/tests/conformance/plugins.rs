use gatehouse_core::{
    StoreError, Timestamp,
    audit::AuditFilter,
    event::EventFilter,
    id::WebhookEndpointId,
    page::PageRequest,
    plugin::{InstalledPlugin, PluginKind, PluginLimits, PluginStore, TrustStore, TrustedKey},
    secret::Sealed,
    store::{AuditStore, EventStore, TenantStore},
    webhook::{Transform, WebhookEndpoint, WebhookStore},
};
use serde_json::json;

use crate::backends::{change, for_each_backend, tenant};

fn plugin(id: &str, version: &str, signer: Option<&str>) -> InstalledPlugin {
    let at = Timestamp::from_unix_millis(1_700_000_000_000);
    InstalledPlugin {
        id: id.into(),
        version: version.into(),
        kind: PluginKind::Webhook,
        wit_version: "0.1.0".into(),
        sha256: "ab".repeat(32),
        signer_key_id: signer.map(str::to_owned),
        description: "Posts to Teams".into(),
        author: "Acme <it@acme.example>".into(),
        capabilities: vec!["log".into()],
        manifest_limits: PluginLimits {
            deadline_ms: Some(50),
            ..PluginLimits::default()
        },
        limits: PluginLimits::default(),
        enabled: true,
        disabled_reason: None,
        installed_at: at,
        updated_at: at,
        builtin: false,
    }
}

fn key(key_id: &str, name: &str) -> TrustedKey {
    TrustedKey {
        key_id: key_id.into(),
        name: name.into(),
        public_key: format!("RWQ{key_id}"),
        added_at: Timestamp::from_unix_millis(1_700_000_000_000),
        removed_at: None,
    }
}

async fn actions(s: &dyn AuditStore, action: &str) -> usize {
    let filter = AuditFilter {
        actions: vec![action.into()],
        ..AuditFilter::default()
    };
    s.list_audit(&filter, &PageRequest::default())
        .await
        .unwrap()
        .data
        .len()
}

#[tokio::test]
async fn plugins_are_stored_with_their_wasm_and_changed_in_place() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let wasm: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let p = plugin("acme.teams", "1.0.0", Some("0123456789ABCDEF"));
        let installed = change("plugin.installed", None).event("plugin.installed", json!({}));
        s.insert_plugin(&p, &wasm, &installed).await.unwrap();
        assert_eq!(
            s.get_plugin("acme.teams", "1.0.0").await.unwrap().as_ref(),
            Some(&p),
            "{}",
            b.name
        );
        assert_eq!(
            s.get_plugin_wasm("acme.teams", "1.0.0").await.unwrap(),
            Some(wasm.clone()),
            "{}: the wasm comes back byte for byte",
            b.name
        );
        assert_eq!(actions(s, "plugin.installed").await, 1);
        let events = s
            .list_events(&EventFilter::default(), None, 10)
            .await
            .unwrap();
        assert!(events.data.iter().any(|e| e.kind == "plugin.installed"));

        // The same id + version again: a unique violation, nothing written.
        let err = s
            .insert_plugin(&p, &wasm, &change("plugin.installed", None))
            .await
            .unwrap_err();
        assert!(
            err.is_unique("plugins.id, plugins.version"),
            "{}: {err:?}",
            b.name
        );
        assert_eq!(actions(s, "plugin.installed").await, 1, "{}", b.name);

        // Another version of the same id, and another id.
        let newer = plugin("acme.teams", "1.1.0", Some("0123456789ABCDEF"));
        s.insert_plugin(&newer, b"\0asm-newer", &change("plugin.installed", None))
            .await
            .unwrap();
        let other = plugin("acme.a", "2.0.0", None);
        s.insert_plugin(&other, b"\0asm-other", &change("plugin.installed", None))
            .await
            .unwrap();
        let listed: Vec<(String, String)> = s
            .list_plugins()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.version))
            .collect();
        assert_eq!(
            listed,
            [
                ("acme.a".into(), "2.0.0".into()),
                ("acme.teams".into(), "1.0.0".into()),
                ("acme.teams".into(), "1.1.0".into()),
            ]
        );

        // Disable with a reason, enable again (the reason goes), each audited.
        let later = Timestamp::from_unix_millis(1_800_000_000_000);
        let mut disabling = change("plugin.disabled", None);
        disabling.audit.occurred_at = later;
        s.set_plugin_enabled("acme.teams", "1.0.0", false, Some("traps"), &disabling)
            .await
            .unwrap();
        let got = s.get_plugin("acme.teams", "1.0.0").await.unwrap().unwrap();
        assert!(!got.enabled);
        assert_eq!(got.disabled_reason.as_deref(), Some("traps"));
        assert_eq!(got.updated_at, later, "{}", b.name);
        assert_eq!(got.installed_at, p.installed_at);
        s.set_plugin_enabled(
            "acme.teams",
            "1.0.0",
            true,
            Some("ignored"),
            &change("plugin.enabled", None),
        )
        .await
        .unwrap();
        let got = s.get_plugin("acme.teams", "1.0.0").await.unwrap().unwrap();
        assert!(got.enabled && got.disabled_reason.is_none(), "{got:?}");
        assert_eq!(actions(s, "plugin.disabled").await, 1);
        assert_eq!(actions(s, "plugin.enabled").await, 1);

        // Limits.
        let limits = PluginLimits {
            deadline_ms: Some(20),
            memory_mib: Some(8),
            max_log_kib: Some(1),
            ..PluginLimits::default()
        };
        s.set_plugin_limits(
            "acme.teams",
            "1.0.0",
            &limits,
            &change("plugin.limits_updated", None),
        )
        .await
        .unwrap();
        let got = s.get_plugin("acme.teams", "1.0.0").await.unwrap().unwrap();
        assert_eq!(got.limits, limits);
        assert_eq!(got.manifest_limits, p.manifest_limits, "kept apart");

        // Missing rows: NotFound and nothing audited.
        for result in [
            s.set_plugin_enabled("acme.none", "1.0.0", false, None, &change("x.none", None))
                .await,
            s.set_plugin_limits("acme.teams", "9.9.9", &limits, &change("x.none", None))
                .await,
            s.delete_plugin("acme.none", "1.0.0", &change("x.none", None))
                .await,
        ] {
            assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        }
        assert_eq!(actions(s, "x.none").await, 0, "{}", b.name);
        assert!(s.get_plugin("acme.none", "1.0.0").await.unwrap().is_none());
        assert!(
            s.get_plugin_wasm("acme.none", "1.0.0")
                .await
                .unwrap()
                .is_none()
        );

        // Delete: the record and its wasm go.
        s.delete_plugin("acme.teams", "1.0.0", &change("plugin.removed", None))
            .await
            .unwrap();
        assert!(s.get_plugin("acme.teams", "1.0.0").await.unwrap().is_none());
        assert!(
            s.get_plugin_wasm("acme.teams", "1.0.0")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(s.list_plugins().await.unwrap().len(), 2);
        assert_eq!(actions(s, "plugin.removed").await, 1);
    })
    .await;
}

#[tokio::test]
async fn built_in_records_never_hold_wasm() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let mut builtin = plugin("gatehouse.slack", "0.1.0", None);
        builtin.builtin = true;
        builtin.enabled = false;
        builtin.disabled_reason = Some("not used here".into());
        s.insert_plugin(&builtin, b"ignored", &change("plugin.disabled", None))
            .await
            .unwrap();
        let got = s
            .get_plugin("gatehouse.slack", "0.1.0")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, builtin, "{}", b.name);
        assert!(
            s.get_plugin_wasm("gatehouse.slack", "0.1.0")
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
    })
    .await;
}

#[tokio::test]
async fn trusted_keys_are_added_removed_and_come_back() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let acme = key("0123456789ABCDEF", "Acme");
        let other = key("FEDCBA9876543210", "Other");
        s.add_trusted_key(&acme, &change("trusted_key.added", None))
            .await
            .unwrap();
        s.add_trusted_key(&other, &change("trusted_key.added", None))
            .await
            .unwrap();
        assert_eq!(
            s.get_trusted_key(&acme.key_id).await.unwrap().as_ref(),
            Some(&acme)
        );
        assert!(
            s.get_trusted_key("0000000000000000")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(s.list_trusted_keys().await.unwrap().len(), 2);

        // An active key again: a unique violation, nothing written.
        let err = s
            .add_trusted_key(&key(&acme.key_id, "Acme again"), &change("x.dup", None))
            .await
            .unwrap_err();
        assert!(err.is_unique("trusted_keys.key_id"), "{}: {err:?}", b.name);
        assert_eq!(actions(s, "x.dup").await, 0);
        assert_eq!(
            s.get_trusted_key(&acme.key_id).await.unwrap().unwrap().name,
            "Acme"
        );

        // Plugins of both signers; removing Acme's key disables Acme's enabled plugins only.
        let signed = |id: &str, signer: &TrustedKey| plugin(id, "1.0.0", Some(&signer.key_id));
        for p in [
            signed("acme.one", &acme),
            signed("acme.two", &acme),
            signed("other.one", &other),
        ] {
            s.insert_plugin(&p, b"\0asm", &change("plugin.installed", None))
                .await
                .unwrap();
        }
        s.set_plugin_enabled(
            "acme.two",
            "1.0.0",
            false,
            Some("by hand"),
            &change("plugin.disabled", None),
        )
        .await
        .unwrap();
        let at = Timestamp::from_unix_millis(1_800_000_000_000);
        let disabled = s
            .remove_trusted_key(
                &acme.key_id,
                at,
                "signer removed",
                &change("trusted_key.removed", None),
            )
            .await
            .unwrap();
        assert_eq!(
            disabled,
            [("acme.one".to_owned(), "1.0.0".to_owned())],
            "{}",
            b.name
        );
        let one = s.get_plugin("acme.one", "1.0.0").await.unwrap().unwrap();
        assert!(!one.enabled);
        assert_eq!(one.disabled_reason.as_deref(), Some("signer removed"));
        assert_eq!(one.updated_at, at);
        let two = s.get_plugin("acme.two", "1.0.0").await.unwrap().unwrap();
        assert_eq!(
            two.disabled_reason.as_deref(),
            Some("by hand"),
            "an already disabled plugin keeps its reason"
        );
        assert!(
            s.get_plugin("other.one", "1.0.0")
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
        let removed = s.get_trusted_key(&acme.key_id).await.unwrap().unwrap();
        assert_eq!(removed.removed_at, Some(at));
        assert!(!removed.is_active());
        assert_eq!(
            s.list_trusted_keys().await.unwrap().len(),
            2,
            "removed keys are kept"
        );
        assert_eq!(actions(s, "trusted_key.removed").await, 1);

        // Removing again (or an unknown key): NotFound, nothing written.
        for id in [acme.key_id.as_str(), "0000000000000000"] {
            let result = s
                .remove_trusted_key(id, at, "x", &change("x.remove", None))
                .await;
            assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        }
        assert_eq!(actions(s, "x.remove").await, 0);

        // A removed key can be trusted again.
        let mut back = key(&acme.key_id, "Acme (rotated back)");
        back.added_at = Timestamp::from_unix_millis(1_900_000_000_000);
        s.add_trusted_key(&back, &change("trusted_key.added", None))
            .await
            .unwrap();
        assert_eq!(
            s.get_trusted_key(&acme.key_id).await.unwrap().as_ref(),
            Some(&back),
            "{}",
            b.name
        );
        assert!(
            !s.get_plugin("acme.one", "1.0.0")
                .await
                .unwrap()
                .unwrap()
                .enabled,
            "plugins stay disabled until an admin enables them"
        );
    })
    .await;
}

#[tokio::test]
async fn plugin_users_are_the_endpoints_naming_the_plugin() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = tenant("users");
        s.insert_tenant(&t, &change("tenant.created", Some(&t.id)))
            .await
            .unwrap();
        let now = Timestamp::now();
        let mut ids = Vec::new();
        // `_` is a LIKE wildcard and `acme.x` a prefix of `acme.xy`: neither may match wrongly.
        for plugin in [Some("acme_x"), Some("acme-x"), Some("acme.xy"), None] {
            let endpoint = WebhookEndpoint {
                id: WebhookEndpointId::generate(),
                tenant_id: t.id.clone(),
                url: "https://hooks.example.com/in".into(),
                description: String::new(),
                event_types: vec!["*".into()],
                transform: plugin.map(|p| Transform {
                    plugin: p.into(),
                    config: json!({"channel": "acme_x"}),
                }),
                enabled: true,
                disabled_reason: None,
                rate_limit: None,
                previous_secret_expires_at: None,
                failing_since: None,
                created_at: now,
                updated_at: now,
            };
            s.insert_webhook_endpoint(
                &endpoint,
                &Sealed::from_stored("sealed".into()),
                &change("endpoint.created", Some(&t.id)),
            )
            .await
            .unwrap();
            ids.push(endpoint.id.to_string());
        }
        let users = s.plugin_users("acme_x").await.unwrap();
        assert_eq!(users.len(), 1, "{}: {users:?}", b.name);
        assert_eq!(users[0].object, "webhook_endpoint");
        assert_eq!(users[0].id, ids[0]);
        assert_eq!(users[0].tenant_id.as_deref(), Some(t.id.as_str()));
        assert_eq!(s.plugin_users("acme-x").await.unwrap()[0].id, ids[1]);
        assert!(s.plugin_users("acme.x").await.unwrap().is_empty());
        assert!(s.plugin_users("channel").await.unwrap().is_empty());
    })
    .await;
}
