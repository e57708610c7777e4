// Request signing: the channel's control-plane scheme (SPEC §3), plus the optional nonce.
//
//   Authorization: Bearer <token>
//   x-vvtv-ts: <unix seconds>            refused outside ±300 s of the edge's clock
//   x-vvtv-nonce: <8-128 of A-Z a-z 0-9 _ ->   optional
//   x-vvtv-signature: lowercase hex HMAC-SHA256(secret, METHOD "\n" PATH "\n" TSF "\n" BODY)
//
// TSF is TS without a nonce and TS ":" NONCE with one: a string without a nonce is exactly
// the original's, and the two forms cannot collide (TS is digits only). BODY is the exact
// request body (bytes), PATH the request path without its query string. A signature is
// accepted once: the replay table remembers it until its timestamp leaves the window.

import { HttpError, hex, sha256Hex } from "./http.js";

export const WINDOW_S = 300;
export const TS_HEADER = "x-vvtv-ts";
export const NONCE_HEADER = "x-vvtv-nonce";
export const SIGNATURE_HEADER = "x-vvtv-signature";
const NONCE = /^[A-Za-z0-9_-]{8,128}$/;
const TS = /^[0-9]{1,12}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

export function canonical(method, path, tsField, body) {
  const head = encoder.encode(`${method.toUpperCase()}\n${path}\n${tsField}\n`);
  const out = new Uint8Array(head.byteLength + body.byteLength);
  out.set(head, 0);
  out.set(body, head.byteLength);
  return out;
}

const keys = new Map();

async function hmacKey(secret) {
  let key = keys.get(secret);
  if (key === undefined) {
    key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, key);
  }
  return key;
}

export async function sign(secret, method, path, tsField, body) {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    canonical(method, path, tsField, body),
  );
  return hex(new Uint8Array(mac));
}

function unhex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Equal-length byte arrays compared without an early exit. */
function sameBytes(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

async function sameSecretText(given, expected) {
  // Digests first: equal lengths, so the comparison time says nothing about either.
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return sameBytes(new Uint8Array(a), new Uint8Array(b));
}

function refuse(reason) {
  return new HttpError(401, reason);
}

/**
 * Verify one signed request against `credential` ({token, secret}); throw a 401 HttpError
 * saying why otherwise. Remembers the signature in D1 (`seen_signatures`) so it is
 * accepted once. Returns who sent it, for the audit trail ("<role>:<token fingerprint>").
 */
export async function verify({ request, path, body, credential, role, channel, db, nowMs }) {
  const auth = request.headers.get("authorization");
  const ts = request.headers.get(TS_HEADER);
  const signature = request.headers.get(SIGNATURE_HEADER);
  const nonce = request.headers.get(NONCE_HEADER);
  if (auth === null) throw refuse("missing Authorization header");
  if (ts === null) throw refuse(`missing ${TS_HEADER} header`);
  if (signature === null) throw refuse(`missing ${SIGNATURE_HEADER} header`);
  const space = auth.indexOf(" ");
  const scheme = space < 0 ? auth : auth.slice(0, space);
  const token = space < 0 ? "" : auth.slice(space + 1).trim();
  const tokenOk = await sameSecretText(token, credential.token);
  if (scheme.toLowerCase() !== "bearer" || !tokenOk) throw refuse("invalid token");
  const tsText = ts.trim();
  if (!TS.test(tsText)) throw refuse(`${TS_HEADER} must be unix seconds`);
  const tsSeconds = Number(tsText);
  if (Math.abs(nowMs / 1000 - tsSeconds) > WINDOW_S) {
    throw refuse(`${TS_HEADER} outside the ${WINDOW_S}s window`);
  }
  let tsField = tsText;
  if (nonce !== null) {
    if (!NONCE.test(nonce)) {
      throw refuse(`${NONCE_HEADER} must be 8 to 128 characters of A-Z a-z 0-9 _ -`);
    }
    tsField = `${tsText}:${nonce}`;
  }
  const given = signature.trim().toLowerCase();
  const key = await hmacKey(credential.secret);
  const valid =
    SIGNATURE.test(given) &&
    (await crypto.subtle.verify(
      "HMAC",
      key,
      unhex(given),
      canonical(request.method, path, tsField, body),
    ));
  if (!valid) throw refuse("signature mismatch");
  // Remembered until its timestamp leaves the window: then the window refuses it anyway.
  const expiresAt = (tsSeconds + WINDOW_S) * 1000;
  const stored = await db
    .prepare(
      "INSERT INTO seen_signatures (signature, channel, expires_at) VALUES (?, ?, ?) " +
        "ON CONFLICT (signature) DO NOTHING",
    )
    .bind(given, channel, expiresAt)
    .run();
  if (stored.meta.changes === 0) throw refuse("replayed signature");
  const fingerprint = (await sha256Hex(encoder.encode(token))).slice(0, 12);
  return `${role}:${fingerprint}`;
}
