//! The delivery pipeline end to end on a real store: fan-out, claims, signing (judged by the
//! reference `standardwebhooks` library), retries, dead letters, replay, and a receiver that
//! misbehaves in every way the Standard Webhooks spec anticipates.

use std::{
    collections::HashSet,
    io,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use gatehouse_core::{
    Error,
    audit::AuditFilter,
    clock::Clock,
    event::{Event, EventFilter},
    page::PageRequest,
    webhook::{
        AttemptStatus, CreateEndpoint, DeliveryStatus, RecoverRequest, RedriveRequest,
        RotateSecret, TestRequest, Transform, UpdateEndpoint,
    },
};
use gatehouse_egress::Resolver;
use gatehouse_webhooks::{
    TransformError, Transformed, Transformer,
    signing::{DEFAULT_TOLERANCE, Secret, SignatureHeaders, verify},
};
use serde_json::{Value, json};

use crate::{
    standard_webhooks::judge,
    support::{Harness, Options, Received, Receiver, Reply, SEC, Tripwire, backends, eventually},
};

const WAIT: Duration = Duration::from_secs(15);

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Our own verifier's verdict on a received message.
fn ours(r: &Received, secret: &str) -> bool {
    let headers = SignatureHeaders::from_header_map(&r.headers).unwrap();
    verify(
        &headers,
        &r.body,
        &[Secret::parse(secret).unwrap()],
        DEFAULT_TOLERANCE,
        unix_now(),
    )
    .is_ok()
}

/// The reference library's verdicts (with ours alongside); `None` when the judge is not
/// installed (only allowed without STRICT=1, and our verdicts are still checked).
fn judged(received: &[Received], secret: &str) -> Vec<bool> {
    let verdicts: Vec<bool> = received.iter().map(|r| ours(r, secret)).collect();
    if let Some(judge) = judge() {
        let cases: Vec<Value> = received
            .iter()
            .map(|r| {
                json!({
                    "kind": "verify",
                    "secret": secret,
                    "body": String::from_utf8(r.body.to_vec()).unwrap(),
                    "headers": {
                        "webhook-id": r.header("webhook-id"),
                        "webhook-timestamp": r.header("webhook-timestamp"),
                        "webhook-signature": r.header("webhook-signature"),
                    },
                })
            })
            .collect();
        let results = judge.run(&cases);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(
                result["ok"].as_bool(),
                Some(verdicts[i]),
                "the reference library and our verify disagree: {result}"
            );
        }
    }
    verdicts
}

async fn on_each_backend<F, Fut>(options: impl Fn() -> Options, test: F)
where
    F: Fn(Harness) -> Fut,
    Fut: std::future::Future<Output = Harness>,
{
    for backend in backends().await {
        let h = Harness::start(backend, options()).await;
        let h = test(h).await;
        h.stop().await;
    }
}

#[tokio::test]
async fn deliveries_pass_the_reference_verifier_through_a_secret_rotation() {
    on_each_backend(Options::default, |h| async move {
        let receiver = Receiver::ok().await;
        let created = h.endpoint(&receiver.url, &["user.*"]).await;
        let first_secret = created.secret.clone();
        assert!(first_secret.starts_with("whsec_"));
        let events = h
            .emit(&["user.created", "app.created", "user.updated"])
            .await;
        eventually("two deliveries", WAIT, || async {
            (receiver.count() == 2).then_some(())
        })
        .await;

        let seen = receiver.seen();
        assert_eq!(
            judged(&seen, &first_secret),
            [true, true],
            "{:?}",
            h.backend
        );
        // A fresh delivery is listed once its first attempt is recorded.
        let ids: HashSet<String> = eventually("two deliveries recorded", WAIT, || async {
            let listed = h.deliveries(&created.endpoint.id).await;
            (listed.len() == 2).then(|| listed.iter().map(|d| d.id.to_string()).collect())
        })
        .await;
        for r in &seen {
            assert!(
                ids.contains(&r.header("webhook-id")),
                "webhook-id is the delivery id"
            );
            assert_eq!(r.header("content-type"), "application/json");
            assert_eq!(
                r.header("webhook-timestamp"),
                h.clock.now().unix_seconds().to_string()
            );
            assert_eq!(r.header("webhook-signature").split(' ').count(), 1);
            let event: Event = serde_json::from_slice(&r.body).unwrap();
            assert!(
                event == events[0] || event == events[2],
                "the body is the event as the feed shows it"
            );
        }
        // Results are written in batches just after the answers: wait for them.
        let deliveries = eventually("both recorded as delivered", WAIT, || async {
            let ds = h.deliveries(&created.endpoint.id).await;
            ds.iter()
                .all(|d| d.status == DeliveryStatus::Succeeded && d.attempts == 1)
                .then_some(ds)
        })
        .await;
        let attempt = &h.attempts(&deliveries[0].id).await[0];
        assert_eq!(
            (attempt.status, attempt.response_status),
            (AttemptStatus::Succeeded, Some(204))
        );

        // Rotation: both secrets sign while the window lasts.
        let rotated = h
            .webhooks
            .rotate_secret(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &created.endpoint.id,
                RotateSecret {
                    secret: None,
                    previous_valid_for_seconds: Some(60),
                },
            )
            .await
            .unwrap();
        assert_ne!(rotated.secret, first_secret);
        h.emit(&["user.deleted"]).await;
        eventually("the rotation delivery", WAIT, || async {
            (receiver.count() == 3).then_some(())
        })
        .await;
        let during = &receiver.seen()[2..];
        assert_eq!(during[0].header("webhook-signature").split(' ').count(), 2);
        assert_eq!(
            judged(during, &first_secret),
            [true],
            "old secret during the window"
        );
        assert_eq!(
            judged(during, &rotated.secret),
            [true],
            "new secret during the window"
        );
        assert_eq!(judged(during, &Secret::generate().expose()), [false]);

        // After the window only the new secret signs. The jump is longer than a claim's
        // lease: let the last result be recorded first, or its delivery would be claimed again.
        eventually("the rotation delivery recorded", WAIT, || async {
            let ds = h.deliveries(&created.endpoint.id).await;
            (ds.len() == 3 && ds.iter().all(|d| d.status == DeliveryStatus::Succeeded))
                .then_some(())
        })
        .await;
        h.clock.advance(61 * SEC);
        h.emit(&["user.created"]).await;
        eventually("the post-rotation delivery", WAIT, || async {
            (receiver.count() == 4).then_some(())
        })
        .await;
        let after = &receiver.seen()[3..];
        assert_eq!(after[0].header("webhook-signature").split(' ').count(), 1);
        assert_eq!(judged(after, &rotated.secret), [true]);
        assert_eq!(judged(after, &first_secret), [false]);
        h
    })
    .await;
}

#[tokio::test]
async fn a_flaky_receiver_is_retried_on_schedule_under_one_webhook_id() {
    let options = || Options {
        schedule: vec![10 * SEC, 10 * SEC, 10 * SEC],
        ..Options::default()
    };
    on_each_backend(options, |h| async move {
        let receiver = Receiver::start(
            vec![
                Reply::Status(500),
                Reply::Full(502, vec![], b"upstream down".to_vec()),
            ],
            Reply::Status(200),
        )
        .await;
        let created = h.endpoint(&receiver.url, &["user.*"]).await;
        let t0 = h.clock.now();
        h.emit(&["user.created"]).await;
        let id = eventually("a first attempt", WAIT, || async {
            let d = h.deliveries(&created.endpoint.id).await.pop()?;
            (d.attempts == 1).then_some(d)
        })
        .await;
        assert_eq!(id.status, DeliveryStatus::Pending);
        let next = id.next_attempt_at.unwrap();
        assert!(
            next >= t0.plus(9 * SEC) && next <= t0.plus(11 * SEC),
            "5 s ± jitter: {next}"
        );
        assert_eq!(
            h.endpoint_state(&created.endpoint.id).await.failing_since,
            Some(t0)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.count(), 1, "nothing before the retry is due");

        for round in 2..=3 {
            h.clock.advance(11 * SEC);
            eventually("a retry", WAIT, || async {
                let d = h.delivery(&id.id).await;
                (d.attempts == round).then_some(())
            })
            .await;
        }
        let d = h.delivery(&id.id).await;
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        let attempts = h.attempts(&id.id).await;
        let summary: Vec<_> = attempts
            .iter()
            .map(|a| (a.attempt, a.status, a.response_status))
            .collect();
        assert_eq!(
            summary,
            [
                (1, AttemptStatus::Failed, Some(500)),
                (2, AttemptStatus::Failed, Some(502)),
                (3, AttemptStatus::Succeeded, Some(200))
            ]
        );
        assert_eq!(attempts[1].response_body.as_deref(), Some("upstream down"));
        assert!(attempts[0].error.as_deref().unwrap().contains("500"));
        let seen = receiver.seen();
        let ids: HashSet<String> = seen.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(ids.len(), 1, "one webhook-id across retries");
        let stamps: Vec<i64> = seen
            .iter()
            .map(|r| r.header("webhook-timestamp").parse().unwrap())
            .collect();
        assert_eq!(
            stamps,
            [
                t0.unix_seconds(),
                t0.unix_seconds() + 11,
                t0.unix_seconds() + 22
            ],
            "a timestamp per attempt"
        );
        assert_eq!(
            h.endpoint_state(&created.endpoint.id).await.failing_since,
            None,
            "a success ends the streak"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn exhausted_deliveries_are_dead_letters_until_redriven_or_resent() {
    let options = || Options {
        schedule: vec![SEC],
        ..Options::default()
    };
    on_each_backend(options, |h| async move {
        let receiver = Receiver::start(vec![], Reply::Status(500)).await;
        let created = h.endpoint(&receiver.url, &["user.*"]).await;
        h.emit(&["user.created"]).await;
        let d = eventually("a first attempt", WAIT, || async {
            h.deliveries(&created.endpoint.id)
                .await
                .pop()
                .filter(|d| d.attempts == 1)
        })
        .await;
        h.clock.advance(2 * SEC);
        let dead = eventually("a dead letter", WAIT, || async {
            Some(h.delivery(&d.id).await).filter(|d| d.status == DeliveryStatus::Dead)
        })
        .await;
        assert_eq!(dead.attempts, 2);
        assert!(
            dead.last_error
                .as_deref()
                .unwrap()
                .starts_with("gave up after 2 attempts"),
            "{dead:?}"
        );
        h.clock.advance(10 * SEC);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(receiver.count(), 2, "dead letters are not retried");

        receiver.set_otherwise(Reply::Status(200));
        let n = h
            .webhooks
            .redrive(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                RedriveRequest {
                    endpoint_id: Some(created.endpoint.id.clone()),
                },
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        eventually("the redriven delivery", WAIT, || async {
            Some(h.delivery(&d.id).await).filter(|d| d.status == DeliveryStatus::Succeeded)
        })
        .await;
        let resent = h
            .webhooks
            .resend(h.store.as_ref(), h.caller(), &h.tenant, &d.id)
            .await
            .unwrap();
        assert_eq!(resent.status, DeliveryStatus::Pending);
        eventually("the resent delivery", WAIT, || async {
            Some(h.delivery(&d.id).await)
                .filter(|d| d.status == DeliveryStatus::Succeeded && d.attempts == 4)
        })
        .await;
        let ids: HashSet<String> = receiver
            .seen()
            .iter()
            .map(|r| r.header("webhook-id"))
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "resends keep the webhook-id (receivers dedupe on it)"
        );
        let audit = h
            .store
            .list_audit(
                &AuditFilter {
                    actions: vec!["delivery.redriven".into(), "delivery.resent".into()],
                    ..Default::default()
                },
                &PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(audit.data.len(), 2, "replays are audited");
        h
    })
    .await;
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_other_endpoints_hear_about_it() {
    on_each_backend(Options::default, |h| async move {
        let gone = Receiver::start(vec![], Reply::Status(410)).await;
        let watcher = Receiver::ok().await;
        let created = h.endpoint(&gone.url, &["user.*"]).await;
        let watching = h.endpoint(&watcher.url, &["endpoint.disabled"]).await;
        h.emit(&["user.created"]).await;
        let endpoint = eventually("the endpoint disabled", WAIT, || async {
            Some(h.endpoint_state(&created.endpoint.id).await).filter(|e| !e.enabled)
        })
        .await;
        assert_eq!(
            endpoint.disabled_reason.as_deref(),
            Some("the endpoint answered 410 Gone")
        );
        eventually("the endpoint.disabled event delivered", WAIT, || async {
            (watcher.count() == 1).then_some(())
        })
        .await;
        let event: Event = serde_json::from_slice(&watcher.seen()[0].body).unwrap();
        assert_eq!(event.kind, "endpoint.disabled");
        assert_eq!(event.data["id"], created.endpoint.id.to_string());
        assert_eq!(event.data["reason"], "the endpoint answered 410 Gone");
        assert!(ours(&watcher.seen()[0], &watching.secret));
        let audit = h
            .store
            .list_audit(
                &AuditFilter {
                    actions: vec!["endpoint.disabled".into()],
                    ..Default::default()
                },
                &PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(audit.data[0].actor.id, "webhook-delivery");

        // Disabled: nothing more is sent or even fanned out to it.
        h.emit(&["user.updated"]).await;
        h.clock.advance(5 * SEC);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(gone.count(), 1);
        assert_eq!(h.deliveries(&created.endpoint.id).await.len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured() {
    on_each_backend(Options::default, |h| async move {
        let busy = Receiver::start(
            vec![Reply::Full(
                429,
                vec![("retry-after", "120".into())],
                vec![],
            )],
            Reply::Status(200),
        )
        .await;
        // An HTTP date has whole seconds: 60 s ahead means 59-60 s of waiting.
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        let down = Receiver::start(
            vec![Reply::Full(503, vec![("retry-after", date)], vec![])],
            Reply::Status(200),
        )
        .await;
        let a = h.endpoint(&busy.url, &["user.*"]).await;
        let b = h.endpoint(&down.url, &["user.*"]).await;
        let t0 = h.clock.now();
        h.emit(&["user.created"]).await;
        for (endpoint, wait) in [(&a, 120), (&b, 58)] {
            let d = eventually("a throttled attempt", WAIT, || async {
                h.deliveries(&endpoint.endpoint.id)
                    .await
                    .pop()
                    .filter(|d| d.attempts == 1)
            })
            .await;
            let next = d.next_attempt_at.unwrap();
            assert!(
                next >= t0.plus(wait * SEC),
                "not before Retry-After: {next} vs {t0}"
            );
            assert!(
                d.last_error
                    .as_deref()
                    .unwrap()
                    .contains("asked to retry after"),
                "{d:?}"
            );
        }
        // The schedule alone (1 s) would retry now; Retry-After says no.
        h.clock.advance(5 * SEC);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!((busy.count(), down.count()), (1, 1));
        h.clock.advance(121 * SEC);
        for endpoint in [&a, &b] {
            eventually("the retry after the pause", WAIT, || async {
                h.deliveries(&endpoint.endpoint.id)
                    .await
                    .pop()
                    .filter(|d| d.status == DeliveryStatus::Succeeded)
            })
            .await;
        }
        h
    })
    .await;
}

#[tokio::test]
async fn redirects_fail_and_are_never_followed() {
    on_each_backend(Options::default, |h| async move {
        // Even a target the allowlist opens is not followed to.
        let target = Receiver::ok().await;
        let metadata = Tripwire::bind("127.0.0.2").await;
        let redirect = Receiver::start(
            vec![Reply::Full(
                302,
                vec![("location", target.url.clone())],
                vec![],
            )],
            Reply::Full(
                307,
                vec![(
                    "location",
                    format!("http://{}/latest/meta-data", metadata.addr),
                )],
                vec![],
            ),
        )
        .await;
        let created = h.endpoint(&redirect.url, &["user.*"]).await;
        h.emit(&["user.created", "user.updated"]).await;
        let deliveries = eventually("two failed attempts", WAIT, || async {
            let ds = h.deliveries(&created.endpoint.id).await;
            (ds.len() == 2 && ds.iter().all(|d| d.attempts == 1)).then_some(ds)
        })
        .await;
        for d in &deliveries {
            assert_eq!(d.status, DeliveryStatus::Pending);
            assert!(matches!(d.last_response_status, Some(302 | 307)));
            assert!(
                d.last_error
                    .as_deref()
                    .unwrap()
                    .contains("redirects are not followed"),
                "{d:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(target.count(), 0);
        assert_eq!(metadata.accepted(), 0);
        h
    })
    .await;
}

#[tokio::test]
async fn timeouts_slow_loris_and_huge_bodies_are_bounded() {
    let options = || Options {
        timeout: Duration::from_millis(700),
        ..Options::default()
    };
    on_each_backend(options, |h| async move {
        let slow = Receiver::start(vec![], Reply::Slow(Duration::from_secs(5), 200)).await;
        let loris = Receiver::start(vec![], Reply::Trickle(Duration::from_millis(100))).await;
        let huge = Receiver::start(vec![], Reply::Huge(8 << 20)).await;
        let a = h.endpoint(&slow.url, &["user.*"]).await;
        let b = h.endpoint(&loris.url, &["user.*"]).await;
        let c = h.endpoint(&huge.url, &["user.*"]).await;
        let started = Instant::now();
        h.emit(&["user.created"]).await;
        for endpoint in [&a, &b] {
            let d = eventually("a timed-out attempt", WAIT, || async {
                h.deliveries(&endpoint.endpoint.id)
                    .await
                    .pop()
                    .filter(|d| d.attempts == 1)
            })
            .await;
            assert_eq!(d.status, DeliveryStatus::Pending);
            assert!(
                d.last_error
                    .as_deref()
                    .unwrap()
                    .contains("did not complete the response within 700 ms"),
                "{d:?}"
            );
            let attempt = &h.attempts(&d.id).await[0];
            assert!(
                attempt.latency_ms >= 600 && attempt.latency_ms < 3000,
                "{attempt:?}"
            );
        }
        let d = eventually("the huge answer", WAIT, || async {
            h.deliveries(&c.endpoint.id)
                .await
                .pop()
                .filter(|d| d.attempts == 1)
        })
        .await;
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        let attempt = &h.attempts(&d.id).await[0];
        assert_eq!(
            attempt.response_body.as_deref().unwrap(),
            "x".repeat(1024),
            "the first KiB is kept"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no attempt outlived the timeout by much"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_failing_for_longer_than_the_limit_is_disabled() {
    let options = || Options {
        schedule: vec![10 * SEC; 10],
        disable_after: 30 * SEC,
        ..Options::default()
    };
    on_each_backend(options, |h| async move {
        let receiver = Receiver::start(vec![], Reply::Status(500)).await;
        let created = h.endpoint(&receiver.url, &["user.*"]).await;
        let t0 = h.clock.now();
        h.emit(&["user.created"]).await;
        let mut attempts = 1;
        loop {
            eventually("an attempt", WAIT, || async {
                (h.deliveries(&created.endpoint.id).await.pop()?.attempts == attempts).then_some(())
            })
            .await;
            let endpoint = h.endpoint_state(&created.endpoint.id).await;
            let failing_for = h.clock.now().unix_millis() - t0.unix_millis();
            if failing_for < 30_000 {
                assert!(endpoint.enabled, "not yet: failing for {failing_for} ms");
            } else {
                let endpoint = eventually("the endpoint disabled", WAIT, || async {
                    Some(h.endpoint_state(&created.endpoint.id).await).filter(|e| !e.enabled)
                })
                .await;
                assert!(
                    endpoint
                        .disabled_reason
                        .as_deref()
                        .unwrap()
                        .contains("failing continuously since"),
                    "{endpoint:?}"
                );
                assert_eq!(endpoint.failing_since, Some(t0));
                break;
            }
            h.clock.advance(11 * SEC);
            attempts += 1;
            assert!(attempts < 8);
        }
        let feed = h
            .store
            .list_events(
                &EventFilter {
                    types: vec!["endpoint.disabled".into()],
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .unwrap();
        assert_eq!(feed.data.len(), 1);
        h
    })
    .await;
}

/// A stand-in for the plugin runtime: one plugin per behaviour.
struct FakeTransformer;

#[async_trait]
impl Transformer for FakeTransformer {
    async fn check(&self, transform: &Transform) -> Result<(), Error> {
        if !transform.plugin.starts_with("fake.") {
            return Err(Error::invalid(
                "transform.plugin",
                format!("unknown plugin {}", transform.plugin),
            ));
        }
        if transform.config.get("bad").is_some() {
            return Err(Error::invalid(
                "transform.config.bad",
                "bad is not a field of this plugin",
            ));
        }
        Ok(())
    }

    async fn transform(
        &self,
        transform: &Transform,
        event_json: &str,
    ) -> Result<Transformed, TransformError> {
        let plugin = transform.plugin.clone();
        match plugin.as_str() {
            "fake.wrap" => Ok(Transformed::Deliver {
                body: format!("wrapped {event_json}"),
                content_type: "text/plain".into(),
                headers: vec![
                    ("X-Fake".into(), "yes".into()),
                    ("webhook-signature".into(), "v1,forged".into()),
                ],
            }),
            "fake.drop" => Ok(Transformed::Drop {
                reason: "not interesting".into(),
            }),
            "fake.trap" => Err(TransformError::Failed {
                plugin,
                message: "plugin trapped: unreachable".into(),
            }),
            _ => Err(TransformError::Disabled {
                plugin,
                reason: "disabled automatically after 5 faults".into(),
            }),
        }
    }
}

#[tokio::test]
async fn transforms_reshape_drop_fail_and_stop_deliveries() {
    let options = || Options {
        transformer: Arc::new(FakeTransformer),
        ..Options::default()
    };
    on_each_backend(options, |h| async move {
        let receiver = Receiver::ok().await;
        let with = |plugin: &str, config: Value| CreateEndpoint {
            url: receiver.url.clone(),
            description: Some(plugin.into()),
            event_types: Some(vec!["user.*".into()]),
            transform: Some(Transform {
                plugin: plugin.into(),
                config,
            }),
            rate_limit: None,
            enabled: None,
            secret: None,
        };
        // A config the plugin's schema refuses: 422 naming the field, nothing stored.
        let err = h
            .webhooks
            .create(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                with("fake.wrap", json!({"bad": 1})),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field: Some(f), .. } if f == "transform.config.bad"),
            "{err:?}"
        );
        let err = h
            .webhooks
            .create(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                with("other.x", json!({})),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field: Some(f), .. } if f == "transform.plugin"),
            "{err:?}"
        );

        let wrap = h.endpoint_with(with("fake.wrap", json!({"k": "v"}))).await;
        let drop = h.endpoint_with(with("fake.drop", json!({}))).await;
        let trap = h.endpoint_with(with("fake.trap", json!({}))).await;
        let off = h.endpoint_with(with("fake.off", json!({}))).await;
        h.emit(&["user.created"]).await;

        eventually("the transformed delivery", WAIT, || async {
            (receiver.count() == 1).then_some(())
        })
        .await;
        let r = &receiver.seen()[0];
        assert_eq!(r.header("content-type"), "text/plain");
        assert_eq!(r.header("x-fake"), "yes");
        assert!(String::from_utf8_lossy(&r.body).starts_with("wrapped {"));
        assert!(!r.header("webhook-signature").contains("forged"));
        assert_eq!(
            judged(std::slice::from_ref(r), &wrap.secret),
            [true],
            "the transformed body is what is signed"
        );

        let skipped = eventually("the skipped delivery", WAIT, || async {
            h.deliveries(&drop.endpoint.id)
                .await
                .pop()
                .filter(|d| d.status == DeliveryStatus::Skipped)
        })
        .await;
        assert!(
            skipped
                .last_error
                .as_deref()
                .unwrap()
                .contains("not interesting")
        );
        assert_eq!(
            h.attempts(&skipped.id).await[0].status,
            AttemptStatus::Skipped
        );

        let failed = eventually("the failed transform", WAIT, || async {
            h.deliveries(&trap.endpoint.id)
                .await
                .pop()
                .filter(|d| d.attempts == 1)
        })
        .await;
        assert_eq!(
            failed.status,
            DeliveryStatus::Pending,
            "retried like any failure"
        );
        assert_eq!(
            failed.last_error.as_deref(),
            Some("transform plugin fake.trap failed: plugin trapped: unreachable")
        );

        let stopped = eventually("the endpoint stopped", WAIT, || async {
            Some(h.endpoint_state(&off.endpoint.id).await).filter(|e| !e.enabled)
        })
        .await;
        assert_eq!(
            stopped.disabled_reason.as_deref(),
            Some("transform plugin fake.off is disabled: disabled automatically after 5 faults")
        );
        assert_eq!(receiver.count(), 1, "only the wrapped one was sent");

        // The test action goes through the transform too, and stores nothing.
        let result = h
            .webhooks
            .test(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &drop.endpoint.id,
                TestRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(result.status, AttemptStatus::Skipped);
        let result = h
            .webhooks
            .test(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &wrap.endpoint.id,
                TestRequest {
                    data: Some(json!({"ping": true})),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (result.status, result.response_status),
            (AttemptStatus::Succeeded, Some(204))
        );
        let last = receiver.seen().pop().unwrap();
        assert_eq!(last.header("webhook-id"), result.webhook_id.to_string());
        assert!(String::from_utf8_lossy(&last.body).contains("\"type\":\"endpoint.test\""));
        assert!(ours(&last, &wrap.secret));
        h
    })
    .await;
}

/// Names the test controls, changeable after an endpoint was saved (DNS rebinding).
#[derive(Default)]
struct MutableResolver(Mutex<Vec<(String, IpAddr)>>);

impl MutableResolver {
    fn set(&self, name: &str, ip: &str) {
        let mut table = self.0.lock().unwrap();
        table.retain(|(n, _)| n != name);
        table.push((name.into(), ip.parse().unwrap()));
    }
}

#[async_trait]
impl Resolver for MutableResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let table = self.0.lock().unwrap();
        let found: Vec<IpAddr> = table
            .iter()
            .filter(|(n, _)| n == host)
            .map(|(_, ip)| *ip)
            .collect();
        if found.is_empty() {
            Err(io::Error::new(io::ErrorKind::NotFound, "unknown test name"))
        } else {
            Ok(found)
        }
    }
}

#[tokio::test]
async fn internal_targets_are_refused_at_save_or_fail_without_a_request() {
    let resolver = Arc::new(MutableResolver::default());
    resolver.set("internal.test", "10.1.2.3");
    resolver.set("rebind.test", "93.184.216.34");
    let options = {
        let resolver = resolver.clone();
        move || Options {
            allow: "",
            resolver: Some(resolver.clone()),
            ..Options::default()
        }
    };
    for backend in backends().await {
        let h = Harness::start(backend, options()).await;
        let wire = Tripwire::bind("127.0.0.1").await;
        let port = wire.addr.port();
        for url in [
            format!("http://127.0.0.1:{port}/hooks"),
            "http://10.0.0.1/hooks".into(),
            "http://169.254.169.254/latest/meta-data".into(),
            format!("http://[::1]:{port}/hooks"),
            format!("http://2130706433:{port}/"),
            "http://internal.test/hooks".into(),
        ] {
            let input = CreateEndpoint {
                url: url.clone(),
                description: None,
                event_types: None,
                transform: None,
                rate_limit: None,
                enabled: None,
                secret: None,
            };
            let err = h
                .webhooks
                .create(h.store.as_ref(), h.caller(), &h.tenant, input)
                .await
                .unwrap_err();
            match &err {
                Error::Invalid {
                    field: Some(f),
                    message,
                } => {
                    assert_eq!(f, "url");
                    assert!(message.contains("blocked"), "{url}: {message}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let none = h
            .store
            .list_webhook_endpoints(&h.tenant, &PageRequest::default())
            .await
            .unwrap();
        assert!(none.data.is_empty(), "nothing stored");

        // Saved while public, then the name points inside: the delivery fails without a
        // request, as a dead letter (retrying cannot help).
        let created = h
            .endpoint(&format!("http://rebind.test:{port}/hooks"), &["user.*"])
            .await;
        resolver.set("rebind.test", "127.0.0.1");
        h.emit(&["user.created"]).await;
        let d = eventually("the blocked delivery", WAIT, || async {
            h.deliveries(&created.endpoint.id)
                .await
                .pop()
                .filter(|d| d.status == DeliveryStatus::Dead)
        })
        .await;
        assert!(
            d.last_error
                .as_deref()
                .unwrap()
                .contains("127.0.0.1 is a loopback address"),
            "{d:?}"
        );
        assert_eq!(wire.accepted(), 0, "no connection reached the listener");
        resolver.set("rebind.test", "93.184.216.34");
        h.stop().await;
    }
}

#[tokio::test]
async fn workers_sharing_a_database_deliver_each_message_once() {
    let options = || Options {
        workers: 3,
        concurrency: 8,
        ..Options::default()
    };
    on_each_backend(options, |h| async move {
        let receiver = Receiver::ok().await;
        let created = h.endpoint(&receiver.url, &["user.*"]).await;
        let kinds = vec!["user.created"; 300];
        for chunk in kinds.chunks(50) {
            h.emit(chunk).await;
        }
        eventually("300 deliveries", Duration::from_secs(60), || async {
            (receiver.count() >= 300).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = receiver.seen();
        let ids: HashSet<String> = seen.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(
            (seen.len(), ids.len()),
            (300, 300),
            "exactly once: {:?}",
            h.backend
        );
        let deliveries = h
            .store
            .list_deliveries(
                &h.tenant,
                &Default::default(),
                &PageRequest::new(Some(100), None, None).unwrap(),
            )
            .await
            .unwrap();
        assert!(
            deliveries
                .data
                .iter()
                .all(|d| d.status == DeliveryStatus::Succeeded && d.attempts == 1)
        );
        let _ = created;
        h
    })
    .await;
}

#[tokio::test]
async fn rate_limits_space_deliveries_out() {
    on_each_backend(Options::default, |h| async move {
        let receiver = Receiver::ok().await;
        h.endpoint_with(CreateEndpoint {
            url: receiver.url.clone(),
            description: None,
            event_types: Some(vec!["user.*".into()]),
            transform: None,
            rate_limit: Some(5),
            enabled: None,
            secret: None,
        })
        .await;
        h.emit(&["user.created"; 11]).await;
        eventually("11 deliveries", WAIT, || async {
            (receiver.count() == 11).then_some(())
        })
        .await;
        let at: Vec<Instant> = receiver.seen().iter().map(|r| r.at).collect();
        let span = at[10] - at[0];
        assert!(
            span >= Duration::from_millis(1800),
            "5/s: 10 gaps of 200 ms, got {span:?}"
        );
        for w in at.windows(6) {
            assert!(
                w[5] - w[0] >= Duration::from_millis(900),
                "at most ~5 per second: {:?}",
                w[5] - w[0]
            );
        }
        h
    })
    .await;
}

#[tokio::test]
async fn recover_since_re_enqueues_past_events_for_an_endpoint() {
    on_each_backend(Options::default, |h| async move {
        let receiver = Receiver::ok().await;
        let first = h.endpoint(&receiver.url, &["user.*"]).await;
        let t0 = h.clock.now();
        let events = h
            .emit(&["user.created", "app.created", "user.deleted"])
            .await;
        eventually("the first endpoint's deliveries", WAIT, || async {
            (receiver.count() == 2).then_some(())
        })
        .await;

        // Created afterwards: it missed them, until recovered.
        let late_receiver = Receiver::ok().await;
        let late = h
            .endpoint(&late_receiver.url, &["user.created", "app.*"])
            .await;
        h.clock.advance(SEC);
        let n = h
            .webhooks
            .recover(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &late.endpoint.id,
                RecoverRequest {
                    since: t0,
                    until: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(n, 2);
        eventually("the recovered deliveries", WAIT, || async {
            (late_receiver.count() == 2).then_some(())
        })
        .await;
        let got: HashSet<String> = late_receiver
            .seen()
            .iter()
            .map(|r| {
                serde_json::from_slice::<Event>(&r.body)
                    .unwrap()
                    .id
                    .to_string()
            })
            .collect();
        assert_eq!(
            got,
            HashSet::from([events[0].id.to_string(), events[1].id.to_string()])
        );
        assert!(
            judged(&late_receiver.seen(), &late.secret)
                .iter()
                .all(|ok| *ok)
        );

        // Recovering the first endpoint re-sends what it already got (same webhook-ids).
        eventually("the first endpoint's deliveries recorded", WAIT, || async {
            let ds = h.deliveries(&first.endpoint.id).await;
            ds.iter()
                .all(|d| d.status == DeliveryStatus::Succeeded)
                .then_some(())
        })
        .await;
        let n = h
            .webhooks
            .recover(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &first.endpoint.id,
                RecoverRequest {
                    since: t0,
                    until: Some(h.clock.now()),
                },
            )
            .await
            .unwrap();
        assert_eq!(n, 2);
        eventually("the re-sent deliveries", WAIT, || async {
            (receiver.count() == 4).then_some(())
        })
        .await;
        let ids: HashSet<String> = receiver
            .seen()
            .iter()
            .map(|r| r.header("webhook-id"))
            .collect();
        assert_eq!(ids.len(), 2);

        let bad = h
            .webhooks
            .recover(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &first.endpoint.id,
                RecoverRequest {
                    since: h.clock.now().plus(60 * SEC),
                    until: None,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(bad, Error::Invalid { field: Some(f), .. } if f == "since"));
        h
    })
    .await;
}

#[tokio::test]
async fn a_delivery_whose_event_expired_becomes_a_dead_letter() {
    on_each_backend(Options::default, |h| async move {
        let receiver = Receiver::start(vec![Reply::Status(500)], Reply::Status(200)).await;
        let created = h.endpoint(&receiver.url, &["user.*"]).await;
        h.emit(&["user.created"]).await;
        let d = eventually("a failed attempt", WAIT, || async {
            h.deliveries(&created.endpoint.id)
                .await
                .pop()
                .filter(|d| d.attempts == 1)
        })
        .await;
        h.store.purge_events(h.clock.now().plus(SEC)).await.unwrap();
        h.clock.advance(2 * SEC);
        let dead = eventually("a dead letter", WAIT, || async {
            Some(h.delivery(&d.id).await).filter(|d| d.status == DeliveryStatus::Dead)
        })
        .await;
        assert!(
            dead.last_error
                .as_deref()
                .unwrap()
                .contains("no longer available")
        );
        assert_eq!(receiver.count(), 1);
        // Updating the endpoint keeps working, with the disabled/enabled events.
        let updated = h
            .webhooks
            .update(
                h.store.as_ref(),
                h.caller(),
                &h.tenant,
                &created.endpoint.id,
                UpdateEndpoint {
                    enabled: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(
            updated
                .disabled_reason
                .as_deref()
                .unwrap()
                .starts_with("disabled by ")
        );
        h
    })
    .await;
}
