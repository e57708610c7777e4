-- vvtv edge: D1 schema. Times are unix milliseconds (UTC). Apply with
--   wrangler d1 migrations apply vvtv-edge --remote   (or --local)

-- Signatures accepted in the last window: a second request with one is a replay.
CREATE TABLE seen_signatures (
  signature TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX seen_signatures_expiry ON seen_signatures (expires_at);

-- The public subset of each channel's latest status.
CREATE TABLE channel_status (
  channel TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  received_at INTEGER NOT NULL
);

-- The channel's logo (bytes in R2 under logos/<channel>).
CREATE TABLE channel_meta (
  channel TEXT PRIMARY KEY,
  logo_type TEXT,
  logo_sha256 TEXT,
  logo_updated_at INTEGER
);

-- Index of the report documents kept in R2 (reports/<channel>/<kind>/<key>.json).
CREATE TABLE reports (
  channel TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('daily', 'weekly')),
  key TEXT NOT NULL,
  object_key TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (channel, kind, key)
);

-- Alerts: the active set, and the event ids already recorded (a re-delivery is a no-op).
CREATE TABLE alerts_active (
  channel TEXT NOT NULL,
  code TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  since TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (channel, code)
);
CREATE TABLE alert_events (
  channel TEXT NOT NULL,
  event_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (channel, event_id)
);
CREATE INDEX alert_events_age ON alert_events (received_at);

-- HLS: every stored segment (bytes in R2 under hls/<channel>/<ref>, ref = <asset_id>/<name>),
-- whether the current playlist lists it, and since when it is out of the playlist.
CREATE TABLE hls_segments (
  channel TEXT NOT NULL,
  ref TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  uploaded_at INTEGER NOT NULL,
  listed INTEGER NOT NULL DEFAULT 0,
  unlisted_at INTEGER,
  PRIMARY KEY (channel, ref)
);
CREATE INDEX hls_segments_gc ON hls_segments (listed, unlisted_at);

-- The current playlist of each channel, as uploaded (URIs normalised to seg/<ref>).
CREATE TABLE hls_playlists (
  channel TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  media_sequence INTEGER NOT NULL,
  discontinuity_sequence INTEGER NOT NULL,
  target_duration INTEGER NOT NULL,
  segments INTEGER NOT NULL,
  end_sequence INTEGER NOT NULL,
  upload_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Control relayed to the channel.
CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  issued_by TEXT NOT NULL,
  deliveries INTEGER NOT NULL DEFAULT 0,
  first_delivered_at INTEGER,
  result_status INTEGER,
  result_body TEXT,
  completed_at INTEGER,
  expiry_audited INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX commands_pending ON commands (channel, completed_at, expires_at, created_at);
CREATE INDEX commands_age ON commands (created_at);

-- The edge's audit trail (append-only; rows past AUDIT_RETAIN_DAYS are dropped by cron).
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  channel TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  details TEXT NOT NULL
);
CREATE INDEX audit_channel ON audit (channel, id);
CREATE INDEX audit_age ON audit (at);
