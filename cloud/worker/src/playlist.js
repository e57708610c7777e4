// The live playlist the channel uploads: parsed, checked and normalised.
//
// Only the tags of a plain live media playlist are accepted (no keys, maps, variants or
// parts: nothing that points at a resource the edge has not checked). Each segment URI is
// `seg/<asset_id>/<name>.ts` (relative, so it resolves under every prefix: /hls/,
// /c/<channel>/hls/, /vvtv/hls/) or the origin's own `/live/seg/<asset_id>/<name>.ts`,
// which is rewritten to the relative form. Media and discontinuity sequence numbers are
// kept exactly as uploaded.

import { HttpError } from "./http.js";

export const ASSET_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
export const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.ts$/;
const URI = /^(?:seg|\/live\/seg)\/([^/]+)\/([^/]+)$/;
const INTEGER = /^[0-9]{1,15}$/;
const DECIMAL = /^[0-9]{1,7}(?:\.[0-9]{1,9})?$/;

// Tag -> what its value must look like (null: no value).
const TAGS = {
  "#EXTM3U": null,
  "#EXT-X-VERSION": "integer",
  "#EXT-X-TARGETDURATION": "integer",
  "#EXT-X-MEDIA-SEQUENCE": "integer",
  "#EXT-X-DISCONTINUITY-SEQUENCE": "integer",
  "#EXT-X-INDEPENDENT-SEGMENTS": null,
  "#EXT-X-DISCONTINUITY": null,
  "#EXT-X-PROGRAM-DATE-TIME": "datetime",
  "#EXT-X-BITRATE": "integer",
  "#EXT-X-GAP": null,
  "#EXTINF": "extinf",
};
const ONCE = ["#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE"];

function bad(line, message) {
  return new HttpError(422, `playlist line ${line}: ${message}`);
}

/**
 * Parse `text` -> {text (normalised), mediaSequence, discontinuitySequence,
 * targetDuration, segments: ["<asset_id>/<name>", ...]}; 422 saying which line is wrong.
 */
export function parsePlaylist(text, maxSegments) {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const out = [];
  const seen = new Set();
  const segments = [];
  const values = {};
  let pendingInf = null;
  let first = true;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i].trim();
    if (line === "") continue;
    if (first) {
      if (line !== "#EXTM3U") throw bad(n, "a playlist starts with #EXTM3U");
      first = false;
      out.push(line);
      continue;
    }
    if (line.startsWith("#")) {
      if (!line.startsWith("#EXT")) continue; // a comment
      const colon = line.indexOf(":");
      const tag = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? null : line.slice(colon + 1);
      if (tag === "#EXT-X-ENDLIST") throw bad(n, "a live channel's playlist never ends (#EXT-X-ENDLIST)");
      if (!(tag in TAGS)) throw bad(n, `unsupported tag ${tag}`);
      if (tag === "#EXTM3U") throw bad(n, "#EXTM3U appears twice");
      const kind = TAGS[tag];
      if (kind === null && value !== null) throw bad(n, `${tag} takes no value`);
      if (kind === "integer" && !(value !== null && INTEGER.test(value))) {
        throw bad(n, `${tag} needs a non-negative integer`);
      }
      if (kind === "datetime" && !(value !== null && !Number.isNaN(Date.parse(value)))) {
        throw bad(n, `${tag} needs an ISO 8601 date-time`);
      }
      if (ONCE.includes(tag)) {
        if (tag in values) throw bad(n, `${tag} appears twice`);
        if (segments.length > 0 || pendingInf !== null) throw bad(n, `${tag} must come before the first segment`);
        values[tag] = Number(value);
      }
      if (kind === "extinf") {
        if (pendingInf !== null) throw bad(n, "two #EXTINF without a segment between them");
        const comma = value === null ? -1 : value.indexOf(",");
        const duration = comma < 0 ? value : value.slice(0, comma);
        if (duration === null || !DECIMAL.test(duration) || Number(duration) <= 0) {
          throw bad(n, "#EXTINF needs a positive duration, like #EXTINF:2.000,");
        }
        const target = values["#EXT-X-TARGETDURATION"];
        if (target === undefined) throw bad(n, "#EXT-X-TARGETDURATION must come before the first segment");
        if (Math.round(Number(duration)) > target) {
          throw bad(n, `segment lasts ${duration} s, more than the target duration of ${target} s`);
        }
        pendingInf = { line: n, duration: Number(duration) };
      }
      out.push(line);
      continue;
    }
    // A URI line.
    if (pendingInf === null) throw bad(n, "a segment URI must follow #EXTINF");
    const m = URI.exec(line);
    if (m === null || !ASSET_ID.test(m[1]) || !SEGMENT_NAME.test(m[2])) {
      throw bad(n, "segment URIs are seg/<asset_id>/<name>.ts (or the origin's /live/seg/...)");
    }
    const ref = `${m[1]}/${m[2]}`;
    if (seen.has(ref)) throw bad(n, `segment ${ref} is listed twice`);
    seen.add(ref);
    segments.push(ref);
    if (segments.length > maxSegments) throw bad(n, `more than ${maxSegments} segments`);
    pendingInf = null;
    out.push(`seg/${ref}`);
  }
  if (first) throw new HttpError(422, "playlist is empty");
  if (pendingInf !== null) throw bad(pendingInf.line, "#EXTINF without a segment URI");
  if (!("#EXT-X-TARGETDURATION" in values)) throw new HttpError(422, "playlist has no #EXT-X-TARGETDURATION");
  if (segments.length === 0) throw new HttpError(422, "playlist lists no segment");
  return {
    text: `${out.join("\n")}\n`,
    mediaSequence: values["#EXT-X-MEDIA-SEQUENCE"] ?? 0,
    discontinuitySequence: values["#EXT-X-DISCONTINUITY-SEQUENCE"] ?? 0,
    targetDuration: values["#EXT-X-TARGETDURATION"],
    segments,
  };
}

/** MPEG-TS: whole 188-byte packets, each starting with the sync byte 0x47. */
export function looksLikeTransportStream(bytes) {
  if (bytes.byteLength === 0 || bytes.byteLength % 188 !== 0) return false;
  for (let i = 0; i < bytes.byteLength; i += 188) if (bytes[i] !== 0x47) return false;
  return true;
}
