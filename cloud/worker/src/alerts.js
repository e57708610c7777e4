// Alerts from the channel: the webhook's payloads (SPEC §5), posted signed to the edge.
//
//   {"event": "alert", "code", "severity", "message", "timestamp", "id"?}
//   {"event": "alert_clear", "code", "timestamp", "id"?}
//
// `id` (the sender's outbox id, say) makes a re-delivery a no-op: each alert is recorded
// once. The edge keeps the active set per channel, readable by the operator only.

import { HttpError, isObject, iso, json } from "./http.js";
import { auditStatement } from "./audit.js";

const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const EVENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
export const SEVERITIES = ["low", "medium", "high", "critical"];

export function checkAlert(payload) {
  if (!isObject(payload)) throw new HttpError(422, "alert must be a JSON object");
  const { event, code, severity, message, timestamp, id } = payload;
  if (event !== "alert" && event !== "alert_clear") {
    throw new HttpError(422, 'event must be "alert" or "alert_clear"');
  }
  if (typeof code !== "string" || !CODE.test(code)) {
    throw new HttpError(422, "code must be an upper-case alert code such as BUFFER_CRITICAL");
  }
  if (event === "alert") {
    if (!SEVERITIES.includes(severity)) throw new HttpError(422, `severity must be one of ${SEVERITIES.join(", ")}`);
    if (typeof message !== "string" || message.length > 2000) {
      throw new HttpError(422, "message must be a string of at most 2000 characters");
    }
  }
  if (timestamp !== undefined && timestamp !== null && (typeof timestamp !== "string" || timestamp.length > 64)) {
    throw new HttpError(422, "timestamp must be an ISO 8601 string");
  }
  if (id !== undefined && (typeof id !== "string" || !EVENT_ID.test(id))) {
    throw new HttpError(422, "id must be 1-128 characters of A-Z a-z 0-9 _ . : -");
  }
  return { event, code, severity, message, timestamp: timestamp ?? null, id: id ?? null };
}

export async function ingestAlert({ env, channel, payload, nowMs, actor }) {
  const alert = checkAlert(payload);
  if (alert.id !== null) {
    const first = await env.DB.prepare(
      "INSERT INTO alert_events (channel, event_id, received_at) VALUES (?, ?, ?) " +
        "ON CONFLICT (channel, event_id) DO NOTHING",
    )
      .bind(channel, alert.id, nowMs)
      .run();
    if (first.meta.changes === 0) return json({ ok: true, duplicate: true });
  }
  const change =
    alert.event === "alert"
      ? env.DB.prepare(
          "INSERT INTO alerts_active (channel, code, severity, message, since, updated_at) " +
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, code) DO UPDATE SET " +
            "severity = excluded.severity, message = excluded.message, updated_at = excluded.updated_at",
        ).bind(channel, alert.code, alert.severity, alert.message, alert.timestamp ?? iso(nowMs), nowMs)
      : env.DB.prepare("DELETE FROM alerts_active WHERE channel = ? AND code = ?").bind(channel, alert.code);
  await env.DB.batch([
    change,
    auditStatement(env.DB, { at: nowMs, channel, actor, action: alert.event, details: alert }),
  ]);
  return json({ ok: true, duplicate: false });
}

export async function activeAlerts({ env, channel }) {
  const rows = await env.DB.prepare(
    "SELECT code, severity, message, since FROM alerts_active WHERE channel = ? ORDER BY code",
  )
    .bind(channel)
    .all();
  return json({ channel, count: rows.results.length, alerts: rows.results });
}
