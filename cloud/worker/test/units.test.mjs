// Pure parts, checked exhaustively in Node: ISO weeks and the canonical string.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isoWeeksIn, parseDay, parseWeek } from "../src/reports.js";
import { canonical } from "../src/signing.js";
import { parsePlaylist } from "../src/playlist.js";

function isoWeekOf(date) {
  // The ISO week of a UTC date: the week of its Thursday, counted from the week of 4 January.
  const thursday = new Date(date);
  thursday.setUTCDate(thursday.getUTCDate() - ((thursday.getUTCDay() + 6) % 7) + 3);
  const jan4 = new Date(thursday);
  jan4.setUTCMonth(0, 4);
  const days = (thursday - jan4) / 86400000;
  return 1 + Math.round((days - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
}

test("isoWeeksIn agrees with the calendar for years 1600-2600", () => {
  for (let year = 1600; year <= 2600; year++) {
    const dec28 = new Date(Date.UTC(2000, 11, 28));
    dec28.setUTCFullYear(year);
    assert.equal(isoWeeksIn(year), isoWeekOf(dec28), String(year));
  }
});

test("parseWeek and parseDay accept exactly the real ones", () => {
  assert.equal(parseWeek("2026-W53"), "2026-W53");
  assert.throws(() => parseWeek("2025-W53"), /invalid iso week/);
  assert.equal(parseDay("2024-02-29"), "2024-02-29");
  assert.throws(() => parseDay("2023-02-29"), /invalid date format/);
  assert.throws(() => parseDay(null), /invalid date format/);
});

test("the canonical string: the original's without a nonce, TS:NONCE with one", () => {
  const body = new TextEncoder().encode('{"a":1}');
  assert.equal(new TextDecoder().decode(canonical("post", "/v1/x", "1700000000", body)), 'POST\n/v1/x\n1700000000\n{"a":1}');
  assert.equal(
    new TextDecoder().decode(canonical("POST", "/v1/x", "1700000000:abcdefgh", body)),
    'POST\n/v1/x\n1700000000:abcdefgh\n{"a":1}',
  );
});

test("parsePlaylist normalises the origin's URIs and keeps its numbering", () => {
  const text =
    "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-MEDIA-SEQUENCE:1234\r\n" +
    "#EXT-X-DISCONTINUITY-SEQUENCE:56\r\n# a comment\r\n#EXTINF:5.005,title\r\n/live/seg/asset-1/seg_00001.ts\r\n" +
    "#EXT-X-DISCONTINUITY\r\n#EXTINF:6.000,\r\nseg/asset_2/seg_00000.ts\r\n";
  const p = parsePlaylist(text, 100);
  assert.deepEqual(
    { ...p, text: undefined },
    { text: undefined, mediaSequence: 1234, discontinuitySequence: 56, targetDuration: 6, segments: ["asset-1/seg_00001.ts", "asset_2/seg_00000.ts"] },
  );
  assert.equal(
    p.text,
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:1234\n#EXT-X-DISCONTINUITY-SEQUENCE:56\n" +
      "#EXTINF:5.005,title\nseg/asset-1/seg_00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:6.000,\nseg/asset_2/seg_00000.ts\n",
  );
});
