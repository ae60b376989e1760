//! A delivery pipeline on a real store (SQLite, and PostgreSQL when reachable) with a manual
//! clock, and scriptable loopback receivers.

use std::{
    collections::VecDeque,
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use gatehouse_core::{
    Timestamp,
    audit::AuditContext,
    change::Change,
    clock::{Clock, ManualClock},
    event::Event,
    id::{DeliveryId, TenantId, WebhookEndpointId},
    page::{Order, PageRequest},
    principal::Principal,
    secret::{Keyring, MasterKey},
    services::Caller,
    store::Store,
    sync::SyncStatus,
    tenant::{Tenant, TenantStatus},
    webhook::{AttemptFilter, CreateEndpoint, Delivery, DeliveryAttempt, DeliveryFilter},
};
use gatehouse_egress::{Allowlist, EgressClient, EgressConfig, Resolver};
use gatehouse_store::{ConnectOptions, SqlStore};
use gatehouse_webhooks::{
    CreatedEndpoint, NoTransforms, Sender, Transformer, Webhooks, Worker, WorkerConfig,
};
use tokio_util::sync::CancellationToken;

pub const SEC: Duration = Duration::from_secs(1);

fn strict() -> bool {
    std::env::var("STRICT").is_ok_and(|v| v == "1")
}

fn postgres_url() -> String {
    std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite, plus PostgreSQL when reachable (mandatory under `STRICT=1`).
pub async fn backends() -> Vec<Backend> {
    let mut options = ConnectOptions::new(postgres_url());
    options.schema = "public".into();
    options.max_connections = 1;
    options.acquire_timeout = Duration::from_secs(3);
    match SqlStore::connect(&options).await {
        Ok(store) => {
            store.close().await;
            vec![Backend::Sqlite, Backend::Postgres]
        }
        Err(err) if strict() => panic!("STRICT=1 and PostgreSQL is unreachable: {err}"),
        Err(err) => {
            eprintln!(
                "skipped: PostgreSQL pipeline tests ({err}); set STRICT=1 to make this fatal"
            );
            vec![Backend::Sqlite]
        }
    }
}

pub struct Options {
    pub schedule: Vec<Duration>,
    pub disable_after: Duration,
    pub timeout: Duration,
    pub transformer: Arc<dyn Transformer>,
    pub resolver: Option<Arc<dyn Resolver>>,
    /// `GATEHOUSE_EGRESS_ALLOW` for this pipeline.
    pub allow: &'static str,
    pub workers: usize,
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            schedule: vec![SEC, SEC, SEC],
            disable_after: Duration::from_secs(5 * 86_400),
            timeout: Duration::from_secs(5),
            transformer: Arc::new(NoTransforms),
            resolver: None,
            allow: "127.0.0.1",
            workers: 1,
            concurrency: 16,
        }
    }
}

pub struct Harness {
    pub backend: Backend,
    pub sql: SqlStore,
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub webhooks: Webhooks,
    pub tenant: TenantId,
    pub principal: Principal,
    pub context: AuditContext,
    shutdown: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(backend: Backend, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sql = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("gh.db").display());
                SqlStore::connect(&ConnectOptions::new(url)).await.unwrap()
            }
            Backend::Postgres => {
                let mut o = ConnectOptions::new(postgres_url());
                o.schema = format!("gh_test_{}", ulid::Ulid::new().to_string().to_lowercase());
                o.max_connections = 8;
                SqlStore::connect(&o).await.unwrap()
            }
        };
        sql.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(sql.clone());
        let keyring = Arc::new(Keyring::new(MasterKey::generate(), vec![]));
        // Real time as a start: the reference verifier checks timestamps against its clock.
        let clock = ManualClock::new(Timestamp::now());
        let config = EgressConfig {
            allow: Allowlist::parse(options.allow).unwrap(),
            ..EgressConfig::default()
        };
        let egress = match options.resolver {
            Some(resolver) => EgressClient::with_resolver(config, resolver).unwrap(),
            None => EgressClient::new(config).unwrap(),
        };
        let sender = Sender::new(egress, options.transformer, options.timeout);
        let webhooks = Webhooks::new(sender.clone(), keyring.clone());

        let principal = Principal::System {
            component: "pipeline-test",
        };
        let tenant = Tenant {
            id: TenantId::generate(),
            name: "Acme".into(),
            slug: format!("acme-{}", ulid::Ulid::new().to_string().to_lowercase()),
            domains: vec![],
            status: TenantStatus::Active,
            created_at: clock.now(),
            updated_at: clock.now(),
            sync: SyncStatus::pending(),
        };
        let change = Change::new(
            "tenant.created",
            &principal,
            &AuditContext::default(),
            Some(&tenant.id),
            clock.now(),
        );
        store.insert_tenant(&tenant, &change).await.unwrap();

        let shutdown = CancellationToken::new();
        let mut config =
            WorkerConfig::new(options.schedule, options.disable_after, options.timeout);
        config.concurrency = options.concurrency;
        config.idle_poll = (Duration::from_millis(10), Duration::from_millis(50));
        let workers = (0..options.workers)
            .map(|_| {
                let worker = Worker::new(
                    store.clone(),
                    keyring.clone(),
                    sender.clone(),
                    Arc::new(clock.clone()),
                    config.clone(),
                );
                tokio::spawn(worker.run(shutdown.clone()))
            })
            .collect();
        Self {
            backend,
            sql,
            store,
            clock,
            webhooks,
            tenant: tenant.id,
            principal,
            context: AuditContext::default(),
            shutdown,
            workers,
            _dir: dir,
        }
    }

    pub fn caller(&self) -> Caller<'_> {
        Caller {
            principal: &self.principal,
            context: &self.context,
            now: self.clock.now(),
        }
    }

    pub async fn endpoint(&self, url: &str, types: &[&str]) -> CreatedEndpoint {
        self.endpoint_with(CreateEndpoint {
            url: url.into(),
            description: None,
            event_types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
            transform: None,
            rate_limit: None,
            enabled: None,
            secret: None,
        })
        .await
    }

    pub async fn endpoint_with(&self, input: CreateEndpoint) -> CreatedEndpoint {
        self.webhooks
            .create(self.store.as_ref(), self.caller(), &self.tenant, input)
            .await
            .unwrap()
    }

    /// Appends events of the harness tenant, as the ZITADEL receiver or a mutation would.
    pub async fn emit(&self, kinds: &[&str]) -> Vec<Event> {
        let events: Vec<Event> = kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                Event::new(
                    kind,
                    Some(self.tenant.clone()),
                    self.clock.now(),
                    serde_json::json!({"n": i, "note": "Zoë ✓"}),
                )
            })
            .collect();
        self.store.append_events(&events).await.unwrap();
        events
    }

    pub async fn deliveries(&self, endpoint: &WebhookEndpointId) -> Vec<Delivery> {
        let page = PageRequest::new(Some(100), None, Some(Order::Asc)).unwrap();
        let filter = DeliveryFilter {
            endpoint_id: Some(endpoint.clone()),
            ..Default::default()
        };
        self.store
            .list_deliveries(&self.tenant, &filter, &page)
            .await
            .unwrap()
            .data
    }

    pub async fn delivery(&self, id: &DeliveryId) -> Delivery {
        self.store
            .get_delivery(&self.tenant, id)
            .await
            .unwrap()
            .unwrap()
    }

    /// Attempts of a delivery, oldest first.
    pub async fn attempts(&self, id: &DeliveryId) -> Vec<DeliveryAttempt> {
        let page = PageRequest::new(Some(100), None, Some(Order::Asc)).unwrap();
        let filter = AttemptFilter {
            delivery_id: Some(id.clone()),
            ..Default::default()
        };
        let mut attempts = self
            .store
            .list_attempts(&self.tenant, &filter, &page)
            .await
            .unwrap()
            .data;
        attempts.sort_by_key(|a| a.attempt);
        attempts
    }

    pub async fn endpoint_state(
        &self,
        id: &WebhookEndpointId,
    ) -> gatehouse_core::webhook::WebhookEndpoint {
        self.store
            .get_webhook_endpoint(&self.tenant, id)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        for worker in self.workers {
            worker.await.unwrap();
        }
        if self.backend == Backend::Postgres {
            self.sql.drop_schema().await.unwrap();
        }
        self.sql.close().await;
    }
}

/// Polls `check` until it returns `Some`, failing after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a receiver answers.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// Status, extra headers, body.
    Full(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// Waits before answering (a receiver slower than the timeout).
    Slow(Duration, u16),
    /// 200 and a body of this many bytes.
    Huge(usize),
    /// 200 with headers at once, then one byte per interval, forever (slow-loris).
    Trickle(Duration),
}

/// A request the receiver saw.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

struct ReceiverState {
    seen: Mutex<Vec<Received>>,
    /// Scripted replies, in order; when exhausted, `otherwise`.
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Reply>,
}

/// A loopback HTTP receiver answering from a script.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start(script: Vec<Reply>, otherwise: Reply) -> Self {
        let state = Arc::new(ReceiverState {
            seen: Mutex::new(Vec::new()),
            script: Mutex::new(script.into()),
            otherwise: Mutex::new(otherwise),
        });
        let app = Router::new().fallback(receive).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/hooks"),
            state,
        }
    }

    pub async fn ok() -> Self {
        Self::start(vec![], Reply::Status(204)).await
    }

    pub fn seen(&self) -> Vec<Received> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    pub fn set_otherwise(&self, reply: Reply) {
        *self.state.otherwise.lock().unwrap() = reply;
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.seen.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    let reply = {
        let next = state.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| state.otherwise.lock().unwrap().clone())
    };
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::Full(code, headers, body) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(code).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).unwrap(),
                );
            }
            response
        }
        Reply::Slow(wait, code) => {
            tokio::time::sleep(wait).await;
            StatusCode::from_u16(code).unwrap().into_response()
        }
        Reply::Huge(size) => Body::from(vec![b'x'; size]).into_response(),
        Reply::Trickle(every) => {
            let stream = futures::stream::unfold((), move |()| async move {
                tokio::time::sleep(every).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b".")), ()))
            });
            Body::from_stream(stream).into_response()
        }
    }
}

/// A TCP listener that only counts connections (a target nothing should reach).
pub struct Tripwire {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Tripwire {
    pub async fn bind(ip: &str) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { addr, accepted }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
