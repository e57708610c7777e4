// The public face: status, reports, the watch page and its assets, routing and channels.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WORKER_DIR, call, fakeSegment, newChannels, startEdge } from "./edge.mjs";

let edge;
let dir;
const channels = newChannels(["main", "news", "kids-2"]);
const main = channels.main;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vvtv-edge-public-"));
  edge = await startEdge({ persistDir: dir, channels });
});
after(async () => {
  await edge?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path, init) => {
  const r = await fetch(`${edge.url}${path}`, init);
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, headers: r.headers, text, json };
};

describe("/v1/status", () => {
  test("before any status arrived: state and buffer_minutes are still there", async () => {
    const r = await get("/c/kids-2/v1/status");
    assert.equal(r.status, 200);
    assert.equal(r.json.state, "UNKNOWN");
    assert.equal(r.json.buffer_minutes, 0);
    assert.equal(r.json.stale, true);
    assert.equal(r.json.on_air, false);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
  });

  test("CloudSync's snapshot is reduced to the public subset", async () => {
    const snapshot = {
      at: "2026-03-01T12:00:00+00:00",
      commit: { selected: 3, queued: 3, fell_back: 0, failed: 0 },
      metrics: { qa_pass_rate: 0.9 },
      status: {
        state: "EMERGENCY",
        buffer_minutes: 12.5,
        timestamp: "2026-03-01T12:00:00+00:00",
        emergency_override: true,
        last_segment_age_s: 1.2,
        now_playing: { title: "Night <b>owls</b>", asset_id: "a1", start_at: "2026-03-01T11:58:00+00:00", duration_sec: 300, source_url: "https://secret.example/x" },
        next: [{ title: "Dawn", asset_id: "a2", start_at: "2026-03-01T12:03:00+00:00", duration_sec: 200 }],
      },
      channel: { name: "Voulez-Vous TV" },
    };
    const put = await call(edge, main.ingest, "POST", "/v1/ingest/status", { body: snapshot });
    assert.equal(put.status, 200, put.text);
    const r = await get("/v1/status");
    assert.equal(r.status, 200);
    const { received_at, age_s, ...rest } = r.json;
    assert.ok(Date.parse(received_at) <= Date.now());
    assert.ok(age_s <= 1);
    assert.deepEqual(rest, {
      channel: "main",
      name: "Voulez-Vous TV",
      state: "EMERGENCY",
      buffer_minutes: 12.5,
      timestamp: "2026-03-01T12:00:00+00:00",
      now_playing: { title: "Night <b>owls</b>", start_at: "2026-03-01T11:58:00+00:00", duration_sec: 300 },
      next: { title: "Dawn", start_at: "2026-03-01T12:03:00+00:00", duration_sec: 200 },
      stale: false,
      live: null,
      on_air: false,
    });
    assert.ok(!r.text.includes("secret.example") && !r.text.includes("qa_pass_rate"));
  });

  test("each channel has its own status; /vvtv and /c/<default> mean the default", async () => {
    await call(edge, channels.news.ingest, "POST", "/c/news/v1/ingest/status", { body: { state: "RUNNING", buffer_minutes: 61 } });
    assert.equal((await get("/c/news/v1/status")).json.buffer_minutes, 61);
    assert.equal((await get("/vvtv/c/news/v1/status")).json.buffer_minutes, 61);
    assert.equal((await get("/v1/status")).json.buffer_minutes, 12.5);
    assert.equal((await get("/vvtv/v1/status")).json.buffer_minutes, 12.5);
    assert.equal((await get("/c/main/v1/status")).json.buffer_minutes, 12.5);
  });
});

describe("reports", () => {
  const daily = { date: "2026-03-01", summary: { aired: 42, availability_pct: 99.9 }, metrics: { qa_pass_rate: 0.95 } };
  const weekly = { week: "2026-W09", summary: { aired: 300 }, metrics: {} };

  test("a daily report ingested is readable, and snapshotted to R2", async () => {
    const put = await call(edge, main.ingest, "POST", "/v1/ingest/daily", { body: daily });
    assert.deepEqual([put.status, put.json.ok, put.json.date, put.json.replaced], [200, true, "2026-03-01", false]);
    const r = await get("/v1/reports/daily?date=2026-03-01");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, daily);
    const object = await edge.bucket.get("reports/main/daily/2026-03-01.json");
    assert.deepEqual(JSON.parse(await object.text()), daily);
    const again = await call(edge, main.ingest, "POST", "/v1/ingest/daily", { body: { ...daily, summary: { aired: 43 } } });
    assert.equal(again.json.replaced, true);
    assert.equal((await get("/v1/reports/daily?date=2026-03-01")).json.summary.aired, 43);
  });

  test("a weekly report ingested is readable", async () => {
    const put = await call(edge, main.ingest, "POST", "/v1/ingest/weekly", { body: weekly });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual((await get("/v1/reports/weekly?week=2026-W09")).json, weekly);
    assert.ok(await edge.bucket.head("reports/main/weekly/2026-W09.json"));
  });

  test("a missing or invalid key is a 400 with the original's message; an absent report a 404", async () => {
    for (const [path, error] of [
      ["/v1/reports/daily", "invalid date format, use YYYY-MM-DD"],
      ["/v1/reports/daily?date=", "invalid date format, use YYYY-MM-DD"],
      ["/v1/reports/daily?date=2026-02-30", "invalid date format, use YYYY-MM-DD"],
      ["/v1/reports/daily?date=2026-3-1", "invalid date format, use YYYY-MM-DD"],
      ["/v1/reports/daily?date=0000-01-01", "invalid date format, use YYYY-MM-DD"],
      ["/v1/reports/weekly", "invalid week format, use YYYY-Www"],
      ["/v1/reports/weekly?week=2026-9", "invalid week format, use YYYY-Www"],
      ["/v1/reports/weekly?week=2026-W00", "invalid iso week"],
      ["/v1/reports/weekly?week=2025-W53", "invalid iso week"],
      ["/v1/reports/weekly?week=0000-W01", "invalid iso week"],
    ]) {
      const r = await get(path);
      assert.deepEqual([r.status, r.json], [400, { error }], path);
    }
    assert.deepEqual(await get("/v1/reports/daily?date=2026-03-02").then((r) => [r.status, r.json]), [404, { error: "no daily report for 2026-03-02" }]);
    assert.equal((await get("/v1/reports/weekly?week=2026-W53".replace("2026", "2020"))).status, 404); // 2020 has a W53
    assert.equal((await get("/c/news/v1/reports/daily?date=2026-03-01")).status, 404); // another channel's
  });

  test("an ingested report is checked: key, summary and metrics", async () => {
    for (const [path, body, error] of [
      ["/v1/ingest/daily", { ...daily, date: "2026-13-01" }, "date: invalid date format, use YYYY-MM-DD"],
      ["/v1/ingest/daily", { summary: {}, metrics: {} }, "date: invalid date format, use YYYY-MM-DD"],
      ["/v1/ingest/daily", { ...daily, summary: [] }, "summary must be a JSON object"],
      ["/v1/ingest/weekly", { ...weekly, week: "2026-W60" }, "week: invalid iso week"],
      ["/v1/ingest/weekly", { ...weekly, metrics: null }, "metrics must be a JSON object"],
    ]) {
      const r = await call(edge, main.ingest, "POST", path, { body });
      assert.deepEqual([r.status, r.json], [422, { error }], JSON.stringify(body));
    }
  });
});

describe("the watch page", () => {
  test("plays the default channel with hls.js from the Worker, under a strict CSP", async () => {
    const r = await get("/");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = r.headers.get("content-security-policy");
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval") && !csp.includes("http"));
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.equal(r.headers.get("referrer-policy"), "no-referrer");
    assert.match(r.text, /<script src="\/assets\/hls-1\.7\.4\.min\.js" defer><\/script>/);
    assert.match(r.text, /<script src="\/assets\/watch\.js" defer><\/script>/);
    assert.match(r.text, /data-base=""/);
    assert.match(r.text, /data-playlist="index\.m3u8"/); // no master published: the main one
    assert.ok(!/<script>/.test(r.text) && !/ on[a-z]+=/.test(r.text), "no inline script or handler");
    for (const id of ["play", "fullscreen", "poster", "notice", "now", "next", "video"]) {
      assert.match(r.text, new RegExp(`id="${id}"`), id);
    }
  });

  test("lists every channel, links each, and escapes what the channel sent", async () => {
    await call(edge, channels.news.ingest, "POST", "/c/news/v1/ingest/status", {
      body: { state: "RUNNING", buffer_minutes: 5, channel: { name: 'News "<script>"' } },
    });
    const r = await get("/c/news/");
    assert.equal(r.status, 200);
    assert.match(r.text, /data-base="\/c\/news"/);
    assert.match(r.text, /<a href="\/">Voulez-Vous TV<\/a>/);
    assert.match(r.text, /<a href="\/c\/news\/" aria-current="page">News &quot;&lt;script&gt;&quot;<\/a>/);
    assert.match(r.text, /<a href="\/c\/kids-2\/">kids-2<\/a>/);
    assert.ok(!r.text.includes('<script>"'));
    // Through the original's prefix, every link and asset keeps it.
    const v = await get("/vvtv/c/news");
    assert.match(v.text, /src="\/vvtv\/assets\/watch\.js"/);
    assert.match(v.text, /data-base="\/vvtv\/c\/news"/);
    assert.match(v.text, /<a href="\/vvtv\/c\/kids-2\/">/);
  });

  test("serves hls.js byte for byte from the pinned npm package, immutable", async () => {
    const pkg = JSON.parse(readFileSync(join(WORKER_DIR, "node_modules/hls.js/package.json"), "utf8"));
    const lock = JSON.parse(readFileSync(join(WORKER_DIR, "package-lock.json"), "utf8"));
    assert.equal(pkg.version, "1.7.4");
    assert.equal(lock.packages["node_modules/hls.js"].version, pkg.version);
    const r = await fetch(`${edge.url}/assets/hls-${pkg.version}.min.js`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(r.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(await r.text(), readFileSync(join(WORKER_DIR, "node_modules/hls.js/dist/hls.min.js"), "utf8"));
    const css = await fetch(`${edge.url}/assets/watch.css`);
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal((await get("/assets/nope.js")).status, 404);
  });

  test("the logo: the channel's upload, else a drawn fallback; only real images are accepted", async () => {
    const fallback = await get("/c/kids-2/logo");
    assert.equal(fallback.headers.get("content-type"), "image/svg+xml; charset=utf-8");
    assert.equal(fallback.headers.get("x-vvtv-logo"), "fallback");
    assert.match(fallback.text, />KI<\/text>/);
    const svg = await call(edge, main.ingest, "PUT", "/v1/ingest/logo", { body: '<svg onload="alert(1)"/>' });
    assert.deepEqual([svg.status, svg.json], [422, { error: "logo must be a PNG, JPEG or WebP image" }]);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32, 1)]);
    const put = await call(edge, main.ingest, "PUT", "/v1/ingest/logo", { body: png });
    assert.equal(put.status, 200, put.text);
    const r = await fetch(`${edge.url}/logo`);
    assert.equal(r.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), png);
    const big = await call(edge, main.ingest, "PUT", "/v1/ingest/logo", { body: Buffer.alloc(600 * 1024) });
    assert.equal(big.status, 413);
  });
});

describe("routing", () => {
  test("unknown paths and channels are JSON 404s", async () => {
    for (const path of ["/nope", "/v1", "/v1/status/", "/c/ghost/v1/status", "/c/MAIN/v1/status", "/c//v1/status", "/vvtvx/v1/status", "/hls/seg/a/../b.ts"]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(typeof r.json.error, "string", path);
    }
  });

  test("a wrong method is a 405 with the Allow header", async () => {
    const r = await get("/v1/status", { method: "POST" });
    assert.deepEqual([r.status, r.headers.get("allow")], [405, "GET, HEAD"]);
    const p = await get("/v1/ingest/hls/index.m3u8", { method: "POST" });
    assert.deepEqual([p.status, p.headers.get("allow")], [405, "PUT, DELETE"]);
    const s = await get("/v1/ingest/status", { method: "GET" });
    assert.deepEqual([s.status, s.headers.get("allow"), s.json.error], [405, "POST", "method GET not allowed"]);
  });

  test("HEAD answers like GET without a body", async () => {
    const r = await fetch(`${edge.url}/v1/status`, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal((await r.arrayBuffer()).byteLength, 0);
  });

  test("/v1/channels lists the channels with their URLs", async () => {
    const r = await get("/v1/channels");
    assert.equal(r.status, 200);
    assert.equal(r.json.default, "main");
    assert.deepEqual(
      r.json.channels.map((c) => [c.id, c.watch_url, c.status_url, c.playlist_url, c.on_air]),
      [
        ["main", "/", "/v1/status", "/hls/index.m3u8", false],
        ["news", "/c/news/", "/c/news/v1/status", "/c/news/hls/index.m3u8", false],
        ["kids-2", "/c/kids-2/", "/c/kids-2/v1/status", "/c/kids-2/hls/index.m3u8", false],
      ],
    );
    assert.equal(r.json.channels[0].state, "OFF AIR");
  });

  test("the channels list says ON AIR once a playlist arrives", async () => {
    const seg = await call(edge, channels.news.ingest, "PUT", "/c/news/v1/ingest/hls/seg/n1/s0.ts", { body: fakeSegment("n") });
    assert.equal(seg.status, 201);
    const pl = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg/n1/s0.ts\n";
    assert.equal((await call(edge, channels.news.ingest, "PUT", "/c/news/v1/ingest/hls/index.m3u8", { body: pl })).status, 200);
    const r = await get("/v1/channels");
    const news = r.json.channels.find((c) => c.id === "news");
    assert.deepEqual([news.on_air, news.state], [true, "RUNNING"]);
    const status = await get("/c/news/v1/status");
    assert.equal(status.json.on_air, true);
    assert.equal(status.json.live.media_sequence, 0);
  });
});
