-- ZITADEL reconciler: the organization of each synced object (the Actions receiver maps an
-- event's resourceOwner back to a tenant), indexes for listing, and the sealed signing keys of
-- Gatehouse's Actions v2 target (the HMAC keys of ZITADEL-Signature).

ALTER TABLE sync_state ADD COLUMN zitadel_org_id TEXT;
CREATE INDEX sync_by_org ON sync_state (zitadel_org_id);
CREATE INDEX sync_by_object ON sync_state (object_id);
CREATE INDEX sync_by_tenant ON sync_state (tenant_id, object_id);

-- One row per key ZITADEL ever issued to the target; older keys stay valid until expires_at
-- (calls signed just before a rotation), then are deleted.
CREATE TABLE zitadel_signing_keys (
    fingerprint  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    sealed_key   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    CONSTRAINT "zitadel_signing_keys.fingerprint" PRIMARY KEY (fingerprint)
);
