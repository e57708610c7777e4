// The cron trigger (wrangler.toml [triggers]): the clean-ups that keep D1 and R2 bounded.

import { tunable } from "./config.js";
import { collectSegments } from "./live.js";

const DAY_MS = 86400 * 1000;

export async function runCron(env, nowMs) {
  const db = env.DB;
  const changes = async (sql, ...args) => (await db.prepare(sql).bind(...args).run()).meta.changes;
  const out = {};
  // Replay memory: a signature whose timestamp left the window is refused by the window.
  out.signatures = await changes("DELETE FROM seen_signatures WHERE expires_at < ?", nowMs);
  out.segments = await collectSegments(env, nowMs);
  // A command that expired unanswered is audited once, then kept for the operator to read.
  const [expired] = await db.batch([
    db.prepare(
      "INSERT INTO audit (at, channel, actor, action, details) SELECT ?, channel, 'edge', " +
        "'command_expired', json_object('id', id, 'kind', kind, 'deliveries', deliveries) " +
        "FROM commands WHERE completed_at IS NULL AND expires_at <= ? AND expiry_audited = 0",
    ).bind(nowMs, nowMs),
    db.prepare(
      "UPDATE commands SET expiry_audited = 1 WHERE completed_at IS NULL AND expires_at <= ? " +
        "AND expiry_audited = 0",
    ).bind(nowMs),
  ]);
  out.commands_expired = expired.meta.changes;
  const commandsBefore = nowMs - tunable(env, "COMMAND_RETAIN_DAYS") * DAY_MS;
  out.commands = await changes("DELETE FROM commands WHERE created_at < ?", commandsBefore);
  out.alert_events = await changes("DELETE FROM alert_events WHERE received_at < ?", commandsBefore);
  out.audit = await changes(
    "DELETE FROM audit WHERE at < ?",
    nowMs - tunable(env, "AUDIT_RETAIN_DAYS") * DAY_MS,
  );
  console.log(JSON.stringify({ cron: out }));
  return out;
}
