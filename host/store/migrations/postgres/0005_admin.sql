-- Admin sign-in: Gatehouse's own OIDC client in ZITADEL (one row, id 'admin', with a lease so
-- replicas starting together register once) and the platform admins' portal sessions.
--
-- Same tables as the SQLite migration.

CREATE TABLE admin_oidc_client (
    id                        TEXT PRIMARY KEY NOT NULL,
    issuer                    TEXT,
    org_id                    TEXT,
    project_id                TEXT,
    app_id                    TEXT,
    client_id                 TEXT,
    client_secret             TEXT,
    redirect_uri              TEXT,
    post_logout_redirect_uri  TEXT,
    updated_at                BIGINT,
    claimed_by                TEXT,
    claim_until               BIGINT
);

-- Only the SHA-256 of a session id is stored.
CREATE TABLE admin_sessions (
    id_hash       TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    email         TEXT,
    org_id        TEXT NOT NULL,
    id_token      TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_by_last_seen ON admin_sessions (last_seen_at);
