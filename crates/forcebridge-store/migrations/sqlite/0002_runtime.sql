-- forcebridge store: the engine's outbound runtime. A delivery is one event's run of one flow of
-- one install; the journal learns which delivery, step and API wrote each record, whether the
-- write is still an intent (sent, outcome unknown) and the correlation key undo looks for; one
-- API budget row per connection is shared by every worker and node.

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    install_id       TEXT NOT NULL,
    connection_id    TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    flow             TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before       INTEGER NOT NULL,
    coalesce_key     TEXT,
    correlation_key  TEXT,
    outcome          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (install_id, event_id, flow)
);
CREATE INDEX deliveries_due ON deliveries (connection_id, state, not_before, id);
CREATE INDEX deliveries_event ON deliveries (tenant_id, event_id);
CREATE INDEX deliveries_tenant_state ON deliveries (tenant_id, state, id);

ALTER TABLE journal ADD COLUMN delivery_id INTEGER;
ALTER TABLE journal ADD COLUMN step TEXT;
ALTER TABLE journal ADD COLUMN api TEXT;
ALTER TABLE journal ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
ALTER TABLE journal ADD COLUMN correlation_key TEXT;
CREATE INDEX journal_correlation ON journal (connection_id, correlation_key);
CREATE INDEX journal_delivery ON journal (delivery_id);
CREATE INDEX journal_record ON journal (tenant_id, record_id);

CREATE TABLE api_budgets (
    connection_id  TEXT PRIMARY KEY,
    used           INTEGER NOT NULL,
    max            INTEGER NOT NULL,
    observed_at    INTEGER NOT NULL
);
