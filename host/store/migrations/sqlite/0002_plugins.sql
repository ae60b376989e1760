-- Plugins: the registry of installed plugins (with their components, so every replica can load
-- one) and the trust store of signing keys.
--
-- A built-in plugin ships inside the binary; it has a row here only once an admin changed it
-- (disabled it, lowered its limits), and never its wasm.

CREATE TABLE plugins (
    id               TEXT NOT NULL,
    version          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    wit_version      TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    signer_key_id    TEXT,
    description      TEXT NOT NULL,
    author           TEXT NOT NULL,
    -- JSON: granted capabilities (array), the manifest's and ops' limits (objects).
    capabilities     TEXT NOT NULL,
    manifest_limits  TEXT NOT NULL,
    limits           TEXT NOT NULL,
    enabled          BIGINT NOT NULL,
    disabled_reason  TEXT,
    builtin          BIGINT NOT NULL,
    wasm             BLOB,
    installed_at     BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX plugins_by_signer ON plugins (signer_key_id);

-- Removed keys are kept (removed_at set) so an install signed with one is refused as "removed
-- signer" rather than "unknown signer".
CREATE TABLE trusted_keys (
    key_id      TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    added_at    BIGINT NOT NULL,
    removed_at  BIGINT
);
