// Control relayed to the channel, outbound only.
//
// The operator's signed control call becomes a command row (id, expiry) in D1. The
// channel's agent long-polls GET /v1/agent/commands: every command neither expired nor
// answered is handed out, oldest first, until the agent posts its result (applying a
// command at most once, by id, is the channel's job). The operator reads the command, and
// its result, at GET /v1/control/commands/<id>. Both sides audit; here, D1 `audit`.

import { HttpError, decodeUtf8, isObject, iso, json, parseJson } from "./http.js";
import { tunable } from "./config.js";
import { audit, auditStatement } from "./audit.js";

export const COMMAND_ID = /^cmd_[0-9a-f]{32}$/;
const HANDOUT_LIMIT = 20;
const FINAL = new Set(["succeeded", "failed", "expired"]);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `?wait=` in seconds, bounded by AGENT_WAIT_MAX_S; 400 when not a number. */
export function waitSeconds(url, env, fallback) {
  const raw = url.searchParams.get("wait");
  const max = tunable(env, "AGENT_WAIT_MAX_S");
  if (raw === null || raw === "") return Math.min(fallback, max);
  if (!/^[0-9]{1,5}(?:\.[0-9]{1,3})?$/.test(raw)) {
    throw new HttpError(400, `invalid wait: expected seconds from 0 to ${max}`);
  }
  return Math.min(Number(raw), max);
}

function stateOf(row, nowMs) {
  if (row.completed_at !== null) {
    return row.result_status >= 200 && row.result_status < 300 ? "succeeded" : "failed";
  }
  if (row.expires_at <= nowMs) return "expired";
  return row.deliveries > 0 ? "delivered" : "pending";
}

function view(row, nowMs) {
  return {
    id: row.id,
    channel: row.channel,
    kind: row.kind,
    body: row.body,
    state: stateOf(row, nowMs),
    created_at: iso(row.created_at),
    expires_at: iso(row.expires_at),
    issued_by: row.issued_by,
    deliveries: row.deliveries,
    first_delivered_at: iso(row.first_delivered_at),
    result:
      row.completed_at === null
        ? null
        : {
            status: row.result_status,
            body: JSON.parse(row.result_body),
            completed_at: iso(row.completed_at),
          },
  };
}

export async function createCommand({ env, channel, kind, body, nowMs, actor }) {
  const id = `cmd_${crypto.randomUUID().replaceAll("-", "")}`;
  const expiresAt = nowMs + tunable(env, "COMMAND_TTL_S") * 1000;
  const text = decodeUtf8(body);
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO commands (id, channel, kind, body, created_at, expires_at, issued_by, deliveries) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
    ).bind(id, channel, kind, text, nowMs, expiresAt, actor),
    auditStatement(env.DB, {
      at: nowMs,
      channel,
      actor,
      action: "command_created",
      details: { id, kind, body: text, expires_at: iso(expiresAt) },
    }),
  ]);
  const row = await env.DB.prepare("SELECT * FROM commands WHERE id = ?").bind(id).first();
  return json(view(row, nowMs), 202, { location: `/v1/control/commands/${id}` });
}

async function pending(env, channel, nowMs) {
  const rows = await env.DB.prepare(
    "SELECT * FROM commands WHERE channel = ? AND completed_at IS NULL AND expires_at > ? " +
      "ORDER BY created_at, id LIMIT ?",
  )
    .bind(channel, nowMs, HANDOUT_LIMIT)
    .all();
  return rows.results;
}

/** The agent's long poll: pending commands of its channel, waiting up to `wait` s for one. */
export async function agentPoll({ env, channel, url, actor }) {
  const waitMs = waitSeconds(url, env, 20) * 1000;
  const interval = tunable(env, "POLL_INTERVAL_MS");
  const deadline = Date.now() + waitMs;
  let rows = await pending(env, channel, Date.now());
  while (rows.length === 0 && Date.now() + interval <= deadline) {
    await sleep(interval);
    rows = await pending(env, channel, Date.now());
  }
  const nowMs = Date.now();
  if (rows.length > 0) {
    const statements = [];
    for (const row of rows) {
      statements.push(
        env.DB.prepare(
          "UPDATE commands SET deliveries = deliveries + 1, " +
            "first_delivered_at = coalesce(first_delivered_at, ?) WHERE id = ?",
        ).bind(nowMs, row.id),
      );
      if (row.deliveries === 0) {
        statements.push(
          auditStatement(env.DB, {
            at: nowMs,
            channel,
            actor,
            action: "command_delivered",
            details: { id: row.id, kind: row.kind },
          }),
        );
      }
    }
    await env.DB.batch(statements);
  }
  return json({
    channel,
    server_time: iso(nowMs),
    commands: rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      method: "POST",
      path: `/v1/control/${row.kind}`,
      body: row.body,
      created_at: iso(row.created_at),
      expires_at: iso(row.expires_at),
      // Relative, so the agent can hold its own deadline whatever its clock says.
      expires_in_s: Math.max(0, (row.expires_at - nowMs) / 1000),
      deliveries: row.deliveries + 1,
    })),
  });
}

/** The agent's result for one of its channel's commands: {status, body}. */
export async function postResult({ env, channel, id, bytes, nowMs, actor }) {
  const payload = parseJson(bytes);
  if (!isObject(payload)) throw new HttpError(422, 'result must be a JSON object like {"status": 200, "body": {}}');
  const unknown = Object.keys(payload).filter((k) => k !== "status" && k !== "body").sort();
  if (unknown.length > 0) throw new HttpError(422, `unknown field(s): ${unknown.join(", ")}`);
  const { status } = payload;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new HttpError(422, "status must be the HTTP status the channel answered (100-599)");
  }
  if (!("body" in payload)) throw new HttpError(422, "body is required (the channel's JSON reply)");
  const resultBody = JSON.stringify(payload.body);
  const row = await env.DB.prepare("SELECT * FROM commands WHERE id = ? AND channel = ?")
    .bind(id, channel)
    .first();
  if (row === null) throw new HttpError(404, "command not found");
  if (row.completed_at !== null) {
    if (row.result_status === status && row.result_body === resultBody) {
      return json({ ok: true, duplicate: true, command: view(row, nowMs) });
    }
    throw new HttpError(409, "command already has a different result");
  }
  const [update] = await env.DB.batch([
    env.DB.prepare(
      "UPDATE commands SET result_status = ?, result_body = ?, completed_at = ? " +
        "WHERE id = ? AND completed_at IS NULL",
    ).bind(status, resultBody, nowMs, id),
    auditStatement(env.DB, {
      at: nowMs,
      channel,
      actor,
      action: "command_result",
      details: { id, kind: row.kind, status, late: row.expires_at <= nowMs },
    }),
  ]);
  if (update.meta.changes === 0) throw new HttpError(409, "command already has a result");
  const done = await env.DB.prepare("SELECT * FROM commands WHERE id = ?").bind(id).first();
  return json({ ok: true, duplicate: false, command: view(done, nowMs) });
}

/** The operator's read; with ?wait=S it returns as soon as the command is final. */
export async function readCommand({ env, channel, id, url }) {
  const waitMs = waitSeconds(url, env, 0) * 1000;
  const interval = tunable(env, "POLL_INTERVAL_MS");
  const deadline = Date.now() + waitMs;
  const load = () =>
    env.DB.prepare("SELECT * FROM commands WHERE id = ? AND channel = ?").bind(id, channel).first();
  let row = await load();
  if (row === null) throw new HttpError(404, "command not found");
  while (!FINAL.has(stateOf(row, Date.now())) && Date.now() + interval <= deadline) {
    await sleep(interval);
    row = await load();
  }
  return json(view(row, Date.now()));
}

export async function listCommands({ env, channel, url }) {
  const limit = boundedInt(url.searchParams.get("limit"), "limit", 50, 1, 200);
  const rows = await env.DB.prepare(
    "SELECT * FROM commands WHERE channel = ? ORDER BY created_at DESC, id DESC LIMIT ?",
  )
    .bind(channel, limit)
    .all();
  const nowMs = Date.now();
  return json({ channel, commands: rows.results.map((r) => view(r, nowMs)) });
}

export function boundedInt(raw, name, fallback, low, high) {
  if (raw === null || raw === "") return fallback;
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < low || Number(raw) > high) {
    throw new HttpError(400, `invalid ${name}: expected an integer from ${low} to ${high}`);
  }
  return Number(raw);
}

export async function readAudit({ env, channel, url }) {
  const limit = boundedInt(url.searchParams.get("limit"), "limit", 100, 1, 500);
  const before = boundedInt(url.searchParams.get("before"), "before", 9999999999, 1, 9999999999);
  const rows = await env.DB.prepare(
    "SELECT id, at, channel, actor, action, details FROM audit WHERE channel = ? AND id < ? " +
      "ORDER BY id DESC LIMIT ?",
  )
    .bind(channel, before, limit)
    .all();
  return json({
    channel,
    events: rows.results.map((r) => ({ ...r, at: iso(r.at), details: JSON.parse(r.details) })),
  });
}

export { audit };
