use std::{collections::HashSet, sync::Arc, time::Duration};

use gatehouse_core::{
    StoreError, Timestamp,
    audit::AuditFilter,
    event::Event,
    id::{AttemptId, DeliveryId, TenantId, WebhookEndpointId},
    page::{Order, PageRequest},
    secret::Sealed,
    store::{AuditStore, EventStore, TenantStore},
    webhook::{
        AttemptFilter, AttemptRecord, AttemptStatus, ClaimRequest, DeliveryAttempt, DeliveryFilter,
        DeliveryJob, DeliveryStatus, EndpointHealth, NextState, Transform, WebhookEndpoint,
        WebhookStore,
    },
};
use gatehouse_store::SqlStore;
use serde_json::json;

use crate::backends::{change, for_each_backend, tenant};

const SEC: Duration = Duration::from_secs(1);

fn endpoint(tenant: &TenantId, types: &[&str]) -> WebhookEndpoint {
    let now = Timestamp::now();
    WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        tenant_id: tenant.clone(),
        url: "https://hooks.example.com/in".into(),
        description: "test".into(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        transform: None,
        enabled: true,
        disabled_reason: None,
        rate_limit: None,
        previous_secret_expires_at: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    }
}

async fn new_tenant(s: &SqlStore, slug: &str) -> TenantId {
    let t = tenant(slug);
    s.insert_tenant(&t, &change("tenant.created", Some(&t.id)))
        .await
        .unwrap();
    t.id
}

async fn add_endpoint(s: &SqlStore, tenant: &TenantId, types: &[&str]) -> WebhookEndpoint {
    let e = endpoint(tenant, types);
    s.insert_webhook_endpoint(
        &e,
        &Sealed::from_stored(format!("sealed-{}", e.id)),
        &change("endpoint.created", Some(tenant)),
    )
    .await
    .unwrap();
    e
}

async fn emit(s: &SqlStore, tenant: Option<&TenantId>, kinds: &[&str]) -> Vec<Event> {
    let events: Vec<Event> = kinds
        .iter()
        .map(|k| Event::new(k, tenant.cloned(), Timestamp::now(), json!({"k": k})))
        .collect();
    s.append_events(&events).await.unwrap();
    events
}

/// Fans out until the feed is drained.
async fn drain(s: &SqlStore) -> u32 {
    let mut created = 0;
    loop {
        let pass = s.fan_out_events(100, Timestamp::now(), None).await.unwrap();
        created += pass.deliveries;
        if pass.events == 0 {
            return created;
        }
    }
}

/// A claim (or fan-out hand-over) of up to `limit` deliveries for `worker`, leased 60 s.
fn request(worker: &str, now: Timestamp, limit: u32) -> ClaimRequest<'_> {
    ClaimRequest {
        worker,
        now,
        lease_until: now.plus(60 * SEC),
        limit,
        exclude: &[],
    }
}

async fn claim(s: &SqlStore, worker: &str, now: Timestamp, limit: u32) -> Vec<DeliveryJob> {
    s.claim_deliveries(&request(worker, now, limit))
        .await
        .unwrap()
}

fn attempt(job: &DeliveryJob, status: AttemptStatus, at: Timestamp) -> DeliveryAttempt {
    DeliveryAttempt {
        id: AttemptId::generate(),
        delivery_id: job.id.clone(),
        tenant_id: job.tenant_id.clone(),
        endpoint_id: job.endpoint.id.clone(),
        attempt: job.attempts + 1,
        started_at: at,
        status,
        latency_ms: 12,
        response_status: (status != AttemptStatus::Skipped).then_some(
            if status == AttemptStatus::Succeeded {
                200
            } else {
                500
            },
        ),
        response_body: Some("body é".into()),
        error: (status != AttemptStatus::Succeeded).then(|| "boom".to_owned()),
    }
}

/// A successful first attempt of `job`, as a worker records it.
fn success(job: &DeliveryJob, at: Timestamp) -> AttemptRecord {
    AttemptRecord {
        attempt: attempt(job, AttemptStatus::Succeeded, at),
        next: NextState::Succeeded,
        handoff: job.unwritten(),
    }
}

async fn deliveries(
    s: &SqlStore,
    tenant: &TenantId,
    filter: DeliveryFilter,
) -> Vec<gatehouse_core::webhook::Delivery> {
    let page = PageRequest::new(Some(100), None, Some(Order::Asc)).unwrap();
    s.list_deliveries(tenant, &filter, &page)
        .await
        .unwrap()
        .data
}

#[tokio::test]
async fn endpoint_crud_secrets_and_disable() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "hooks-crud").await;
        let mut e = endpoint(&t, &["user.*", "tenant.created"]);
        e.transform = Some(Transform {
            plugin: "gatehouse.slack".into(),
            config: json!({"title": "hi"}),
        });
        e.rate_limit = Some(7);
        let sealed = Sealed::from_stored("sealed-one".into());
        s.insert_webhook_endpoint(&e, &sealed, &change("endpoint.created", Some(&t)))
            .await
            .unwrap();
        assert_eq!(
            s.get_webhook_endpoint(&t, &e.id).await.unwrap().unwrap(),
            e,
            "{}",
            b.name
        );
        // Tenant-scoped: another tenant cannot read it.
        assert!(
            s.get_webhook_endpoint(&TenantId::generate(), &e.id)
                .await
                .unwrap()
                .is_none()
        );

        // A missing tenant is a foreign-key violation.
        let orphan = endpoint(&TenantId::generate(), &["*"]);
        let err = s
            .insert_webhook_endpoint(&orphan, &sealed, &change("endpoint.created", None))
            .await;
        assert!(
            matches!(err, Err(StoreError::ForeignKeyViolation)),
            "{}: {err:?}",
            b.name
        );

        let mut updated = e.clone();
        updated.url = "https://other.example/x".into();
        updated.event_types = vec!["*".into()];
        updated.transform = None;
        updated.rate_limit = None;
        updated.enabled = false;
        updated.disabled_reason = Some("by hand".into());
        updated.failing_since = Some(Timestamp::now());
        updated.updated_at = Timestamp::now();
        s.update_webhook_endpoint(&updated, &change("endpoint.updated", Some(&t)))
            .await
            .unwrap();
        assert_eq!(
            s.get_webhook_endpoint(&t, &e.id).await.unwrap().unwrap(),
            updated
        );

        let secrets = s.get_webhook_secrets(&t, &e.id).await.unwrap().unwrap();
        assert_eq!(secrets.current, sealed);
        assert_eq!(secrets.previous, None);
        let until = Timestamp::now().plus(3600 * SEC);
        let second = Sealed::from_stored("sealed-two".into());
        s.rotate_webhook_secret(
            &t,
            &e.id,
            &second,
            until,
            &change("endpoint.secret_rotated", Some(&t)),
        )
        .await
        .unwrap();
        let secrets = s.get_webhook_secrets(&t, &e.id).await.unwrap().unwrap();
        assert_eq!(secrets.current, second);
        assert_eq!(secrets.previous, Some(sealed.clone()));
        assert_eq!(secrets.previous_expires_at, Some(until));
        assert_eq!(
            s.get_webhook_endpoint(&t, &e.id)
                .await
                .unwrap()
                .unwrap()
                .previous_secret_expires_at,
            Some(until)
        );
        // A second rotation forgets the oldest secret.
        let third = Sealed::from_stored("sealed-three".into());
        s.rotate_webhook_secret(
            &t,
            &e.id,
            &third,
            until,
            &change("endpoint.secret_rotated", Some(&t)),
        )
        .await
        .unwrap();
        let secrets = s.get_webhook_secrets(&t, &e.id).await.unwrap().unwrap();
        assert_eq!((secrets.current, secrets.previous), (third, Some(second)));

        // Re-enable, then disable as a worker would: once only.
        let mut enabled = updated.clone();
        enabled.enabled = true;
        enabled.disabled_reason = None;
        s.update_webhook_endpoint(&enabled, &change("endpoint.updated", Some(&t)))
            .await
            .unwrap();
        let now = Timestamp::now();
        assert!(
            s.disable_webhook_endpoint(
                &t,
                &e.id,
                "410 Gone",
                now,
                &change("endpoint.disabled", Some(&t))
            )
            .await
            .unwrap()
        );
        assert!(
            !s.disable_webhook_endpoint(
                &t,
                &e.id,
                "again",
                now,
                &change("endpoint.disabled", Some(&t))
            )
            .await
            .unwrap()
        );
        let got = s.get_webhook_endpoint(&t, &e.id).await.unwrap().unwrap();
        assert!(!got.enabled);
        assert_eq!(got.disabled_reason.as_deref(), Some("410 Gone"));
        let audit = s
            .list_audit(
                &AuditFilter {
                    actions: vec!["endpoint.disabled".into()],
                    tenant_id: Some(t.clone()),
                    ..Default::default()
                },
                &PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            audit.data.len(),
            1,
            "the no-op disable wrote nothing: {}",
            b.name
        );

        let second = add_endpoint(s, &t, &["*"]).await;
        let page = PageRequest::new(Some(1), None, Some(Order::Asc)).unwrap();
        let first_page = s.list_webhook_endpoints(&t, &page).await.unwrap();
        assert_eq!(first_page.data.len(), 1);
        let next = PageRequest::new(Some(1), first_page.after.clone(), Some(Order::Asc)).unwrap();
        let second_page = s.list_webhook_endpoints(&t, &next).await.unwrap();
        assert_eq!(second_page.data[0].id, second.id);

        s.delete_webhook_endpoint(&t, &e.id, &change("endpoint.deleted", Some(&t)))
            .await
            .unwrap();
        assert!(s.get_webhook_endpoint(&t, &e.id).await.unwrap().is_none());
        let again = s
            .delete_webhook_endpoint(&t, &e.id, &change("endpoint.deleted", Some(&t)))
            .await;
        assert!(matches!(again, Err(StoreError::NotFound)), "{}", b.name);
        let missing = s
            .rotate_webhook_secret(
                &t,
                &e.id,
                &third_sealed(),
                until,
                &change("endpoint.secret_rotated", Some(&t)),
            )
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
    })
    .await;
}

fn third_sealed() -> Sealed {
    Sealed::from_stored("x".into())
}

#[tokio::test]
async fn fan_out_creates_one_delivery_per_matching_enabled_endpoint_once() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "fan-a").await;
        let other = new_tenant(s, "fan-b").await;
        drain(s).await;
        // Committed before the endpoints exist: never delivered to them.
        emit(s, Some(&t), &["user.created"]).await;
        let users = add_endpoint(s, &t, &["user.*"]).await;
        let all = add_endpoint(s, &t, &["*"]).await;
        let mut off = endpoint(&t, &["*"]);
        off.enabled = false;
        s.insert_webhook_endpoint(
            &off,
            &Sealed::from_stored("s".into()),
            &change("endpoint.created", Some(&t)),
        )
        .await
        .unwrap();
        let elsewhere = add_endpoint(s, &other, &["*"]).await;

        let mine = emit(
            s,
            Some(&t),
            &["user.created", "app.created", "user.deleted"],
        )
        .await;
        emit(s, None, &["api_key.created"]).await;
        let theirs = emit(s, Some(&other), &["tenant.updated"]).await;

        // Endpoint creations emit events too; count what the endpoints subscribe to.
        let created = drain(s).await;
        assert_eq!(drain(s).await, 0, "a second pass finds nothing: {}", b.name);
        let for_users = deliveries(
            s,
            &t,
            DeliveryFilter {
                endpoint_id: Some(users.id.clone()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            for_users
                .iter()
                .map(|d| d.event_id.clone())
                .collect::<Vec<_>>(),
            vec![mine[0].id.clone(), mine[2].id.clone()],
            "{}",
            b.name
        );
        assert!(for_users.iter().all(|d| d.status == DeliveryStatus::Pending
            && d.attempts == 0
            && d.next_attempt_at.is_some()));
        let for_all = deliveries(
            s,
            &t,
            DeliveryFilter {
                endpoint_id: Some(all.id.clone()),
                ..Default::default()
            },
        )
        .await;
        let kinds: Vec<&str> = for_all.iter().map(|d| d.event_type.as_str()).collect();
        assert_eq!(
            kinds,
            ["user.created", "app.created", "user.deleted"],
            "in event order: {}",
            b.name
        );
        assert!(
            deliveries(
                s,
                &t,
                DeliveryFilter {
                    endpoint_id: Some(off.id.clone()),
                    ..Default::default()
                }
            )
            .await
            .is_empty()
        );
        let for_other = deliveries(s, &other, DeliveryFilter::default()).await;
        assert_eq!(for_other.len(), 1);
        assert_eq!(for_other[0].event_id, theirs[0].id);
        assert_eq!(for_other[0].endpoint_id, elsewhere.id);
        assert_eq!(
            created as usize,
            for_users.len() + for_all.len() + for_other.len()
        );

        // Filters.
        let users_only = deliveries(
            s,
            &t,
            DeliveryFilter {
                event_type: Some("user.*".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(users_only.len(), 4);
        let exact = deliveries(
            s,
            &t,
            DeliveryFilter {
                event_type: Some("app.created".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(exact.len(), 1);
        let by_event = deliveries(
            s,
            &t,
            DeliveryFilter {
                event_id: Some(mine[0].id.clone()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(by_event.len(), 2);
        let later = deliveries(
            s,
            &t,
            DeliveryFilter {
                since: Some(Timestamp::now().plus(60 * SEC)),
                ..Default::default()
            },
        )
        .await;
        assert!(later.is_empty());
        assert!(
            deliveries(
                s,
                &t,
                DeliveryFilter {
                    status: Some(DeliveryStatus::Dead),
                    ..Default::default()
                }
            )
            .await
            .is_empty()
        );
        let got = s.get_delivery(&t, &for_users[0].id).await.unwrap().unwrap();
        assert_eq!(got, for_users[0]);
        assert!(
            s.get_delivery(&other, &for_users[0].id)
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn fan_out_can_hand_what_it_creates_straight_to_a_worker() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "fan-claim").await;
        let first = add_endpoint(s, &t, &["user.*"]).await;
        let second = add_endpoint(s, &t, &["user.*"]).await;
        let blocked = add_endpoint(s, &t, &["user.*"]).await;
        drain(s).await;
        let events = emit(
            s,
            Some(&t),
            &["user.created", "user.updated", "user.deleted"],
        )
        .await;

        let now = Timestamp::now();
        let exclude = [blocked.id.clone()];
        let pass = s
            .fan_out_events(
                100,
                now,
                Some(&ClaimRequest {
                    exclude: &exclude,
                    ..request("w1", now, 4)
                }),
            )
            .await
            .unwrap();
        assert_eq!((pass.events, pass.deliveries), (3, 9), "{}", b.name);
        assert_eq!(pass.claimed.len(), 4, "up to the limit: {}", b.name);
        assert!(
            pass.claimed.iter().all(|j| j.endpoint.id != blocked.id),
            "never for an excluded endpoint: {}",
            b.name
        );
        for job in &pass.claimed {
            let event = events.iter().find(|e| e.id == job.event_id).unwrap();
            let sent: serde_json::Value =
                serde_json::from_str(job.event_json.as_deref().unwrap()).unwrap();
            assert_eq!(sent, serde_json::to_value(event).unwrap(), "{}", b.name);
            assert_eq!((job.attempts, job.round_attempts), (0, 0));
            assert_eq!(job.tenant_id, t);
            assert_eq!(
                job.endpoint.secrets.current,
                Sealed::from_stored(format!("sealed-{}", job.endpoint.id)),
                "{}",
                b.name
            );
            assert!([&first.id, &second.id].contains(&&job.endpoint.id));
        }

        let pass_id = pass.claimed[0].handoff.clone();
        for job in &pass.claimed {
            let handoff = job.unwritten().expect("handed off");
            assert_eq!(
                Some(&handoff.pass),
                pass_id.as_ref(),
                "one handoff per pass"
            );
            assert_eq!(
                (&handoff.event_id, &handoff.event_type),
                (&job.event_id, &job.event_type)
            );
        }

        // The rest are written, pending for anyone; the handed-off ones are not written yet.
        let others = claim(s, "w2", now, 100).await;
        assert_eq!(others.len(), 5, "{}", b.name);
        assert!(others.iter().all(|j| j.handoff.is_none()));
        let handed: HashSet<_> = pass.claimed.iter().map(|j| j.id.clone()).collect();
        assert!(others.iter().all(|j| !handed.contains(&j.id)));
        assert_eq!(
            others
                .iter()
                .filter(|j| j.endpoint.id == blocked.id)
                .count(),
            3,
            "{}",
            b.name
        );
        assert_eq!(
            deliveries(s, &t, DeliveryFilter::default()).await.len(),
            5,
            "{}",
            b.name
        );
        assert!(
            s.get_delivery(&t, &pass.claimed[0].id)
                .await
                .unwrap()
                .is_none()
        );

        // A result writes the delivery, in its next state, with the attempt.
        let done = &pass.claimed[0];
        s.record_attempts("w1", &[success(done, now)], &[])
            .await
            .unwrap();
        let stored = s.get_delivery(&t, &done.id).await.unwrap().unwrap();
        assert_eq!(
            (
                stored.status,
                stored.attempts,
                &stored.event_id,
                &stored.endpoint_id
            ),
            (
                DeliveryStatus::Succeeded,
                1,
                &done.event_id,
                &done.endpoint.id
            ),
            "{}",
            b.name
        );
        assert_eq!(stored.last_response_status, Some(200), "{}", b.name);
        let page = PageRequest::new(Some(10), None, None).unwrap();
        let filter = AttemptFilter {
            delivery_id: Some(done.id.clone()),
            ..AttemptFilter::default()
        };
        let attempts = s.list_attempts(&t, &filter, &page).await.unwrap().data;
        assert_eq!(attempts.len(), 1, "{}", b.name);

        // A job given back is written as pending, due no earlier than asked.
        let paused = &pass.claimed[1];
        s.release_deliveries(
            "w1",
            std::slice::from_ref(paused),
            now,
            Some(now.plus(30 * SEC)),
        )
        .await
        .unwrap();
        let stored = s.get_delivery(&t, &paused.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.attempts, stored.next_attempt_at),
            (DeliveryStatus::Pending, 0, Some(now.plus(30 * SEC))),
            "{}",
            b.name
        );
        assert!(claim(s, "w2", now, 100).await.is_empty(), "{}", b.name);

        // The worker dies: after the lease, the next claim writes the unwritten ones as
        // pending and hands them out like any due delivery — exactly the same jobs.
        let later = now.plus(120 * SEC);
        let mut retaken = claim(s, "w3", later, 100).await;
        retaken.retain(|j| handed.contains(&j.id));
        retaken.sort_by(|a, b| a.id.cmp(&b.id));
        let mut expected: Vec<DeliveryJob> = pass.claimed[1..].to_vec();
        for job in &mut expected {
            job.handoff = None;
        }
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(retaken, expected, "{}", b.name);

        // The first worker's late result keeps its attempt and changes nothing else.
        let late = &pass.claimed[2];
        s.record_attempts("w1", &[success(late, later)], &[])
            .await
            .unwrap();
        let stored = s.get_delivery(&t, &late.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.attempts),
            (DeliveryStatus::Pending, 0),
            "{}",
            b.name
        );
        let filter = AttemptFilter {
            delivery_id: Some(late.id.clone()),
            ..AttemptFilter::default()
        };
        let attempts = s.list_attempts(&t, &filter, &page).await.unwrap().data;
        assert_eq!(attempts.len(), 1, "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn a_deleted_handoff_stays_deleted() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "hand-settle").await;
        add_endpoint(s, &t, &["user.*"]).await;
        drain(s).await;
        emit(
            s,
            Some(&t),
            &["user.created", "user.updated", "user.deleted"],
        )
        .await;
        let now = Timestamp::now();
        let hand = request("w1", now, 1);
        let mut jobs = Vec::new();
        for _ in 0..3 {
            let pass = s.fan_out_events(1, now, Some(&hand)).await.unwrap();
            jobs.push(pass.claimed[0].clone());
        }
        let pass = |job: &DeliveryJob| job.handoff.clone().unwrap();
        assert_ne!(pass(&jobs[0]), pass(&jobs[1]), "one handoff per pass");
        let [written, kept, deleted] = [&jobs[0], &jobs[1], &jobs[2]];
        s.record_attempts("w1", &[success(written, now)], &[])
            .await
            .unwrap();
        s.delete_handoffs(&[pass(written), pass(deleted)])
            .await
            .unwrap();
        // After the lease only the handoff still there comes back.
        let back = claim(s, "w2", now.plus(120 * SEC), 10).await;
        assert_eq!(
            back.iter().map(|j| &j.id).collect::<Vec<_>>(),
            [&kept.id],
            "{}",
            b.name
        );
        assert!(s.get_delivery(&t, &deleted.id).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn handed_off_deliveries_of_a_deleted_endpoint_are_dropped_quietly() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "hand-delete").await;
        let kept = add_endpoint(s, &t, &["user.*"]).await;
        let gone = add_endpoint(s, &t, &["user.*"]).await;
        drain(s).await;
        emit(s, Some(&t), &["user.created", "user.updated"]).await;
        let now = Timestamp::now();
        let pass = s
            .fan_out_events(100, now, Some(&request("w1", now, 100)))
            .await
            .unwrap();
        assert_eq!(pass.claimed.len(), 4, "{}", b.name);
        s.delete_webhook_endpoint(&t, &gone.id, &change("webhook.deleted", Some(&t)))
            .await
            .unwrap();

        // Results for both endpoints, and a release: only the kept endpoint's are written.
        let (of_gone, of_kept): (Vec<_>, Vec<_>) =
            pass.claimed.iter().partition(|j| j.endpoint.id == gone.id);
        let records: Vec<AttemptRecord> = of_gone
            .iter()
            .chain(&of_kept[..1])
            .map(|job| success(job, now))
            .collect();
        s.record_attempts("w1", &records[1..], &[]).await.unwrap();
        let released: Vec<DeliveryJob> = [
            records[0].attempt.delivery_id.clone(),
            of_kept[1].id.clone(),
        ]
        .iter()
        .map(|id| pass.claimed.iter().find(|j| &j.id == id).unwrap().clone())
        .collect();
        s.release_deliveries("w1", &released, now, None)
            .await
            .unwrap();

        let all = deliveries(s, &t, DeliveryFilter::default()).await;
        assert_eq!(all.len(), 2, "{}", b.name);
        assert!(all.iter().all(|d| d.endpoint_id == kept.id), "{}", b.name);
        // Nothing else comes back after the lease (the released one is due).
        assert!(
            claim(s, "w2", now.plus(120 * SEC), 100)
                .await
                .iter()
                .all(|j| j.id == of_kept[1].id),
            "{}",
            b.name
        );
    })
    .await;
}

#[tokio::test]
async fn claims_leases_and_results() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "claims").await;
        drain(s).await;
        let e = add_endpoint(s, &t, &["user.*"]).await;
        let other = add_endpoint(s, &t, &["app.*"]).await;
        let events = emit(
            s,
            Some(&t),
            &[
                "user.created",
                "user.updated",
                "user.deleted",
                "app.created",
            ],
        )
        .await;
        drain(s).await;
        let now = Timestamp::now();

        // Exclusion, limits and leases.
        let excluded = s
            .claim_deliveries(&ClaimRequest {
                exclude: std::slice::from_ref(&e.id),
                ..request("w1", now, 10)
            })
            .await
            .unwrap();
        assert_eq!(excluded.len(), 1, "{}", b.name);
        assert_eq!(excluded[0].endpoint.id, other.id);
        // Released with a later due time (a Retry-After pause): not claimable before it.
        s.release_deliveries("w1", &excluded[..1], now, Some(now.plus(30 * SEC)))
            .await
            .unwrap();
        let d = s.get_delivery(&t, &excluded[0].id).await.unwrap().unwrap();
        assert_eq!(d.next_attempt_at, Some(now.plus(30 * SEC)), "{}", b.name);
        s.release_deliveries("w1", &excluded[..1], now, Some(now.minus(30 * SEC)))
            .await
            .unwrap();
        let d = s.get_delivery(&t, &excluded[0].id).await.unwrap().unwrap();
        assert_eq!(d.next_attempt_at, Some(now.plus(30 * SEC)), "never earlier");
        s.resend_delivery(
            &t,
            &excluded[0].id,
            now,
            &change("delivery.resent", Some(&t)),
        )
        .await
        .unwrap();

        let jobs = claim(s, "w1", now, 2).await;
        assert_eq!(jobs.len(), 2);
        let job = &jobs[0];
        let json = job.event_json.as_deref().expect("event loaded");
        // Byte for byte what serializing the event gives (the body receivers verify).
        let event: Event = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&event).unwrap(), json, "{}", b.name);
        let event = &event;
        assert!(events.contains(event), "{}", b.name);
        assert_eq!(job.endpoint.url, e.url);
        assert_eq!(
            job.endpoint.secrets.current.as_str(),
            format!("sealed-{}", e.id)
        );
        assert_eq!((job.attempts, job.round_attempts), (0, 0));
        let rest = claim(s, "w2", now, 10).await;
        assert_eq!(
            rest.len(),
            2,
            "leased deliveries are not claimed twice: {}",
            b.name
        );
        assert!(claim(s, "w3", now, 10).await.is_empty());
        // After the lease ends, another worker may take them.
        let expired = claim(s, "w3", now.plus(61 * SEC), 10).await;
        assert_eq!(expired.len(), 4);
        let ours: HashSet<_> = jobs.iter().chain(&rest).map(|j| j.id.clone()).collect();
        assert_eq!(ours, expired.iter().map(|j| j.id.clone()).collect());

        // w1 lost its lease: its late result is kept as an attempt but changes nothing else.
        let late = AttemptRecord {
            handoff: None,
            attempt: attempt(job, AttemptStatus::Succeeded, now),
            next: NextState::Succeeded,
        };
        s.record_attempts("w1", std::slice::from_ref(&late), &[])
            .await
            .unwrap();
        let d = s.get_delivery(&t, &job.id).await.unwrap().unwrap();
        assert_eq!(
            (d.status, d.attempts),
            (DeliveryStatus::Pending, 0),
            "{}",
            b.name
        );

        // w3 holds all four: success, retry, skip, dead.
        let at = now.plus(62 * SEC);
        let by_id = |id: &DeliveryId| expired.iter().find(|j| &j.id == id).unwrap().clone();
        let [j1, j2, j3, j4] = [0, 1, 2, 3].map(|i| by_id(&expired[i].id));
        let retry_at = at.plus(5 * SEC);
        let records = vec![
            AttemptRecord {
                handoff: None,
                attempt: attempt(&j1, AttemptStatus::Succeeded, at),
                next: NextState::Succeeded,
            },
            AttemptRecord {
                handoff: None,
                attempt: attempt(&j2, AttemptStatus::Failed, at),
                next: NextState::Retry { at: retry_at },
            },
            AttemptRecord {
                handoff: None,
                attempt: attempt(&j3, AttemptStatus::Skipped, at),
                next: NextState::Skipped {
                    reason: "dropped by filter".into(),
                },
            },
            AttemptRecord {
                handoff: None,
                attempt: attempt(&j4, AttemptStatus::Failed, at),
                next: NextState::Dead {
                    reason: "exhausted".into(),
                },
            },
        ];
        let since = at.minus(SEC);
        s.record_attempts(
            "w3",
            &records,
            &[EndpointHealth {
                endpoint_id: e.id.clone(),
                failing_since: Some(since),
            }],
        )
        .await
        .unwrap();
        let d1 = s.get_delivery(&t, &j1.id).await.unwrap().unwrap();
        assert_eq!(
            (
                d1.status,
                d1.attempts,
                d1.last_response_status,
                d1.last_error.clone()
            ),
            (DeliveryStatus::Succeeded, 1, Some(200), None),
            "{}",
            b.name
        );
        assert_eq!(d1.last_attempt_at, Some(at));
        assert_eq!(d1.next_attempt_at, None);
        let d2 = s.get_delivery(&t, &j2.id).await.unwrap().unwrap();
        assert_eq!(
            (d2.status, d2.next_attempt_at, d2.last_error.as_deref()),
            (DeliveryStatus::Pending, Some(retry_at), Some("boom"))
        );
        let d3 = s.get_delivery(&t, &j3.id).await.unwrap().unwrap();
        assert_eq!(
            (d3.status, d3.last_error.as_deref()),
            (DeliveryStatus::Skipped, Some("dropped by filter"))
        );
        let d4 = s.get_delivery(&t, &j4.id).await.unwrap().unwrap();
        assert_eq!(
            (d4.status, d4.last_error.as_deref()),
            (DeliveryStatus::Dead, Some("exhausted"))
        );
        assert_eq!(
            s.get_webhook_endpoint(&t, &e.id)
                .await
                .unwrap()
                .unwrap()
                .failing_since,
            Some(since)
        );
        // A later failure keeps the streak's start; a success ends it.
        s.record_attempts(
            "w3",
            &[],
            &[EndpointHealth {
                endpoint_id: e.id.clone(),
                failing_since: Some(at),
            }],
        )
        .await
        .unwrap();
        assert_eq!(
            s.get_webhook_endpoint(&t, &e.id)
                .await
                .unwrap()
                .unwrap()
                .failing_since,
            Some(since)
        );
        s.record_attempts(
            "w3",
            &[],
            &[EndpointHealth {
                endpoint_id: e.id.clone(),
                failing_since: None,
            }],
        )
        .await
        .unwrap();
        assert_eq!(
            s.get_webhook_endpoint(&t, &e.id)
                .await
                .unwrap()
                .unwrap()
                .failing_since,
            None
        );

        // The retry is due at its time, with its round position.
        assert!(claim(s, "w4", retry_at.minus(SEC), 10).await.is_empty());
        let again = claim(s, "w4", retry_at, 10).await;
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].attempts, again[0].round_attempts), (1, 1));

        // Attempts: every record (the late one too), filterable.
        let page = PageRequest::new(Some(100), None, Some(Order::Asc)).unwrap();
        let all = s
            .list_attempts(&t, &AttemptFilter::default(), &page)
            .await
            .unwrap()
            .data;
        assert_eq!(all.len(), 5, "{}", b.name);
        for record in &records {
            assert!(all.contains(&record.attempt), "{}", b.name);
        }
        let failed = s
            .list_attempts(
                &t,
                &AttemptFilter {
                    status: Some(AttemptStatus::Failed),
                    ..Default::default()
                },
                &page,
            )
            .await
            .unwrap()
            .data;
        assert_eq!(failed.len(), 2);
        let of_job = s
            .list_attempts(
                &t,
                &AttemptFilter {
                    delivery_id: Some(job.id.clone()),
                    ..Default::default()
                },
                &page,
            )
            .await
            .unwrap()
            .data;
        assert_eq!(of_job.len(), 2, "the late attempt and w3's: {}", b.name);
        assert!(
            s.list_attempts(&TenantId::generate(), &AttemptFilter::default(), &page)
                .await
                .unwrap()
                .data
                .is_empty()
        );

        // Deleting the endpoint takes its deliveries and attempts along.
        s.delete_webhook_endpoint(&t, &e.id, &change("endpoint.deleted", Some(&t)))
            .await
            .unwrap();
        assert!(
            deliveries(
                s,
                &t,
                DeliveryFilter {
                    endpoint_id: Some(e.id.clone()),
                    ..Default::default()
                }
            )
            .await
            .is_empty()
        );
        let left = s
            .list_attempts(
                &t,
                &AttemptFilter {
                    endpoint_id: Some(e.id.clone()),
                    ..Default::default()
                },
                &page,
            )
            .await
            .unwrap()
            .data;
        assert!(left.is_empty(), "{}", b.name);
        // A result for a deleted delivery is dropped, not an error.
        s.record_attempts(
            "w4",
            &[AttemptRecord {
                handoff: None,
                attempt: attempt(&again[0], AttemptStatus::Succeeded, at),
                next: NextState::Succeeded,
            }],
            &[],
        )
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn resend_redrive_and_recover() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "replay").await;
        drain(s).await;
        let e = add_endpoint(s, &t, &["user.*"]).await;
        let old = emit(
            s,
            Some(&t),
            &["user.created", "app.created", "user.updated"],
        )
        .await;
        drain(s).await;
        let now = Timestamp::now();
        let jobs = claim(s, "w", now, 10).await;
        assert_eq!(jobs.len(), 2);
        let records: Vec<AttemptRecord> = jobs
            .iter()
            .map(|j| AttemptRecord {
                handoff: None,
                attempt: attempt(j, AttemptStatus::Failed, now),
                next: NextState::Dead {
                    reason: "exhausted".into(),
                },
            })
            .collect();
        s.record_attempts("w", &records, &[]).await.unwrap();

        // Redrive: every dead delivery of the endpoint becomes due again, in a new round.
        let later = now.plus(10 * SEC);
        let n = s
            .redrive_dead_deliveries(
                &t,
                Some(&e.id),
                later,
                &change("delivery.redriven", Some(&t)),
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "{}", b.name);
        let again = claim(s, "w", later, 10).await;
        assert_eq!(again.len(), 2);
        assert!(
            again
                .iter()
                .all(|j| j.attempts == 1 && j.round_attempts == 0)
        );
        let ok: Vec<AttemptRecord> = again
            .iter()
            .map(|j| AttemptRecord {
                handoff: None,
                attempt: attempt(j, AttemptStatus::Succeeded, later),
                next: NextState::Succeeded,
            })
            .collect();
        s.record_attempts("w", &ok, &[]).await.unwrap();
        assert_eq!(
            s.redrive_dead_deliveries(&t, None, later, &change("delivery.redriven", Some(&t)))
                .await
                .unwrap(),
            0
        );

        // Resend one succeeded delivery.
        s.resend_delivery(
            &t,
            &again[0].id,
            later,
            &change("delivery.resent", Some(&t)),
        )
        .await
        .unwrap();
        let d = s.get_delivery(&t, &again[0].id).await.unwrap().unwrap();
        assert_eq!(
            (d.status, d.next_attempt_at, d.attempts),
            (DeliveryStatus::Pending, Some(later), 2)
        );
        let missing = s
            .resend_delivery(
                &t,
                &DeliveryId::generate(),
                later,
                &change("delivery.resent", Some(&t)),
            )
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
        let foreign = s
            .resend_delivery(
                &TenantId::generate(),
                &again[0].id,
                later,
                &change("delivery.resent", None),
            )
            .await;
        assert!(matches!(foreign, Err(StoreError::NotFound)), "{}", b.name);

        // Recover: a second endpoint created after the events gets them when asked, re-arming
        // non-pending deliveries of the first, respecting types and the time window.
        let late = add_endpoint(s, &t, &["user.created", "app.*"]).await;
        let fresh = emit(s, Some(&t), &["user.created"]).await; // not fanned out yet: not recovered
        let since = old[0].occurred_at;
        let n = s
            .recover_deliveries(
                &t,
                &late.id,
                since,
                None,
                later,
                &change("endpoint.recovered", Some(&t)),
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "user.created and app.created: {}", b.name);
        let mine = deliveries(
            s,
            &t,
            DeliveryFilter {
                endpoint_id: Some(late.id.clone()),
                ..Default::default()
            },
        )
        .await;
        let ids: Vec<_> = mine.iter().map(|d| d.event_id.clone()).collect();
        assert_eq!(ids, vec![old[0].id.clone(), old[1].id.clone()]);
        // Again: both are pending now, nothing to re-arm.
        assert_eq!(
            s.recover_deliveries(
                &t,
                &late.id,
                since,
                None,
                later,
                &change("endpoint.recovered", Some(&t))
            )
            .await
            .unwrap(),
            0
        );
        // Empty window.
        let until = since;
        assert_eq!(
            s.recover_deliveries(
                &t,
                &e.id,
                since,
                Some(until),
                later,
                &change("endpoint.recovered", Some(&t))
            )
            .await
            .unwrap(),
            0
        );
        // The first endpoint: one resent (pending) and one succeeded → only the succeeded one re-arms.
        assert_eq!(
            s.recover_deliveries(
                &t,
                &e.id,
                since,
                None,
                later,
                &change("endpoint.recovered", Some(&t))
            )
            .await
            .unwrap(),
            1
        );
        let unknown = s
            .recover_deliveries(
                &t,
                &WebhookEndpointId::generate(),
                since,
                None,
                later,
                &change("endpoint.recovered", Some(&t)),
            )
            .await;
        assert!(matches!(unknown, Err(StoreError::NotFound)));
        drain(s).await;
        assert!(
            deliveries(
                s,
                &t,
                DeliveryFilter {
                    event_id: Some(fresh[0].id.clone()),
                    ..Default::default()
                }
            )
            .await
            .len()
                == 2
        );
    })
    .await;
}

#[tokio::test]
async fn purge_removes_finished_old_deliveries_only() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "purge").await;
        drain(s).await;
        add_endpoint(s, &t, &["user.*"]).await;
        emit(s, Some(&t), &["user.created", "user.updated"]).await;
        drain(s).await;
        let now = Timestamp::now();
        let jobs = claim(s, "w", now, 1).await;
        s.record_attempts(
            "w",
            &[AttemptRecord {
                handoff: None,
                attempt: attempt(&jobs[0], AttemptStatus::Succeeded, now),
                next: NextState::Succeeded,
            }],
            &[],
        )
        .await
        .unwrap();
        assert_eq!(s.purge_deliveries(now.minus(3600 * SEC)).await.unwrap(), 0);
        assert_eq!(
            s.purge_deliveries(now.plus(SEC)).await.unwrap(),
            1,
            "{}",
            b.name
        );
        let left = deliveries(s, &t, DeliveryFilter::default()).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].status, DeliveryStatus::Pending);
        let page = PageRequest::new(Some(100), None, None).unwrap();
        assert!(
            s.list_attempts(&t, &AttemptFilter::default(), &page)
                .await
                .unwrap()
                .data
                .is_empty()
        );
    })
    .await;
}

/// A tenant's delete takes its endpoints' deliveries and attempts along (a cascade on SQLite,
/// the endpoint delete trigger on PostgreSQL), whether written pending or from a handoff.
#[tokio::test]
async fn deleting_a_tenant_deletes_its_deliveries_and_attempts() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = new_tenant(s, "gone").await;
        let other = new_tenant(s, "stays").await;
        drain(s).await;
        add_endpoint(s, &t, &["*"]).await;
        add_endpoint(s, &other, &["*"]).await;
        emit(s, Some(&t), &["user.created"]).await;
        emit(s, Some(&other), &["user.created"]).await;
        drain(s).await;
        emit(s, Some(&t), &["user.updated"]).await;
        let now = Timestamp::now();
        let handed = s
            .fan_out_events(10, now, Some(&request("w", now, 10)))
            .await
            .unwrap()
            .claimed;
        let mut jobs = claim(s, "w", now, 10).await;
        jobs.extend(handed);
        assert_eq!(jobs.len(), 3, "{}", b.name);
        let records: Vec<AttemptRecord> = jobs.iter().map(|job| success(job, now)).collect();
        s.record_attempts("w", &records, &[]).await.unwrap();
        let page = PageRequest::new(Some(100), None, None).unwrap();
        let attempts = async |tenant: &TenantId| {
            s.list_attempts(tenant, &AttemptFilter::default(), &page)
                .await
                .unwrap()
                .data
                .len()
        };
        assert_eq!(attempts(&t).await, 2, "{}", b.name);

        s.delete_tenant(&t, &change("tenant.deleted", Some(&t)))
            .await
            .unwrap();
        assert!(
            deliveries(s, &t, DeliveryFilter::default())
                .await
                .is_empty(),
            "{}",
            b.name
        );
        assert_eq!(attempts(&t).await, 0, "{}", b.name);
        assert_eq!(
            deliveries(s, &other, DeliveryFilter::default()).await.len(),
            1
        );
        assert_eq!(
            attempts(&other).await,
            1,
            "the other tenant keeps its own: {}",
            b.name
        );
    })
    .await;
}

/// Replicas claiming at the same time never get the same delivery.
#[tokio::test]
async fn concurrent_claims_are_disjoint() {
    for_each_backend(|b| async move {
        let s = b.store.clone();
        let t = new_tenant(&s, "disjoint").await;
        drain(&s).await;
        add_endpoint(&s, &t, &["user.*"]).await;
        let kinds = vec!["user.created"; 300];
        emit(&s, Some(&t), &kinds).await;
        drain(&s).await;
        let now = Timestamp::now();
        let mut tasks = Vec::new();
        for w in 0..4 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut got = Vec::new();
                loop {
                    let jobs = claim(&s, &worker, now, 7).await;
                    if jobs.is_empty() {
                        return got;
                    }
                    got.extend(jobs.into_iter().map(|j| j.id));
                }
            }));
        }
        let mut seen = HashSet::new();
        let mut total = 0;
        for task in tasks {
            for id in task.await.unwrap() {
                total += 1;
                assert!(seen.insert(id), "claimed twice on {}", b.name);
            }
        }
        assert_eq!(total, 300, "{}", b.name);
    })
    .await;
}

/// Fan-out passes racing each other (replicas on PostgreSQL; on SQLite, passes that read the
/// feed before taking the writer): every event becomes one delivery, handed out once.
#[tokio::test]
async fn concurrent_fan_out_passes_hand_each_delivery_out_once() {
    for_each_backend(|b| async move {
        let s = b.store.clone();
        let t = new_tenant(&s, "racing-passes").await;
        drain(&s).await;
        add_endpoint(&s, &t, &["user.*"]).await;
        let kinds = vec!["user.created"; 300];
        emit(&s, Some(&t), &kinds).await;
        let mut tasks = Vec::new();
        for w in 0..4 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let (mut handed, mut pending) = (Vec::new(), 0);
                loop {
                    let now = Timestamp::now();
                    let pass = s
                        .fan_out_events(7, now, Some(&request(&worker, now, 7)))
                        .await
                        .unwrap();
                    pending += pass.deliveries as usize - pass.claimed.len();
                    handed.extend(pass.claimed.into_iter().map(|j| j.event_id));
                    if pass.events == 0 && !pass.more {
                        return (handed, pending);
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        let (mut seen, mut pending) = (HashSet::new(), 0);
        for task in tasks {
            let (handed, left) = task.await.unwrap();
            pending += left;
            for event in handed {
                assert!(
                    seen.insert(event),
                    "an event handed out twice on {}",
                    b.name
                );
            }
        }
        pending += drain(&s).await as usize;
        assert_eq!(seen.len() + pending, 300, "{}", b.name);
        assert!(!seen.is_empty(), "{}", b.name);
    })
    .await;
}

/// The deadlock the design rules out: endpoint deletes (row lock, then the events lock for
/// their event) racing event writers, the fan-out and result writes. Everything finishes,
/// nothing fails, and no delivery outlives its endpoint.
#[tokio::test]
async fn endpoint_churn_with_concurrent_events_fan_out_and_results_does_not_deadlock() {
    for_each_backend(|b| async move {
        let s = b.store.clone();
        let t = new_tenant(&s, "churn").await;
        drain(&s).await;
        let store = Arc::new(s.clone());
        let deadline = Duration::from_secs(120);
        let run = async {
            let writers = (0..2).map(|_| {
                let s = store.clone();
                let t = t.clone();
                tokio::spawn(async move {
                    for _ in 0..40 {
                        emit(&s, Some(&t), &["user.created", "app.created"]).await;
                    }
                })
            });
            let churn = {
                let s = store.clone();
                let t = t.clone();
                tokio::spawn(async move {
                    for _ in 0..25 {
                        let e = add_endpoint(&s, &t, &["*"]).await;
                        tokio::task::yield_now().await;
                        s.delete_webhook_endpoint(&t, &e.id, &change("endpoint.deleted", Some(&t)))
                            .await
                            .unwrap();
                    }
                })
            };
            let keeper = add_endpoint(&store, &t, &["*"]).await;
            let fan = {
                let s = store.clone();
                tokio::spawn(async move {
                    for _ in 0..200 {
                        s.fan_out_events(20, Timestamp::now(), None).await.unwrap();
                    }
                })
            };
            let results = {
                let s = store.clone();
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let now = Timestamp::now();
                        let jobs = claim(&s, "churner", now, 25).await;
                        let records: Vec<_> = jobs
                            .iter()
                            .map(|j| AttemptRecord {
                                handoff: None,
                                attempt: attempt(j, AttemptStatus::Succeeded, now),
                                next: NextState::Succeeded,
                            })
                            .collect();
                        let health: Vec<_> = jobs
                            .iter()
                            .map(|j| EndpointHealth {
                                endpoint_id: j.endpoint.id.clone(),
                                failing_since: None,
                            })
                            .collect();
                        s.record_attempts("churner", &records, &health)
                            .await
                            .unwrap();
                    }
                })
            };
            for w in writers {
                w.await.unwrap();
            }
            churn.await.unwrap();
            fan.await.unwrap();
            results.await.unwrap();
            keeper
        };
        let keeper = tokio::time::timeout(deadline, run)
            .await
            .unwrap_or_else(|_| panic!("deadlocked on {}", b.name));
        drain(&s).await;
        let page = PageRequest::new(Some(100), None, None).unwrap();
        let mut after = None;
        let mut count = 0;
        loop {
            let p = PageRequest {
                after: after.clone(),
                ..page.clone()
            };
            let got = s
                .list_deliveries(&t, &DeliveryFilter::default(), &p)
                .await
                .unwrap();
            for d in &got.data {
                assert_eq!(
                    d.endpoint_id, keeper.id,
                    "a deleted endpoint left a delivery behind: {}",
                    b.name
                );
                count += 1;
            }
            if got.after.is_none() {
                break;
            }
            after = got.after;
        }
        // The surviving endpoint got every user/app event committed after it, once.
        assert!(count > 0, "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn worker_heartbeats_count_live_workers() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t0 = Timestamp::now();
        assert_eq!(
            s.webhook_worker_heartbeat("a", t0, t0.minus(15 * SEC))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.webhook_worker_heartbeat("b", t0, t0.minus(15 * SEC))
                .await
                .unwrap(),
            2,
            "{}",
            b.name
        );
        assert_eq!(
            s.webhook_worker_heartbeat("a", t0.plus(SEC), t0.minus(15 * SEC))
                .await
                .unwrap(),
            2
        );
        // `b` went quiet.
        let later = t0.plus(20 * SEC);
        assert_eq!(
            s.webhook_worker_heartbeat("a", later, later.minus(15 * SEC))
                .await
                .unwrap(),
            1,
            "{}",
            b.name
        );
    })
    .await;
}
