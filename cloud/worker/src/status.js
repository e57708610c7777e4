// Channel status: the daemon publishes, the edge keeps the public subset.
//
// Accepted bodies: the status itself ({state, buffer_minutes, ...}) or CloudSync's
// snapshot ({at, status: {state, buffer_minutes, ...}, commit, metrics}). Only the public
// subset is stored: state, buffer_minutes, timestamp, now_playing, next and the channel
// name. Commit counts, metrics, asset ids and plan URLs never reach a viewer.

import { HttpError, isObject, iso } from "./http.js";

const STATE = /^[A-Z][A-Z_]{0,31}$/;
const MAX_TEXT = 300;

function text(value, max = MAX_TEXT) {
  return typeof value === "string" ? value.slice(0, max) : null;
}

function number(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function programme(value) {
  // /v1/status has carried `next` as a list: take its first entry.
  const entry = Array.isArray(value) ? value.find(isObject) : value;
  if (!isObject(entry)) return null;
  return {
    title: text(entry.title),
    start_at: text(entry.start_at, 64),
    duration_sec: number(entry.duration_sec),
  };
}

/** The public subset of an ingested status body; 422 naming the field when unusable. */
export function publicSubset(body) {
  if (!isObject(body)) throw new HttpError(422, "status body must be a JSON object");
  const src = isObject(body.status) ? body.status : body;
  if (typeof src.state !== "string" || !STATE.test(src.state)) {
    throw new HttpError(422, "state must be an upper-case word such as RUNNING or EMERGENCY");
  }
  const buffer = src.buffer_minutes;
  if (typeof buffer !== "number" || !Number.isFinite(buffer) || buffer < 0) {
    throw new HttpError(422, "buffer_minutes must be a finite number >= 0");
  }
  const channel = isObject(body.channel) ? body.channel : isObject(src.channel) ? src.channel : {};
  return {
    state: src.state,
    buffer_minutes: buffer,
    timestamp: text(src.timestamp, 64) ?? text(body.at, 64),
    now_playing: programme(src.now_playing),
    next: programme(src.next),
    name: text(channel.name, 120),
  };
}

/** The /v1/status reply: `state` and `buffer_minutes` are always there, known or not. */
export function statusReply(channel, row, playlist, nowMs, staleAfterS) {
  const stored = row ? JSON.parse(row.body) : null;
  const ageS = row ? Math.max(0, Math.round((nowMs - row.received_at) / 1000)) : null;
  return {
    channel,
    name: stored?.name ?? channel,
    state: stored?.state ?? "UNKNOWN",
    buffer_minutes: stored?.buffer_minutes ?? 0,
    timestamp: stored?.timestamp ?? null,
    now_playing: stored?.now_playing ?? null,
    next: stored?.next ?? null,
    received_at: row ? iso(row.received_at) : null,
    age_s: ageS,
    stale: ageS === null || ageS > staleAfterS,
    live: playlist
      ? {
          media_sequence: playlist.media_sequence,
          discontinuity_sequence: playlist.discontinuity_sequence,
          updated_at: iso(playlist.updated_at),
          age_s: Math.max(0, Math.round((nowMs - playlist.updated_at) / 1000)),
        }
      : null,
  };
}
