-- forcebridge store, SQLite: the initial schema. Times are unix milliseconds (UTC) from the
-- store's injected clock; ids are UUID strings except jobs and log rows (integers).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    prefix        TEXT NOT NULL UNIQUE,
    hash          TEXT NOT NULL,
    label         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);

CREATE TABLE connections (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    org_id              TEXT,
    environment         TEXT NOT NULL,
    my_domain_url       TEXT,
    auth_method         TEXT NOT NULL,
    owner_user_id       TEXT NOT NULL REFERENCES users(id),
    shared              INTEGER NOT NULL DEFAULT 0,
    label               TEXT NOT NULL,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    status_at           INTEGER NOT NULL,
    key_id              TEXT NOT NULL,
    sealed_credentials  BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX connections_tenant ON connections (tenant_id);
CREATE INDEX connections_owner ON connections (owner_user_id);
CREATE INDEX connections_key ON connections (key_id);

CREATE TABLE connection_shares (
    connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (connection_id, user_id)
);

CREATE TABLE recipe_installs (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    recipe         TEXT NOT NULL,
    settings       TEXT NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, connection_id, recipe)
);

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    idempotency_key  TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    accepted_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX events_accepted ON events (accepted_at);

CREATE TABLE sync_cursors (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    sync_name      TEXT NOT NULL,
    cursor         TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connection_id, sync_name)
);

CREATE TABLE journal (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    event_id       TEXT,
    connection_id  TEXT NOT NULL,
    operation      TEXT NOT NULL,
    sobject        TEXT NOT NULL,
    record_id      TEXT,
    detail         TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX journal_event ON journal (tenant_id, event_id);
CREATE INDEX journal_created ON journal (created_at);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX audit_tenant ON audit_log (tenant_id, id);

CREATE TABLE vault_keys (
    key_id      TEXT PRIMARY KEY,
    canary      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE job_groups (
    group_key    TEXT PRIMARY KEY,
    max_running  INTEGER NOT NULL
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         TEXT,
    kind              TEXT NOT NULL,
    payload           TEXT NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    run_at            INTEGER NOT NULL,
    state             TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    dedupe_key        TEXT,
    group_key         TEXT,
    lease_token       TEXT,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    finished_at       INTEGER
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE state IN ('ready', 'running');
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, id) WHERE state = 'ready';
CREATE INDEX jobs_group_state ON jobs (group_key, state);
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (state, finished_at);
