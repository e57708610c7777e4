// HLS at the edge: upload order, the playlist's checks, viewer caching, clean-up.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { call, eventually, fakeSegment, newChannels, startEdge } from "./edge.mjs";

let edge;
let dir;
const channels = newChannels(["main", "other"]);
const ingest = channels.main.ingest;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vvtv-edge-hls-"));
  // A small segment limit, to test it: the segments here are a few packets each.
  edge = await startEdge({ persistDir: dir, channels, vars: { HLS_MAX_SEGMENT_BYTES: "65536" } });
});
after(async () => {
  await edge?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The origin's playlist for `refs` (["asset/name.ts", ...]) starting at `seq`. */
function playlist(refs, { seq = 0, disc = 0, uri = (r) => `/live/seg/${r}`, breaks = [] } = {}) {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", `#EXT-X-MEDIA-SEQUENCE:${seq}`, `#EXT-X-DISCONTINUITY-SEQUENCE:${disc}`];
  refs.forEach((r, i) => {
    if (breaks.includes(i)) lines.push("#EXT-X-DISCONTINUITY");
    if (i === 0 || breaks.includes(i)) lines.push("#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.000Z");
    lines.push("#EXTINF:2.000,", uri(r));
  });
  return `${lines.join("\n")}\n`;
}

const putSeg = (ref, body = fakeSegment(ref), channel = "") =>
  call(edge, channel ? channels[channel].ingest : ingest, "PUT", `${channel ? `/c/${channel}` : ""}/v1/ingest/hls/seg/${ref}`, { body });
const putList = (text, cred = ingest, prefix = "") => call(edge, cred, "PUT", `${prefix}/v1/ingest/hls/index.m3u8`, { body: text });
const view = (path) => fetch(`${edge.url}${path}`);

describe("upload order", () => {
  test("a playlist referencing a segment not uploaded is refused, naming it", async () => {
    assert.equal((await putSeg("a1/s0.ts")).status, 201);
    const r = await putList(playlist(["a1/s0.ts", "a1/s1.ts"]));
    assert.equal(r.status, 409);
    assert.deepEqual(r.json, { error: "playlist references segments that are not uploaded", missing: ["a1/s1.ts"] });
    assert.equal((await view("/hls/index.m3u8")).status, 404);
  });

  test("segments first, then the playlist: served as uploaded, URIs relative", async () => {
    assert.equal((await putSeg("a1/s1.ts")).status, 201);
    const r = await putList(playlist(["a1/s0.ts", "a1/s1.ts"], { seq: 7, disc: 2 }));
    assert.deepEqual(r.json, { ok: true, media_sequence: 7, discontinuity_sequence: 2, end_sequence: 9, segments: 2 });
    const v = await view("/hls/index.m3u8");
    assert.equal(v.status, 200);
    assert.equal(v.headers.get("content-type"), "application/vnd.apple.mpegurl");
    assert.equal(v.headers.get("cache-control"), "public, max-age=1");
    assert.equal(
      await v.text(),
      "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n" +
        "#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.000Z\n" +
        "#EXTINF:2.000,\nseg/a1/s0.ts\n#EXTINF:2.000,\nseg/a1/s1.ts\n",
    );
  });

  test("a segment is served immutable with its bytes, under every prefix", async () => {
    for (const path of ["/hls/seg/a1/s0.ts", "/c/main/hls/seg/a1/s0.ts", "/vvtv/hls/seg/a1/s0.ts"]) {
      const v = await view(path);
      assert.equal(v.status, 200, path);
      assert.equal(v.headers.get("content-type"), "video/mp2t");
      assert.equal(v.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.deepEqual(Buffer.from(await v.arrayBuffer()), fakeSegment("a1/s0.ts"));
    }
    assert.equal((await view("/hls/seg/a1/nope.ts")).status, 404);
    assert.equal((await view("/hls/seg/a1/s0.m3u8")).status, 404);
    assert.equal((await view("/c/other/hls/seg/a1/s0.ts")).status, 404); // another channel's
  });

  test("the window slides; the sequences are the origin's, discontinuities kept", async () => {
    await putSeg("a2/s0.ts");
    const r = await putList(playlist(["a1/s1.ts", "a2/s0.ts"], { seq: 8, disc: 2, breaks: [1] }));
    assert.equal(r.status, 200, r.text);
    const text = await (await view("/hls/index.m3u8")).text();
    assert.match(text, /#EXT-X-MEDIA-SEQUENCE:8\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n/);
    assert.match(text, /seg\/a1\/s1\.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:2\.000,\nseg\/a2\/s0\.ts\n$/);
    const listed = await edge.db.prepare("SELECT ref, listed, unlisted_at IS NOT NULL AS out FROM hls_segments WHERE channel = 'main' ORDER BY ref").all();
    assert.deepEqual(listed.results, [
      { ref: "a1/s0.ts", listed: 0, out: 1 },
      { ref: "a1/s1.ts", listed: 1, out: 0 },
      { ref: "a2/s0.ts", listed: 1, out: 0 },
    ]);
  });

  test("an older window (a retried upload arriving late) is refused; the same window is fine", async () => {
    const stale = await putList(playlist(["a1/s0.ts", "a1/s1.ts"], { seq: 7, disc: 2 }));
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.json, { error: "stale playlist: the edge already has a later window", media_sequence: 8, end_sequence: 10 });
    // Same first segment but one fewer at the end: also a step back.
    const shorter = await putList(playlist(["a1/s1.ts"], { seq: 8, disc: 2 }));
    assert.equal(shorter.status, 409);
    const same = await putList(playlist(["a1/s1.ts", "a2/s0.ts"], { seq: 8, disc: 2, breaks: [1] }));
    assert.equal(same.status, 200);
  });

  test("re-uploading a segment with the same bytes is a no-op; other bytes are refused", async () => {
    const again = await putSeg("a2/s0.ts");
    assert.deepEqual([again.status, again.json.stored], [200, false]);
    const other = await putSeg("a2/s0.ts", fakeSegment("different"));
    assert.equal(other.status, 409);
    assert.match(other.json.error, /names are immutable/);
  });

  test("the edge's state tells a restarted publisher what it holds", async () => {
    const r = await call(edge, ingest, "GET", "/v1/ingest/hls");
    assert.equal(r.status, 200);
    assert.deepEqual(
      { ...r.json.playlist, updated_at: typeof r.json.playlist.updated_at },
      { media_sequence: 8, discontinuity_sequence: 2, end_sequence: 10, segments: 2, updated_at: "string" },
    );
    assert.deepEqual(new Set(r.json.stored), new Set(["a1/s0.ts", "a1/s1.ts", "a2/s0.ts"]));
    assert.equal(r.json.stored_count, 3);
  });
});

describe("what is refused", () => {
  test("a segment that is not MPEG-TS, or has a name vvtv never makes", async () => {
    const notTs = await putSeg("a3/s0.ts", Buffer.from("#EXTM3U\n"));
    assert.deepEqual([notTs.status, notTs.json.error], [422, "segment is not MPEG-TS (whole 188-byte packets starting with 0x47)"]);
    const ragged = await putSeg("a3/s0.ts", Buffer.concat([fakeSegment("x"), Buffer.from([0x47])]));
    assert.equal(ragged.status, 422);
    for (const ref of ["a3/s0.m4s", ".a/s0.ts", "a3/-", "a%2Fb/s0.ts", "a3/s0.ts.ts.x"]) {
      const r = await call(edge, ingest, "PUT", `/v1/ingest/hls/seg/${ref}`, { body: fakeSegment(ref) });
      assert.ok([404, 422].includes(r.status), `${ref}: ${r.status}`);
    }
  });

  test("a segment over HLS_MAX_SEGMENT_BYTES is a 413", async () => {
    const big = await putSeg("big/s0.ts", fakeSegment("x", 349)); // 65 612 bytes
    assert.deepEqual([big.status, big.json], [413, { error: "body larger than 65536 bytes" }]);
    const fits = await putSeg("big/s0.ts", fakeSegment("x", 348)); // 65 424 bytes
    assert.equal(fits.status, 201);
  });

  test("playlists with tags that point elsewhere, or that are not live playlists", async () => {
    const base = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";
    for (const [text, error] of [
      ["", "playlist is empty"],
      ["#EXTINF:2,\nseg/a1/s0.ts\n", "playlist line 1: a playlist starts with #EXTM3U"],
      [`${base}#EXT-X-KEY:METHOD=AES-128,URI="https://evil/key"\n#EXTINF:2,\nseg/a1/s0.ts\n`, "playlist line 3: unsupported tag #EXT-X-KEY"],
      [`${base}#EXT-X-MAP:URI="init.mp4"\n`, "playlist line 3: unsupported tag #EXT-X-MAP"],
      [`${base}#EXT-X-STREAM-INF:BANDWIDTH=1\nseg/a1/s0.ts\n`, "playlist line 3: unsupported tag #EXT-X-STREAM-INF"],
      [`${base}#EXTINF:2,\nhttps://evil.example/x.ts\n`, "playlist line 4: segment URIs are seg/<asset_id>/<name>.ts (or the origin's /live/seg/...)"],
      [`${base}#EXTINF:2,\nseg/../s0.ts\n`, "playlist line 4: segment URIs are seg/<asset_id>/<name>.ts (or the origin's /live/seg/...)"],
      [`${base}seg/a1/s0.ts\n`, "playlist line 3: a segment URI must follow #EXTINF"],
      [`${base}#EXTINF:2,\nseg/a1/s0.ts\n#EXT-X-ENDLIST\n`, "playlist line 5: a live channel's playlist never ends (#EXT-X-ENDLIST)"],
      [`${base}#EXTINF:9,\nseg/a1/s0.ts\n`, "playlist line 3: segment lasts 9 s, more than the target duration of 2 s"],
      [`${base}#EXTINF:-1,\nseg/a1/s0.ts\n`, "playlist line 3: #EXTINF needs a positive duration, like #EXTINF:2.000,"],
      [`${base}#EXTINF:2,\nseg/a1/s0.ts\n#EXTINF:2,\nseg/a1/s0.ts\n`, "playlist line 6: segment a1/s0.ts is listed twice"],
      [`${base}#EXT-X-MEDIA-SEQUENCE:x\n`, "playlist line 3: #EXT-X-MEDIA-SEQUENCE needs a non-negative integer"],
      [`${base}#EXTINF:2,\nseg/a1/s0.ts\n#EXT-X-MEDIA-SEQUENCE:3\n`, "playlist line 5: #EXT-X-MEDIA-SEQUENCE must come before the first segment"],
      ["#EXTM3U\n#EXTINF:2,\nseg/a1/s0.ts\n", "playlist line 2: #EXT-X-TARGETDURATION must come before the first segment"],
      [base, "playlist lists no segment"],
      [`${base}#EXTINF:2,\n`, "playlist line 3: #EXTINF without a segment URI"],
    ]) {
      const r = await putList(text);
      assert.deepEqual([r.status, r.json], [422, { error }], JSON.stringify(text));
    }
    const tooMany = Array.from({ length: 101 }, (_, i) => `a9/s${i}.ts`);
    const r = await putList(playlist(tooMany));
    assert.deepEqual([r.status, r.json.error], [422, "playlist line 208: more than 100 segments"]);
  });

  test("channel A's credentials cannot upload to channel B", async () => {
    const seg = await call(edge, ingest, "PUT", "/c/other/v1/ingest/hls/seg/x/s0.ts", { body: fakeSegment("x") });
    assert.equal(seg.status, 401);
    const pl = await putList(playlist(["a1/s1.ts"]), ingest, "/c/other");
    assert.equal(pl.status, 401);
    // And B cannot list A's segments: it has none of its own.
    const b = await putList(playlist(["a1/s1.ts"]), channels.other.ingest, "/c/other");
    assert.deepEqual([b.status, b.json.missing], [409, ["a1/s1.ts"]]);
  });
});

describe("viewers", () => {
  test("repeated viewers are served from the cache, not R2", async () => {
    await putSeg("c1/s0.ts", fakeSegment("cached"));
    const first = await view("/hls/seg/c1/s0.ts");
    assert.equal(first.headers.get("x-vvtv-edge-cache"), "MISS");
    await first.arrayBuffer();
    // The cache is filled after the reply (ctx.waitUntil): wait until it is.
    const hit = await eventually(async () => {
      const r = await view("/hls/seg/c1/s0.ts");
      await r.arrayBuffer();
      return r.headers.get("x-vvtv-edge-cache") === "HIT";
    });
    assert.ok(hit, "the segment never reached the cache");
    // Take the bytes out of R2: a cache hit still serves them.
    await edge.bucket.delete("hls/main/c1/s0.ts");
    for (const path of ["/hls/seg/c1/s0.ts", "/c/main/hls/seg/c1/s0.ts", "/vvtv/hls/seg/c1/s0.ts"]) {
      const again = await view(path);
      assert.equal(again.status, 200, path);
      assert.equal(again.headers.get("x-vvtv-edge-cache"), "HIT", path);
      assert.equal(again.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.deepEqual(Buffer.from(await again.arrayBuffer()), fakeSegment("cached"));
    }
  });

  test("the playlist is cached for about a second, and an upload replaces it at once", async () => {
    // Within the playlist's second of cache, a second viewer gets the cached copy.
    const hit = await eventually(async () => {
      const r = await view("/hls/index.m3u8");
      const text = await r.text();
      return r.headers.get("x-vvtv-edge-cache") === "HIT" && text;
    });
    assert.match(hit, /MEDIA-SEQUENCE:8\n/);
    await putSeg("a2/s1.ts");
    assert.equal((await putList(playlist(["a2/s0.ts", "a2/s1.ts"], { seq: 9, disc: 3 }))).status, 200);
    const c = await view("/hls/index.m3u8");
    assert.equal(c.headers.get("x-vvtv-edge-cache"), "MISS");
    assert.match(await c.text(), /MEDIA-SEQUENCE:9\n/);
  });

  test("HEAD on a segment: headers, no body", async () => {
    const r = await fetch(`${edge.url}/hls/seg/a2/s1.ts`, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "video/mp2t");
    assert.equal((await r.arrayBuffer()).byteLength, 0);
  });
});

describe("clean-up (the cron trigger)", () => {
  test("segments out of the window past the grace are deleted from R2 and D1; listed ones stay", async () => {
    const before = (await edge.db.prepare("SELECT ref, listed FROM hls_segments WHERE channel = 'main' ORDER BY ref").all()).results;
    assert.ok(before.some((r) => r.listed === 0));
    // Inside the grace: nothing goes.
    await edge.scheduled();
    assert.equal((await edge.db.prepare("SELECT count(*) AS n FROM hls_segments WHERE channel = 'main'").first()).n, before.length);
    // Age the unlisted ones past the grace (300 s), as the clock would.
    await edge.db.prepare("UPDATE hls_segments SET unlisted_at = unlisted_at - 301000, uploaded_at = uploaded_at - 301000 WHERE listed = 0").run();
    await edge.scheduled();
    const left = (await edge.db.prepare("SELECT ref FROM hls_segments WHERE channel = 'main' ORDER BY ref").all()).results.map((r) => r.ref);
    assert.deepEqual(left, ["a2/s0.ts", "a2/s1.ts"]);
    for (const gone of before.filter((r) => r.listed === 0)) {
      assert.equal(await edge.bucket.head(`hls/main/${gone.ref}`), null, gone.ref);
    }
    assert.ok(await edge.bucket.head("hls/main/a2/s0.ts"));
    assert.equal((await view("/hls/index.m3u8")).status, 200);
  });

  test("the current playlist's segments are never deleted, however old", async () => {
    await edge.db.prepare("UPDATE hls_segments SET uploaded_at = 0 WHERE listed = 1").run();
    await edge.scheduled();
    assert.equal((await edge.db.prepare("SELECT count(*) AS n FROM hls_segments WHERE channel = 'main' AND listed = 1").first()).n, 2);
  });

  test("resetting the playlist (origin lost its numbering) lets the old segments age out", async () => {
    const r = await call(edge, ingest, "DELETE", "/v1/ingest/hls/index.m3u8");
    assert.deepEqual(r.json, { ok: true, deleted: true });
    assert.equal((await view("/hls/index.m3u8")).status, 404);
    // A lower media sequence is accepted after the reset.
    await putSeg("r1/s0.ts");
    assert.equal((await putList(playlist(["r1/s0.ts"], { seq: 0 }))).status, 200);
    await edge.db.prepare("UPDATE hls_segments SET unlisted_at = unlisted_at - 301000 WHERE listed = 0").run();
    await edge.scheduled();
    const left = (await edge.db.prepare("SELECT ref FROM hls_segments WHERE channel = 'main'").all()).results.map((x) => x.ref);
    assert.deepEqual(left, ["r1/s0.ts"]);
    const audit = await edge.db.prepare("SELECT action FROM audit WHERE channel = 'main' AND action = 'hls_reset'").all();
    assert.equal(audit.results.length, 1);
  });
});
