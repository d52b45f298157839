-- forcebridge store, PostgreSQL: the control plane of `forcebridge serve` — API key scopes, the
-- vendor admin keys, end-user sessions, pending OAuth authorizations, the notification outbox and
-- webhook endpoints, deliveries and their attempt log. Times are unix milliseconds (UTC).

ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '["all"]';

CREATE TABLE admin_keys (
    id          TEXT PRIMARY KEY,
    prefix      TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE oauth_pending (
    state_hash       TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    request          TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    sealed_verifier  BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX oauth_pending_expires ON oauth_pending (expires_at);

CREATE TABLE notifications (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    connection_id  TEXT,
    data           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX notifications_tenant ON notifications (tenant_id, id);

CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url            TEXT NOT NULL,
    kinds          TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    sealed_secret  BYTEA NOT NULL,
    enabled        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

CREATE TABLE webhook_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    notification_id  BIGINT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    order_key        TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    give_up_at       BIGINT NOT NULL,
    lease_until      BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, order_key, state, id);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, id);

CREATE TABLE webhook_attempts (
    id           BIGSERIAL PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    status       BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
