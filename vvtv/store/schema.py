"""The state database's schema, as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. At open the store
runs the missing ones, each in its own transaction together with the version
bump, so a crash mid-upgrade leaves the database at the previous version, never
half-way. A database with a higher version than ``SCHEMA_VERSION`` was written by
a newer vvtv and is refused.

Conventions:

- Timestamps in columns are fixed-width UTC text, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
  (``vvtv.store.rows.ts``), so string order is time order and range queries use
  the indexes. JSON documents (``data``) use the short RFC 3339 form of
  ``vvtv.core.convert``.
- Entity tables keep the whole entity as JSON in ``data`` plus the columns the
  daemon queries by; adding a model field with a default needs no migration.
- Every query the daemon runs has an index (named ``ix_<table>_<purpose>``).
- The audit trail is append-only: triggers refuse UPDATE always and DELETE
  unless the retention gate is open (only ``apply_retention`` opens it, inside
  its own transaction).
"""

from __future__ import annotations

V1 = """
CREATE TABLE plans (
    plan_id          TEXT PRIMARY KEY,
    state            TEXT NOT NULL,
    start_at         TEXT,
    hour_window      TEXT,
    slot_type        TEXT,
    normalized_url   TEXT NOT NULL DEFAULT '',
    normalized_title TEXT NOT NULL DEFAULT '',
    discovered_at    TEXT NOT NULL,
    updated_at       TEXT,
    data             TEXT NOT NULL
);
CREATE INDEX ix_plans_state_start ON plans(state, start_at, plan_id);
CREATE INDEX ix_plans_start ON plans(start_at, plan_id);
CREATE INDEX ix_plans_hour_state ON plans(hour_window, state);
CREATE INDEX ix_plans_url ON plans(normalized_url);
CREATE INDEX ix_plans_title ON plans(normalized_title);

CREATE TABLE assets (
    asset_id           TEXT PRIMARY KEY,
    plan_id            TEXT,
    checksum           TEXT NOT NULL,
    qa_status          TEXT NOT NULL,
    emergency_eligible INTEGER NOT NULL DEFAULT 0,
    last_aired_at      TEXT,
    created_at         TEXT NOT NULL,
    data               TEXT NOT NULL
);
CREATE INDEX ix_assets_checksum ON assets(checksum);
CREATE INDEX ix_assets_plan ON assets(plan_id);
CREATE INDEX ix_assets_pool ON assets(qa_status, emergency_eligible, last_aired_at);
CREATE INDEX ix_assets_created ON assets(created_at, qa_status);

CREATE TABLE queue_entries (
    entry_id       TEXT PRIMARY KEY,
    plan_id        TEXT,
    asset_id       TEXT NOT NULL,
    start_at       TEXT NOT NULL,
    end_at         TEXT NOT NULL,
    status         TEXT NOT NULL,
    fallback_level INTEGER NOT NULL DEFAULT 0,
    data           TEXT NOT NULL
);
-- At most one live (non-skipped) entry per plan: committing a plan twice is a no-op.
CREATE UNIQUE INDEX ux_queue_plan ON queue_entries(plan_id)
    WHERE plan_id IS NOT NULL AND status != 'SKIPPED';
CREATE INDEX ix_queue_end ON queue_entries(end_at);
CREATE INDEX ix_queue_start ON queue_entries(start_at);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    reason_code TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    plan_id     TEXT,
    asset_id    TEXT,
    trace_id    TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ix_audit_at ON audit_events(at);
CREATE INDEX ix_audit_type_at ON audit_events(event_type, at);
CREATE INDEX ix_audit_reason_at ON audit_events(reason_code, at);
CREATE INDEX ix_audit_plan ON audit_events(plan_id) WHERE plan_id IS NOT NULL;

CREATE TABLE retention_gate (open INTEGER NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
    WHEN NOT EXISTS (SELECT 1 FROM retention_gate WHERE open = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (only retention may delete)');
END;

CREATE TABLE metric_samples (
    id   INTEGER PRIMARY KEY,
    at   TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX ix_metrics_at ON metric_samples(at);

CREATE TABLE scheduler_cursors (
    name TEXT PRIMARY KEY,
    at   TEXT NOT NULL
);

-- One row per lock name, kept after release so the fencing token never goes back.
CREATE TABLE scheduler_lock (
    name        TEXT PRIMARY KEY,
    owner       TEXT,
    token       INTEGER NOT NULL,
    acquired_at TEXT,
    expires_at  TEXT
);

CREATE TABLE alert_states (
    code TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE owner_card_versions (
    id         INTEGER PRIMARY KEY,
    sha256     TEXT NOT NULL,
    text       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL DEFAULT ''
);
"""

V2 = """
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids never reused (see coalescing)
    topic           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT,
    coalesce_key    TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT,            -- NULL: due at once
    last_error      TEXT NOT NULL DEFAULT '',
    done_at         TEXT
);
CREATE INDEX ix_outbox_pending ON outbox(topic, status, id);
CREATE UNIQUE INDEX ux_outbox_dedupe ON outbox(topic, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX ix_outbox_coalesce ON outbox(topic, coalesce_key, status)
    WHERE coalesce_key IS NOT NULL;
CREATE INDEX ix_outbox_done ON outbox(done_at) WHERE done_at IS NOT NULL;

CREATE TABLE live_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE reports (
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""

# Media that failed discovery's probes (not HD, no duration): remembered by normalised URL
# so the hourly discovery does not probe (and audit) the same bad video every hour.
V3 = """
CREATE TABLE probe_rejections (
    normalized_url TEXT PRIMARY KEY,
    reason_code    TEXT NOT NULL,
    detail         TEXT NOT NULL,
    at             TEXT NOT NULL
);
CREATE INDEX ix_probe_rejections_at ON probe_rejections(at);
"""

# Control-call signatures accepted within the signing window (SPEC §3: a signature is
# refused the second time). Kept in the database so a restart of the API or of the
# daemon does not forget them; rows older than the window are deleted as new ones come.
V4 = """
CREATE TABLE seen_signatures (
    signature TEXT PRIMARY KEY,
    ts        INTEGER NOT NULL
);
CREATE INDEX ix_seen_signatures_ts ON seen_signatures(ts);
"""

# Commands the edge relayed to this channel (cloud/worker/PROTOCOL.md §6), by the edge's id:
# a row is written (state 'applying') before a command is applied and completed after, so a
# command handed out again — after a restart, a SIGKILL between apply and ack, or a lost
# result — is never applied twice; its recorded result is posted again instead.
V5 = """
CREATE TABLE edge_commands (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,     -- applying | applied | expired
    received_at TEXT NOT NULL,
    deadline_at TEXT NOT NULL,     -- local receipt time + the edge's expires_in_s
    status      INTEGER,           -- the local control call's HTTP status
    result      TEXT,              -- its JSON reply
    done_at     TEXT,
    reported_at TEXT               -- when the edge recorded the result
);
CREATE INDEX ix_edge_commands_received ON edge_commands(received_at);
"""

# When the channel was on air (vvtv.store.uptime): one row per stretch of continuous air,
# extended by the Buffer's heartbeat; availability is the share of a day the rows cover.
V6 = """
CREATE TABLE uptime (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,      -- the daemon that beat (host:pid:nonce)
    started_at TEXT NOT NULL,      -- its first beat of this stretch
    beat_at    TEXT NOT NULL       -- its latest beat
);
CREATE INDEX ix_uptime_run ON uptime(run_id, id);
CREATE INDEX ix_uptime_beat ON uptime(beat_at);
"""

# MIGRATIONS[i] takes the database from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6)
SCHEMA_VERSION = len(MIGRATIONS)

# Tables whose integrity is checked at every open: everything recovery reads.
# The big append-only tables (audit, metrics) are checked by backups and by
# ``Store.check_integrity(full=True)``; checking them at boot would cost seconds.
RECOVERY_TABLES: tuple[str, ...] = (
    "plans",
    "assets",
    "queue_entries",
    "scheduler_cursors",
    "scheduler_lock",
    "alert_states",
    "owner_card_versions",
    "outbox",
    "live_state",
    "edge_commands",
)
