-- Webhooks: endpoints, deliveries (one per event and endpoint), attempts, and the fan-out
-- cursor over the events feed.
--
-- Locking: event-writing transactions take the events advisory lock last and wait on nothing
-- after it. Deliveries are created by a separate fan-out transaction that never appends events,
-- so the foreign keys below (which take KEY SHARE locks on endpoint and delivery rows) can never
-- put an event writer into a lock cycle.

CREATE TABLE webhook_endpoints (
    id                          TEXT PRIMARY KEY,
    tenant_id                   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL,
    event_types                 TEXT NOT NULL,
    transform                   TEXT,
    enabled                     BIGINT NOT NULL,
    disabled_reason             TEXT,
    rate_limit                  BIGINT,
    secret                      TEXT NOT NULL,
    previous_secret             TEXT,
    previous_secret_expires_at  BIGINT,
    failing_since               BIGINT,
    -- Events with a higher `seq` (committed after the endpoint) are delivered to it.
    created_seq                 BIGINT NOT NULL,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, id);

CREATE TABLE webhook_deliveries (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL,
    endpoint_id           TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id              TEXT NOT NULL,
    event_type            TEXT NOT NULL,
    status                TEXT NOT NULL,
    attempts              BIGINT NOT NULL DEFAULT 0,
    round_attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at       BIGINT,
    last_attempt_at       BIGINT,
    last_response_status  BIGINT,
    last_error            TEXT,
    claimed_by            TEXT,
    lease_until           BIGINT,
    created_at            BIGINT NOT NULL,
    CONSTRAINT "webhook_deliveries.event_id, webhook_deliveries.endpoint_id" UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id, id);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    attempt          BIGINT NOT NULL,
    started_at       BIGINT NOT NULL,
    status           TEXT NOT NULL,
    latency_ms       BIGINT NOT NULL,
    response_status  BIGINT,
    response_body    TEXT,
    error            TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_attempts_by_tenant ON webhook_attempts (tenant_id, id);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, id);

-- Position of the fan-out in the events feed (`events.seq`). One row; the replica fanning out
-- holds its row lock, the others skip the pass.
CREATE TABLE webhook_fanout (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq  BIGINT NOT NULL
);
INSERT INTO webhook_fanout (id, last_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;

-- Delivery workers seen recently (heartbeats), so per-endpoint rate limits can be shared out.
CREATE TABLE webhook_workers (
    id       TEXT PRIMARY KEY,
    seen_at  BIGINT NOT NULL
);
