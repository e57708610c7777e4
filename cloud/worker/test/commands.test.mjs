// Control relayed to the channel: operator -> edge (D1) -> agent long poll -> result -> operator.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { call, newChannels, startEdge } from "./edge.mjs";

let edge;
let dir;
const channels = newChannels(["main", "other"]);
const { ingest: agent, control: operator } = channels.main;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vvtv-edge-commands-"));
  // A quick poll interval keeps the long-poll tests short (the default is 500 ms); a TTL
  // other than the default shows the var is honoured.
  edge = await startEdge({ persistDir: dir, channels, vars: { POLL_INTERVAL_MS: "50", COMMAND_TTL_S: "120" } });
});
after(async () => {
  await edge?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const send = (kind, body, cred = operator, prefix = "") => call(edge, cred, "POST", `${prefix}/v1/control/${kind}`, { body });
const poll = (wait = 0, cred = agent, prefix = "") => call(edge, cred, "GET", `${prefix}/v1/agent/commands`, { query: `?wait=${wait}` });
const result = (id, body, cred = agent, prefix = "") => call(edge, cred, "POST", `${prefix}/v1/agent/commands/${id}/result`, { body });
const read = (id, query = "", cred = operator, prefix = "") => call(edge, cred, "GET", `${prefix}/v1/control/commands/${id}`, { query });

async function drain() {
  // Answer whatever is pending so each test starts from an empty queue.
  for (const c of (await poll(0)).json.commands) await result(c.id, { status: 200, body: {} });
}

describe("the command lifecycle", () => {
  test("a control call becomes a command the agent receives with the exact body", async () => {
    await drain();
    const sent = await send("emergency-mode", '{"enabled": true}');
    assert.equal(sent.status, 202, sent.text);
    assert.match(sent.json.id, /^cmd_[0-9a-f]{32}$/);
    assert.equal(sent.headers.get("location"), `/v1/control/commands/${sent.json.id}`);
    assert.equal(sent.json.state, "pending");
    // COMMAND_TTL_S (120 here) after it was created.
    assert.equal(Date.parse(sent.json.expires_at) - Date.parse(sent.json.created_at), 120_000);
    const got = await poll(0);
    assert.equal(got.status, 200);
    assert.equal(got.json.commands.length, 1);
    const [cmd] = got.json.commands;
    assert.deepEqual(
      { ...cmd, created_at: 0, expires_at: 0, expires_in_s: 0 },
      {
        id: sent.json.id,
        kind: "emergency-mode",
        method: "POST",
        path: "/v1/control/emergency-mode",
        body: '{"enabled": true}',
        created_at: 0,
        expires_at: 0,
        expires_in_s: 0,
        deliveries: 1,
      },
    );
    assert.ok(cmd.expires_in_s > 110 && cmd.expires_in_s <= 120);
    assert.equal((await read(sent.json.id)).json.state, "delivered");
  });

  test("it is handed out again until the agent posts a result, then never", async () => {
    const again = await poll(0);
    assert.equal(again.json.commands.length, 1);
    assert.equal(again.json.commands[0].deliveries, 2);
    const id = again.json.commands[0].id;
    const reply = { state: "EMERGENCY", buffer_minutes: 30, emergency_override: true };
    const posted = await result(id, { status: 200, body: reply });
    assert.equal(posted.status, 200, posted.text);
    assert.equal(posted.json.command.state, "succeeded");
    assert.equal((await poll(0)).json.commands.length, 0);
    const seen = await read(id);
    assert.equal(seen.json.state, "succeeded");
    assert.deepEqual(seen.json.result.status, 200);
    assert.deepEqual(seen.json.result.body, reply);
    assert.equal(seen.json.deliveries, 2);
    // The same result again (a retried POST) is fine; a different one is a conflict.
    const dup = await result(id, { status: 200, body: reply });
    assert.deepEqual([dup.status, dup.json.duplicate], [200, true]);
    const other = await result(id, { status: 500, body: {} });
    assert.equal(other.status, 409);
  });

  test("a refused command (the channel's 4xx) reads as failed, with the channel's reply", async () => {
    const sent = await send("curator-mode", { mode: "advise", min_confidence: 0.99 });
    const [cmd] = (await poll(0)).json.commands;
    await result(cmd.id, { status: 422, body: { error: "min_confidence above the OwnerCard's" } });
    const seen = await read(sent.json.id);
    assert.equal(seen.json.state, "failed");
    assert.deepEqual(seen.json.result, { status: 422, body: { error: "min_confidence above the OwnerCard's" }, completed_at: seen.json.result.completed_at });
  });

  test("commands are handed out oldest first", async () => {
    const a = await send("reload-owner-card", "");
    const b = await send("nightly", "{}");
    const c = await send("emergency-mode", "");
    const got = await poll(0);
    assert.deepEqual(got.json.commands.map((x) => x.id), [a.json.id, b.json.id, c.json.id]);
    assert.deepEqual(got.json.commands.map((x) => x.body), ["", "{}", ""]);
    await drain();
  });

  test("the agent's long poll returns as soon as a command arrives", async () => {
    const started = Date.now();
    const waiting = poll(10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sent = await send("emergency-mode", { enabled: false });
    const got = await waiting;
    const took = Date.now() - started;
    assert.deepEqual(got.json.commands.map((x) => x.id), [sent.json.id]);
    assert.ok(took < 3000, `long poll took ${took} ms`);
    await drain();
  });

  test("an empty long poll ends after its wait, with no command", async () => {
    const started = Date.now();
    const got = await poll(1);
    const took = Date.now() - started;
    assert.deepEqual(got.json.commands, []);
    assert.ok(took >= 900 && took < 4000, `took ${took} ms`);
  });

  test("the operator can wait for the result", async () => {
    const sent = await send("nightly", "");
    const waiting = read(sent.json.id, "?wait=10");
    const [cmd] = (await poll(2)).json.commands;
    await result(cmd.id, { status: 200, body: { ok: true, ran: "nightly" } });
    const seen = await waiting;
    assert.equal(seen.json.state, "succeeded");
    assert.deepEqual(seen.json.result.body, { ok: true, ran: "nightly" });
  });

  test("wait is bounded and checked", async () => {
    const bad = await poll("soon");
    assert.deepEqual([bad.status, bad.json], [400, { error: "invalid wait: expected seconds from 0 to 25" }]);
  });
});

describe("expiry", () => {
  test("an expired command is never handed out, reads as expired, and is audited once", async () => {
    await drain();
    const sent = await send("emergency-mode", { enabled: true });
    // Age it past its expiry, as five minutes would.
    await edge.db.prepare("UPDATE commands SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, sent.json.id).run();
    assert.deepEqual((await poll(0)).json.commands, []);
    const seen = await read(sent.json.id, "?wait=5");
    assert.equal(seen.json.state, "expired");
    assert.equal(seen.json.result, null);
    await edge.scheduled();
    await edge.scheduled();
    const audited = await edge.db
      .prepare("SELECT actor, details FROM audit WHERE action = 'command_expired'")
      .all();
    assert.equal(audited.results.length, 1);
    assert.equal(JSON.parse(audited.results[0].details).id, sent.json.id);
  });

  test("a command expiring between two polls is not handed out the second time", async () => {
    const sent = await send("emergency-mode", "");
    assert.equal((await poll(0)).json.commands.length, 1);
    await edge.db.prepare("UPDATE commands SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, sent.json.id).run();
    assert.equal((await poll(0)).json.commands.length, 0);
    // A result the channel posts late (it applied it in time) is still recorded.
    const late = await result(sent.json.id, { status: 200, body: {} });
    assert.equal(late.status, 200);
    assert.equal((await read(sent.json.id)).json.state, "succeeded");
  });

  test("old commands are purged after COMMAND_RETAIN_DAYS", async () => {
    const sent = await send("nightly", "");
    await edge.db.prepare("UPDATE commands SET created_at = created_at - 31 * 86400000 WHERE id = ?").bind(sent.json.id).run();
    await edge.scheduled();
    assert.equal((await read(sent.json.id)).status, 404);
  });
});

describe("bodies are the channel's", () => {
  test("each kind's body is checked as the channel checks it", async () => {
    for (const [kind, body, status, error] of [
      ["emergency-mode", "{", 400, null],
      ["emergency-mode", '{"enabled": "yes"}', 422, "enabled must be true, false or null (release the override)"],
      ["emergency-mode", '{"enabled": true, "x": 1}', 422, "unknown field(s): x"],
      ["emergency-mode", "[]", 422, 'body must be a JSON object like {"enabled": true}'],
      ["curator-mode", "", 400, "request body must be JSON"],
      ["curator-mode", '{"mode": "chaos"}', 422, "mode must be one of auto, advise, off"],
      ["curator-mode", '{"mode": "auto", "max_reorders_per_hour": 1.5}', 422, "max_reorders_per_hour must be an integer"],
      ["curator-mode", '{"mode": "auto", "speed": 1}', 422, "unknown field 'speed'; limits are max_reorders_per_hour, min_confidence"],
      ["reload-owner-card", "[1]", 422, "reload-owner-card takes an empty body or a JSON object"],
      ["nightly", '"now"', 422, "nightly takes an empty body or a JSON object"],
    ]) {
      const r = await send(kind, body);
      assert.equal(r.status, status, `${kind} ${body}: ${r.text}`);
      if (error) assert.equal(r.json.error, error);
    }
    for (const [kind, body] of [
      ["emergency-mode", '{"enabled": null}'],
      ["emergency-mode", "{}"],
      ["curator-mode", '{"mode": "off", "min_confidence": 0.5, "max_reorders_per_hour": 3}'],
      ["reload-owner-card", "{}"],
    ]) {
      assert.equal((await send(kind, body)).status, 202, `${kind} ${body}`);
    }
    await drain();
  });

  test("unknown control kinds are 404; a result must be {status, body}", async () => {
    assert.equal((await send("self-destruct", "")).status, 404);
    const sent = await send("nightly", "");
    for (const [body, error] of [
      [{ status: 200 }, "body is required (the channel's JSON reply)"],
      [{ status: 99, body: {} }, "status must be the HTTP status the channel answered (100-599)"],
      [{ status: "200", body: {} }, "status must be the HTTP status the channel answered (100-599)"],
      [{ status: 200, body: {}, extra: 1 }, "unknown field(s): extra"],
      [[200], 'result must be a JSON object like {"status": 200, "body": {}}'],
    ]) {
      const r = await result(sent.json.id, body);
      assert.deepEqual([r.status, r.json.error], [422, error], JSON.stringify(body));
    }
    assert.equal((await result(sent.json.id, "{oops")).status, 400);
    assert.equal((await result("cmd_" + "0".repeat(32), { status: 200, body: {} })).status, 404);
    assert.equal((await result("nope", { status: 200, body: {} })).status, 404);
    await drain();
  });
});

describe("channels are isolated", () => {
  test("an agent sees only its channel's commands and cannot answer another's", async () => {
    const forMain = await send("emergency-mode", "");
    const forOther = await send("nightly", "", channels.other.control, "/c/other");
    assert.equal(forOther.status, 202);
    assert.deepEqual((await poll(0, channels.other.ingest, "/c/other")).json.commands.map((c) => c.id), [forOther.json.id]);
    assert.deepEqual((await poll(0)).json.commands.map((c) => c.id), [forMain.json.id]);
    // The other channel's agent, on its own path, cannot post main's result...
    const cross = await result(forMain.json.id, { status: 200, body: {} }, channels.other.ingest, "/c/other");
    assert.deepEqual([cross.status, cross.json], [404, { error: "command not found" }]);
    // ...nor use main's path with its credentials.
    const wrong = await result(forMain.json.id, { status: 200, body: {} }, channels.other.ingest);
    assert.equal(wrong.status, 401);
    // The other operator cannot read main's command.
    assert.equal((await read(forMain.json.id, "", channels.other.control, "/c/other")).status, 404);
    assert.equal((await send("nightly", "", operator, "/c/other")).status, 401);
    await drain();
    for (const c of (await poll(0, channels.other.ingest, "/c/other")).json.commands) {
      await result(c.id, { status: 200, body: {} }, channels.other.ingest, "/c/other");
    }
  });
});

describe("the operator's reads", () => {
  test("recent commands, the audit trail and the channel's alerts", async () => {
    const list = await call(edge, operator, "GET", "/v1/control/commands", { query: "?limit=3" });
    assert.equal(list.status, 200);
    assert.equal(list.json.commands.length, 3);
    assert.ok(list.json.commands.every((c) => c.channel === "main"));
    const auditLog = await call(edge, operator, "GET", "/v1/control/audit", { query: "?limit=500" });
    const actions = new Set(auditLog.json.events.map((e) => e.action));
    for (const action of ["command_created", "command_delivered", "command_result", "command_expired"]) {
      assert.ok(actions.has(action), action);
    }
    const created = auditLog.json.events.find((e) => e.action === "command_created");
    assert.match(created.actor, /^control:[0-9a-f]{12}@127\.0\.0\.1$/);
    const delivered = auditLog.json.events.find((e) => e.action === "command_delivered");
    assert.match(delivered.actor, /^ingest:[0-9a-f]{12}@/);
    assert.equal((await call(edge, operator, "GET", "/v1/control/audit", { query: "?limit=0" })).status, 400);
  });

  test("alerts: raised, deduplicated by id, cleared; read by the operator only", async () => {
    const alert = { event: "alert", code: "BUFFER_CRITICAL", severity: "critical", message: "buffer 12 min", timestamp: "2026-03-01T12:00:00Z", id: "outbox-1" };
    const a = await call(edge, agent, "POST", "/v1/ingest/alerts", { body: alert });
    assert.deepEqual(a.json, { ok: true, duplicate: false });
    const again = await call(edge, agent, "POST", "/v1/ingest/alerts", { body: alert });
    assert.deepEqual(again.json, { ok: true, duplicate: true });
    const active = await call(edge, operator, "GET", "/v1/control/alerts");
    assert.deepEqual(active.json, {
      channel: "main",
      count: 1,
      alerts: [{ code: "BUFFER_CRITICAL", severity: "critical", message: "buffer 12 min", since: "2026-03-01T12:00:00Z" }],
    });
    assert.equal((await fetch(`${edge.url}/v1/control/alerts`)).status, 401);
    const clear = await call(edge, agent, "POST", "/v1/ingest/alerts", { body: { event: "alert_clear", code: "BUFFER_CRITICAL", id: "outbox-2" } });
    assert.equal(clear.status, 200);
    assert.equal((await call(edge, operator, "GET", "/v1/control/alerts")).json.count, 0);
    const events = (await call(edge, operator, "GET", "/v1/control/audit")).json.events.filter((e) => e.action.startsWith("alert"));
    assert.deepEqual(events.map((e) => e.action), ["alert_clear", "alert"]);
    for (const [body, error] of [
      [{ ...alert, event: "page" }, 'event must be "alert" or "alert_clear"'],
      [{ ...alert, code: "lower" }, "code must be an upper-case alert code such as BUFFER_CRITICAL"],
      [{ ...alert, severity: "urgent" }, "severity must be one of low, medium, high, critical"],
      [{ ...alert, id: "has space" }, "id must be 1-128 characters of A-Z a-z 0-9 _ . : -"],
    ]) {
      const r = await call(edge, agent, "POST", "/v1/ingest/alerts", { body });
      assert.deepEqual([r.status, r.json.error], [422, error]);
    }
  });
});
