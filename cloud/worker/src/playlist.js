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

// The master playlist: #EXT-X-STREAM-INF entries naming the main playlist (index.m3u8) or a
// rung's (480p.m3u8), relative, so nothing points outside the channel's own playlists.
export const RENDITION = /^[0-9]{3,4}p$/;
const VARIANT_URI = /^(?:index|[0-9]{3,4}p)\.m3u8$/;
const STREAM_INF_ATTRS = /^[A-Z0-9-]+=(?:"[^"\r\n]*"|[^",\s]+)(?:,[A-Z0-9-]+=(?:"[^"\r\n]*"|[^",\s]+))*$/;
const MASTER_TAGS = new Set(["#EXT-X-VERSION", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-STREAM-INF"]);
const MAX_VARIANTS = 8;

/** Parse a master playlist -> {text, variants: ["index.m3u8", "480p.m3u8"]}; 422 naming the line. */
export function parseMaster(text) {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l).trim());
  const out = [];
  const variants = [];
  let pending = null;
  let first = true;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i];
    if (line === "") continue;
    if (first) {
      if (line !== "#EXTM3U") throw bad(n, "a playlist starts with #EXTM3U");
      first = false;
      out.push(line);
      continue;
    }
    if (line.startsWith("#")) {
      if (!line.startsWith("#EXT")) continue;
      const colon = line.indexOf(":");
      const tag = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? null : line.slice(colon + 1);
      if (!MASTER_TAGS.has(tag)) throw bad(n, `unsupported tag ${tag} in a master playlist`);
      if (tag === "#EXT-X-VERSION" && !(value !== null && INTEGER.test(value))) throw bad(n, "#EXT-X-VERSION needs an integer");
      if (tag === "#EXT-X-INDEPENDENT-SEGMENTS" && value !== null) throw bad(n, `${tag} takes no value`);
      if (tag === "#EXT-X-STREAM-INF") {
        if (pending !== null) throw bad(n, "two #EXT-X-STREAM-INF without a playlist between them");
        if (value === null || !STREAM_INF_ATTRS.test(value) || !/(^|,)BANDWIDTH=[0-9]{1,12}(,|$)/.test(value)) {
          throw bad(n, "#EXT-X-STREAM-INF needs attributes with a BANDWIDTH");
        }
        pending = n;
      }
      out.push(line);
      continue;
    }
    if (pending === null) throw bad(n, "a playlist URI must follow #EXT-X-STREAM-INF");
    if (!VARIANT_URI.test(line)) throw bad(n, "variant URIs are index.m3u8 or <height>p.m3u8");
    if (variants.includes(line)) throw bad(n, `variant ${line} is listed twice`);
    variants.push(line);
    if (variants.length > MAX_VARIANTS) throw bad(n, `more than ${MAX_VARIANTS} variants`);
    pending = null;
    out.push(line);
  }
  if (first) throw new HttpError(422, "playlist is empty");
  if (pending !== null) throw bad(pending, "#EXT-X-STREAM-INF without a playlist URI");
  if (!variants.includes("index.m3u8")) throw new HttpError(422, "a master playlist lists the main rendition (index.m3u8)");
  return { text: `${out.join("\n")}\n`, variants };
}
