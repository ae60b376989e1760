//! The delivery worker: claims due deliveries, fans fresh events out into deliveries that it
//! takes on the spot, attempts them concurrently, and records the results in batches. Any
//! number of workers (one per replica) share one database: the fan-out runs on one of them at a
//! time, claims are exclusive with a lease, and a worker that dies mid-attempt leaves leases
//! that expire, so its deliveries are retried elsewhere (at least once, never lost).
//!
//! Per endpoint, a worker limits concurrent requests, spaces them to the endpoint's rate limit
//! (shared out between live workers) and pauses after a `Retry-After`; endpoints it cannot
//! serve right now are left out of its claims for the others to take.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use gatehouse_core::{
    Timestamp,
    audit::AuditContext,
    change::Change,
    clock::Clock,
    id::{AttemptId, HandoffId, WebhookEndpointId},
    principal::Principal,
    secret::Keyring,
    store::Store,
    webhook::{
        AttemptRecord, AttemptStatus, ClaimRequest, DeliveryAttempt, DeliveryJob, EndpointHealth,
        EndpointSecrets, FanOut, NextState,
    },
};
use rand::Rng;
use serde_json::json;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    send::{SendReport, Sender, Target, Verdict},
    service::{display_url, open_secret},
    signing::Secret,
};

/// Tuning of a [`Worker`]. [`WorkerConfig::new`] fills everything but the three settings
/// operators configure.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Delays before each retry (the first attempt is immediate).
    pub retry_schedule: Vec<Duration>,
    /// An endpoint failing continuously this long is disabled.
    pub disable_after: Duration,
    /// Per-attempt deadline (connect, headers and body).
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests in flight to one endpoint at once.
    pub endpoint_concurrency: usize,
    /// Deliveries claimed, or events fanned out, per query — at most the free slots: the
    /// fan-out hands the deliveries it creates straight to the worker.
    pub claim_batch: u32,
    /// Polling interval when idle: starts at `min`, doubles up to `max`.
    pub idle_poll: (Duration, Duration),
    /// How long a claim holds. An attempt that could not start well within it is given back
    /// instead, so a lease never runs out under a request in flight.
    pub lease: Duration,
    /// Finished deliveries older than this are purged (hourly); `None` keeps them.
    pub retention: Option<Duration>,
    /// Relative spread of retry delays (0.1 = ±10 %), so retries of many deliveries do not
    /// arrive in lockstep.
    pub jitter: f64,
}

impl WorkerConfig {
    pub fn new(retry_schedule: Vec<Duration>, disable_after: Duration, timeout: Duration) -> Self {
        Self {
            retry_schedule,
            disable_after,
            timeout,
            // Room for the queue of two fast endpoints (`Gate::queue_limit`): claimed
            // deliveries wait, ready, for the endpoint's next free slot instead of for the
            // next claim.
            concurrency: 1024,
            endpoint_concurrency: 64,
            claim_batch: 256,
            idle_poll: (Duration::from_millis(20), Duration::from_millis(250)),
            lease: timeout * 2 + Duration::from_secs(10),
            retention: None,
            jitter: 0.1,
        }
    }
}

/// An endpoint answering within this gets deeper queues (see `Gate::queue_limit`).
const FAST_ATTEMPT: Duration = Duration::from_millis(100);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const HEARTBEAT_LIVE: Duration = Duration::from_secs(20);
const PURGE_EVERY: Duration = Duration::from_secs(3600);
const WRITE_BATCH: usize = 512;
/// A batch smaller than this waits up to [`LINGER`] for more results before it is written.
const LINGER_BELOW: usize = 64;
const LINGER: Duration = Duration::from_millis(5);
/// Result batches written at once.
const WRITERS: usize = 4;
const WRITE_RETRIES: u32 = 5;

/// One replica's delivery worker.
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    sender: Sender,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    slots: Arc<Semaphore>,
    gates: Mutex<HashMap<WebhookEndpointId, Arc<Gate>>>,
    /// Live workers sharing the database (from heartbeats), for rate limits.
    workers: AtomicU32,
    /// Signalled when enough slots are free again.
    wake: Notify,
    secrets: Mutex<HashMap<WebhookEndpointId, OpenedSecrets>>,
    /// Handoffs from this worker's fan-out passes: deliveries not yet written, and when the
    /// pass ran (a handoff past its lease is the store's to clean up).
    handoffs: Mutex<HashMap<HandoffId, (usize, Instant)>>,
}

/// An endpoint's signing secrets, opened, with the sealed values they came from.
struct OpenedSecrets {
    sealed: EndpointSecrets,
    current: Secret,
    previous: Option<Secret>,
}

/// What a job reports to the writer.
enum Done {
    Attempted {
        job: Box<DeliveryJob>,
        started_at: Timestamp,
        report: SendReport,
    },
    /// Not attempted (the lease was too close to its end, or the endpoint is paused): give
    /// it back, due no earlier than `not_before`.
    Released {
        job: Box<DeliveryJob>,
        not_before: Option<Timestamp>,
    },
}

/// Per-endpoint admission: concurrency, rate limit and `Retry-After` pause.
struct Gate {
    slots: Arc<Semaphore>,
    /// Jobs dispatched to the endpoint and not finished (in flight or waiting for a slot).
    assigned: AtomicUsize,
    /// Requests the endpoint takes at once.
    concurrency: usize,
    /// Whether the last attempt took longer than [`FAST_ATTEMPT`].
    slow: AtomicBool,
    state: Mutex<GateState>,
}

struct GateState {
    /// Token bucket (`None` = full); may go negative: the debt is how long the next request
    /// must wait.
    tokens: Option<f64>,
    /// The per-worker rate the bucket refills at, from the last admission.
    rate: Option<f64>,
    refilled: Instant,
    /// After a `Retry-After`, in the pipeline's clock (it also schedules the retries).
    paused_until: Option<Timestamp>,
    last_used: Instant,
}

impl Gate {
    fn new(concurrency: usize) -> Self {
        let now = Instant::now();
        Self {
            slots: Arc::new(Semaphore::new(concurrency)),
            assigned: AtomicUsize::new(0),
            concurrency,
            slow: AtomicBool::new(false),
            state: Mutex::new(GateState {
                tokens: None,
                rate: None,
                refilled: now,
                paused_until: None,
                last_used: now,
            }),
        }
    }

    /// Claims and the fan-out leave the endpoint out at this many assigned jobs. Rounds of
    /// requests wait, ready, behind the one in flight, so the endpoint never idles while the
    /// next pass runs, and fresh deliveries are handed over instead of written pending: eight
    /// rounds for a fast endpoint (a pass takes longer than one round of fast requests), two
    /// for a slow one (queued jobs must start well within their lease).
    fn queue_limit(&self) -> usize {
        let rounds = if self.slow.load(Ordering::Relaxed) {
            2
        } else {
            8
        };
        self.concurrency * rounds
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a claim should leave this endpoint out: enough jobs assigned, paused, or more
    /// than a second of rate-limit debt.
    fn blocked(&self, now: Instant, clock: Timestamp) -> bool {
        let state = self.lock();
        let rate = state.rate.unwrap_or(1.0);
        let repaid = now.saturating_duration_since(state.refilled).as_secs_f64() * rate;
        self.assigned.load(Ordering::Relaxed) >= self.queue_limit()
            || state.paused_until.is_some_and(|until| until > clock)
            || state
                .tokens
                .is_some_and(|tokens| tokens + repaid < -rate.max(1.0))
    }

    /// Until when the endpoint is paused, if it is at `clock`.
    fn paused(&self, clock: Timestamp) -> Option<Timestamp> {
        self.lock().paused_until.filter(|until| *until > clock)
    }

    /// Takes a rate-limit token (going into debt if needed) and returns how long to wait
    /// before sending.
    fn admit(&self, rate: Option<f64>, now: Instant) -> Duration {
        let mut state = self.lock();
        state.last_used = now;
        let mut wait = Duration::ZERO;
        state.rate = rate;
        match rate {
            Some(rate) => {
                // A bucket of one: requests are spaced evenly, never bunched into a burst.
                let burst = 1.0;
                let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
                let tokens = state
                    .tokens
                    .map_or(burst, |t| (t + elapsed * rate).min(burst))
                    - 1.0;
                state.tokens = Some(tokens);
                state.refilled = now;
                if tokens < 0.0 {
                    wait = wait.max(Duration::from_secs_f64(-tokens / rate));
                }
            }
            None => state.tokens = None,
        }
        wait
    }

    fn pause(&self, until: Timestamp) {
        let mut state = self.lock();
        if state.paused_until.is_none_or(|current| current < until) {
            state.paused_until = Some(until);
        }
    }
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        sender: Sender,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Self {
            inner: Arc::new(Inner {
                id: format!("wrk_{}", ulid::Ulid::new()),
                store,
                keyring,
                sender,
                clock,
                config,
                slots,
                gates: Mutex::new(HashMap::new()),
                workers: AtomicU32::new(1),
                wake: Notify::new(),
                secrets: Mutex::new(HashMap::new()),
                handoffs: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The id this worker claims deliveries under.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Runs until `shutdown`, then lets requests in flight finish (up to the timeout) and
    /// records them.
    pub async fn run(self, shutdown: CancellationToken) {
        let inner = self.inner;
        let config = &inner.config;
        let (results, rx) = mpsc::channel(config.concurrency.max(1) * 2);
        let writer = tokio::spawn(write_loop(inner.clone(), rx));
        let (min_idle, max_idle) = config.idle_poll;
        let mut idle = min_idle;
        let mut next_heartbeat = Instant::now();
        let mut next_purge = Instant::now() + Duration::from_secs(60);
        let mut last_claim = Instant::now();
        let mut claim_again = true;
        let mut last_fan_out = Instant::now();
        tracing::info!(worker = %inner.id, "webhook delivery worker started");

        while !shutdown.is_cancelled() {
            if Instant::now() >= next_heartbeat {
                inner.heartbeat().await;
                next_heartbeat = Instant::now() + HEARTBEAT_EVERY;
            }
            if let Some(retention) = config.retention
                && Instant::now() >= next_purge
            {
                inner.purge(retention).await;
                next_purge = Instant::now() + PURGE_EVERY;
            }

            let mut busy = false;
            let mut failed = false;
            // Due deliveries first (retries, expired leases, the fan-out's overflow), oldest
            // first; then fresh events, fanned out straight into this worker's free slots. A
            // stream of fresh events thus never queries for due deliveries more than every
            // `idle_poll.0`, while anything left pending is picked up on the next pass.
            let free = inner.free_slots();
            if free > 0 && (claim_again || last_claim.elapsed() >= min_idle) {
                last_claim = Instant::now();
                match inner.claim(free).await {
                    Ok(jobs) => {
                        claim_again = jobs.len() == free;
                        busy |= claim_again;
                        inner.dispatch(jobs, &results);
                    }
                    Err(err) => {
                        tracing::warn!(%err, "claiming webhook deliveries failed; retrying");
                        failed = true;
                    }
                }
            }
            // With no free slot, events wait in the feed for a worker with room. While an
            // endpoint is held back, they wait too (up to `idle_poll.0` after the last pass):
            // a pass would write its deliveries pending (three writes each instead of one),
            // and it usually takes more again within milliseconds.
            let free = inner.free_slots();
            let held_back = inner.blocked_endpoints();
            let hold = last_fan_out.elapsed() < min_idle && !held_back.is_empty();
            if free > 0 && !hold {
                last_fan_out = Instant::now();
                match inner.fan_out(free, &held_back).await {
                    Ok(pass) => {
                        busy |= pass.more;
                        claim_again |= pass.deliveries as usize > pass.claimed.len();
                        inner.dispatch(pass.claimed, &results);
                    }
                    Err(err) => {
                        tracing::warn!(%err, "webhook fan-out failed; retrying");
                        failed = true;
                    }
                }
            }

            if busy && !failed && inner.slots.available_permits() > 0 {
                idle = min_idle;
                tokio::task::yield_now().await;
                continue;
            }
            if failed {
                idle = max_idle;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(idle) => idle = (idle * 2).min(max_idle),
                () = inner.wake.notified() => idle = min_idle,
            }
        }

        // Let requests in flight finish and be recorded.
        let all = u32::try_from(config.concurrency.max(1)).unwrap_or(u32::MAX);
        let grace = config.timeout + Duration::from_secs(5);
        let _ = tokio::time::timeout(grace, inner.slots.acquire_many(all)).await;
        drop(results);
        let _ = writer.await;
        tracing::info!(worker = %inner.id, "webhook delivery worker stopped");
    }
}

impl Inner {
    async fn heartbeat(&self) {
        let now = self.clock.now();
        match self
            .store
            .webhook_worker_heartbeat(&self.id, now, now.minus(HEARTBEAT_LIVE))
            .await
        {
            Ok(n) => self.workers.store(n.max(1), Ordering::Relaxed),
            Err(err) => tracing::warn!(%err, "webhook worker heartbeat failed"),
        }
        // A handoff whose deliveries could not all be written is the store's after its lease.
        let lease = self.config.lease;
        self.handoffs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (_, since)| since.elapsed() < lease);
        // Forget idle endpoints so the map does not grow without bound.
        let cutoff = Instant::now() - Duration::from_secs(300);
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.retain(|_, gate| {
            // A gate with jobs assigned is held by them (strong count).
            Arc::strong_count(gate) > 1
                || gate.slots.available_permits() < self.config.endpoint_concurrency
                || gate.lock().last_used > cutoff
        });
    }

    async fn purge(&self, retention: Duration) {
        match self
            .store
            .purge_deliveries(self.clock.now().minus(retention))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired webhook deliveries deleted"),
            Err(err) => tracing::warn!(%err, "webhook delivery retention pass failed"),
        }
    }

    fn gate(&self, endpoint: &WebhookEndpointId) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .entry(endpoint.clone())
            .or_insert_with(|| Arc::new(Gate::new(self.config.endpoint_concurrency.max(1))))
            .clone()
    }

    fn free_slots(&self) -> usize {
        self.slots
            .available_permits()
            .min(self.config.claim_batch as usize)
    }

    /// Endpoints a claim should leave out right now.
    fn blocked_endpoints(&self) -> Vec<WebhookEndpointId> {
        let (now, clock) = (Instant::now(), self.clock.now());
        let gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .iter()
            .filter(|(_, gate)| gate.blocked(now, clock))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A claim of up to `limit` deliveries for this worker, leaving out `exclude`.
    fn claim_request<'a>(
        &'a self,
        limit: usize,
        exclude: &'a [WebhookEndpointId],
    ) -> ClaimRequest<'a> {
        let now = self.clock.now();
        ClaimRequest {
            worker: &self.id,
            now,
            lease_until: now.plus(self.config.lease),
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            exclude,
        }
    }

    async fn claim(&self, limit: usize) -> Result<Vec<DeliveryJob>, gatehouse_core::StoreError> {
        let exclude = self.blocked_endpoints();
        self.store
            .claim_deliveries(&self.claim_request(limit, &exclude))
            .await
    }

    /// Fans out up to `free` events, taking up to `free` of the deliveries created (none of
    /// the endpoints in `exclude`).
    async fn fan_out(
        &self,
        free: usize,
        exclude: &[WebhookEndpointId],
    ) -> Result<FanOut, gatehouse_core::StoreError> {
        let claim = self.claim_request(free, exclude);
        self.store
            .fan_out_events(claim.limit, claim.now, Some(&claim))
            .await
    }

    /// Starts an attempt for each claimed job, each holding one of this worker's slots.
    fn dispatch(self: &Arc<Self>, jobs: Vec<DeliveryJob>, results: &mpsc::Sender<Done>) {
        let claimed_at = Instant::now();
        if let Some(pass) = jobs.first().and_then(|job| job.handoff.as_ref()) {
            // One fan-out pass: all its jobs share the handoff.
            self.handoffs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(pass.clone(), (jobs.len(), claimed_at));
        }
        for job in jobs {
            let gate = self.gate(&job.endpoint.id);
            gate.assigned.fetch_add(1, Ordering::Relaxed);
            let slot = self
                .slots
                .clone()
                .try_acquire_owned()
                .expect("only the run loop takes slots, and it counted them");
            let span = tracing::debug_span!("webhook_delivery", delivery = %job.id, endpoint = %job.endpoint.id, attempt = job.attempts + 1);
            tokio::spawn(
                self.clone()
                    .run_job(job, gate, slot, claimed_at, results.clone())
                    .instrument(span),
            );
        }
    }

    async fn run_job(
        self: Arc<Self>,
        job: DeliveryJob,
        gate: Arc<Gate>,
        slot: OwnedSemaphorePermit,
        claimed_at: Instant,
        results: mpsc::Sender<Done>,
    ) {
        let released = |not_before| Done::Released {
            job: Box::new(job.clone()),
            not_before,
        };
        let done = match gate.slots.clone().acquire_owned().await {
            Ok(_) if gate.paused(self.clock.now()).is_some() => {
                // Claimed before a `Retry-After` arrived: back to the queue until it ends.
                released(gate.paused(self.clock.now()))
            }
            Ok(endpoint_slot) => {
                let workers = f64::from(self.workers.load(Ordering::Relaxed).max(1));
                let rate = job.endpoint.rate_limit.map(|r| f64::from(r) / workers);
                let wait = gate.admit(rate, Instant::now());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                // Start only if the attempt can finish well inside the lease.
                let latest_start = self
                    .config
                    .lease
                    .saturating_sub(self.config.timeout + Duration::from_secs(5));
                let done = if claimed_at.elapsed() > latest_start {
                    released(None)
                } else {
                    let started_at = self.clock.now();
                    let report = self.attempt(&job, started_at).await;
                    crate::metrics::attempt(
                        report.status,
                        (!report.latency.is_zero()).then_some(report.latency),
                    );
                    gate.slow
                        .store(report.latency > FAST_ATTEMPT, Ordering::Relaxed);
                    if let Verdict::Failed {
                        retry_after: Some(wait),
                    } = report.verdict
                    {
                        gate.pause(self.clock.now().plus(wait));
                    }
                    Done::Attempted {
                        job: Box::new(job),
                        started_at,
                        report,
                    }
                };
                drop(endpoint_slot);
                done
            }
            Err(_) => released(None),
        };
        gate.assigned.fetch_sub(1, Ordering::Relaxed);
        drop(gate);
        drop(slot);
        if self.slots.available_permits() >= (self.config.concurrency / 4).max(1) {
            self.wake.notify_one();
        }
        // The writer outlives every job (it stops when all senders are gone).
        let _ = results.send(done).await;
    }

    async fn attempt(&self, job: &DeliveryJob, now: Timestamp) -> SendReport {
        let Some(event_json) = &job.event_json else {
            return SendReport::without_request(
                AttemptStatus::Failed,
                "the event is no longer available (older than the events retention period)".into(),
                Verdict::Permanent,
            );
        };
        let secrets = match self.secrets(&job.endpoint.id, &job.endpoint.secrets, now) {
            Ok(secrets) => secrets,
            Err(err) => {
                tracing::error!(endpoint = %job.endpoint.id, %err, "cannot open a webhook signing secret (master key missing?)");
                return SendReport::without_request(
                    AttemptStatus::Failed,
                    "internal error: the signing secret is unavailable".into(),
                    Verdict::Failed { retry_after: None },
                );
            }
        };
        let report = self
            .sender
            .send(
                job.id.as_str(),
                now.unix_seconds(),
                event_json,
                Target {
                    url: &job.endpoint.url,
                    transform: job.endpoint.transform.as_ref(),
                },
                &secrets,
            )
            .await;
        match &report.verdict {
            Verdict::Delivered => tracing::debug!(latency_ms = report.latency_ms(), "delivered"),
            _ => {
                tracing::debug!(error = report.error.as_deref().unwrap_or(""), status = ?report.response_status, "attempt did not succeed")
            }
        }
        report
    }

    /// The secrets that sign a message to `endpoint` at `now`. Each sealed value is opened
    /// once, not for every delivery.
    fn secrets(
        &self,
        endpoint: &WebhookEndpointId,
        sealed: &EndpointSecrets,
        now: Timestamp,
    ) -> Result<Vec<Secret>, String> {
        let mut cache = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let opened = match cache.get(endpoint) {
            Some(entry) if &entry.sealed == sealed => entry,
            _ => {
                let entry = OpenedSecrets {
                    current: open_secret(&self.keyring, endpoint, &sealed.current)?,
                    previous: sealed
                        .previous
                        .as_ref()
                        .map(|p| open_secret(&self.keyring, endpoint, p))
                        .transpose()?,
                    sealed: sealed.clone(),
                };
                if cache.len() >= 10_000 {
                    cache.clear();
                }
                cache.entry(endpoint.clone()).insert_entry(entry).into_mut()
            }
        };
        let signing = sealed.signing_at(now).len();
        Ok(opened
            .previous
            .iter()
            .filter(|_| signing == 2)
            .chain(std::iter::once(&opened.current))
            .cloned()
            .collect())
    }

    /// The delivery's state after an attempt.
    fn next_state(&self, job: &DeliveryJob, report: &SendReport, now: Timestamp) -> NextState {
        let error = report.error.clone().unwrap_or_default();
        let retry_after = match &report.verdict {
            Verdict::Delivered => return NextState::Succeeded,
            Verdict::Dropped { reason } => {
                return NextState::Skipped {
                    reason: format!("dropped by the transform: {reason}"),
                };
            }
            Verdict::Permanent => return NextState::Dead { reason: error },
            Verdict::Failed { retry_after } => *retry_after,
            Verdict::Gone | Verdict::PluginDisabled { .. } => None,
        };
        let round = job.round_attempts as usize + 1;
        let Some(delay) = self.config.retry_schedule.get(round - 1) else {
            return NextState::Dead {
                reason: format!("gave up after {round} attempts; last: {error}"),
            };
        };
        let mut delay = jittered(*delay, self.config.jitter);
        if let Some(wait) = retry_after {
            delay = delay.max(wait);
        }
        NextState::Retry {
            at: now.plus(delay),
        }
    }

    async fn flush(&self, batch: Vec<Done>) {
        let mut released = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        // Per endpoint, in attempt order: (tenant, snapshot of failing_since, outcomes).
        let mut by_endpoint: HashMap<WebhookEndpointId, EndpointBatch> = HashMap::new();
        for done in batch {
            let (job, started_at, report) = match done {
                Done::Released { job, not_before } => {
                    released.push((*job, not_before));
                    continue;
                }
                Done::Attempted {
                    job,
                    started_at,
                    report,
                } => (job, started_at, report),
            };
            let next = self.next_state(&job, &report, started_at);
            let entry = by_endpoint
                .entry(job.endpoint.id.clone())
                .or_insert_with(|| EndpointBatch {
                    tenant: job.tenant_id.clone(),
                    url: job.endpoint.url.clone(),
                    failing_since: job.endpoint.failing_since,
                    outcomes: Vec::new(),
                });
            entry.failing_since = match (entry.failing_since, job.endpoint.failing_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            entry
                .outcomes
                .push((started_at, report.status, report.verdict.clone()));
            records.push(AttemptRecord {
                attempt: DeliveryAttempt {
                    id: AttemptId::generate(),
                    delivery_id: job.id.clone(),
                    tenant_id: job.tenant_id.clone(),
                    endpoint_id: job.endpoint.id.clone(),
                    attempt: job.attempts + 1,
                    started_at,
                    status: report.status,
                    latency_ms: report.latency_ms(),
                    response_status: report.response_status,
                    response_body: report.response_body,
                    error: report.error,
                },
                next,
                handoff: job.unwritten(),
            });
        }

        crate::metrics::dead_letters(
            records
                .iter()
                .filter(|r| matches!(r.next, NextState::Dead { .. }))
                .count() as u64,
        );
        let now = self.clock.now();
        let mut health = Vec::new();
        let mut disable = Vec::new();
        for (endpoint, batch) in &mut by_endpoint {
            batch.outcomes.sort_by_key(|(at, _, _)| *at);
            let verdict = batch.verdict(now, self.config.disable_after);
            if let Some(update) = verdict.health {
                health.push(EndpointHealth {
                    endpoint_id: endpoint.clone(),
                    failing_since: update,
                });
            }
            if let Some(reason) = verdict.disable {
                disable.push((
                    endpoint.clone(),
                    batch.tenant.clone(),
                    batch.url.clone(),
                    reason,
                    verdict.since,
                ));
            }
        }

        // Handoffs of the deliveries written here.
        let mut written = Vec::new();
        if !records.is_empty() || !health.is_empty() {
            let recorded = self
                .with_retries("recording webhook attempts", || {
                    self.store.record_attempts(&self.id, &records, &health)
                })
                .await;
            if recorded {
                written.extend(
                    records
                        .iter()
                        .filter_map(|r| r.handoff.as_ref().map(|h| &h.pass)),
                );
            }
        }
        released.sort_by_key(|(_, not_before)| *not_before);
        for group in released.chunk_by(|a, b| a.1 == b.1) {
            let jobs: Vec<_> = group.iter().map(|(job, _)| job.clone()).collect();
            let given_back = self
                .with_retries("releasing webhook deliveries", || {
                    self.store
                        .release_deliveries(&self.id, &jobs, now, group[0].1)
                })
                .await;
            if given_back {
                written.extend(group.iter().filter_map(|(job, _)| job.handoff.as_ref()));
            }
        }
        self.settle_handoffs(&written).await;
        for (endpoint, tenant, url, reason, since) in disable {
            let system = Principal::System {
                component: "webhook-delivery",
            };
            let change = Change::new(
                "endpoint.disabled",
                &system,
                &AuditContext::default(),
                Some(&tenant),
                now,
            )
            .target(gatehouse_core::audit::Target::new(
                "webhook_endpoint",
                &endpoint,
                None,
            ))
            .meta("reason", reason.clone())
            .event(
                "endpoint.disabled",
                json!({
                    "id": endpoint,
                    "tenant_id": tenant,
                    "url": display_url(&url),
                    "reason": reason,
                    "failing_since": since,
                }),
            );
            match self
                .store
                .disable_webhook_endpoint(&tenant, &endpoint, &reason, now, &change)
                .await
            {
                Ok(true) => {
                    crate::metrics::endpoint_disabled();
                    tracing::warn!(%endpoint, %reason, "webhook endpoint disabled");
                }
                Ok(false) => {}
                Err(err) => tracing::warn!(%endpoint, %err, "disabling a webhook endpoint failed"),
            }
        }
    }

    /// Counts these handed-off deliveries as written, and deletes the handoffs that have all
    /// theirs written.
    async fn settle_handoffs(&self, written: &[&HandoffId]) {
        if written.is_empty() {
            return;
        }
        let settled: Vec<HandoffId> = {
            let mut handoffs = self.handoffs.lock().unwrap_or_else(|p| p.into_inner());
            let mut settled = Vec::new();
            for &pass in written {
                if let Some((left, _)) = handoffs.get_mut(pass) {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        handoffs.remove(pass);
                        settled.push(pass.clone());
                    }
                }
            }
            settled
        };
        if settled.is_empty() {
            return;
        }
        if let Err(err) = self.store.delete_handoffs(&settled).await {
            // Harmless: when its lease ends, its deliveries are found written.
            tracing::warn!(%err, "deleting settled webhook handoffs failed");
        }
    }

    /// A write that must not be lost lightly: retried with backoff. If it still fails, the
    /// deliveries' leases expire and they are attempted again (at least once). Whether it
    /// succeeded.
    async fn with_retries<F, Fut>(&self, what: &str, mut write: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), gatehouse_core::StoreError>>,
    {
        let mut pause = Duration::from_millis(100);
        for attempt in 1..=WRITE_RETRIES {
            match write().await {
                Ok(()) => return true,
                Err(err) if attempt == WRITE_RETRIES => {
                    tracing::error!(%err, "{what} failed; the deliveries will be retried when their leases expire");
                }
                Err(err) => {
                    tracing::warn!(%err, "{what} failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
        false
    }
}

/// One endpoint's outcomes in a batch.
struct EndpointBatch {
    tenant: gatehouse_core::id::TenantId,
    url: String,
    failing_since: Option<Timestamp>,
    outcomes: Vec<(Timestamp, AttemptStatus, Verdict)>,
}

struct HealthVerdict {
    /// `Some(None)`: the streak ended; `Some(Some(t))`: a streak starting at `t`; `None`:
    /// nothing to write.
    health: Option<Option<Timestamp>>,
    disable: Option<String>,
    since: Option<Timestamp>,
}

impl EndpointBatch {
    fn verdict(&self, now: Timestamp, disable_after: Duration) -> HealthVerdict {
        // Outcomes that say something about the endpoint: sent and answered (or not).
        let counted = self
            .outcomes
            .iter()
            .filter(|(_, status, _)| *status != AttemptStatus::Skipped);
        let mut streak = self.failing_since;
        let mut succeeded = false;
        let mut last_failed = false;
        for (at, status, _) in counted {
            if *status == AttemptStatus::Succeeded {
                streak = None;
                succeeded = true;
                last_failed = false;
            } else {
                streak.get_or_insert(*at);
                last_failed = true;
            }
        }
        let health = if last_failed {
            // Written when the stored streak may differ: none stored, or a success reset it.
            (self.failing_since.is_none() || succeeded).then_some(streak)
        } else if succeeded && self.failing_since.is_some() {
            Some(None)
        } else {
            None
        };

        let immediate = self.outcomes.iter().rev().find_map(|(_, _, v)| match v {
            Verdict::Gone => Some("the endpoint answered 410 Gone".to_owned()),
            Verdict::PluginDisabled { reason } => Some(reason.clone()),
            _ => None,
        });
        let disable = immediate.or_else(|| {
            let since = streak.filter(|_| last_failed)?;
            let failing_for = Duration::from_millis(
                u64::try_from(now.unix_millis() - since.unix_millis()).unwrap_or(0),
            );
            (failing_for >= disable_after).then(|| {
                format!(
                    "failing continuously since {since} (longer than {})",
                    human(disable_after)
                )
            })
        });
        HealthVerdict {
            health,
            disable,
            since: streak,
        }
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn jittered(delay: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 || delay.is_zero() {
        return delay;
    }
    let jitter = jitter.min(0.9);
    delay.mul_f64(rand::rng().random_range((1.0 - jitter)..=(1.0 + jitter)))
}

async fn write_loop(inner: Arc<Inner>, mut rx: mpsc::Receiver<Done>) {
    // A few batches may be written at once: PostgreSQL takes them on separate connections
    // (they touch disjoint deliveries); SQLite's single writer simply queues them.
    let writers = Arc::new(Semaphore::new(WRITERS));
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    // Whatever arrived while earlier batches were written makes the next one, so batches grow
    // with load; a short linger turns a trickle of single results into one transaction too.
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        if batch.len() < LINGER_BELOW {
            let until = tokio::time::Instant::now() + LINGER;
            while batch.len() < WRITE_BATCH {
                let room = WRITE_BATCH - batch.len();
                match tokio::time::timeout_at(until, rx.recv_many(&mut batch, room)).await {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        let permit = writers
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let inner = inner.clone();
        let batch = std::mem::take(&mut batch);
        tokio::spawn(async move {
            inner.flush(batch).await;
            drop(permit);
        });
    }
    // Every batch written before the worker reports it stopped.
    let _ = writers.acquire_many(WRITERS as u32).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(s * 1000)
    }

    fn batch(
        failing_since: Option<Timestamp>,
        outcomes: &[(i64, AttemptStatus, Verdict)],
    ) -> EndpointBatch {
        EndpointBatch {
            tenant: gatehouse_core::id::TenantId::generate(),
            url: "https://x.example".into(),
            failing_since,
            outcomes: outcomes
                .iter()
                .map(|(t, s, v)| (at(*t), *s, v.clone()))
                .collect(),
        }
    }

    const OK: (AttemptStatus, Verdict) = (AttemptStatus::Succeeded, Verdict::Delivered);
    const FAIL: (AttemptStatus, Verdict) =
        (AttemptStatus::Failed, Verdict::Failed { retry_after: None });

    #[test]
    fn failure_streaks_start_end_and_disable() {
        let day = Duration::from_secs(86_400);
        // A first failure starts a streak.
        let v = batch(None, &[(10, FAIL.0, FAIL.1.clone())]).verdict(at(10), day);
        assert_eq!((v.health, v.disable), (Some(Some(at(10))), None));
        // A running streak is not rewritten.
        let v = batch(Some(at(5)), &[(10, FAIL.0, FAIL.1.clone())]).verdict(at(10), day);
        assert_eq!(v.health, None);
        // A success ends it; success without a streak writes nothing.
        let v = batch(
            Some(at(5)),
            &[(10, FAIL.0, FAIL.1.clone()), (11, OK.0, OK.1.clone())],
        )
        .verdict(at(11), day);
        assert_eq!(v.health, Some(None));
        assert_eq!(
            batch(None, &[(10, OK.0, OK.1.clone())])
                .verdict(at(10), day)
                .health,
            None
        );
        // Success then failure: a new streak from the failure.
        let v = batch(
            Some(at(1)),
            &[(10, OK.0, OK.1.clone()), (12, FAIL.0, FAIL.1.clone())],
        )
        .verdict(at(12), day);
        assert_eq!(v.health, Some(Some(at(12))));
        // Failing longer than the limit disables; skips do not count either way.
        let v = batch(
            Some(at(0)),
            &[
                (86_400, FAIL.0, FAIL.1.clone()),
                (
                    86_401,
                    AttemptStatus::Skipped,
                    Verdict::Dropped { reason: "x".into() },
                ),
            ],
        )
        .verdict(at(86_401), day);
        assert!(v.disable.unwrap().contains("longer than 1 d"));
        let v = batch(Some(at(0)), &[(86_399, FAIL.0, FAIL.1.clone())]).verdict(at(86_399), day);
        assert_eq!(v.disable, None);
        // 410 disables at once.
        let v = batch(None, &[(1, AttemptStatus::Failed, Verdict::Gone)]).verdict(at(1), day);
        assert_eq!(v.disable.as_deref(), Some("the endpoint answered 410 Gone"));
    }

    #[test]
    fn gates_limit_rate_and_pause() {
        let gate = Gate::new(2);
        let t0 = Instant::now();
        // 2/s: the first at once, then 500 ms apart, each waiting its turn.
        assert_eq!(gate.admit(Some(2.0), t0), Duration::ZERO);
        let second = gate.admit(Some(2.0), t0);
        assert!((second.as_millis() as i64 - 500).abs() <= 1, "{second:?}");
        let third = gate.admit(Some(2.0), t0);
        assert!((third.as_millis() as i64 - 1000).abs() <= 1, "{third:?}");
        assert!(
            !gate.blocked(t0, Timestamp::from_unix_millis(0)),
            "exactly a second of debt is still served"
        );
        // Time pays the debt back.
        let later = t0 + Duration::from_secs(1);
        let next = gate.admit(Some(2.0), later);
        assert!((next.as_millis() as i64 - 500).abs() <= 1, "{next:?}");
        gate.admit(Some(2.0), later);
        gate.admit(Some(2.0), later);
        assert!(
            gate.blocked(later, Timestamp::from_unix_millis(0)),
            "over a second of debt leaves it out of claims"
        );
        // Without a limit nothing waits; a pause (in clock time) blocks until it ends.
        let free = Gate::new(1);
        assert_eq!(free.admit(None, t0), Duration::ZERO);
        let clock = Timestamp::from_unix_millis(1_000_000);
        free.pause(clock.plus(Duration::from_secs(3)));
        assert!(free.blocked(t0, clock));
        assert_eq!(free.paused(clock), Some(clock.plus(Duration::from_secs(3))));
        assert!(!free.blocked(t0, clock.plus(Duration::from_secs(3))));
        assert_eq!(free.paused(clock.plus(Duration::from_secs(3))), None);

        // Rounds of jobs may wait behind the one in flight (eight while the endpoint is
        // fast, two once it is slow); then claims leave it out.
        let busy = Gate::new(2);
        let now = Timestamp::from_unix_millis(0);
        busy.assigned.store(15, Ordering::Relaxed);
        assert!(!busy.blocked(t0, now));
        busy.assigned.store(16, Ordering::Relaxed);
        assert!(busy.blocked(t0, now));
        busy.slow.store(true, Ordering::Relaxed);
        busy.assigned.store(3, Ordering::Relaxed);
        assert!(!busy.blocked(t0, now));
        busy.assigned.store(4, Ordering::Relaxed);
        assert!(
            busy.blocked(t0, now),
            "a slow endpoint queues two rounds only"
        );
    }

    #[test]
    fn jitter_stays_within_bounds() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(100), 0.1);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
        assert_eq!(
            jittered(Duration::from_secs(5), 0.0),
            Duration::from_secs(5)
        );
    }
}
