//! Shared state and its transactions.
//!
//! Writers are serialised by a gate; each runs on a copy of the state, which replaces the live
//! state only after the closure succeeded and the document was saved. A failed request or a
//! failed save therefore changes nothing. Readers never wait for a save.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use gatehouse_core::{Timestamp, emulator::EmulatorStateStore};
use tokio::sync::mpsc;
use url::Url;

use crate::{
    actions::{self, Dispatch, PendingEvent},
    crypto::IdGen,
    error::ApiError,
    model::{Data, Ephemeral, Meta},
};

/// Settings the handlers need, derived from [`crate::EmulatorConfig`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// The issuer without a trailing slash, e.g. `http://127.0.0.1:8080/zitadel`.
    pub issuer: String,
    /// Host part used to build org primary domains (`acme.<host>`).
    pub domain: String,
    pub access_token_lifetime: Duration,
    pub id_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    pub key_grace_period: Duration,
    pub code_lifetime: Duration,
    pub auth_request_lifetime: Duration,
}

impl Settings {
    pub fn from_issuer(issuer: &Url) -> Self {
        let text = issuer.as_str().trim_end_matches('/').to_owned();
        Self {
            issuer: text,
            domain: issuer.host_str().unwrap_or("localhost").to_owned(),
            access_token_lifetime: Duration::from_secs(12 * 3600),
            id_token_lifetime: Duration::from_secs(12 * 3600),
            refresh_token_lifetime: Duration::from_secs(30 * 24 * 3600),
            key_grace_period: Duration::from_secs(30 * 3600),
            code_lifetime: Duration::from_secs(600),
            auth_request_lifetime: Duration::from_secs(3600),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

pub struct Inner {
    pub data: Data,
    pub eph: Ephemeral,
}

pub struct Shared {
    pub settings: Settings,
    pub ids: IdGen,
    store: Arc<dyn EmulatorStateStore>,
    gate: tokio::sync::Mutex<()>,
    state: RwLock<Inner>,
    events: mpsc::UnboundedSender<Dispatch>,
}

pub type AppState = Arc<Shared>;

/// One write transaction's view: copies of the state, the clock, and the events it raised.
pub struct Tx<'a> {
    pub data: &'a mut Data,
    pub eph: &'a mut Ephemeral,
    pub now: Timestamp,
    pub ids: &'a IdGen,
    pub settings: &'a Settings,
    events: Vec<PendingEvent>,
    dirty: bool,
}

impl Tx<'_> {
    /// The next instance sequence number; marks the document for saving.
    pub fn next_seq(&mut self) -> u64 {
        self.dirty = true;
        self.data.sequence += 1;
        self.data.sequence
    }

    /// The next sequence number for an ephemeral change (sessions, login checks): saved with the
    /// next persisted change rather than forcing a save now.
    pub fn ephemeral_seq(&mut self) -> u64 {
        self.data.sequence += 1;
        self.data.sequence
    }

    /// Marks the persisted document as changed without taking a sequence number.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    pub fn new_id(&self) -> String {
        self.ids.next()
    }

    /// Fresh bookkeeping for a new object owned by `owner`.
    pub fn meta(&mut self, owner: &str) -> Meta {
        let sequence = self.next_seq();
        Meta {
            sequence,
            created: self.now,
            changed: self.now,
            owner: owner.to_owned(),
        }
    }

    /// Records an event for Actions v2 event executions (dispatched after commit).
    pub fn event(&mut self, event: PendingEvent) {
        self.events.push(event);
    }
}

impl Shared {
    pub fn new(
        settings: Settings,
        store: Arc<dyn EmulatorStateStore>,
        data: Data,
        http: reqwest::Client,
    ) -> Arc<Self> {
        let events = actions::spawn_dispatcher(http);
        Arc::new(Self {
            settings,
            ids: IdGen::default(),
            store,
            gate: tokio::sync::Mutex::new(()),
            state: RwLock::new(Inner {
                data,
                eph: Ephemeral::default(),
            }),
            events,
        })
    }

    pub fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Runs `f` as one transaction; see the module docs.
    pub async fn write<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let _gate = self.gate.lock().await;
        let (mut data, mut eph) = self.read(|inner| (inner.data.clone(), inner.eph.clone()));
        let now = Timestamp::now();
        let mut tx = Tx {
            data: &mut data,
            eph: &mut eph,
            now,
            ids: &self.ids,
            settings: &self.settings,
            events: Vec::new(),
            dirty: false,
        };
        let out = f(&mut tx)?;
        let (dirty, events) = (tx.dirty, std::mem::take(&mut tx.events));
        prune_expired(&mut data, &mut eph, now, &self.settings);
        if dirty {
            self.save(&data).await?;
        }
        let jobs = actions::plan(&data, &events, now);
        {
            let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
            guard.data = data;
            guard.eph = eph;
        }
        for job in jobs {
            // The dispatcher only stops when the emulator is dropped.
            let _ = self.events.send(job);
        }
        Ok(out)
    }

    pub async fn save(&self, data: &Data) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(data).map_err(ApiError::internal)?;
        self.store
            .save_emulator_state(&bytes)
            .await
            .map_err(|e| ApiError::internal(format!("saving emulator state: {e}")))
    }
}

/// Drops what expired: tokens (persisted), codes, auth requests and sessions (ephemeral), and
/// inactive web keys past their grace period.
fn prune_expired(data: &mut Data, eph: &mut Ephemeral, now: Timestamp, settings: &Settings) {
    data.tokens.retain(|_, t| t.expires.is_none_or(|e| e > now));
    let grace = settings.key_grace_period;
    data.web_keys
        .retain(|k| k.deactivated.is_none_or(|at| at.plus(grace) > now));
    eph.codes.retain(|_, c| c.expires > now);
    let max_age = settings.auth_request_lifetime;
    eph.auth_requests
        .retain(|_, r| r.created.plus(max_age) > now);
    // Sessions without a lifetime would live forever in memory; they end with the longest
    // token they can back.
    let session_max = settings.refresh_token_lifetime;
    eph.sessions
        .retain(|_, s| s.expires.is_none_or(|e| e > now) && s.created.plus(session_max) > now);
}
