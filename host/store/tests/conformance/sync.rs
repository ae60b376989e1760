//! The reconciler's bookkeeping: claims, leases, results, schedules and signing keys.

use std::{collections::BTreeSet, time::Duration};

use gatehouse_core::{
    Timestamp,
    app::{App, AppType},
    audit::AuditFilter,
    id::{AppId, TenantId},
    page::{Order, PageRequest},
    secret::Sealed,
    store::{AppStore, AuditStore, TenantStore},
    sync::{
        ActionsSigningKey, Desired, MAX_SYNC_MESSAGE_CHARS, ObjectKind, SyncFailure, SyncFilter,
        SyncRecord, SyncRef, SyncState, SyncStatus, SyncStore, SyncSuccess,
    },
    tenant::Tenant,
};
use gatehouse_store::SqlStore;
use serde_json::{Map, Value, json};

use crate::backends::{change, for_each_backend, tenant};

const LEASE: Duration = Duration::from_secs(60);

async fn synced_tenant(s: &SqlStore, slug: &str) -> Tenant {
    let t = tenant(slug);
    let c = change("tenant.created", Some(&t.id)).resync(SyncRef::upsert(
        ObjectKind::Tenant,
        &t.id,
        Some(&t.id),
    ));
    s.insert_tenant(&t, &c).await.unwrap();
    t
}

fn ids(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn success(org: &str, at: Timestamp) -> SyncSuccess {
    SyncSuccess {
        zitadel_ids: ids(json!({"org_id": org})),
        org_id: Some(org.into()),
        at,
        next_check_at: at.plus(Duration::from_secs(600)),
    }
}

fn failure(message: &str, at: Timestamp, retry_in: Duration) -> SyncFailure {
    SyncFailure {
        message: message.into(),
        zitadel_ids: Map::new(),
        org_id: None,
        at,
        next_attempt_at: at.plus(retry_in),
    }
}

async fn claim(
    s: &SqlStore,
    owner: &str,
    kind: ObjectKind,
    id: &str,
    now: Timestamp,
) -> SyncRecord {
    s.claim_sync(kind, id, owner, now, now.plus(LEASE))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{owner} could not claim {id}"))
}

#[tokio::test]
async fn claims_are_exclusive_until_the_lease_runs_out() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = synced_tenant(s, "claims").await;
        let now = Timestamp::now();
        let mine = s
            .claim_due_sync("worker-a", now, now.plus(LEASE), 10)
            .await
            .unwrap();
        assert_eq!(mine.len(), 1, "{}", b.name);
        let record = &mine[0];
        assert_eq!(record.kind, ObjectKind::Tenant);
        assert_eq!(record.id, t.id.as_str());
        assert_eq!(record.tenant_id.as_ref(), Some(&t.id));
        assert_eq!(record.desired, Desired::Present);
        assert_eq!(record.generation, 1);
        assert_eq!(record.synced_generation, 0);
        assert_eq!(record.owner(), "worker-a");
        assert_eq!(record.status.state, SyncState::Pending);
        assert!(!record.is_current());

        // Held: nobody else gets it, due or by name.
        assert!(
            s.claim_due_sync("worker-b", now, now.plus(LEASE), 10)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            b.name
        );
        assert!(
            s.claim_sync(
                ObjectKind::Tenant,
                t.id.as_str(),
                "worker-b",
                now,
                now.plus(LEASE)
            )
            .await
            .unwrap()
            .is_none()
        );
        // After the lease: another worker takes over, and the first one's result is refused.
        let later = now.plus(LEASE + Duration::from_secs(1));
        let theirs = claim(s, "worker-b", ObjectKind::Tenant, t.id.as_str(), later).await;
        assert!(
            !s.complete_sync(record, &success("1", later)).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.fail_sync(record, &failure("x", later, LEASE))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(!s.mark_sync_pending(record, "x").await.unwrap());
        assert!(
            s.complete_sync(&theirs, &success("2", later))
                .await
                .unwrap()
        );
        let got = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.status.zitadel_ids, ids(json!({"org_id": "2"})));
        assert_eq!(got.claimed_by, None);
        // Unknown objects cannot be claimed.
        assert!(
            s.claim_sync(ObjectKind::App, "app_nope", "w", now, now.plus(LEASE))
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn success_is_synced_unless_the_desired_state_moved_on() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = synced_tenant(s, "success").await;
        let now = Timestamp::now();
        let record = claim(s, "w", ObjectKind::Tenant, t.id.as_str(), now).await;
        assert!(
            s.complete_sync(&record, &success("org-1", now))
                .await
                .unwrap()
        );

        let got = s.get_tenant(&t.id).await.unwrap().unwrap();
        assert_eq!(got.sync.state, SyncState::Synced, "{}", b.name);
        assert_eq!(got.sync.zitadel_ids, ids(json!({"org_id": "org-1"})));
        assert_eq!(got.sync.synced_at, Some(now));
        assert_eq!(got.sync.last_attempt_at, Some(now));
        assert_eq!(got.sync.message, None);
        let row = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert!(row.is_current());
        assert_eq!(row.next_attempt_at, now.plus(Duration::from_secs(600)));
        assert_eq!(s.tenant_for_org("org-1").await.unwrap(), Some(t.id.clone()));
        assert_eq!(s.tenant_for_org("org-2").await.unwrap(), None);
        // A synced row is not due until its drift check.
        assert!(
            s.claim_due_sync("w", now, now.plus(LEASE), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let check = now.plus(Duration::from_secs(601));
        assert_eq!(
            s.claim_due_sync("w", check, check.plus(LEASE), 10)
                .await
                .unwrap()
                .len(),
            1
        );

        // The tenant changes while a worker syncs it: the result is kept, the row stays pending
        // and is due at once.
        let t2 = synced_tenant(s, "success-2").await;
        let record = claim(s, "w", ObjectKind::Tenant, t2.id.as_str(), now).await;
        let mut renamed = s.get_tenant(&t2.id).await.unwrap().unwrap();
        renamed.name = "Renamed".into();
        let c = change("tenant.updated", Some(&t2.id)).resync(SyncRef::upsert(
            ObjectKind::Tenant,
            &t2.id,
            Some(&t2.id),
        ));
        s.update_tenant(&renamed, &c).await.unwrap();
        assert!(
            s.complete_sync(&record, &success("org-3", now))
                .await
                .unwrap()
        );
        let row = s
            .get_sync(ObjectKind::Tenant, t2.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.state, SyncState::Pending, "{}", b.name);
        assert_eq!(row.generation, 2);
        assert_eq!(row.synced_generation, 1);
        assert_eq!(row.next_attempt_at, now);
        assert_eq!(row.status.zitadel_ids, ids(json!({"org_id": "org-3"})));
        assert!(!row.is_current());
    })
    .await;
}

#[tokio::test]
async fn failures_count_attempts_and_wait_for_their_retry() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = synced_tenant(s, "failures").await;
        let now = Timestamp::now();
        let record = claim(s, "w", ObjectKind::Tenant, t.id.as_str(), now).await;
        let long = format!("ZITADEL is unreachable\n{}", "x".repeat(2000));
        let mut f = failure(&long, now, Duration::from_secs(30));
        f.zitadel_ids = ids(json!({"org_id": "partial"}));
        f.org_id = Some("partial".into());
        assert!(s.fail_sync(&record, &f).await.unwrap());
        let row = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.state, SyncState::Failed, "{}", b.name);
        assert_eq!(row.status.attempts, 1);
        let message = row.status.message.clone().unwrap();
        assert!(message.starts_with("ZITADEL is unreachable"));
        assert_eq!(message.chars().count(), MAX_SYNC_MESSAGE_CHARS);
        assert!(!message.contains('\n'), "control characters are dropped");
        assert_eq!(row.status.zitadel_ids, ids(json!({"org_id": "partial"})));
        assert_eq!(row.claimed_by, None);
        // Partial progress already maps the organization to the tenant.
        assert_eq!(
            s.tenant_for_org("partial").await.unwrap(),
            Some(t.id.clone())
        );

        // Not due before its retry time, due after.
        let soon = now.plus(Duration::from_secs(29));
        assert!(
            s.claim_due_sync("w", soon, soon.plus(LEASE), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let retry = now.plus(Duration::from_secs(30));
        let again = s
            .claim_due_sync("w", retry, retry.plus(LEASE), 10)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert!(
            s.fail_sync(&again[0], &failure("still down", retry, LEASE))
                .await
                .unwrap()
        );
        let row = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.attempts, 2);
        assert_eq!(row.status.message.as_deref(), Some("still down"));

        // A new change resets the count; success clears the message.
        let c = change("tenant.updated", Some(&t.id)).resync(SyncRef::upsert(
            ObjectKind::Tenant,
            &t.id,
            Some(&t.id),
        ));
        s.update_tenant(&t, &c).await.unwrap();
        let row = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.status.attempts, row.status.state),
            (0, SyncState::Pending)
        );
        let record = claim(s, "w", ObjectKind::Tenant, t.id.as_str(), retry).await;
        assert!(
            s.mark_sync_pending(&record, "repairing drift")
                .await
                .unwrap()
        );
        let row = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.message.as_deref(), Some("repairing drift"));
        assert_eq!(row.owner(), "w", "marking keeps the claim");
        assert!(
            s.complete_sync(&record, &success("org", retry))
                .await
                .unwrap()
        );
        let row = s
            .get_sync(ObjectKind::Tenant, t.id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status.message, None, "{}", b.name);
        assert_eq!(row.status.attempts, 0);
    })
    .await;
}

#[tokio::test]
async fn absent_objects_are_forgotten_only_at_the_claimed_generation() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = synced_tenant(s, "absent").await;
        let c = change("tenant.deleted", Some(&t.id)).resync(SyncRef::delete(
            ObjectKind::Tenant,
            &t.id,
            Some(&t.id),
        ));
        s.delete_tenant(&t.id, &c).await.unwrap();
        let now = Timestamp::now();
        let record = claim(s, "w", ObjectKind::Tenant, t.id.as_str(), now).await;
        assert_eq!(record.desired, Desired::Absent, "{}", b.name);
        assert!(!record.is_current());
        assert!(s.remove_sync(&record).await.unwrap());
        assert!(
            s.get_sync(ObjectKind::Tenant, t.id.as_str())
                .await
                .unwrap()
                .is_none()
        );

        // The object came back meanwhile (here: re-requested): the row stays, the claim is
        // released explicitly.
        let object = SyncRef::delete(ObjectKind::App, "app_x", Some(&t.id));
        s.request_sync(&object, now).await.unwrap();
        let record = claim(s, "w", ObjectKind::App, "app_x", now).await;
        s.request_sync(&SyncRef::upsert(ObjectKind::App, "app_x", Some(&t.id)), now)
            .await
            .unwrap();
        assert!(!s.remove_sync(&record).await.unwrap(), "{}", b.name);
        let later = now.plus(Duration::from_secs(5));
        s.release_sync(&record, later).await.unwrap();
        let row = s.get_sync(ObjectKind::App, "app_x").await.unwrap().unwrap();
        assert_eq!(
            (row.desired, row.claimed_by.clone()),
            (Desired::Present, None)
        );
        assert_eq!(row.next_attempt_at, later);
    })
    .await;
}

#[tokio::test]
async fn requests_outside_mutations_are_not_audited_and_bump_the_generation() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let now = Timestamp::now();
        let object = SyncRef::upsert(ObjectKind::ActionsTarget, "hooks_zitadel", None);
        s.request_sync(&object, now).await.unwrap();
        let row = s
            .get_sync(ObjectKind::ActionsTarget, "hooks_zitadel")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.generation, row.tenant_id.clone()),
            (1, None),
            "{}",
            b.name
        );
        s.request_sync(&object, now).await.unwrap();
        let row = s
            .get_sync(ObjectKind::ActionsTarget, "hooks_zitadel")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.generation, 2);
        let audit = s
            .list_audit(&AuditFilter::default(), &PageRequest::default())
            .await
            .unwrap();
        assert!(audit.data.is_empty(), "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn listing_filters_and_pages_by_object_id() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t1 = synced_tenant(s, "list-one").await;
        let t2 = synced_tenant(s, "list-two").await;
        let now = Timestamp::now();
        let apps: Vec<String> = (0..3).map(|_| AppId::generate().to_string()).collect();
        for app in &apps {
            s.request_sync(&SyncRef::upsert(ObjectKind::App, app, Some(&t1.id)), now)
                .await
                .unwrap();
        }
        let record = claim(s, "w", ObjectKind::Tenant, t2.id.as_str(), now).await;
        s.fail_sync(&record, &failure("down", now, LEASE))
            .await
            .unwrap();

        let all = |filter: SyncFilter| async move {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = PageRequest::new(Some(2), after, Some(Order::Asc)).unwrap();
                let got = s.list_sync(&filter, &page).await.unwrap();
                assert!(got.data.len() <= 2);
                seen.extend(got.data.into_iter().map(|r| r.id));
                match got.after {
                    Some(next) => after = Some(next),
                    None => return seen,
                }
            }
        };
        let everything = all(SyncFilter::default()).await;
        let mut expected: Vec<String> = apps.clone();
        expected.push(t1.id.to_string());
        expected.push(t2.id.to_string());
        expected.sort();
        assert_eq!(everything, expected, "{}", b.name);

        let mut app_ids = apps.clone();
        app_ids.sort();
        let only_apps = all(SyncFilter {
            kind: Some(ObjectKind::App),
            ..Default::default()
        })
        .await;
        assert_eq!(only_apps, app_ids);
        let failed = all(SyncFilter {
            state: Some(SyncState::Failed),
            ..Default::default()
        })
        .await;
        assert_eq!(failed, vec![t2.id.to_string()]);
        let of_t1 = all(SyncFilter {
            tenant_id: Some(t1.id.clone()),
            ..Default::default()
        })
        .await;
        assert_eq!(of_t1.len(), 4, "{}", b.name);
        let none = all(SyncFilter {
            tenant_id: Some(TenantId::generate()),
            state: Some(SyncState::Pending),
            kind: None,
        })
        .await;
        assert!(none.is_empty());
        // Newest first by default.
        let desc = s
            .list_sync(&SyncFilter::default(), &PageRequest::default())
            .await
            .unwrap();
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(
            desc.data.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            reversed
        );
    })
    .await;
}

#[tokio::test]
async fn scheduling_now_makes_waiting_rows_due() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t1 = synced_tenant(s, "sched-one").await;
        let t2 = synced_tenant(s, "sched-two").await;
        let now = Timestamp::now();
        // t1 synced (next check in 10 minutes), t2 failed (retry in 10 minutes).
        let r1 = claim(s, "w", ObjectKind::Tenant, t1.id.as_str(), now).await;
        s.complete_sync(&r1, &success("o1", now)).await.unwrap();
        let r2 = claim(s, "w", ObjectKind::Tenant, t2.id.as_str(), now).await;
        s.fail_sync(&r2, &failure("down", now, Duration::from_secs(600)))
            .await
            .unwrap();
        let due = |at: Timestamp| async move {
            let claimed = s
                .claim_due_sync("probe", at, at.plus(LEASE), 10)
                .await
                .unwrap();
            for r in &claimed {
                s.release_sync(r, r.next_attempt_at).await.unwrap();
            }
            claimed.into_iter().map(|r| r.id).collect::<BTreeSet<_>>()
        };
        let at = now.plus(Duration::from_secs(1));
        assert!(due(at).await.is_empty(), "{}", b.name);
        assert_eq!(s.schedule_sync_now(false, None, at).await.unwrap(), 1);
        assert_eq!(due(at).await, BTreeSet::from([t2.id.to_string()]));
        // Another tenant's filter leaves t1 alone; its own filter includes it.
        assert_eq!(
            s.schedule_sync_now(true, Some(&TenantId::generate()), at)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            s.schedule_sync_now(true, Some(&t1.id), at).await.unwrap(),
            1
        );
        assert_eq!(
            due(at).await,
            BTreeSet::from([t1.id.to_string(), t2.id.to_string()]),
            "{}",
            b.name
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_row() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = synced_tenant(s, "concurrent").await;
        // After the tenant: its sync is due at its change's time, which must not be later.
        let now = Timestamp::now();
        let mut expected = BTreeSet::from([t.id.to_string()]);
        for _ in 0..29 {
            let id = AppId::generate().to_string();
            s.request_sync(&SyncRef::upsert(ObjectKind::App, &id, Some(&t.id)), now)
                .await
                .unwrap();
            expected.insert(id);
        }
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..4 {
            let s = s.clone();
            workers.spawn(async move {
                let owner = format!("worker-{w}");
                let mut mine = Vec::new();
                loop {
                    let batch = s
                        .claim_due_sync(&owner, now, now.plus(LEASE), 3)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    assert!(batch.iter().all(|r| r.owner() == owner));
                    mine.extend(batch.into_iter().map(|r| r.id));
                    tokio::task::yield_now().await;
                }
            });
        }
        let mut seen = Vec::new();
        while let Some(result) = workers.join_next().await {
            seen.extend(result.unwrap());
        }
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "a row was claimed twice on {}",
            b.name
        );
        assert_eq!(unique, expected, "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn app_secret_versions_follow_rotation_requests() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = synced_tenant(s, "secrets").await;
        let now = Timestamp::now();
        let app = App {
            id: AppId::generate(),
            tenant_id: t.id.clone(),
            name: "portal".into(),
            app_type: AppType::Web,
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            dev_mode: false,
            client_id: None,
            has_client_secret: false,
            created_at: now,
            updated_at: now,
            sync: SyncStatus::pending(),
        };
        s.insert_app(&app, &change("app.created", Some(&t.id)))
            .await
            .unwrap();
        assert_eq!(s.app_secret_version(&t.id, &app.id).await.unwrap(), Some(1));
        s.request_secret_rotation(&t.id, &app.id, &change("app.secret_rotated", Some(&t.id)))
            .await
            .unwrap();
        assert_eq!(
            s.app_secret_version(&t.id, &app.id).await.unwrap(),
            Some(2),
            "{}",
            b.name
        );
        // Through another tenant, or unknown: nothing.
        assert_eq!(
            s.app_secret_version(&TenantId::generate(), &app.id)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.app_secret_version(&t.id, &AppId::generate())
                .await
                .unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn signing_keys_rotate_with_a_grace_period() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let now = Timestamp::now();
        let key = |fp: &str, at: Timestamp| ActionsSigningKey {
            fingerprint: fp.into(),
            target_id: "target-1".into(),
            sealed: Sealed::from_stored(format!("gh1.test.{fp}.x")),
            created_at: at,
            expires_at: None,
        };
        let grace = Duration::from_secs(600);
        s.save_actions_signing_key(&key("k1", now), now.plus(grace), now)
            .await
            .unwrap();
        let keys = s.actions_signing_keys(now).await.unwrap();
        assert_eq!(keys, vec![key("k1", now)], "{}", b.name);
        // Saving the same key again changes nothing.
        s.save_actions_signing_key(&key("k1", now), now.plus(grace), now)
            .await
            .unwrap();
        assert_eq!(s.actions_signing_keys(now).await.unwrap().len(), 1);

        // A new key: the old one stays valid for the grace period, newest first.
        let later = now.plus(Duration::from_secs(1));
        s.save_actions_signing_key(&key("k2", later), later.plus(grace), later)
            .await
            .unwrap();
        let keys = s.actions_signing_keys(later).await.unwrap();
        let fps: Vec<&str> = keys.iter().map(|k| k.fingerprint.as_str()).collect();
        assert_eq!(fps, ["k2", "k1"], "{}", b.name);
        assert_eq!(keys[1].expires_at, Some(later.plus(grace)));
        assert_eq!(keys[0].expires_at, None);
        let after_grace = later.plus(grace + Duration::from_secs(1));
        let fps: Vec<String> = s
            .actions_signing_keys(after_grace)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.fingerprint)
            .collect();
        assert_eq!(fps, ["k2"]);
        // The next save purges expired keys.
        s.save_actions_signing_key(&key("k2", later), after_grace.plus(grace), after_grace)
            .await
            .unwrap();
        assert_eq!(
            s.actions_signing_keys(now).await.unwrap().len(),
            1,
            "{}",
            b.name
        );
    })
    .await;
}
