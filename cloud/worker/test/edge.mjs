// Run the Worker in workerd through miniflare, as deployed: wrangler.toml's vars and
// compatibility date, the D1 migrations applied, D1/R2/cache persisted to a directory.
// Shared by the Worker's own tests and by test/serve.mjs (the Python tests' edge).

import { createHmac, randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

export const WORKER_DIR = fileURLToPath(new URL("..", import.meta.url));
export const TEXT_MODULES = ["**/hls.min.js", "**/client/*.js", "**/client/*.css"];

/** [vars] and compatibility_date of wrangler.toml (flat `key = "value"` lines). */
export function wranglerConfig() {
  const text = readFileSync(join(WORKER_DIR, "wrangler.toml"), "utf8");
  const vars = {};
  let section = "";
  let compatibilityDate = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[+([^\]]+)\]+$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const kv = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*(?:#.*)?$/.exec(line);
    if (!kv) continue;
    if (section === "vars") vars[kv[1]] = kv[2];
    if (section === "" && kv[1] === "compatibility_date") compatibilityDate = kv[2];
  }
  if (compatibilityDate === null) throw new Error("wrangler.toml has no compatibility_date");
  return { vars, compatibilityDate };
}

/** The SQL statements of one migration file, in order (no triggers: split on ';'). */
export function statements(sql) {
  return sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Apply migrations/*.sql not yet applied, recording them as wrangler does (d1_migrations). */
export async function applyMigrations(db) {
  await db
    .prepare(
      "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, " +
        "name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
    )
    .run();
  const done = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((r) => r.name));
  const dir = join(WORKER_DIR, "migrations");
  const applied = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    if (done.has(name)) continue;
    const sql = readFileSync(join(dir, name), "utf8");
    await db.batch([
      ...statements(sql).map((s) => db.prepare(s)),
      db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(name),
    ]);
    applied.push(name);
  }
  return applied;
}

export function newCredential(label) {
  return { token: `${label}-token-${randomBytes(8).toString("hex")}`, secret: randomBytes(32).toString("hex") };
}

/** Fresh credentials for each channel: {ingest: {token, secret}, control: {token, secret}}. */
export function newChannels(ids) {
  return Object.fromEntries(ids.map((id) => [id, { ingest: newCredential(`${id}-ingest`), control: newCredential(`${id}-control`) }]));
}

export function secretBindings(channels) {
  const out = {};
  for (const [id, roles] of Object.entries(channels)) {
    const stem = `CHANNEL_${id.toUpperCase().replaceAll("-", "_")}`;
    for (const [role, cred] of Object.entries(roles)) {
      out[`${stem}_${role.toUpperCase()}_TOKEN`] = cred.token;
      out[`${stem}_${role.toUpperCase()}_SECRET`] = cred.secret;
    }
  }
  return out;
}

/**
 * Start the edge: `channels` maps ids to credentials (newChannels), the first is the
 * default unless `defaultChannel` says otherwise; `vars` override wrangler.toml's;
 * `source` replaces the Worker's sources (miniflare scriptPath/modulesRoot/modulesRules);
 * `d1` names the database and where it persists (wrangler's local state, say).
 */
export async function startEdge({
  persistDir,
  channels,
  defaultChannel,
  vars = {},
  port = 0,
  source: given,
  d1 = { id: "vvtv-edge", persist: join(persistDir, "d1") },
} = {}) {
  const config = wranglerConfig();
  const ids = Object.keys(channels);
  const source = given
    ? given
    : {
        scriptPath: join(WORKER_DIR, "src", "index.js"),
        modulesRoot: WORKER_DIR,
        // As wrangler bundles it: the Text rules first, then every other .js is an ES module.
        modulesRules: [
          { type: "Text", include: TEXT_MODULES, fallthrough: false },
          { type: "ESModule", include: ["**/*.js"] },
        ],
      };
  const mf = new Miniflare({
    modules: true,
    ...source,
    compatibilityDate: config.compatibilityDate,
    bindings: {
      ...config.vars,
      CHANNELS: ids.join(","),
      DEFAULT_CHANNEL: defaultChannel ?? ids[0],
      ...vars,
      ...secretBindings(channels),
    },
    d1Databases: { DB: d1.id },
    r2Buckets: { MEDIA: "vvtv-edge" },
    d1Persist: d1.persist,
    r2Persist: join(persistDir, "r2"),
    cachePersist: join(persistDir, "cache"),
    host: "127.0.0.1",
    port,
    // The Worker's console: warnings and errors to stderr, its routine log lines dropped.
    handleStructuredLogs: ({ level, message }) => {
      if (!["log", "info", "debug"].includes(level)) process.stderr.write(`[edge ${level}] ${message}\n`);
    },
  });
  const url = await mf.ready;
  const db = await mf.getD1Database("DB");
  await applyMigrations(db);
  const bucket = await mf.getR2Bucket("MEDIA");
  return {
    mf,
    url: url.toString().replace(/\/$/, ""),
    db,
    bucket,
    channels,
    async scheduled() {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron: "* * * * *", scheduledTime: new Date() });
    },
    dispose: () => mf.dispose(),
  };
}

// ---- a client that signs like the channel ------------------------------------------------

export function sign(secret, method, path, tsField, body) {
  const mac = createHmac("sha256", secret);
  mac.update(`${method.toUpperCase()}\n${path}\n${tsField}\n`);
  mac.update(body);
  return mac.digest("hex");
}

let nonceCounter = 0;

/** Headers for one signed request (ts now unless given; a fresh nonce unless `nonce: null`). */
export function signedHeaders(cred, method, path, body, { ts, nonce } = {}) {
  const tsText = String(ts ?? Math.floor(Date.now() / 1000));
  const useNonce = nonce === undefined ? `n${process.pid}x${++nonceCounter}x${randomBytes(6).toString("hex")}` : nonce;
  const tsField = useNonce === null ? tsText : `${tsText}:${useNonce}`;
  const headers = {
    authorization: `Bearer ${cred.token}`,
    "x-vvtv-ts": tsText,
    "x-vvtv-signature": sign(cred.secret, method, path, tsField, body),
  };
  if (useNonce !== null) headers["x-vvtv-nonce"] = useNonce;
  return headers;
}

function bytesOf(body) {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(JSON.stringify(body), "utf8");
}

/** A signed call to the edge: `path` is the full path (with /c/<id> when meant). */
export async function call(edge, cred, method, path, { body, query = "", nonce, ts, headers = {} } = {}) {
  const bytes = bytesOf(body);
  const signed = signedHeaders(cred, method, path, bytes, { ts, nonce });
  const response = await fetch(`${edge.url}${path}${query}`, {
    method,
    headers: { ...signed, ...headers },
    body: method === "GET" || method === "HEAD" ? undefined : bytes,
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** `count` packets of MPEG-TS shape (sync byte every 188 bytes), tagged so each is unique. */
export function fakeSegment(tag, packets = 4) {
  const out = Buffer.alloc(188 * packets, 0xff);
  for (let i = 0; i < packets; i++) out[i * 188] = 0x47;
  out.write(String(tag), 4, "utf8");
  return out;
}

/** Poll `probe` until it returns a truthy value or `timeoutMs` passes (then the last value). */
export async function eventually(probe, timeoutMs = 3000, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
