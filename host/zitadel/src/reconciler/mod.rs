//! The reconciler: drives ZITADEL toward the desired state kept in Gatehouse's database.
//!
//! - **What**: a tenant is an organization with a custom login policy; an app is a project
//!   with one OIDC application (its client id and secret are stored in Gatehouse, the secret
//!   sealed); the installation has one Actions v2 target with event executions, so ZITADEL
//!   reports user and session events to `/hooks/zitadel`.
//! - **When**: every mutation marks its object in `sync_state` (the store does it in the
//!   mutation's transaction). A background loop claims due objects with a lease (several
//!   replicas never work on one object at once), syncs them, and records the outcome; API
//!   handlers can sync one object inline ([`Reconciler::reconcile_now`]). Failures are retried
//!   with exponential backoff and jitter. Synced objects are re-checked every
//!   [`ReconcilerConfig::verify_interval`]: anything changed by hand in ZITADEL (a deleted app, a
//!   renamed organization) is put back.
//! - **Idempotent**: handlers read before they write, create with caller-chosen ids where
//!   ZITADEL allows it (organizations) and adopt what a lost answer already created (409 → look
//!   up by name), and record every id as soon as they have it.
//! - **Outages**: local writes never wait for ZITADEL beyond the inline timeout. When ZITADEL
//!   is unreachable a circuit breaker opens: inline syncs fail at once, the loop probes with a
//!   cheap request, and everything waiting is retried as soon as a probe succeeds.

mod actions;
mod app;
mod breaker;
mod failure;
mod job;
mod tenant;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use gatehouse_core::{
    StoreError, Timestamp,
    clock::Clock,
    id::TenantId,
    secret::Keyring,
    store::{Store, StoreResult},
    sync::{ACTIONS_TARGET_ID, ObjectKind, SyncFailure, SyncRecord, SyncRef, SyncSuccess},
};
use rand::Rng;
use tokio::{sync::Notify, task::JoinSet};
use tracing::Instrument;

pub use self::{
    actions::{ActionsConfig, DEFAULT_EVENT_GROUPS, signing_key_fingerprint},
    app::desired_settings,
    breaker::Admission,
    failure::{Backoff, Cause, SyncError},
    job::Outcome,
    tenant::{org_id_for, org_names},
};
use self::{breaker::Breaker, job::Job};
use crate::client::{ZitadelClient, ZitadelError};

/// How the reconciler behaves. The defaults suit production; tests shorten the intervals.
#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    /// Names this process's claims (unique per process).
    pub worker_id: String,
    /// Pause between passes when nothing is due.
    pub poll_interval: Duration,
    /// Objects claimed per pass, and synced at once (in two waves: tenants and the Actions
    /// target first, apps second).
    pub batch_size: u32,
    /// How long a claim holds; a crashed worker's objects are taken over after it. Longer
    /// than two [`Self::object_timeout`]s (the two waves of a pass).
    pub lease: Duration,
    /// Longest time spent on one object before the attempt counts as failed.
    pub object_timeout: Duration,
    /// How often a synced object is re-checked against ZITADEL (drift repair).
    pub verify_interval: Duration,
    pub backoff: Backoff,
    /// Circuit breaker: first pause after ZITADEL became unreachable, doubling up to the max.
    pub breaker_min_cooldown: Duration,
    pub breaker_max_cooldown: Duration,
    /// How long an app waits for its tenant's organization to be synced first.
    pub dependency_wait: Duration,
    /// The Actions v2 target to register; `None` registers none.
    pub actions: Option<ActionsConfig>,
    /// Base URI of a custom login UI (`loginVersion.loginV2.baseUri` of every app); `None`
    /// leaves the apps' login version as ZITADEL has it.
    pub login_ui_base_uri: Option<String>,
    /// How long a replaced Actions signing key still verifies calls.
    pub signing_key_grace: Duration,
    /// How long after a write an object Gatehouse wrote may still read as missing (ZITADEL's
    /// read models lag); within it, "missing" is retried instead of recreated. Zero for a
    /// strongly consistent ZITADEL (the embedded emulator).
    pub consistency_grace: Duration,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self {
            worker_id: format!(
                "rec-{}-{:08x}",
                std::process::id(),
                rand::rng().random::<u32>()
            ),
            poll_interval: Duration::from_secs(1),
            batch_size: 8,
            lease: Duration::from_secs(300),
            object_timeout: Duration::from_secs(120),
            verify_interval: Duration::from_secs(600),
            backoff: Backoff::default(),
            breaker_min_cooldown: Duration::from_secs(1),
            breaker_max_cooldown: Duration::from_secs(15),
            dependency_wait: Duration::from_secs(30),
            actions: None,
            login_ui_base_uri: None,
            signing_key_grace: Duration::from_secs(3600),
            consistency_grace: Duration::from_secs(30),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub claimed: usize,
    pub synced: usize,
    pub removed: usize,
    pub failed: usize,
}

/// Cheap to clone; clones share the loop's state (breaker, notifications).
#[derive(Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub client: ZitadelClient,
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
    pub config: ReconcilerConfig,
    breaker: Breaker,
    /// Notified whenever this process finishes an object (inline callers wait on it).
    finished: Notify,
    /// Runs the loop's next pass early.
    wake: Notify,
}

/// The result of one attempt, as callers see it.
type Attempt = Result<Outcome, String>;

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("worker_id", &self.inner.config.worker_id)
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    pub fn new(
        client: ZitadelClient,
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        config: ReconcilerConfig,
    ) -> Self {
        let breaker = Breaker::new(config.breaker_min_cooldown, config.breaker_max_cooldown);
        Self {
            inner: Arc::new(Inner {
                client,
                store,
                keyring,
                clock,
                config,
                breaker,
                finished: Notify::new(),
                wake: Notify::new(),
            }),
        }
    }

    pub fn client(&self) -> &ZitadelClient {
        &self.inner.client
    }

    pub fn config(&self) -> &ReconcilerConfig {
        &self.inner.config
    }

    /// `false` while the circuit breaker holds ZITADEL for unreachable.
    pub fn zitadel_reachable(&self) -> bool {
        !self.inner.breaker.is_open()
    }

    /// Runs the loop's next pass now instead of after the poll interval.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Marks the Actions target for sync (at start: it is re-checked, and created if missing).
    /// A no-op without [`ReconcilerConfig::actions`].
    pub async fn request_actions_target(&self) -> StoreResult<()> {
        if self.inner.config.actions.is_none() {
            return Ok(());
        }
        let object = SyncRef::upsert(ObjectKind::ActionsTarget, ACTIONS_TARGET_ID, None);
        self.inner
            .store
            .request_sync(&object, self.inner.clock.now())
            .await
    }

    /// Makes objects due now (all unsynced ones; with `verify`, synced ones too, for a drift
    /// check) and wakes the loop. Returns how many were scheduled.
    pub async fn schedule_now(&self, verify: bool, tenant: Option<&TenantId>) -> StoreResult<u64> {
        let count = self
            .inner
            .store
            .schedule_sync_now(verify, tenant, self.inner.clock.now())
            .await?;
        self.wake();
        Ok(count)
    }

    /// The background loop: passes until `shutdown` completes. Store errors are logged and the
    /// loop keeps going (the database may come back).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.inner.config.worker_id, "ZITADEL reconciler started");
        loop {
            let report = match self.run_once().await {
                Ok(report) => report,
                Err(err) => {
                    tracing::warn!(%err, "ZITADEL reconciler pass failed; retrying");
                    PassReport::default()
                }
            };
            // A full batch means more may be due: go again at once (after checking shutdown).
            let pause = if report.claimed >= self.inner.config.batch_size as usize {
                Duration::ZERO
            } else {
                self.inner.config.poll_interval
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
                () = self.inner.wake.notified() => {}
            }
        }
        tracing::info!("ZITADEL reconciler stopped");
    }

    /// One pass: probe ZITADEL if the breaker is open, then claim the due objects and sync them
    /// (tenants and the Actions target first, since apps need their organization).
    pub async fn run_once(&self) -> StoreResult<PassReport> {
        let inner = &self.inner;
        if inner.breaker.is_open() && inner.breaker.admit() == Admission::Probe {
            inner.probe().await?;
        }
        let now = inner.clock.now();
        let records = inner
            .store
            .claim_due_sync(
                &inner.config.worker_id,
                now,
                now.plus(inner.config.lease),
                inner.config.batch_size,
            )
            .await?;
        let mut report = PassReport {
            claimed: records.len(),
            ..PassReport::default()
        };
        let (first, rest): (Vec<_>, Vec<_>) = records
            .into_iter()
            .partition(|r| matches!(r.kind, ObjectKind::Tenant | ObjectKind::ActionsTarget));
        for wave in [first, rest] {
            let mut tasks = JoinSet::new();
            for record in wave {
                let inner = inner.clone();
                tasks.spawn(async move { inner.run_claimed(record).await });
            }
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok(Ok(Outcome::Synced)) => report.synced += 1,
                    Ok(Ok(Outcome::Removed)) => report.removed += 1,
                    Ok(Err(_)) => report.failed += 1,
                    Err(err) => {
                        // The claim runs out with the lease; another pass picks it up.
                        tracing::error!(%err, "a sync task panicked");
                        report.failed += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Tries to bring one object in sync within `timeout`, for an API handler that wants to
    /// answer with ZITADEL's ids. Waits if another worker holds the object. `Err` carries a
    /// message fit for the API; the object stays marked and the loop keeps trying.
    pub async fn reconcile_now(
        &self,
        kind: ObjectKind,
        id: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let inner = self.inner.clone();
        let id = id.to_owned();
        // Waiting for another worker ends a little before the caller gives up, so the caller
        // hears why.
        let wait_until = Instant::now() + timeout.mul_f64(0.9);
        // In its own task: giving up on the wait must not abandon a half-done attempt (its
        // claim would block the object until the lease runs out).
        let task = tokio::spawn(async move {
            let runner = inner.clone();
            inner
                .sync_one(kind, &id, wait_until, move |record| {
                    let runner = runner.clone();
                    async move { runner.run_claimed(record).await }
                })
                .await
        });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => result.map(|_| ()),
            Ok(Err(err)) => {
                tracing::error!(%err, "inline sync task failed");
                Err("internal error (see the server log)".into())
            }
            Err(_) => Err(format!(
                "ZITADEL did not finish within {timeout:?}; the change is saved and syncs in the \
                 background"
            )),
        }
    }
}

impl Inner {
    /// A cheap unauthenticated request (OIDC discovery) that tells whether ZITADEL answers.
    async fn probe(self: &Arc<Self>) -> StoreResult<()> {
        let answered = match self.client.discovery().await {
            Ok(_) => true,
            // Any answer, even an error, means it is reachable again.
            Err(err) => !SyncError::zitadel("probing ZITADEL", err).is_unreachable(),
        };
        if answered {
            self.became_reachable().await
        } else {
            tracing::debug!("ZITADEL still unreachable");
            self.breaker.unreachable();
            Ok(())
        }
    }

    /// Records that ZITADEL answered; if the breaker was open, everything waiting is due now.
    async fn became_reachable(&self) -> StoreResult<()> {
        if self.breaker.reachable() {
            let scheduled = self
                .store
                .schedule_sync_now(false, None, self.clock.now())
                .await?;
            tracing::info!(scheduled, "ZITADEL is reachable again; resuming sync");
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Syncs one object now: claims it and runs `run`, or, if another worker holds it, waits
    /// for that worker (until `wait_until`). `Ok` when there is nothing left to do.
    async fn sync_one<F, Fut>(
        self: &Arc<Self>,
        kind: ObjectKind,
        id: &str,
        wait_until: Instant,
        run: F,
    ) -> Attempt
    where
        F: Fn(SyncRecord) -> Fut,
        Fut: Future<Output = Attempt>,
    {
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            let record = self
                .store
                .get_sync(kind, id)
                .await
                .map_err(|e| store_message("reading the sync state", e))?;
            let Some(record) = record else {
                // Never marked, or removed: nothing to sync.
                return Ok(Outcome::Synced);
            };
            if record.is_current() {
                return Ok(Outcome::Synced);
            }
            let now = self.clock.now();
            let claimed = self
                .store
                .claim_sync(
                    kind,
                    id,
                    &self.config.worker_id,
                    now,
                    now.plus(self.config.lease),
                )
                .await
                .map_err(|e| store_message("claiming the object", e))?;
            if let Some(record) = claimed {
                return run(record).await;
            }
            if Instant::now() >= wait_until {
                return Err(
                    "another worker is syncing this object; it finishes in the background".into(),
                );
            }
            // Ours finish with a notification; other replicas' are polled.
            let pause = wait_until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            tokio::select! {
                () = finished => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Runs the handler for a claimed object and records the outcome.
    async fn run_claimed(self: &Arc<Self>, record: SyncRecord) -> Attempt {
        let Some(mut job) = self.admit(record).await? else {
            return Err(SyncError::unreachable().admin_message());
        };
        let span =
            tracing::info_span!("sync", kind = job.record.kind.as_str(), id = %job.record.id);
        let result = self
            .bounded(dispatch(&mut job))
            .instrument(span.clone())
            .await;
        self.finish(job, result).instrument(span).await
    }

    /// [`Self::run_claimed`] for tenants only: what an app runs when its tenant is not synced
    /// yet. (A separate function, because the app handler calling the generic one would make
    /// its future contain itself.)
    async fn run_claimed_tenant(self: &Arc<Self>, record: SyncRecord) -> Attempt {
        let Some(mut job) = self.admit(record).await? else {
            return Err(SyncError::unreachable().admin_message());
        };
        let span = tracing::info_span!("sync", kind = "tenant", id = %job.record.id);
        let result = self
            .bounded(tenant::sync(&mut job))
            .instrument(span.clone())
            .await;
        self.finish(job, result).instrument(span).await
    }

    /// The circuit breaker's say on a claimed object: `None` (and the attempt recorded as
    /// failed) while ZITADEL is held for unreachable.
    async fn admit(self: &Arc<Self>, record: SyncRecord) -> Result<Option<Job>, String> {
        let now = self.clock.now();
        if record
            .claimed_until
            .is_some_and(|until| now.plus(self.config.object_timeout) > until)
        {
            // Not enough of the lease left to finish: another worker may take the object over
            // mid-way. Hand it back instead.
            self.store
                .release_sync(&record, now)
                .await
                .map_err(|e| store_message("releasing the object", e))?;
            return Err("the claim ran out before the attempt could start; retrying".into());
        }
        if self.breaker.admit() != Admission::Refuse {
            return Ok(Some(Job::new(self.clone(), record)));
        }
        let error = SyncError::unreachable();
        let failures = record.status.attempts + 1;
        let failure = SyncFailure {
            message: error.admin_message(),
            zitadel_ids: record.status.zitadel_ids.clone(),
            org_id: org_of(&record.status.zitadel_ids),
            at: now,
            next_attempt_at: now.plus(self.config.backoff.delay(failures, &error)),
        };
        self.store
            .fail_sync(&record, &failure)
            .await
            .map_err(|e| store_message("recording the attempt", e))?;
        self.finished.notify_waiters();
        Ok(None)
    }

    async fn bounded(
        &self,
        work: impl Future<Output = Result<Outcome, SyncError>>,
    ) -> Result<Outcome, SyncError> {
        let limit = self.config.object_timeout;
        tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(SyncError::zitadel(
                "syncing the object",
                ZitadelError::Timeout {
                    op: "sync",
                    timeout: limit,
                },
            ))
        })
    }

    /// Records the outcome of an attempt and tells the circuit breaker what it learned.
    async fn finish(&self, job: Job, result: Result<Outcome, SyncError>) -> Attempt {
        let now = self.clock.now();
        let record = &job.record;
        let outcome = match result {
            Ok(outcome) => {
                self.became_reachable()
                    .await
                    .map_err(|e| store_message("resuming sync", e))?;
                match outcome {
                    Outcome::Synced => {
                        let success = SyncSuccess {
                            org_id: org_of(&job.ids),
                            zitadel_ids: job.ids.clone(),
                            at: now,
                            next_check_at: now.plus(jittered(self.config.verify_interval)),
                        };
                        let kept = self
                            .store
                            .complete_sync(record, &success)
                            .await
                            .map_err(|e| store_message("recording the result", e))?;
                        if !kept {
                            tracing::warn!(
                                "claim lost before the result was recorded; another worker takes over"
                            );
                        } else if !job.drift.is_empty() {
                            tracing::warn!(repaired = ?job.drift, "drift repaired");
                        } else if !job.verifying {
                            tracing::info!("synced with ZITADEL");
                        }
                    }
                    Outcome::Removed => {
                        let removed = self
                            .store
                            .remove_sync(record)
                            .await
                            .map_err(|e| store_message("recording the result", e))?;
                        if removed {
                            tracing::info!("removed from ZITADEL");
                        } else {
                            // Wanted again meanwhile: another attempt sorts it out.
                            self.store
                                .release_sync(record, now)
                                .await
                                .map_err(|e| store_message("recording the result", e))?;
                        }
                    }
                }
                Ok(outcome)
            }
            Err(error) => {
                if error.is_unreachable() {
                    self.breaker.unreachable();
                } else if error.zitadel_answered() {
                    self.became_reachable()
                        .await
                        .map_err(|e| store_message("resuming sync", e))?;
                }
                let failures = record.status.attempts + 1;
                let delay = self.config.backoff.delay(failures, &error);
                let message = error.admin_message();
                tracing::warn!(
                    failures,
                    retry_in_s = delay.as_secs(),
                    error = ?error.cause,
                    "{message}"
                );
                let failure = SyncFailure {
                    message: message.clone(),
                    org_id: org_of(&job.ids),
                    zitadel_ids: job.ids.clone(),
                    at: now,
                    next_attempt_at: now.plus(delay),
                };
                self.store
                    .fail_sync(record, &failure)
                    .await
                    .map_err(|e| store_message("recording the attempt", e))?;
                Err(message)
            }
        };
        self.finished.notify_waiters();
        outcome
    }

    /// The organization of a tenant, syncing the tenant first if it has none yet (an app is
    /// created right after its tenant, often before the loop got to the tenant).
    pub(crate) async fn tenant_org(
        self: &Arc<Self>,
        tenant: &TenantId,
    ) -> Result<String, SyncError> {
        const STEP: &str = "waiting for the tenant's organization";
        let read = || async {
            self.store
                .get_sync(ObjectKind::Tenant, tenant.as_str())
                .await
                .map(|r| r.and_then(|r| org_of(&r.status.zitadel_ids)))
                .map_err(|e| SyncError::store(STEP, e))
        };
        if let Some(org) = read().await? {
            return Ok(org);
        }
        let wait_until = Instant::now() + self.config.dependency_wait;
        let runner = self.clone();
        let attempt = self
            .sync_one(
                ObjectKind::Tenant,
                tenant.as_str(),
                wait_until,
                move |record| {
                    let runner = runner.clone();
                    async move { runner.run_claimed_tenant(record).await }
                },
            )
            .await;
        if let Some(org) = read().await? {
            return Ok(org);
        }
        Err(match attempt {
            Err(_) if self.breaker.is_open() => SyncError::unreachable(),
            Err(message) => SyncError::waiting(
                STEP,
                format!("the tenant must be synced first, and its sync failed ({message})"),
            ),
            Ok(_) => SyncError::waiting(STEP, "the tenant is not synced with ZITADEL yet"),
        })
    }
}

async fn dispatch(job: &mut Job) -> Result<Outcome, SyncError> {
    match job.record.kind {
        ObjectKind::Tenant => tenant::sync(job).await,
        ObjectKind::App => app::sync(job).await,
        ObjectKind::ActionsTarget => actions::sync(job).await,
        ObjectKind::Provider => Err(SyncError::internal(
            "syncing the provider",
            "login providers are not synced by this version of Gatehouse",
        )),
    }
}

/// The organization recorded in a sync row's ids.
fn org_of(ids: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    ids.get("org_id")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn store_message(step: &'static str, error: StoreError) -> String {
    tracing::error!(%error, step, "sync bookkeeping failed");
    SyncError::store(step, error).admin_message()
}

/// ±10 %, so objects synced together are not all re-checked together.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * rand::rng().random::<f64>())
}

/// Now, for handlers.
pub(crate) fn now(job: &Job) -> Timestamp {
    job.inner.clock.now()
}
