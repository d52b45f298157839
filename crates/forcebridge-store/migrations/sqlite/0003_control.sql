-- forcebridge store, SQLite: the control plane of `forcebridge serve` — API key scopes, the
-- vendor admin keys, end-user sessions, pending OAuth authorizations, the notification outbox and
-- webhook endpoints, deliveries and their attempt log. Times are unix milliseconds (UTC).

ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '["all"]';

CREATE TABLE admin_keys (
    id          TEXT PRIMARY KEY,
    prefix      TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE oauth_pending (
    state_hash       TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    request          TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    sealed_verifier  BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX oauth_pending_expires ON oauth_pending (expires_at);

CREATE TABLE notifications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    connection_id  TEXT,
    data           TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX notifications_tenant ON notifications (tenant_id, id);

CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url            TEXT NOT NULL,
    kinds          TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    sealed_secret  BLOB NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    notification_id  INTEGER NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    order_key        TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    give_up_at       INTEGER NOT NULL,
    lease_until      INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, order_key, state, id);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, id);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    status       INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
