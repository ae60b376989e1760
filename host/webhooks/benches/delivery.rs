//! `cargo bench -p gatehouse-webhooks --bench delivery`: end-to-end webhook deliveries per
//! second — events committed to the store, fanned out, claimed, signed, sent through the egress
//! client to a loopback receiver that verifies every signature, and recorded — on SQLite and
//! PostgreSQL, with and without a transform (the built-in `gatehouse.cloudevents` plugin in the
//! WebAssembly sandbox), each divided by a bare loop of signed HTTP POSTs from the same egress
//! client to the same receiver with as many requests in flight as the worker sends one endpoint,
//! measured right before and right after it in the same run (their mean). Zero loss is checked
//! for every run (every event delivered, every signature valid, no delivery left unfinished).
//! Each case runs twice: *live*, the producer committing events while the worker delivers them
//! (both share the machine, and the clock starts with the first commit), and *backlog*, the
//! events committed first and the clock started with the worker (what "event committed →
//! delivered" costs alone).
//! Last, the store's bookkeeping alone (no HTTP), per delivery: the ceiling it sets, and its
//! split by step (event commit, fan-out, result record, handoff delete).
//!
//! `GATEHOUSE_BENCH_EVENTS` sets the events per run (default 20000), `GATEHOUSE_BENCH_ONLY`
//! picks cases (`sqlite-none,postgres-cloudevents`, …), `GATEHOUSE_BENCH_PIPELINE_ONLY=1` leaves
//! out the bare loops (to profile the pipeline alone), `GATEHOUSE_BENCH_TRACE=1` prints the
//! receiver's count every 250 ms once the producer is done; PostgreSQL comes from
//! `GATEHOUSE_TEST_DATABASE_URL` (default the local server) and is skipped when unreachable.

#![allow(clippy::print_stdout)]

// The allocator `gatehouse serve` runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode};
use gatehouse_core::{
    Error, Timestamp,
    audit::AuditContext,
    change::Change,
    clock::SystemClock,
    event::Event,
    id::AttemptId,
    id::TenantId,
    page::PageRequest,
    principal::Principal,
    secret::{Keyring, MasterKey},
    services::Caller,
    store::Store,
    sync::SyncStatus,
    tenant::{Tenant, TenantStatus},
    webhook::{
        AttemptRecord, AttemptStatus, ClaimRequest, CreateEndpoint, DeliveryAttempt,
        DeliveryFilter, DeliveryStatus, NextState, Transform,
    },
};
use gatehouse_egress::{Allowlist, EgressClient, EgressConfig, EgressRequest};
use gatehouse_plugin_host::{
    HostConfig, Plugin, PluginHost, PluginKind, PluginSpec, TransformOutcome, builtin_plugins,
};
use gatehouse_store::{ConnectOptions, SqlStore};
use gatehouse_webhooks::{
    Sender, TransformError, Transformed, Transformer, Webhooks, Worker, WorkerConfig,
    signing::{
        DEFAULT_TOLERANCE, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret, SignatureHeaders,
        sign, verify,
    },
};
use http::{HeaderName, HeaderValue, header};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Requests in flight in the bare loop: what the worker sends one endpoint at once by default
/// (`WorkerConfig::endpoint_concurrency`), so both load the receiver alike.
fn in_flight() -> usize {
    WorkerConfig::new(Vec::new(), Duration::ZERO, Duration::from_secs(1)).endpoint_concurrency
}

/// Events committed per transaction by the producer.
const BATCH: usize = 500;

/// A loopback receiver that verifies every message with the current secret.
#[derive(Default)]
struct Receiver {
    secret: Mutex<Option<Secret>>,
    received: AtomicUsize,
    bad: AtomicUsize,
    ids: Mutex<HashSet<String>>,
}

impl Receiver {
    fn reset(&self, secret: Secret) {
        *self.secret.lock().unwrap() = Some(secret);
        self.received.store(0, Ordering::SeqCst);
        self.bad.store(0, Ordering::SeqCst);
        self.ids.lock().unwrap().clear();
    }

    fn unique(&self) -> usize {
        self.ids.lock().unwrap().len()
    }
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let secret = r.secret.lock().unwrap().clone();
    let ok = match (SignatureHeaders::from_header_map(&headers), secret) {
        (Ok(h), Some(s)) => verify(&h, &body, &[s], DEFAULT_TOLERANCE, now).is_ok(),
        _ => false,
    };
    if !ok {
        r.bad.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(id) = headers.get(HEADER_ID).and_then(|v| v.to_str().ok()) {
        r.ids.lock().unwrap().insert(id.to_owned());
    }
    r.received.fetch_add(1, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

/// A ~1 KiB `user.created` payload.
fn data(i: usize) -> serde_json::Value {
    json!({
        "id": format!("usr_{i:026}"),
        "email": "ada.lovelace@analytical-engines.example",
        "email_verified": true,
        "given_name": "Ada", "family_name": "Lovelace", "display_name": "Ada Lovelace",
        "preferred_language": "en", "login_names": ["ada", "ada.lovelace@analytical-engines.example"],
        "roles": ["admin", "billing", "support"],
        "groups": ["engineering", "research", "analytical-engine-users"],
        "phone": "+44 20 7946 0958", "timezone": "Europe/London",
        "metadata": {"department": "Mathematics", "cost_center": "CC-1843", "employee_id": "E-000001",
                     "manager": "usr_01JDQ8X9W3N2D3V0T2K5Q7R8AB", "location": "London"},
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "ip": "203.0.113.42"
    })
}

/// The bare loop: `n` signed POSTs, [`in_flight`] at a time, from `client` to `url`.
async fn bare_loop(client: &EgressClient, url: &str, receiver: &Receiver, n: usize) -> f64 {
    let secret = Secret::generate();
    receiver.reset(secret.clone());
    let body = serde_json::to_string(&Event::new(
        "user.created",
        Some(TenantId::generate()),
        Timestamp::now(),
        data(0),
    ))
    .unwrap();
    let slots = Arc::new(Semaphore::new(in_flight()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let permit = slots.clone().acquire_owned().await.unwrap();
        let (client, url, body, secret) =
            (client.clone(), url.to_owned(), body.clone(), secret.clone());
        tasks.spawn(async move {
            let id = format!("msg_bare{i}");
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let signature = sign(&id, ts, body.as_bytes(), &[secret]).unwrap();
            let request = EgressRequest::post(url, body)
                .header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .header(
                    HeaderName::from_static(HEADER_ID),
                    HeaderValue::from_str(&id).unwrap(),
                )
                .header(
                    HeaderName::from_static(HEADER_TIMESTAMP),
                    HeaderValue::from_str(&ts.to_string()).unwrap(),
                )
                .header(
                    HeaderName::from_static(HEADER_SIGNATURE),
                    HeaderValue::from_str(&signature).unwrap(),
                );
            let response = client.send(request).await.unwrap();
            assert!(response.status.is_success());
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    assert_eq!(receiver.unique(), n);
    assert_eq!(receiver.bad.load(Ordering::SeqCst), 0);
    n as f64 / elapsed.as_secs_f64()
}

/// The built-in CloudEvents plugin, called through the plugin host like the server does.
struct CloudEvents {
    host: PluginHost,
    plugin: Plugin,
}

#[async_trait]
impl Transformer for CloudEvents {
    async fn check(&self, _: &Transform) -> Result<(), Error> {
        Ok(())
    }

    async fn transform(
        &self,
        transform: &Transform,
        event_json: &str,
    ) -> Result<Transformed, TransformError> {
        match self
            .host
            .call_webhook_transform(&self.plugin, event_json, "{}")
            .await
        {
            Ok(TransformOutcome::Deliver(d)) => Ok(Transformed::Deliver {
                body: d.body,
                content_type: d.content_type,
                headers: d.headers.into_iter().map(|kv| (kv.key, kv.value)).collect(),
            }),
            Ok(TransformOutcome::Drop { reason }) => Ok(Transformed::Drop { reason }),
            Err(err) => Err(TransformError::Failed {
                plugin: transform.plugin.clone(),
                message: err.to_string(),
            }),
        }
    }
}

fn cloudevents() -> Arc<CloudEvents> {
    let host = PluginHost::new(HostConfig::default()).unwrap();
    let builtin = builtin_plugins()
        .iter()
        .find(|b| b.id == "gatehouse.cloudevents")
        .unwrap();
    let mut spec = PluginSpec::new(builtin.id, builtin.version, builtin.wasm.to_vec());
    spec.expected_kind = Some(PluginKind::Webhook);
    let plugin = host.load_blocking(&spec).unwrap();
    Arc::new(CloudEvents { host, plugin })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Run {
    rate: f64,
    /// Events committed per second by the producer (live runs only).
    commit_rate: Option<f64>,
    duplicates: usize,
}

/// When the events are committed, and so when the clock starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// While the worker runs; the clock starts with the first commit.
    Live,
    /// All of them before the worker starts; the clock starts with the worker.
    Backlog,
}

async fn open(backend: Backend, dir: &std::path::Path) -> Option<SqlStore> {
    let store = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            SqlStore::connect(&ConnectOptions::new(url)).await.ok()?
        }
        Backend::Postgres => {
            let url = std::env::var("GATEHOUSE_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let mut o = ConnectOptions::new(url);
            o.schema = format!("gh_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
            o.max_connections = 10;
            o.acquire_timeout = Duration::from_secs(5);
            SqlStore::connect(&o).await.ok()?
        }
    };
    store.migrate().await.unwrap();
    Some(store)
}

/// A tenant with one endpoint for `user.*` at `url` (with the cloudevents transform if asked);
/// returns the tenant and the endpoint's signing secret.
async fn tenant_with_endpoint(
    store: &dyn Store,
    webhooks: Webhooks,
    url: &str,
    with_transform: bool,
) -> (Tenant, String) {
    let principal = Principal::System { component: "bench" };
    let context = AuditContext::default();
    let now = Timestamp::now();
    let tenant = Tenant {
        id: TenantId::generate(),
        name: "Bench".into(),
        slug: "bench".into(),
        domains: vec![],
        status: TenantStatus::Active,
        created_at: now,
        updated_at: now,
        sync: SyncStatus::pending(),
    };
    let change = Change::new(
        "tenant.created",
        &principal,
        &context,
        Some(&tenant.id),
        now,
    );
    store.insert_tenant(&tenant, &change).await.unwrap();
    let caller = Caller {
        principal: &principal,
        context: &context,
        now,
    };
    let created = webhooks
        .create(
            store,
            caller,
            &tenant.id,
            CreateEndpoint {
                url: url.to_owned(),
                description: None,
                event_types: Some(vec!["user.*".into()]),
                transform: with_transform.then(|| Transform {
                    plugin: "gatehouse.cloudevents".into(),
                    config: json!({}),
                }),
                rate_limit: None,
                enabled: None,
                secret: None,
            },
        )
        .await
        .unwrap();
    (tenant, created.secret)
}

/// Commits `n` `user.created` events for `tenant`, [`BATCH`] per transaction.
async fn commit_events(store: &dyn Store, tenant: &TenantId, n: usize) {
    for first in (0..n).step_by(BATCH) {
        let batch: Vec<Event> = (first..(first + BATCH).min(n))
            .map(|i| {
                Event::new(
                    "user.created",
                    Some(tenant.clone()),
                    Timestamp::now(),
                    data(i),
                )
            })
            .collect();
        store.append_events(&batch).await.unwrap();
    }
}

async fn pipeline(
    backend: Backend,
    transformer: Option<Arc<CloudEvents>>,
    egress: &EgressClient,
    url: &str,
    receiver: &Receiver,
    n: usize,
    mode: Mode,
) -> Option<Run> {
    let dir = tempfile::tempdir().unwrap();
    let sql = open(backend, dir.path()).await?;
    let store: Arc<dyn Store> = Arc::new(sql.clone());
    let keyring = Arc::new(Keyring::new(MasterKey::generate(), vec![]));
    let with_transform = transformer.is_some();
    let transformer: Arc<dyn Transformer> = match transformer {
        Some(t) => t,
        None => Arc::new(gatehouse_webhooks::NoTransforms),
    };
    let sender = Sender::new(egress.clone(), transformer, Duration::from_secs(15));
    let (tenant, secret) = tenant_with_endpoint(
        store.as_ref(),
        Webhooks::new(sender.clone(), keyring.clone()),
        url,
        with_transform,
    )
    .await;
    receiver.reset(Secret::parse(&secret).unwrap());

    let shutdown = CancellationToken::new();
    let config = WorkerConfig::new(
        vec![5, 300, 1800, 7200, 18000, 36000, 36000]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
        Duration::from_secs(5 * 86_400),
        Duration::from_secs(15),
    );
    let worker = Worker::new(
        store.clone(),
        keyring,
        sender,
        Arc::new(SystemClock),
        config,
    );
    let (started, commit_rate, running) = match mode {
        Mode::Live => {
            let running = tokio::spawn(worker.run(shutdown.clone()));
            let started = Instant::now();
            commit_events(store.as_ref(), &tenant.id, n).await;
            let rate = n as f64 / started.elapsed().as_secs_f64();
            (started, Some(rate), running)
        }
        Mode::Backlog => {
            commit_events(store.as_ref(), &tenant.id, n).await;
            let started = Instant::now();
            (started, None, tokio::spawn(worker.run(shutdown.clone())))
        }
    };
    let trace = std::env::var("GATEHOUSE_BENCH_TRACE").is_ok_and(|v| v == "1");
    let mut next_trace = Duration::ZERO;
    while receiver.unique() < n {
        if trace && started.elapsed() >= next_trace {
            println!(
                "  {:>6.2} s: {} delivered",
                started.elapsed().as_secs_f64(),
                receiver.unique()
            );
            next_trace += Duration::from_millis(250);
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "stalled at {} of {n}",
            receiver.unique()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed();

    // Zero loss: every signature valid, every delivery recorded as succeeded.
    assert_eq!(receiver.bad.load(Ordering::SeqCst), 0, "bad signatures");
    let page = PageRequest::new(Some(10), None, None).unwrap();
    loop {
        let mut unfinished = 0;
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Dead,
            DeliveryStatus::Skipped,
        ] {
            let filter = DeliveryFilter {
                status: Some(status),
                ..Default::default()
            };
            unfinished += store
                .list_deliveries(&tenant.id, &filter, &page)
                .await
                .unwrap()
                .data
                .len();
        }
        if unfinished == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "deliveries left unfinished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
    let duplicates = receiver.received.load(Ordering::SeqCst) - n;
    if backend == Backend::Postgres {
        sql.drop_schema().await.unwrap();
    }
    sql.close().await;
    Some(Run {
        rate: n as f64 / elapsed.as_secs_f64(),
        commit_rate,
        duplicates,
    })
}

/// The bookkeeping's cost per delivery, in µs: in all, and per step.
struct Bookkeeping {
    total: f64,
    commit: f64,
    fan_out: f64,
    record: f64,
    settle: f64,
}

/// The store's share alone: `n` events committed, fanned out with the deliveries handed over on
/// the spot, each recorded as delivered, and each pass's handoff deleted — no HTTP, one task,
/// so it is the serial cost of a delivery's bookkeeping and the ceiling it puts on the pipeline.
async fn bookkeeping(backend: Backend, n: usize) -> Option<Bookkeeping> {
    let dir = tempfile::tempdir().unwrap();
    let sql = open(backend, dir.path()).await?;
    let store: Arc<dyn Store> = Arc::new(sql.clone());
    let keyring = Arc::new(Keyring::new(MasterKey::generate(), vec![]));
    let sender = Sender::new(
        EgressClient::new(EgressConfig::default()).unwrap(),
        Arc::new(gatehouse_webhooks::NoTransforms),
        Duration::from_secs(15),
    );
    let (tenant, _) = tenant_with_endpoint(
        store.as_ref(),
        Webhooks::new(sender, keyring),
        "https://hooks.example.com/in",
        false,
    )
    .await;
    let now = Timestamp::now();
    while store.fan_out_events(500, now, None).await.unwrap().events > 0 {}

    let started = Instant::now();
    commit_events(store.as_ref(), &tenant.id, n).await;
    let commit = started.elapsed();
    let (mut fan_out, mut record, mut settle) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut recorded = 0;
    loop {
        let now = Timestamp::now();
        let claim = ClaimRequest {
            worker: "bench",
            now,
            lease_until: now.plus(Duration::from_secs(60)),
            limit: 256,
            exclude: &[],
        };
        let step = Instant::now();
        let pass = store.fan_out_events(256, now, Some(&claim)).await.unwrap();
        fan_out += step.elapsed();
        if pass.events == 0 {
            break;
        }
        let records: Vec<AttemptRecord> = pass
            .claimed
            .iter()
            .map(|job| AttemptRecord {
                attempt: DeliveryAttempt {
                    id: AttemptId::generate(),
                    delivery_id: job.id.clone(),
                    tenant_id: job.tenant_id.clone(),
                    endpoint_id: job.endpoint.id.clone(),
                    attempt: 1,
                    started_at: now,
                    status: AttemptStatus::Succeeded,
                    latency_ms: 1,
                    response_status: Some(204),
                    response_body: None,
                    error: None,
                },
                next: NextState::Succeeded,
                handoff: job.unwritten(),
            })
            .collect();
        let step = Instant::now();
        store.record_attempts("bench", &records, &[]).await.unwrap();
        record += step.elapsed();
        // As the worker does once a pass's deliveries are all written.
        let passes: Vec<_> = pass
            .claimed
            .first()
            .and_then(|j| j.handoff.clone())
            .into_iter()
            .collect();
        let step = Instant::now();
        store.delete_handoffs(&passes).await.unwrap();
        settle += step.elapsed();
        recorded += records.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(recorded, n, "every event fanned out, claimed and recorded");
    if backend == Backend::Postgres {
        sql.drop_schema().await.unwrap();
    }
    sql.close().await;
    let per_delivery = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    Some(Bookkeeping {
        total: per_delivery(elapsed),
        commit: per_delivery(commit),
        fan_out: per_delivery(fan_out),
        record: per_delivery(record),
        settle: per_delivery(settle),
    })
}

fn main() {
    // e.g. `sqlite-none,postgres-cloudevents`; all four cases by default.
    let only = std::env::var("GATEHOUSE_BENCH_ONLY").ok();
    let pipeline_only = std::env::var("GATEHOUSE_BENCH_PIPELINE_ONLY").is_ok_and(|v| v == "1");
    let n: usize = std::env::var("GATEHOUSE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let receiver = Arc::new(Receiver::default());
        let app = Router::new().fallback(receive).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let egress = EgressClient::new(EgressConfig {
            allow: Allowlist::parse("127.0.0.1").unwrap(),
            ..EgressConfig::default()
        })
        .unwrap();
        let plugin = tokio::task::spawn_blocking(cloudevents).await.unwrap();

        // Warm up connections, allocators and the plugin's code.
        if !pipeline_only {
            bare_loop(&egress, &url, &receiver, 2_000).await;
        }

        println!(
            "{n} events per run; {} requests in flight to the receiver; it verifies every signature",
            in_flight()
        );
        println!();
        println!("| store | transform | bare loop (POST/s) | live: pipeline (deliveries/s) | ratio | backlog: pipeline (deliveries/s) | ratio | commit rate (events/s) | duplicates |");
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for transform in [false, true] {
                let case = format!(
                    "{}-{}",
                    if backend == Backend::Sqlite { "sqlite" } else { "postgres" },
                    if transform { "cloudevents" } else { "none" }
                );
                if only.as_ref().is_some_and(|only| !only.contains(&case)) {
                    continue;
                }
                // The bare loop before, between and after the two runs; each run is divided
                // by the mean of the two around it (the machine is shared).
                let baseline = async || match pipeline_only {
                    true => f64::NAN,
                    false => bare_loop(&egress, &url, &receiver, n / 2).await,
                };
                let plugin = transform.then(|| plugin.clone());
                let before = baseline().await;
                let Some(live) = pipeline(backend, plugin.clone(), &egress, &url, &receiver, n, Mode::Live).await else {
                    println!("| postgres | – | skipped: PostgreSQL unreachable | | | | | | |");
                    break;
                };
                let between = baseline().await;
                let backlog = pipeline(backend, plugin, &egress, &url, &receiver, n, Mode::Backlog)
                    .await
                    .expect("the store was reachable a moment ago");
                let after = baseline().await;
                let bare = (before + between + after) / 3.0;
                println!(
                    "| {} | {} | {:.0} | {:.0} | {:.2}× | {:.0} | {:.2}× | {:.0} | {} |",
                    if backend == Backend::Sqlite { "sqlite" } else { "postgres" },
                    if transform { "cloudevents (wasm)" } else { "none" },
                    bare,
                    live.rate,
                    live.rate / ((before + between) / 2.0),
                    backlog.rate,
                    backlog.rate / ((between + after) / 2.0),
                    live.commit_rate.unwrap_or(f64::NAN),
                    live.duplicates + backlog.duplicates,
                );
            }
        }
        println!();
        println!("Bookkeeping alone (commit, fan-out with claim, record; no HTTP), serially:");
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let name = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
            if only.as_ref().is_some_and(|only| !only.contains(name)) {
                continue;
            }
            match bookkeeping(backend, n).await {
                Some(b) => println!(
                    "- {name}: {:.1} µs per delivery ({:.0}/s): commit {:.1}, fan-out {:.1}, \
                     record {:.1}, handoff delete {:.1}",
                    b.total,
                    1e6 / b.total,
                    b.commit,
                    b.fan_out,
                    b.record,
                    b.settle
                ),
                None => println!("- {name}: skipped: unreachable"),
            }
        }
    });
}
