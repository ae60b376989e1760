use gatehouse_core::{
    StoreError, Timestamp,
    audit::{AuditContext, AuditFilter, Target},
    event::{Event, EventFilter},
    page::PageRequest,
    store::{AuditStore, EventStore, TenantStore},
};
use serde_json::json;

use crate::backends::{change, for_each_backend, tenant};

#[tokio::test]
async fn every_mutation_writes_its_audit_entry_and_events() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = tenant("audited");
        let mut c = change("tenant.created", Some(&t.id))
            .target(Target::new("tenant", &t.id, Some(&t.name)))
            .meta("reason", "test")
            .event("tenant.created", json!({"id": t.id}));
        c.audit.context = AuditContext {
            location: Some("192.0.2.7".into()),
            user_agent: Some("curl/8".into()),
            request_id: Some("req_1".into()),
        };
        s.insert_tenant(&t, &c).await.unwrap();

        let filter = AuditFilter {
            tenant_id: Some(t.id.clone()),
            ..Default::default()
        };
        let entries = s
            .list_audit(&filter, &PageRequest::default())
            .await
            .unwrap()
            .data;
        assert_eq!(entries, vec![c.audit.clone()], "{}", b.name);

        let by_target = AuditFilter {
            target_id: Some(t.id.to_string()),
            ..Default::default()
        };
        assert_eq!(
            s.list_audit(&by_target, &PageRequest::default())
                .await
                .unwrap()
                .data
                .len(),
            1
        );
        let by_action = AuditFilter {
            actions: vec!["tenant.deleted".into()],
            ..Default::default()
        };
        assert!(
            s.list_audit(&by_action, &PageRequest::default())
                .await
                .unwrap()
                .data
                .is_empty()
        );
        let by_actor = AuditFilter {
            actor_id: Some("conformance".into()),
            ..Default::default()
        };
        assert_eq!(
            s.list_audit(&by_actor, &PageRequest::default())
                .await
                .unwrap()
                .data
                .len(),
            1
        );
        let later = AuditFilter {
            since: Some(Timestamp::now().plus(std::time::Duration::from_secs(60))),
            ..Default::default()
        };
        assert!(
            s.list_audit(&later, &PageRequest::default())
                .await
                .unwrap()
                .data
                .is_empty()
        );

        let events = s
            .list_events(&EventFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(events.data, c.events, "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn events_feed_follows_a_cursor_and_filters() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let now = Timestamp::now();
        let kinds = [
            "user.created",
            "user.deleted",
            "tenant.created",
            "users.weird",
            "session.created",
        ];
        let events: Vec<Event> = kinds
            .iter()
            .map(|k| Event::new(k, None, now, json!({"k": k})))
            .collect();
        for e in &events {
            s.append_events(std::slice::from_ref(e)).await.unwrap();
        }
        // Page through with a cursor, two at a time.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = s
                .list_events(&EventFilter::default(), after.as_deref(), 2)
                .await
                .unwrap();
            if page.data.is_empty() {
                assert_eq!(page.after, after, "the cursor stays put at the end");
                break;
            }
            seen.extend(page.data.iter().map(|e| e.kind.clone()));
            after = page.after;
        }
        assert_eq!(seen, kinds, "{}", b.name);

        let user_star = EventFilter {
            types: vec!["user.*".into()],
            ..Default::default()
        };
        let got: Vec<_> = s
            .list_events(&user_star, None, 10)
            .await
            .unwrap()
            .data
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(got, ["user.created", "user.deleted"], "{}", b.name);
        let exact = EventFilter {
            types: vec!["session.created".into(), "tenant.created".into()],
            ..Default::default()
        };
        assert_eq!(s.list_events(&exact, None, 10).await.unwrap().data.len(), 2);

        let unknown = s
            .list_events(
                &EventFilter::default(),
                Some("evt_01JDQ8X9W3N2D3V0T2K5Q7R8S9"),
                10,
            )
            .await;
        assert!(matches!(unknown, Err(StoreError::NotFound)), "{}", b.name);

        assert_eq!(
            s.get_event(events[2].id.as_str()).await.unwrap().unwrap(),
            events[2]
        );
        let purged = s
            .purge_events(now.plus(std::time::Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(purged, 5, "{}", b.name);
    })
    .await;
}

#[tokio::test]
async fn tenant_scoped_events() {
    for_each_backend(|b| async move {
        let s = &b.store;
        let t = tenant("events-t");
        s.insert_tenant(
            &t,
            &change("tenant.created", Some(&t.id)).event("tenant.created", json!({})),
        )
        .await
        .unwrap();
        s.append_events(&[Event::new("other", None, Timestamp::now(), json!({}))])
            .await
            .unwrap();
        let mine = EventFilter {
            tenant_id: Some(t.id.clone()),
            ..Default::default()
        };
        let got = s.list_events(&mine, None, 10).await.unwrap().data;
        assert_eq!(got.len(), 1, "{}", b.name);
        assert_eq!(got[0].tenant_id.as_ref(), Some(&t.id));
    })
    .await;
}
