// HTTP plumbing shared by every route: JSON replies, errors, bounded body reading, strict JSON.

export const JSON_TYPE = "application/json; charset=utf-8";

/** A request that must be refused with `status` and `{"error": message, ...extra}`. */
export class HttpError extends Error {
  constructor(status, message, extra = {}, headers = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }
}

export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": JSON_TYPE, "cache-control": "no-store", ...headers },
  });
}

export function errorResponse(status, message, extra = {}, headers = {}) {
  return json({ error: message, ...extra }, status, headers);
}

/**
 * The request body as bytes, refusing (413) anything larger than `limit` without reading
 * past it: a declared Content-Length over the limit is refused before reading at all.
 */
export async function readBody(request, limit) {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    throw new HttpError(413, `body larger than ${limit} bytes`);
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, `body larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeUtf8(bytes, what = "body") {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new HttpError(400, `${what} is not valid UTF-8`);
  }
}

/**
 * Strict JSON from request bytes. An empty (or blank) body is `null` when `allowEmpty`,
 * else a 400; malformed JSON is always a 400, never a 500.
 */
export function parseJson(bytes, { allowEmpty = false } = {}) {
  const text = decodeUtf8(bytes);
  if (text.trim() === "") {
    if (allowEmpty) return null;
    throw new HttpError(400, "request body must be JSON");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // A RangeError (nested too deeply) is the client's fault as much as a SyntaxError.
    throw new HttpError(400, `malformed JSON body: ${err.message}`);
  }
}

export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function iso(ms) {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return hex(new Uint8Array(digest));
}

export function hex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
