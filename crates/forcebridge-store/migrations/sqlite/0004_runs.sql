-- forcebridge store, SQLite: runs — the durable, observable units of work the API starts (an
-- install's apply), each worked by one queue job, with its state, attempts, progress and outcome;
-- and the integration (recipe) a session was minted for. Times are unix milliseconds (UTC).

ALTER TABLE sessions ADD COLUMN recipe TEXT;

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    install_id      TEXT,
    connection_id   TEXT,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    progress_done   INTEGER NOT NULL DEFAULT 0,
    progress_total  INTEGER NOT NULL DEFAULT 0,
    progress_step   TEXT,
    error           TEXT,
    report          TEXT,
    actor           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX runs_tenant ON runs (tenant_id, id);
CREATE INDEX runs_install ON runs (tenant_id, install_id, id);
-- At most one queued or running run of a kind per install: a second apply answers the first.
CREATE UNIQUE INDEX runs_one_active ON runs (install_id, kind) WHERE state IN ('queued', 'running');
