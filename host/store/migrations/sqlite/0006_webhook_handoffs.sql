-- Deliveries the fan-out hands straight to a worker are written once, with their first result
-- (one insert instead of an insert, a claim and an update). Until then one handoff per fan-out
-- pass stands for them under the worker's lease; the worker deletes it once all of them are
-- written. When the lease runs out first (the worker died), the next claim of any worker
-- writes the ones not written yet as pending.
CREATE TABLE webhook_handoffs (
    id           TEXT PRIMARY KEY,
    worker       TEXT NOT NULL,
    lease_until  BIGINT NOT NULL,
    -- JSON array of [id, tenant_id, endpoint_id, event_id, event_type], one per delivery.
    deliveries   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX webhook_handoffs_by_lease ON webhook_handoffs (lease_until);
