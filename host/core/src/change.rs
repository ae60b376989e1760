//! A [`Change`] accompanies every mutation a store performs: the audit entry, the events and the
//! objects to re-sync that must commit in the same transaction as the change itself. Store
//! mutation methods take one, so "every mutation is audited" is enforced by the types.

use crate::{
    Timestamp,
    audit::{AUDIT_VERSION, AuditContext, AuditEntry, Target},
    event::Event,
    id::{AuditId, TenantId},
    principal::Principal,
    sync::SyncRef,
};

#[derive(Clone, Debug)]
pub struct Change {
    pub audit: AuditEntry,
    pub events: Vec<Event>,
    /// Objects whose desired state changed and must be (re)synced to ZITADEL.
    pub sync: Vec<SyncRef>,
}

impl Change {
    /// Starts a change for `action` by `principal`, at `at`.
    pub fn new(
        action: &str,
        principal: &Principal,
        context: &AuditContext,
        tenant_id: Option<&TenantId>,
        at: Timestamp,
    ) -> Self {
        let audit = AuditEntry {
            id: AuditId::generate(),
            action: action.to_owned(),
            occurred_at: at,
            version: AUDIT_VERSION,
            actor: principal.actor(),
            targets: Vec::new(),
            context: context.clone(),
            metadata: Default::default(),
            tenant_id: tenant_id.cloned(),
        };
        Self {
            audit,
            events: Vec::new(),
            sync: Vec::new(),
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.audit.targets.push(target);
        self
    }

    pub fn meta(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.audit.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// Appends an event of `kind` with `data`, stamped with the change's time and tenant.
    pub fn event(mut self, kind: &str, data: serde_json::Value) -> Self {
        let event = Event::new(
            kind,
            self.audit.tenant_id.clone(),
            self.audit.occurred_at,
            data,
        );
        self.events.push(event);
        self
    }

    pub fn resync(mut self, object: SyncRef) -> Self {
        self.sync.push(object);
        self
    }
}
