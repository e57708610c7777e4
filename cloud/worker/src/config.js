// Tunables from wrangler.toml [vars], each with its default and its allowed range. A value

import { HttpError } from "./http.js";
// out of range is a deployment error: the edge answers 500 saying which var, never guesses.

const TUNABLES = {
  COMMAND_TTL_S: [300, 5, 86400], // how long a relayed command may wait for the channel
  COMMAND_RETAIN_DAYS: [30, 1, 3650], // command rows (and their results) kept this long
  AUDIT_RETAIN_DAYS: [90, 1, 3650], // SPEC §7: audit retention 90 days
  AGENT_WAIT_MAX_S: [25, 0, 60], // longest long poll (agent and operator)
  POLL_INTERVAL_MS: [500, 50, 5000], // how often a long poll looks at D1
  HLS_SEGMENT_GRACE_S: [300, 0, 86400], // a segment out of the playlist is kept this long
  HLS_MAX_SEGMENT_BYTES: [16 * 1024 * 1024, 1024, 95 * 1024 * 1024],
  HLS_MAX_PLAYLIST_SEGMENTS: [100, 1, 1000],
  STATUS_STALE_S: [1800, 10, 86400], // /v1/status says stale past this age
};

export function tunable(env, name) {
  const [fallback, low, high] = TUNABLES[name];
  const raw = env[name];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const text = String(raw).trim();
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) < low || Number(text) > high) {
    throw new HttpError(500, `edge misconfigured: var ${name}=${JSON.stringify(raw)}: expected an integer from ${low} to ${high}`);
  }
  return Number(text);
}

// Body limits (bytes) of the signed routes.
export const LIMITS = {
  status: 64 * 1024,
  report: 256 * 1024,
  alert: 16 * 1024,
  playlist: 64 * 1024,
  logo: 512 * 1024,
  control: 64 * 1024, // as the channel's own control API
  result: 64 * 1024,
  empty: 1024, // GET/DELETE: a body is not expected; it is still signed
};
