//! The JWKS cache: keys fetched from the IdP and reused until their max age, refetched once per
//! cooldown when a token names an unknown `kid`, kept (up to a bound) when the IdP is unreachable,
//! and persisted to a seed file so a cold start works offline.
//!
//! All fetches go through one "flight": concurrent callers that need fresh keys share the
//! in-flight fetch, and a new fetch starts at most once per cooldown (a manual
//! [`JwksCache::refresh`] excepted). The fetch runs in its own task, so a caller that gives up
//! does not cancel it for the others.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use tracing::{debug, info, warn};

use crate::{
    Clock, FetchError, JwksBundle, JwksError, JwksFetcher, KeySet, KeySetLimits, ReqwestFetcher,
    SystemClock, bundle::fetch_checked, fetch::freshness,
};

/// Tuning of a remote key set. The defaults suit ZITADEL (`Cache-Control: max-age=300`, keys
/// rotated every few hours and published before use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheOptions {
    /// How long keys stay fresh when the IdP sends no usable `Cache-Control: max-age`.
    pub default_max_age: Duration,
    /// Floor on the IdP's max-age: `max-age=0`/`no-store` must not turn into a fetch per token.
    pub min_max_age: Duration,
    /// Ceiling on the IdP's max-age: removed keys stop being trusted within this time.
    pub max_max_age: Duration,
    /// Least time between two fetches not forced by [`JwksCache::refresh`]; bounds refetches on
    /// unknown `kid`s and retries against a failing IdP.
    pub refetch_cooldown: Duration,
    /// How long past their max age keys are still used while fetches fail (stale-if-error,
    /// RFC 5861). Zero disables it.
    pub stale_if_error: Duration,
    /// Deadline of one fetch.
    pub fetch_timeout: Duration,
    /// Size and key-count limits on the JWKS document.
    pub limits: KeySetLimits,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            default_max_age: Duration::from_secs(10 * 60),
            min_max_age: Duration::from_secs(60),
            max_max_age: Duration::from_secs(60 * 60),
            refetch_cooldown: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(24 * 60 * 60),
            fetch_timeout: Duration::from_secs(5),
            limits: KeySetLimits::default(),
        }
    }
}

impl CacheOptions {
    fn validate(&self) -> Result<(), JwksError> {
        let fail = |m: &str| Err(JwksError::Config(m.to_owned()));
        if self.min_max_age > self.max_max_age {
            return fail("min_max_age must not exceed max_max_age");
        }
        if self.default_max_age < self.min_max_age || self.default_max_age > self.max_max_age {
            return fail("default_max_age must lie between min_max_age and max_max_age");
        }
        if self.fetch_timeout.is_zero() {
            return fail("fetch_timeout must be positive");
        }
        if self.limits.max_keys == 0 || self.limits.max_document_bytes == 0 {
            return fail("JWKS limits must be positive");
        }
        Ok(())
    }

    fn clamp_max_age(&self, from_idp: Option<Duration>) -> Duration {
        from_idp
            .unwrap_or(self.default_max_age)
            .clamp(self.min_max_age, self.max_max_age)
    }
}

/// A key set and its lifetime.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) keys: KeySet,
    fetched_at: SystemTime,
    fresh_until: SystemTime,
    /// Increases with every installed key set, so a caller can tell whether keys changed since
    /// it looked.
    pub(crate) generation: u64,
}

type FlightResult = Result<Arc<Snapshot>, JwksError>;

#[derive(Default)]
struct Flight {
    in_flight: Option<Shared<BoxFuture<'static, FlightResult>>>,
    last_attempt: Option<SystemTime>,
    /// The outcome of the last finished fetch: `None` after a success.
    last_error: Option<JwksError>,
}

struct Remote {
    jwks_uri: String,
    issuer: Option<String>,
    fetcher: Arc<dyn JwksFetcher>,
    options: CacheOptions,
    seed_path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    current: RwLock<Option<Arc<Snapshot>>>,
    flight: Mutex<Flight>,
    generation: AtomicU64,
    fetches: AtomicU64,
}

enum Source {
    Fixed(Arc<Snapshot>),
    Remote(Arc<Remote>),
}

/// The keys a [`crate::Verifier`] checks signatures against: fetched from the IdP and cached
/// ([`JwksCache::remote`]) or fixed ([`JwksCache::fixed`], e.g. from an exported bundle).
///
/// Cheap to clone; clones share the cache. Fetching needs a Tokio runtime.
#[derive(Clone)]
pub struct JwksCache {
    source: Arc<Source>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.source {
            Source::Fixed(s) => f
                .debug_struct("JwksCache")
                .field("fixed_keys", &s.keys.len())
                .finish(),
            Source::Remote(r) => f
                .debug_struct("JwksCache")
                .field("jwks_uri", &r.jwks_uri)
                .finish(),
        }
    }
}

/// What the cache holds, for health checks and the admin portal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheStatus {
    /// `None` for a fixed key set.
    pub jwks_uri: Option<String>,
    pub key_ids: Vec<String>,
    pub key_count: usize,
    pub fetched_at: Option<SystemTime>,
    /// When the keys stop being fresh (`None` for a fixed set, which never expires).
    pub fresh_until: Option<SystemTime>,
    /// Whether keys are loaded and within their max age (always true for a fixed set).
    pub fresh: bool,
    /// Whether stale keys would still be served if the IdP stayed unreachable.
    pub usable: bool,
    /// The error of the last fetch, if it failed.
    pub last_error: Option<String>,
    /// Fetches started since the cache was created.
    pub fetches: u64,
}

/// Builds a remote [`JwksCache`].
pub struct JwksCacheBuilder {
    jwks_uri: String,
    issuer: Option<String>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    options: CacheOptions,
    seed_path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
}

impl JwksCacheBuilder {
    /// The issuer the keys belong to; recorded in the seed and checked when a seed is loaded.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The HTTP client; defaults to [`ReqwestFetcher`].
    pub fn fetcher(mut self, fetcher: Arc<dyn JwksFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    pub fn options(mut self, options: CacheOptions) -> Self {
        self.options = options;
        self
    }

    /// A bundle file loaded now (if present) and rewritten after every successful fetch, so a
    /// restart while the IdP is unreachable still has keys (within `stale_if_error`).
    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed_path = Some(path.into());
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and loads the seed. A missing seed is normal; an unreadable,
    /// foreign or damaged one is logged and ignored (the IdP may well be reachable).
    pub fn build(self) -> Result<JwksCache, JwksError> {
        self.options.validate()?;
        let url = url::Url::parse(&self.jwks_uri)
            .map_err(|e| JwksError::Config(format!("JWKS URL `{}`: {e}", self.jwks_uri)))?;
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Domain(d)) => d == "localhost",
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                if !loopback {
                    warn!(jwks_uri = %self.jwks_uri, "JWKS is fetched over plain HTTP; anyone on the path can substitute signing keys");
                }
            }
            other => {
                return Err(JwksError::Config(format!(
                    "JWKS URL `{}` has scheme `{other}`, not http(s)",
                    self.jwks_uri
                )));
            }
        }
        let fetcher = match self.fetcher {
            Some(f) => f,
            None => Arc::new(ReqwestFetcher::new().map_err(|source| JwksError::Fetch {
                url: self.jwks_uri.clone(),
                source,
            })?),
        };
        let remote = Remote {
            jwks_uri: self.jwks_uri,
            issuer: self.issuer,
            fetcher,
            options: self.options,
            seed_path: self.seed_path,
            clock: self.clock.clone(),
            current: RwLock::new(None),
            flight: Mutex::new(Flight::default()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        };
        remote.load_seed();
        Ok(JwksCache {
            source: Arc::new(Source::Remote(Arc::new(remote))),
            clock: self.clock,
        })
    }
}

impl JwksCache {
    /// A cache of the JWKS at `jwks_uri` (for ZITADEL: `<issuer>/oauth/v2/keys`).
    pub fn remote(jwks_uri: impl Into<String>) -> JwksCacheBuilder {
        JwksCacheBuilder {
            jwks_uri: jwks_uri.into(),
            issuer: None,
            fetcher: None,
            options: CacheOptions::default(),
            seed_path: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A fixed key set that is never fetched nor expires: an unknown `kid` is simply refused.
    pub fn fixed(keys: KeySet) -> Self {
        Self::fixed_with_clock(keys, Arc::new(SystemClock))
    }

    pub fn fixed_with_clock(keys: KeySet, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        Self::fixed_at(keys, now, clock)
    }

    /// A fixed key set from an exported bundle (app SDKs in networks without IdP access).
    pub fn from_bundle(bundle: &JwksBundle) -> Result<Self, JwksError> {
        let keys = bundle.key_set(&KeySetLimits::default())?;
        debug!(keys = keys.len(), issuer = ?bundle.issuer, fetched_at = %bundle.fetched_at, "using a fixed JWKS bundle");
        Ok(Self::fixed_at(
            keys,
            bundle.fetched_at_system_time(),
            Arc::new(SystemClock),
        ))
    }

    fn fixed_at(keys: KeySet, fetched_at: SystemTime, clock: Arc<dyn Clock>) -> Self {
        // `fresh_until` is never consulted for a fixed set.
        let snapshot = Snapshot {
            keys,
            fetched_at,
            fresh_until: fetched_at,
            generation: 1,
        };
        Self {
            source: Arc::new(Source::Fixed(Arc::new(snapshot))),
            clock,
        }
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// Keys for verifying a token now: fresh keys, or keys fetched now, or — while fetches fail —
    /// stale keys within `stale_if_error`.
    pub(crate) async fn keys(&self) -> Result<Arc<Snapshot>, JwksError> {
        match &*self.source {
            Source::Fixed(s) => Ok(s.clone()),
            Source::Remote(r) => r.keys().await,
        }
    }

    /// Called when a token names a `kid` that `seen` lacks: returns a newer key set if one was
    /// fetched (by this call or a concurrent one), `None` if no fetch is allowed now or it failed.
    pub(crate) async fn after_unknown_kid(
        &self,
        seen: &Snapshot,
        kid: &str,
    ) -> Option<Arc<Snapshot>> {
        let Source::Remote(r) = &*self.source else {
            return None;
        };
        match r.refresh(false, Some(seen.generation)).await {
            Ok(s) if s.generation != seen.generation => Some(s),
            Ok(_) => {
                debug!(kid, "unknown kid; refetch is cooling down");
                None
            }
            Err(_) => None,
        }
    }

    /// Fetches now, bypassing the cooldown (but joining a fetch already in flight).
    pub async fn refresh(&self) -> Result<CacheStatus, JwksError> {
        if let Source::Remote(r) = &*self.source {
            r.refresh(true, None).await?;
        }
        Ok(self.status())
    }

    /// Keeps the keys fresh in the background: refetches shortly before they expire, and once
    /// per cooldown while fetches fail. Never returns; spawn it and abort it on shutdown. Does
    /// nothing (and returns) for a fixed key set.
    pub async fn run_refresh_loop(&self) {
        let Source::Remote(r) = &*self.source else {
            return;
        };
        loop {
            tokio::time::sleep(r.next_refresh_delay()).await;
            let seen = r.snapshot().map(|s| s.generation);
            // Errors are logged by the fetch itself.
            let _ = r.refresh(false, seen).await;
        }
    }

    /// The current keys as a bundle (`None` before the first successful fetch).
    pub fn bundle(&self) -> Option<JwksBundle> {
        match &*self.source {
            Source::Fixed(s) => Some(JwksBundle::new(None, None, s.fetched_at, &s.keys)),
            Source::Remote(r) => r.snapshot().map(|s| r.bundle_of(&s)),
        }
    }

    pub fn status(&self) -> CacheStatus {
        match &*self.source {
            Source::Fixed(s) => CacheStatus {
                jwks_uri: None,
                key_ids: s.keys.key_ids(),
                key_count: s.keys.len(),
                fetched_at: Some(s.fetched_at),
                fresh_until: None,
                fresh: true,
                usable: true,
                last_error: None,
                fetches: 0,
            },
            Source::Remote(r) => {
                let now = self.clock.now();
                let snapshot = r.snapshot();
                let last_error = r.flight().last_error.as_ref().map(ToString::to_string);
                CacheStatus {
                    jwks_uri: Some(r.jwks_uri.clone()),
                    key_ids: snapshot
                        .as_ref()
                        .map(|s| s.keys.key_ids())
                        .unwrap_or_default(),
                    key_count: snapshot.as_ref().map_or(0, |s| s.keys.len()),
                    fetched_at: snapshot.as_ref().map(|s| s.fetched_at),
                    fresh_until: snapshot.as_ref().map(|s| s.fresh_until),
                    fresh: snapshot.as_ref().is_some_and(|s| now < s.fresh_until),
                    usable: snapshot.as_ref().is_some_and(|s| r.usable_stale(s, now)),
                    last_error,
                    fetches: r.fetches.load(Ordering::Relaxed),
                }
            }
        }
    }
}

impl Remote {
    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn flight(&self) -> std::sync::MutexGuard<'_, Flight> {
        self.flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable_stale(&self, s: &Snapshot, now: SystemTime) -> bool {
        // Written without adding to a SystemTime, which could overflow for huge settings.
        now.duration_since(s.fresh_until)
            .map_or(true, |past| past < self.options.stale_if_error)
    }

    fn install(
        &self,
        keys: KeySet,
        fetched_at: SystemTime,
        fresh_until: SystemTime,
    ) -> Arc<Snapshot> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let snapshot = Arc::new(Snapshot {
            keys,
            fetched_at,
            fresh_until,
            generation,
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
        snapshot
    }

    fn bundle_of(&self, s: &Snapshot) -> JwksBundle {
        JwksBundle::new(
            self.issuer.clone(),
            Some(self.jwks_uri.clone()),
            s.fetched_at,
            &s.keys,
        )
    }

    async fn keys(self: &Arc<Self>) -> Result<Arc<Snapshot>, JwksError> {
        let current = self.snapshot();
        if let Some(s) = &current
            && self.clock.now() < s.fresh_until
        {
            return Ok(s.clone());
        }
        match self
            .refresh(false, current.as_ref().map(|s| s.generation))
            .await
        {
            Ok(s) => Ok(s),
            Err(e) => match current {
                // The warning was logged once, by the failed fetch.
                Some(s) if self.usable_stale(&s, self.clock.now()) => Ok(s),
                _ => Err(e),
            },
        }
    }

    /// Joins the fetch in flight or starts one. `seen` is the generation the caller looked at:
    /// if keys changed since, they are returned without fetching. Without `force`, a new fetch
    /// starts at most once per cooldown; inside it the last outcome is returned.
    async fn refresh(self: &Arc<Self>, force: bool, seen: Option<u64>) -> FlightResult {
        let flight = {
            let mut flight = self.flight();
            let current = self.snapshot();
            if let Some(s) = &current
                && !force
                && Some(s.generation) != seen
            {
                return Ok(s.clone());
            }
            match &flight.in_flight {
                Some(f) => f.clone(),
                None => {
                    let now = self.clock.now();
                    let cooling = flight.last_attempt.is_some_and(|t| {
                        // A clock that went backwards ends the cooldown rather than extending it.
                        now.duration_since(t)
                            .is_ok_and(|d| d < self.options.refetch_cooldown)
                    });
                    if cooling && !force {
                        return match (&flight.last_error, current) {
                            (Some(e), _) => Err(e.clone()),
                            (None, Some(s)) => Ok(s),
                            (None, None) => Err(JwksError::NotLoaded),
                        };
                    }
                    flight.last_attempt = Some(now);
                    let f = self.start_fetch();
                    flight.in_flight = Some(f.clone());
                    f
                }
            }
        };
        flight.await
    }

    fn start_fetch(self: &Arc<Self>) -> Shared<BoxFuture<'static, FlightResult>> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let task = tokio::spawn(self.clone().fetch_and_install());
        let this = self.clone();
        async move {
            match task.await {
                Ok(result) => result,
                Err(join_error) => {
                    // The task died before it could clear the flight; clear it here.
                    let mut flight = this.flight();
                    flight.in_flight = None;
                    let e = JwksError::Fetch {
                        url: this.jwks_uri.clone(),
                        source: FetchError::Transport(format!("fetch task failed: {join_error}")),
                    };
                    flight.last_error = Some(e.clone());
                    Err(e)
                }
            }
        }
        .boxed()
        .shared()
    }

    async fn fetch_and_install(self: Arc<Self>) -> FlightResult {
        let result = self.fetch().await;
        let now = self.clock.now();
        let outcome = match result {
            Ok((keys, max_age)) => {
                if !keys.skipped().is_empty() {
                    let skipped: Vec<_> = keys
                        .skipped()
                        .iter()
                        .map(|k| {
                            format!("{}: {}", k.kid.as_deref().unwrap_or("(no kid)"), k.reason)
                        })
                        .collect();
                    debug!(jwks_uri = %self.jwks_uri, ?skipped, "JWKS keys skipped");
                }
                if keys.is_empty() {
                    warn!(jwks_uri = %self.jwks_uri, "the JWKS holds no usable signing key; every token will be refused");
                }
                let previous = self.snapshot();
                let changed = previous
                    .as_ref()
                    .is_none_or(|p| p.keys.key_ids() != keys.key_ids());
                let snapshot = self.install(keys, now, later(now, max_age));
                if changed {
                    info!(jwks_uri = %self.jwks_uri, kids = ?snapshot.keys.key_ids(), max_age_secs = max_age.as_secs(), "JWKS loaded");
                } else {
                    debug!(jwks_uri = %self.jwks_uri, max_age_secs = max_age.as_secs(), "JWKS refreshed");
                }
                self.save_seed(&snapshot).await;
                Ok(snapshot)
            }
            Err(e) => {
                match self.snapshot() {
                    Some(s) if self.usable_stale(&s, now) => warn!(
                        jwks_uri = %self.jwks_uri, error = %e,
                        fetched_at = %time::OffsetDateTime::from(s.fetched_at),
                        serve_until = %time::OffsetDateTime::from(later(s.fresh_until, self.options.stale_if_error)),
                        "JWKS fetch failed; serving the cached keys"
                    ),
                    Some(_) => {
                        warn!(jwks_uri = %self.jwks_uri, error = %e, "JWKS fetch failed and the cached keys are past stale-if-error; tokens are refused")
                    }
                    None => {
                        warn!(jwks_uri = %self.jwks_uri, error = %e, "JWKS fetch failed and no keys are cached; tokens are refused")
                    }
                }
                Err(e)
            }
        };
        let mut flight = self.flight();
        flight.in_flight = None;
        flight.last_error = outcome.as_ref().err().cloned();
        outcome
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), JwksError> {
        let limits = &self.options.limits;
        let response = fetch_checked(
            &*self.fetcher,
            &self.jwks_uri,
            limits.max_document_bytes,
            self.options.fetch_timeout,
        )
        .await
        .map_err(|source| JwksError::Fetch {
            url: self.jwks_uri.clone(),
            source,
        })?;
        let keys = KeySet::from_jwks_json(&response.body, limits)?;
        let max_age = self.options.clamp_max_age(freshness(
            response.cache_control.as_deref(),
            response.age.as_deref(),
        ));
        Ok((keys, max_age))
    }

    fn load_seed(&self) {
        let Some(path) = &self.seed_path else { return };
        if !path.exists() {
            debug!(path = %path.display(), "no JWKS seed yet");
            return;
        }
        let bundle = match JwksBundle::read(path, &self.options.limits) {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "ignoring the JWKS seed");
                return;
            }
        };
        if bundle
            .jwks_uri
            .as_deref()
            .is_some_and(|u| u != self.jwks_uri)
        {
            warn!(path = %path.display(), seed_jwks_uri = ?bundle.jwks_uri, jwks_uri = %self.jwks_uri, "ignoring the JWKS seed: it is for another JWKS URL");
            return;
        }
        if let (Some(seed), Some(ours)) = (&bundle.issuer, &self.issuer)
            && seed != ours
        {
            warn!(path = %path.display(), seed_issuer = %seed, issuer = %ours, "ignoring the JWKS seed: it is for another issuer");
            return;
        }
        let keys = match bundle.key_set(&self.options.limits) {
            Ok(k) => k,
            Err(e) => {
                warn!(path = %path.display(), error = %e, "ignoring the JWKS seed");
                return;
            }
        };
        // A seed from the future (clock trouble) counts as fetched now, never later.
        let fetched_at = bundle.fetched_at_system_time().min(self.clock.now());
        // Stale from the start: the first verification tries the IdP, and the seed only bridges
        // an outage, for `stale_if_error` after the seed's own fetch.
        let snapshot = self.install(keys, fetched_at, fetched_at);
        info!(path = %path.display(), kids = ?snapshot.keys.key_ids(), fetched_at = %bundle.fetched_at, "JWKS seed loaded");
    }

    async fn save_seed(&self, snapshot: &Snapshot) {
        let Some(path) = self.seed_path.clone() else {
            return;
        };
        let bundle = self.bundle_of(snapshot);
        let result = tokio::task::spawn_blocking(move || bundle.write(&path)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot save the JWKS seed"),
            Err(e) => warn!(error = %e, "cannot save the JWKS seed"),
        }
    }

    fn next_refresh_delay(&self) -> Duration {
        const MIN: Duration = Duration::from_secs(1);
        let now = self.clock.now();
        if self.flight().last_error.is_some() {
            return self.options.refetch_cooldown.max(MIN);
        }
        let Some(s) = self.snapshot() else {
            return Duration::ZERO;
        };
        // Refetch when 90% of the lifetime has passed, so request paths rarely wait on a fetch.
        let lifetime = s
            .fresh_until
            .duration_since(s.fetched_at)
            .unwrap_or_default();
        let due = s.fresh_until - lifetime / 10;
        due.duration_since(now).unwrap_or_default().max(MIN)
    }
}

/// `t + d`, saturating far in the future instead of panicking on overflow.
fn later(t: SystemTime, d: Duration) -> SystemTime {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    t.checked_add(d)
        .unwrap_or_else(|| t.checked_add(FAR).unwrap_or(t))
}
