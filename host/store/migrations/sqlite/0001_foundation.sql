-- Foundation: tenants, apps, API keys, audit log, events, idempotency keys, sync state.
-- Timestamps are Unix milliseconds; JSON is stored as TEXT. Unique constraints are reported by
-- SQLite as `table.column`, which is the backend-neutral constraint name Gatehouse matches on.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    domains     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE apps (
    id                        TEXT PRIMARY KEY NOT NULL,
    tenant_id                 TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                      TEXT NOT NULL,
    app_type                  TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    dev_mode                  BIGINT NOT NULL,
    client_id                 TEXT UNIQUE,
    client_secret             TEXT,
    secret_revealed_at        BIGINT,
    secret_version            BIGINT NOT NULL DEFAULT 1,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX apps_by_tenant ON apps (tenant_id, id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    tenant_id     TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    token_prefix  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

-- One-time facts about this installation (e.g. "the bootstrap credential was issued").
CREATE TABLE installation_flags (
    name    TEXT PRIMARY KEY NOT NULL,
    set_at  BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY NOT NULL,
    action       TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    actor_name   TEXT,
    targets      TEXT NOT NULL,
    target_ids   TEXT NOT NULL,
    context      TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    tenant_id    TEXT
);
CREATE INDEX audit_by_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_by_time ON audit_log (occurred_at);

-- The outbox and events feed, in commit order: `seq` is assigned under a lock held until commit
-- (SQLite: the single writer; PostgreSQL: a transaction-scoped advisory lock), so a reader
-- following `seq` never skips a late commit.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    tenant_id    TEXT,
    data         TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (occurred_at);
CREATE INDEX events_by_tenant ON events (tenant_id, seq);

CREATE TABLE idempotency_keys (
    scope                  TEXT NOT NULL,
    key                    TEXT NOT NULL,
    fingerprint            TEXT NOT NULL,
    completed              BIGINT NOT NULL,
    response_status        BIGINT,
    response_content_type  TEXT,
    response_body          BLOB,
    created_at             BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_by_age ON idempotency_keys (created_at);

-- Desired-state bookkeeping for the ZITADEL reconciler: one row per object, kept after the
-- object is deleted (desired = 'absent') until ZITADEL's copy is gone.
CREATE TABLE sync_state (
    object_kind        TEXT NOT NULL,
    object_id          TEXT NOT NULL,
    tenant_id          TEXT,
    desired            TEXT NOT NULL,
    generation         BIGINT NOT NULL,
    synced_generation  BIGINT NOT NULL DEFAULT 0,
    state              TEXT NOT NULL,
    message            TEXT,
    zitadel_ids        TEXT NOT NULL DEFAULT '{}',
    attempts           BIGINT NOT NULL DEFAULT 0,
    last_attempt_at    BIGINT,
    next_attempt_at    BIGINT NOT NULL,
    synced_at          BIGINT,
    claimed_by         TEXT,
    claimed_until      BIGINT,
    PRIMARY KEY (object_kind, object_id)
);
CREATE INDEX sync_due ON sync_state (next_attempt_at);

CREATE TABLE emulator_state (
    id          BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    state       BLOB NOT NULL,
    updated_at  BIGINT NOT NULL
);
