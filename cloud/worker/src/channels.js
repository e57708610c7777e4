// Channels and their credentials.
//
// The edge serves the channels listed in the CHANNELS var ("main,news"); DEFAULT_CHANNEL is
// the one the un-prefixed paths (/v1/status, /hls/...) mean. Each channel has two
// credentials, kept as Worker secrets (never in D1, so a database export holds none):
//
//   CHANNEL_<ID>_INGEST_TOKEN / CHANNEL_<ID>_INGEST_SECRET    the channel's daemon (ingest, agent)
//   CHANNEL_<ID>_CONTROL_TOKEN / CHANNEL_<ID>_CONTROL_SECRET  its operator (control relay)
//
// <ID> is the channel id upper-cased with '-' as '_' (ids never contain '_', so no two ids
// share a name). A credential is refused (503) when unset, when the secret is shorter than
// 32 bytes, or when token equals secret, as the channel refuses them outside dev.

import { HttpError } from "./http.js";

export const CHANNEL_ID = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
export const ROLES = ["ingest", "control"];
export const MIN_SECRET_BYTES = 32;

export function channelIds(env) {
  const ids = String(env.CHANNELS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const id of ids) {
    if (!CHANNEL_ID.test(id)) {
      throw new HttpError(500, `edge misconfigured: CHANNELS: ${JSON.stringify(id)} is not a channel id (a-z, 0-9, '-')`);
    }
  }
  if (ids.length === 0) throw new HttpError(500, "edge misconfigured: CHANNELS is empty: list at least one channel id");
  return ids;
}

export function defaultChannel(env) {
  const ids = channelIds(env);
  const chosen = env.DEFAULT_CHANNEL ? String(env.DEFAULT_CHANNEL).trim() : ids[0];
  if (!ids.includes(chosen)) {
    throw new HttpError(500, `edge misconfigured: DEFAULT_CHANNEL ${JSON.stringify(chosen)} is not listed in CHANNELS`);
  }
  return chosen;
}

export function secretName(channel, role, part) {
  return `CHANNEL_${channel.toUpperCase().replaceAll("-", "_")}_${role.toUpperCase()}_${part}`;
}

/** The {token, secret} of `channel` for `role`, or a 503 saying which secret is wrong. */
export function credential(env, channel, role) {
  const tokenName = secretName(channel, role, "TOKEN");
  const secretNameText = secretName(channel, role, "SECRET");
  const token = env[tokenName];
  const secret = env[secretNameText];
  if (typeof token !== "string" || token === "" || typeof secret !== "string" || secret === "") {
    throw new HttpError(503, `${role} credentials of channel ${channel} are not configured`);
  }
  if (new TextEncoder().encode(secret).byteLength < MIN_SECRET_BYTES || token === secret) {
    throw new HttpError(
      503,
      `${role} credentials of channel ${channel} are too weak (secret under ` +
        `${MIN_SECRET_BYTES} bytes, or token equal to secret)`,
    );
  }
  return { token, secret };
}
