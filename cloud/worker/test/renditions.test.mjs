// Lower rungs at the edge: a rung's playlist keeps the main one's rules (every segment
// stored first, never back), the master lists only the channel's own playlists, and a
// segment a rung still lists is never collected because the main window moved on.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { call, fakeSegment, newChannels, startEdge } from "./edge.mjs";

let edge;
let dir;
const channels = newChannels(["main", "other"]);
const ingest = channels.main.ingest;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vvtv-edge-rungs-"));
  edge = await startEdge({ persistDir: dir, channels });
});
after(async () => {
  await edge?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function playlist(refs, { seq = 0 } = {}) {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", `#EXT-X-MEDIA-SEQUENCE:${seq}`, "#EXT-X-DISCONTINUITY-SEQUENCE:0"];
  for (const r of refs) lines.push("#EXTINF:2.000,", `/live/seg/${r}`);
  return `${lines.join("\n")}\n`;
}

const MASTER =
  "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
  '#EXT-X-STREAM-INF:BANDWIDTH=4188240,AVERAGE-BANDWIDTH=2838240,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=25.000\n' +
  "index.m3u8\n" +
  '#EXT-X-STREAM-INF:BANDWIDTH=1596240,AVERAGE-BANDWIDTH=1110240,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=854x480,FRAME-RATE=25.000\n' +
  "480p.m3u8\n";

const putSeg = (ref) => call(edge, ingest, "PUT", `/v1/ingest/hls/seg/${ref}`, { body: fakeSegment(ref) });
const put = (name, text, cred = ingest) => call(edge, cred, "PUT", `/v1/ingest/hls/${name}.m3u8`, { body: text });
const view = (path) => fetch(`${edge.url}${path}`);

describe("the master playlist", () => {
  test("is stored and served as uploaded, under every prefix", async () => {
    const r = await put("master", MASTER);
    assert.deepEqual(r.json, { ok: true, variants: ["index.m3u8", "480p.m3u8"] });
    for (const path of ["/hls/master.m3u8", "/c/main/hls/master.m3u8"]) {
      const v = await view(path);
      assert.equal(v.status, 200, path);
      assert.equal(v.headers.get("content-type"), "application/vnd.apple.mpegurl");
      assert.equal(await v.text(), MASTER);
    }
    assert.equal((await view("/c/other/hls/master.m3u8")).status, 404);
  });

  test("is what the watch page plays, for the channel that publishes one", async () => {
    await put("master", MASTER);
    const main = await (await view("/")).text();
    assert.match(main, /data-playlist="master\.m3u8"/);
    const other = await (await view("/c/other/")).text();
    assert.match(other, /data-playlist="index\.m3u8"/); // no master: its main playlist
  });

  for (const [why, text, error] of [
    ["a URI elsewhere", MASTER.replace("480p.m3u8", "https://evil.example/x.m3u8"), "variant URIs are"],
    ["a path up", MASTER.replace("480p.m3u8", "../480p.m3u8"), "variant URIs are"],
    ["a media tag", `${MASTER}#EXT-X-MEDIA:TYPE=AUDIO,URI="a.m3u8"\n`, "unsupported tag #EXT-X-MEDIA"],
    ["no BANDWIDTH", MASTER.replace("BANDWIDTH=4188240,AVERAGE-BANDWIDTH=2838240,", ""), "needs attributes with a BANDWIDTH"],
    ["no main rendition", MASTER.replace("index.m3u8", "360p.m3u8"), "lists the main rendition"],
    ["a URI without STREAM-INF", `${MASTER}480p.m3u8\n`, "must follow #EXT-X-STREAM-INF"],
  ]) {
    test(`with ${why} is refused, naming the problem`, async () => {
      const r = await put("master", text);
      assert.equal(r.status, 422, why);
      assert.ok(r.json.error.includes(error), r.json.error);
    });
  }

  test("needs the channel's ingest credentials", async () => {
    const r = await put("master", MASTER, channels.other.ingest);
    assert.equal(r.status, 401);
  });
});

describe("a rung's playlist", () => {
  test("references only stored segments, and is served", async () => {
    await putSeg("a1/seg_00000.ts");
    assert.equal((await put("index", playlist(["a1/seg_00000.ts"], { seq: 4 }))).status, 200);
    const r = await put("480p", playlist(["a1/480p_00000.ts"], { seq: 4 }));
    assert.equal(r.status, 409);
    assert.deepEqual(r.json.missing, ["a1/480p_00000.ts"]);
    assert.equal((await view("/hls/480p.m3u8")).status, 404);
    await putSeg("a1/480p_00000.ts");
    const ok = await put("480p", playlist(["a1/480p_00000.ts"], { seq: 4 }));
    assert.deepEqual(ok.json, { ok: true, rendition: "480p", media_sequence: 4, end_sequence: 5, segments: 1 });
    const v = await view("/hls/480p.m3u8");
    assert.equal(v.status, 200);
    assert.ok((await v.text()).includes("seg/a1/480p_00000.ts"));
  });

  test("never goes back", async () => {
    const r = await put("480p", playlist(["a1/480p_00000.ts"], { seq: 3 }));
    assert.equal(r.status, 409);
    assert.ok(r.json.error.includes("later 480p window"), r.json.error);
  });

  test("keeps its segments when the main window moves on without them", async () => {
    await putSeg("a2/seg_00000.ts");
    assert.equal((await put("index", playlist(["a2/seg_00000.ts"], { seq: 5 }))).status, 200);
    const rows = (await edge.db.prepare("SELECT ref, listed FROM hls_segments WHERE channel = 'main' ORDER BY ref").all()).results;
    const listed = Object.fromEntries(rows.map((r) => [r.ref, r.listed]));
    assert.equal(listed["a1/480p_00000.ts"], 1, "still in the rung's window");
    assert.equal(listed["a1/seg_00000.ts"], 0, "out of every window");
    await edge.db.prepare("UPDATE hls_segments SET unlisted_at = unlisted_at - 301000, uploaded_at = uploaded_at - 301000").run();
    await edge.scheduled();
    assert.equal((await view("/hls/seg/a1/480p_00000.ts")).status, 200);
    // The rung moves on too (its new window names a main segment: an asset without the
    // rung); the next main swap lets the old rung segment go.
    assert.equal((await put("480p", playlist(["a2/seg_00000.ts"], { seq: 5 }))).status, 200);
    assert.equal((await put("index", playlist(["a2/seg_00000.ts"], { seq: 5 }))).status, 200);
    const gone = await edge.db.prepare("SELECT listed FROM hls_segments WHERE channel = 'main' AND ref = 'a1/480p_00000.ts'").first();
    assert.equal(gone.listed, 0);
  });

  test("goes with the main one when the origin resets its numbering", async () => {
    assert.equal((await call(edge, ingest, "DELETE", "/v1/ingest/hls/index.m3u8")).status, 200);
    assert.equal((await view("/hls/480p.m3u8")).status, 404);
    assert.equal((await view("/hls/master.m3u8")).status, 200);
    assert.equal((await put("480p", playlist(["a2/seg_00000.ts"], { seq: 0 }))).status, 200);
  });

  test("is refused for a name that is not a rung", async () => {
    for (const name of ["480", "abc", "480p.m3u8x"]) {
      const r = await call(edge, ingest, "PUT", `/v1/ingest/hls/${name}.m3u8`, { body: "#EXTM3U\n" });
      assert.equal(r.status, 404, name);
    }
  });
});
