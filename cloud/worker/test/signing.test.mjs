// Signed ingest and control: the channel's scheme, refused in every way it must be.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { call, newChannels, sign, signedHeaders, startEdge } from "./edge.mjs";

let edge;
let dir;
const channels = newChannels(["main", "news"]);
const main = channels.main;
// Channels whose credentials the edge must refuse to use.
const weak = {
  same: { ingest: { token: "same-as-secret-xxxxxxxxxxxxxxxxxxxxxxx", secret: "same-as-secret-xxxxxxxxxxxxxxxxxxxxxxx" } },
  short: { ingest: { token: "t", secret: "too-short" } },
  none: {},
};
const STATUS = { state: "RUNNING", buffer_minutes: 42 };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vvtv-edge-signing-"));
  edge = await startEdge({ persistDir: dir, channels: { ...channels, ...weak } });
});
after(async () => {
  await edge?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function raw(path, { method = "POST", headers = {}, body } = {}) {
  const r = await fetch(`${edge.url}${path}`, { method, headers, body });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

function now() {
  return Math.floor(Date.now() / 1000);
}

describe("a signed request", () => {
  test("with the right token, a fresh ts and the exact body is accepted", async () => {
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: STATUS });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ok: true, state: "RUNNING", buffer_minutes: 42 });
  });

  test("without a nonce (the original's canonical string) is accepted", async () => {
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", {
      body: { ...STATUS, buffer_minutes: 43 },
      nonce: null,
    });
    assert.equal(r.status, 200, r.text);
  });

  test("is refused with 401 and a JSON reason for each missing header", async () => {
    const body = JSON.stringify(STATUS);
    const full = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body), { nonce: null });
    for (const [drop, reason] of [
      ["authorization", "missing Authorization header"],
      ["x-vvtv-ts", "missing x-vvtv-ts header"],
      ["x-vvtv-signature", "missing x-vvtv-signature header"],
    ]) {
      const headers = { ...full };
      delete headers[drop];
      const r = await raw("/v1/ingest/status", { headers, body });
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, { error: reason });
    }
  });

  test("with a wrong token is refused", async () => {
    const wrong = { token: "not-the-token", secret: main.ingest.secret };
    const r = await call(edge, wrong, "POST", "/v1/ingest/status", { body: STATUS });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: "invalid token" });
  });

  test("with a scheme other than Bearer is refused", async () => {
    const body = JSON.stringify(STATUS);
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body));
    headers.authorization = `Basic ${main.ingest.token}`;
    const r = await raw("/v1/ingest/status", { headers, body });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: "invalid token" });
  });

  test("signed with the wrong secret is refused", async () => {
    const wrong = { token: main.ingest.token, secret: "x".repeat(64) };
    const r = await call(edge, wrong, "POST", "/v1/ingest/status", { body: STATUS });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: "signature mismatch" });
  });

  test("whose body differs from the signed one is refused", async () => {
    const signedBody = Buffer.from(JSON.stringify(STATUS));
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", signedBody);
    const r = await raw("/v1/ingest/status", { headers, body: JSON.stringify({ ...STATUS, state: "EMERGENCY" }) });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: "signature mismatch" });
  });

  test("signed for another path or method is refused", async () => {
    const body = Buffer.from(JSON.stringify(STATUS));
    let headers = signedHeaders(main.ingest, "POST", "/v1/ingest/daily", body);
    assert.equal((await raw("/v1/ingest/status", { headers, body })).status, 401);
    headers = signedHeaders(main.ingest, "PUT", "/v1/ingest/status", body);
    assert.equal((await raw("/v1/ingest/status", { headers, body })).json.error, "signature mismatch");
  });

  test("with a ts more than 300 s away, either way, is refused", async () => {
    for (const ts of [now() - 302, now() + 302]) {
      const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: STATUS, ts });
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, { error: "x-vvtv-ts outside the 300s window" });
    }
    // Inside the window on both sides: accepted.
    for (const ts of [now() - 290, now() + 290]) {
      const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: STATUS, ts });
      assert.equal(r.status, 200, r.text);
    }
  });

  test("with a malformed ts is refused", async () => {
    for (const ts of ["", "12.5", "-1", "1e9", "abc", "0x10", "12 34", "1234567890123"]) {
      const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: STATUS, ts });
      assert.equal(r.status, 401, `ts ${JSON.stringify(ts)}`);
      assert.deepEqual(r.json, { error: "x-vvtv-ts must be unix seconds" });
    }
  });

  test("with a malformed signature is refused as a mismatch", async () => {
    const body = JSON.stringify(STATUS);
    for (const signature of ["", "zz", "a".repeat(63), "g".repeat(64), "a".repeat(65)]) {
      const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body));
      headers["x-vvtv-signature"] = signature;
      const r = await raw("/v1/ingest/status", { headers, body });
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, { error: "signature mismatch" });
    }
  });

  test("in upper-case hex is accepted, like the channel's verifier", async () => {
    const body = JSON.stringify({ ...STATUS, buffer_minutes: 7 });
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body));
    headers["x-vvtv-signature"] = headers["x-vvtv-signature"].toUpperCase();
    assert.equal((await raw("/v1/ingest/status", { headers, body })).status, 200);
  });
});

describe("replays", () => {
  test("the same signed request twice: the second is refused", async () => {
    const body = JSON.stringify({ ...STATUS, buffer_minutes: 12 });
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body), { nonce: null });
    assert.equal((await raw("/v1/ingest/status", { headers, body })).status, 200);
    const again = await raw("/v1/ingest/status", { headers, body });
    assert.equal(again.status, 401);
    assert.deepEqual(again.json, { error: "replayed signature" });
  });

  test("a replay with a nonce is refused too", async () => {
    const body = JSON.stringify({ ...STATUS, buffer_minutes: 13 });
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body), { nonce: "abcdefgh-1" });
    assert.equal((await raw("/v1/ingest/status", { headers, body })).status, 200);
    assert.equal((await raw("/v1/ingest/status", { headers, body })).json.error, "replayed signature");
  });

  test("identical requests in the same second with different nonces are both accepted", async () => {
    const ts = now();
    const body = { ...STATUS, buffer_minutes: 14 };
    const a = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body, ts, nonce: "nonce-aaaa" });
    const b = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body, ts, nonce: "nonce-bbbb" });
    assert.deepEqual([a.status, b.status], [200, 200]);
  });

  test("the nonce is covered by the signature", async () => {
    const body = JSON.stringify({ ...STATUS, buffer_minutes: 15 });
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body), { nonce: "nonce-signed" });
    headers["x-vvtv-nonce"] = "nonce-swapped";
    const r = await raw("/v1/ingest/status", { headers, body });
    assert.deepEqual([r.status, r.json], [401, { error: "signature mismatch" }]);
    // Dropping the nonce from a request signed with one breaks it as well.
    delete headers["x-vvtv-nonce"];
    assert.equal((await raw("/v1/ingest/status", { headers, body })).json.error, "signature mismatch");
  });

  test("the signed string with a nonce is METHOD\\nPATH\\nTS:NONCE\\nBODY", async () => {
    const ts = String(now());
    const body = JSON.stringify({ ...STATUS, buffer_minutes: 16 });
    const headers = {
      authorization: `Bearer ${main.ingest.token}`,
      "x-vvtv-ts": ts,
      "x-vvtv-nonce": "documented-form",
      "x-vvtv-signature": sign(main.ingest.secret, "POST", "/v1/ingest/status", `${ts}:documented-form`, body),
    };
    assert.equal((await raw("/v1/ingest/status", { headers, body })).status, 200);
  });

  test("a malformed nonce is refused", async () => {
    for (const nonce of ["short", "has space!", "x".repeat(129), "ünïcode-nonce"]) {
      const body = JSON.stringify(STATUS);
      const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.from(body), { nonce: null });
      const r = await raw("/v1/ingest/status", { headers: { ...headers, "x-vvtv-nonce": encodeURI(nonce) }, body });
      assert.equal(r.status, 401, nonce);
      assert.match(r.json.error, /x-vvtv-nonce must be 8 to 128 characters/);
    }
  });

  test("an accepted signature is remembered in D1 until it leaves the window", async () => {
    const ts = now();
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: { ...STATUS, buffer_minutes: 17 }, ts });
    assert.equal(r.status, 200);
    const row = await edge.db
      .prepare("SELECT channel, expires_at FROM seen_signatures ORDER BY rowid DESC LIMIT 1")
      .first();
    assert.deepEqual(row, { channel: "main", expires_at: (ts + 300) * 1000 });
  });
});

describe("bodies", () => {
  test("malformed JSON is a 400, never a 500", async () => {
    for (const body of ["{", "{'state': 1}", "NaN", "[1,]", '{"a":1}x', "\u0000"]) {
      const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body });
      assert.equal(r.status, 400, body);
      assert.match(r.json.error, /^malformed JSON body/);
    }
  });

  test("an empty body where JSON is required is a 400", async () => {
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/daily", { body: "" });
    assert.deepEqual([r.status, r.json], [400, { error: "request body must be JSON" }]);
  });

  test("deeply nested JSON is refused as a client error, not a crash", async () => {
    const body = "[".repeat(100000) + "]".repeat(100000);
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/daily", { body });
    assert.deepEqual([r.status, r.json], [422, { error: "daily report must be a JSON object" }]);
  });

  test("invalid UTF-8 is a 400", async () => {
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: new Uint8Array([0x7b, 0xff, 0x7d]) });
    assert.deepEqual([r.status, r.json], [400, { error: "body is not valid UTF-8" }]);
  });

  test("a body over the route's limit is a 413, declared or not", async () => {
    const big = JSON.stringify({ ...STATUS, pad: "x".repeat(70 * 1024) });
    const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: big });
    assert.deepEqual([r.status, r.json], [413, { error: "body larger than 65536 bytes" }]);
    // Chunked, without Content-Length: counted while read, refused past the limit.
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new Uint8Array(1024).fill(0x20));
        controller.close();
      },
    });
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", Buffer.alloc(0));
    const streamed = await fetch(`${edge.url}/v1/ingest/status`, { method: "POST", headers, body: chunks, duplex: "half" });
    assert.equal(streamed.status, 413);
  });

  test("a well-formed body that is not a status is a 422 naming the field", async () => {
    for (const [body, error] of [
      [[1, 2], "status body must be a JSON object"],
      [{ buffer_minutes: 3 }, "state must be an upper-case word such as RUNNING or EMERGENCY"],
      [{ state: "RUNNING" }, "buffer_minutes must be a finite number >= 0"],
      [{ state: "RUNNING", buffer_minutes: -1 }, "buffer_minutes must be a finite number >= 0"],
      [{ state: "<b>", buffer_minutes: 1 }, "state must be an upper-case word such as RUNNING or EMERGENCY"],
    ]) {
      const r = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body });
      assert.deepEqual([r.status, r.json], [422, { error }], JSON.stringify(body));
    }
  });
});

describe("roles and channels", () => {
  test("one channel's credentials cannot write another channel", async () => {
    const r = await call(edge, main.ingest, "POST", "/c/news/v1/ingest/status", { body: STATUS });
    assert.deepEqual([r.status, r.json], [401, { error: "invalid token" }]);
    // With its own token but main's secret: still refused.
    const mixed = { token: channels.news.ingest.token, secret: main.ingest.secret };
    const m = await call(edge, mixed, "POST", "/c/news/v1/ingest/status", { body: STATUS });
    assert.deepEqual([m.status, m.json], [401, { error: "signature mismatch" }]);
    const status = await (await fetch(`${edge.url}/c/news/v1/status`)).json();
    assert.equal(status.state, "UNKNOWN");
  });

  test("the operator's credentials cannot ingest, the daemon's cannot send control calls", async () => {
    const a = await call(edge, main.control, "POST", "/v1/ingest/status", { body: STATUS });
    assert.deepEqual([a.status, a.json], [401, { error: "invalid token" }]);
    const b = await call(edge, main.ingest, "POST", "/v1/control/emergency-mode", { body: { enabled: true } });
    assert.deepEqual([b.status, b.json], [401, { error: "invalid token" }]);
    const c = await call(edge, main.ingest, "GET", "/v1/control/audit");
    assert.equal(c.status, 401);
    const d = await call(edge, main.control, "GET", "/v1/agent/commands", { query: "?wait=0" });
    assert.equal(d.status, 401);
  });

  test("the signed path is the path as requested, prefixes included", async () => {
    const body = { ...STATUS, buffer_minutes: 21 };
    const ok = await call(edge, channels.news.ingest, "POST", "/vvtv/c/news/v1/ingest/status", { body });
    assert.equal(ok.status, 200, ok.text);
    // Signed for the short path but sent to the prefixed one: refused.
    const bytes = Buffer.from(JSON.stringify(body));
    const headers = signedHeaders(main.ingest, "POST", "/v1/ingest/status", bytes);
    const r = await raw("/vvtv/v1/ingest/status", { headers, body: bytes });
    assert.deepEqual([r.status, r.json], [401, { error: "signature mismatch" }]);
  });
});

describe("credentials the edge refuses to use", () => {
  test("an unset or weak credential makes the route answer 503, naming it", async () => {
    const a = await call(edge, weak.same.ingest, "POST", "/c/same/v1/ingest/status", { body: STATUS });
    assert.equal(a.status, 503);
    assert.match(a.json.error, /ingest credentials of channel same are too weak/);
    const b = await call(edge, weak.short.ingest, "POST", "/c/short/v1/ingest/status", { body: STATUS });
    assert.equal(b.status, 503);
    const c = await call(edge, main.control, "POST", "/c/none/v1/control/nightly", { body: "" });
    assert.deepEqual([c.status, c.json], [503, { error: "control credentials of channel none are not configured" }]);
  });
});
