// HLS at the edge.
//
// The channel uploads every segment once (signed PUT, R2 key hls/<channel>/<asset>/<name>),
// then the playlist, which may reference only segments already stored: the check and the
// swap are one D1 batch, so a viewer never sees a playlist naming a missing segment. The
// playlist only moves forward (media sequence and last segment number never go back: a
// retried old upload cannot roll the window back). Viewers are served through the Cache
// API: the playlist for ~1 s, segments as immutable, so repeated viewers do not reach D1
// or R2. Segments that left the playlist are deleted by the cron trigger after a grace.

import { HttpError, errorResponse, json, iso, sha256Hex } from "./http.js";
import { parseMaster, parsePlaylist, looksLikeTransportStream } from "./playlist.js";
import { tunable } from "./config.js";
import { audit } from "./audit.js";

export const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";
export const SEGMENT_TYPE = "video/mp2t";
export const PLAYLIST_CACHE = "public, max-age=1";
export const SEGMENT_CACHE = "public, max-age=31536000, immutable";
export const CACHE_HEADER = "x-vvtv-edge-cache";

export function segmentObjectKey(channel, ref) {
  return `hls/${channel}/${ref}`;
}

/** One cache entry per channel and resource, whichever prefix the viewer used. */
function cacheKey(requestUrl, channel, suffix) {
  return new Request(new URL(`/c/${channel}/${suffix}`, requestUrl).toString(), { method: "GET" });
}

function marked(response, state, head) {
  const headers = new Headers(response.headers);
  headers.set(CACHE_HEADER, state);
  return new Response(head ? null : response.body, { status: response.status, headers });
}

async function cached(key, head) {
  const hit = await caches.default.match(key);
  return hit ? marked(hit, "HIT", head) : null;
}

// ---- viewers ---------------------------------------------------------------------------

export async function servePlaylist({ request, env, ctx, channel, head }) {
  const key = cacheKey(request.url, channel, "hls/index.m3u8");
  const hit = await cached(key, head);
  if (hit) return hit;
  const row = await env.DB.prepare("SELECT body FROM hls_playlists WHERE channel = ?")
    .bind(channel)
    .first();
  if (row === null) return errorResponse(404, `channel ${channel} is not live at the edge`);
  return freshPlaylist(row.body, key, ctx, head);
}

/** The master playlist ("master") or a lower rung's playlist ("480p"), as uploaded. */
export async function serveRendition({ request, env, ctx, channel, name, head }) {
  const key = cacheKey(request.url, channel, `hls/${name}.m3u8`);
  const hit = await cached(key, head);
  if (hit) return hit;
  const row = await env.DB.prepare("SELECT body FROM hls_renditions WHERE channel = ? AND name = ?")
    .bind(channel, name)
    .first();
  if (row === null) return errorResponse(404, `channel ${channel} has no ${name} playlist at the edge`);
  return freshPlaylist(row.body, key, ctx, head);
}

export async function serveSegment({ request, env, ctx, channel, ref, head }) {
  const key = cacheKey(request.url, channel, `hls/seg/${ref}`);
  const hit = await cached(key, head);
  if (hit) return hit;
  const object = await env.MEDIA.get(segmentObjectKey(channel, ref));
  if (object === null) return errorResponse(404, "segment not found");
  const response = new Response(object.body, {
    headers: {
      "content-type": SEGMENT_TYPE,
      "cache-control": SEGMENT_CACHE,
      "content-length": String(object.size),
      etag: object.httpEtag,
      "access-control-allow-origin": "*",
      "x-content-type-options": "nosniff",
    },
  });
  ctx.waitUntil(caches.default.put(key, response.clone()));
  return marked(response, "MISS", head);
}

// ---- the channel's uploads -------------------------------------------------------------

export async function putSegment({ env, channel, ref, body, nowMs }) {
  if (!looksLikeTransportStream(body)) {
    throw new HttpError(422, "segment is not MPEG-TS (whole 188-byte packets starting with 0x47)");
  }
  const sha256 = await sha256Hex(body);
  const existing = await env.DB.prepare("SELECT sha256 FROM hls_segments WHERE channel = ? AND ref = ?")
    .bind(channel, ref)
    .first();
  if (existing !== null) {
    if (existing.sha256 !== sha256) {
      throw new HttpError(409, `segment ${ref} is already stored with other content; names are immutable`);
    }
    return json({ ok: true, stored: false, segment: ref, bytes: body.byteLength, sha256 });
  }
  // R2 first, then the row: a segment is "uploaded" only once its bytes are stored.
  await env.MEDIA.put(segmentObjectKey(channel, ref), body, {
    httpMetadata: { contentType: SEGMENT_TYPE },
    customMetadata: { sha256 },
    sha256,
  });
  await env.DB.prepare(
    "INSERT INTO hls_segments (channel, ref, sha256, bytes, uploaded_at, listed) VALUES (?, ?, ?, ?, ?, 0) " +
      "ON CONFLICT (channel, ref) DO NOTHING",
  )
    .bind(channel, ref, sha256, body.byteLength, nowMs)
    .run();
  return json({ ok: true, stored: true, segment: ref, bytes: body.byteLength, sha256 }, 201);
}

export async function putPlaylist({ request, env, channel, text, nowMs }) {
  const playlist = parsePlaylist(text, tunable(env, "HLS_MAX_PLAYLIST_SEGMENTS"));
  const refs = JSON.stringify(playlist.segments);
  const n = playlist.segments.length;
  const endSequence = playlist.mediaSequence + n;
  const uploadId = crypto.randomUUID();
  const ours = "(SELECT upload_id FROM hls_playlists WHERE channel = ?) = ?";
  const [swap] = await env.DB.batch([
    // Stored only if every referenced segment is, and the window does not go back.
    env.DB.prepare(
      "INSERT INTO hls_playlists (channel, body, media_sequence, discontinuity_sequence, " +
        "target_duration, segments, end_sequence, upload_id, updated_at) " +
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE (SELECT count(*) FROM hls_segments " +
        "WHERE channel = ?1 AND ref IN (SELECT value FROM json_each(?10))) = ?6 " +
        "ON CONFLICT (channel) DO UPDATE SET body = excluded.body, " +
        "media_sequence = excluded.media_sequence, " +
        "discontinuity_sequence = excluded.discontinuity_sequence, " +
        "target_duration = excluded.target_duration, segments = excluded.segments, " +
        "end_sequence = excluded.end_sequence, upload_id = excluded.upload_id, " +
        "updated_at = excluded.updated_at " +
        "WHERE excluded.media_sequence >= hls_playlists.media_sequence " +
        "AND excluded.end_sequence >= hls_playlists.end_sequence",
    ).bind(
      channel,
      playlist.text,
      playlist.mediaSequence,
      playlist.discontinuitySequence,
      playlist.targetDuration,
      n,
      endSequence,
      uploadId,
      nowMs,
      refs,
    ),
    env.DB.prepare(
      "UPDATE hls_segments SET listed = 0, unlisted_at = ? WHERE channel = ? AND listed = 1 " +
        "AND ref NOT IN (SELECT value FROM json_each(?)) " +
        "AND ref NOT IN (SELECT j.value FROM hls_renditions r, json_each(r.refs) j WHERE r.channel = ?) " +
        `AND ${ours}`,
    ).bind(nowMs, channel, refs, channel, channel, uploadId),
    env.DB.prepare(
      "UPDATE hls_segments SET listed = 1, unlisted_at = NULL WHERE channel = ? " +
        `AND ref IN (SELECT value FROM json_each(?)) AND ${ours}`,
    ).bind(channel, refs, channel, uploadId),
  ]);
  if (swap.meta.changes === 0) {
    await refuseMissing(env, channel, refs);
    const current = await env.DB.prepare(
      "SELECT media_sequence, end_sequence FROM hls_playlists WHERE channel = ?",
    )
      .bind(channel)
      .first();
    throw new HttpError(409, "stale playlist: the edge already has a later window", {
      media_sequence: current?.media_sequence ?? null,
      end_sequence: current?.end_sequence ?? null,
    });
  }
  // This colo answers the new playlist at once; others within the playlist's ~1 s TTL.
  await caches.default.delete(cacheKey(request.url, channel, "hls/index.m3u8"));
  return json({
    ok: true,
    media_sequence: playlist.mediaSequence,
    discontinuity_sequence: playlist.discontinuitySequence,
    end_sequence: endSequence,
    segments: n,
  });
}

/**
 * A lower rung's playlist ("480p"): the main playlist's rules (every segment stored, the
 * window never goes back), its own row. Its segments are marked listed; those that leave it
 * are marked out by the next main playlist swap, which spares what any rung still lists.
 */
export async function putRung({ request, env, channel, name, text, nowMs }) {
  const playlist = parsePlaylist(text, tunable(env, "HLS_MAX_PLAYLIST_SEGMENTS"));
  const refs = JSON.stringify(playlist.segments);
  const n = playlist.segments.length;
  const endSequence = playlist.mediaSequence + n;
  const [swap] = await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO hls_renditions (channel, name, body, media_sequence, end_sequence, refs, updated_at) " +
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE (SELECT count(*) FROM hls_segments " +
        "WHERE channel = ?1 AND ref IN (SELECT value FROM json_each(?6))) = ?8 " +
        "ON CONFLICT (channel, name) DO UPDATE SET body = excluded.body, " +
        "media_sequence = excluded.media_sequence, end_sequence = excluded.end_sequence, " +
        "refs = excluded.refs, updated_at = excluded.updated_at " +
        "WHERE excluded.media_sequence >= hls_renditions.media_sequence " +
        "AND excluded.end_sequence >= hls_renditions.end_sequence",
    ).bind(channel, name, playlist.text, playlist.mediaSequence, endSequence, refs, nowMs, n),
    env.DB.prepare(
      "UPDATE hls_segments SET listed = 1, unlisted_at = NULL WHERE channel = ? " +
        "AND ref IN (SELECT value FROM json_each(?)) AND " +
        "(SELECT refs FROM hls_renditions WHERE channel = ? AND name = ?) = ?",
    ).bind(channel, refs, channel, name, refs),
  ]);
  if (swap.meta.changes === 0) {
    await refuseMissing(env, channel, refs);
    throw new HttpError(409, `stale playlist: the edge already has a later ${name} window`);
  }
  await caches.default.delete(cacheKey(request.url, channel, `hls/${name}.m3u8`));
  return json({ ok: true, rendition: name, media_sequence: playlist.mediaSequence, end_sequence: endSequence, segments: n });
}

/** The master playlist: the main rendition and the rungs, by their relative names. */
export async function putMaster({ request, env, channel, text, nowMs }) {
  const master = parseMaster(text);
  await env.DB.prepare(
    "INSERT INTO hls_renditions (channel, name, body, media_sequence, end_sequence, refs, updated_at) " +
      "VALUES (?, 'master', ?, 0, 0, '[]', ?) ON CONFLICT (channel, name) DO UPDATE SET " +
      "body = excluded.body, updated_at = excluded.updated_at",
  )
    .bind(channel, master.text, nowMs)
    .run();
  await caches.default.delete(cacheKey(request.url, channel, "hls/master.m3u8"));
  return json({ ok: true, variants: master.variants });
}

/** Forget the playlist (the origin lost its numbering); its segments age out by cron. */
export async function resetPlaylist({ request, env, channel, nowMs, actor }) {
  const [dropped] = await env.DB.batch([
    env.DB.prepare("DELETE FROM hls_playlists WHERE channel = ?").bind(channel),
    // The rungs' windows are numbered like the main one: they go with it.
    env.DB.prepare("DELETE FROM hls_renditions WHERE channel = ? AND name <> 'master'").bind(channel),
    env.DB.prepare(
      "UPDATE hls_segments SET listed = 0, unlisted_at = ? WHERE channel = ? AND listed = 1",
    ).bind(nowMs, channel),
  ]);
  await audit(env.DB, { at: nowMs, channel, actor, action: "hls_reset", details: { had_playlist: dropped.meta.changes > 0 } });
  await caches.default.delete(cacheKey(request.url, channel, "hls/index.m3u8"));
  return json({ ok: true, deleted: dropped.meta.changes > 0 });
}

/** What the edge holds for the channel, so a restarted publisher uploads only what is missing. */
export async function hlsState({ env, channel }) {
  const playlist = await env.DB.prepare(
    "SELECT media_sequence, discontinuity_sequence, end_sequence, segments, updated_at " +
      "FROM hls_playlists WHERE channel = ?",
  )
    .bind(channel)
    .first();
  const stored = await env.DB.prepare(
    "SELECT ref FROM hls_segments WHERE channel = ? ORDER BY uploaded_at DESC, ref LIMIT 1000",
  )
    .bind(channel)
    .all();
  const count = await env.DB.prepare("SELECT count(*) AS n FROM hls_segments WHERE channel = ?")
    .bind(channel)
    .first();
  return json({
    channel,
    playlist: playlist && { ...playlist, updated_at: iso(playlist.updated_at) },
    stored: stored.results.map((r) => r.ref),
    stored_count: count.n,
  });
}

/**
 * Cron: delete segments out of the playlist for longer than the grace, R2 then D1, in
 * batches of `batch` (R2 deletes up to 1000 keys a call), at most `batches` per run.
 */
export async function collectSegments(env, nowMs, { batch = 500, batches = 10 } = {}) {
  const graceMs = tunable(env, "HLS_SEGMENT_GRACE_S") * 1000;
  let total = 0;
  for (let round = 0; round < batches; round++) {
    const old = await env.DB.prepare(
      "SELECT channel, ref FROM hls_segments WHERE listed = 0 " +
        "AND coalesce(unlisted_at, uploaded_at) <= ? LIMIT ?",
    )
      .bind(nowMs - graceMs, batch)
      .all();
    if (old.results.length === 0) break;
    const keys = old.results.map((r) => segmentObjectKey(r.channel, r.ref));
    await env.MEDIA.delete(keys);
    // R2 first: should this run stop between the two, the rows remain and the next minute
    // deletes again (deleting a missing R2 key is a no-op). The origin never lists a segment
    // again once it left the window, so nothing listed loses its bytes.
    await env.DB.prepare(
      "DELETE FROM hls_segments WHERE listed = 0 AND ('hls/' || channel || '/' || ref) IN " +
        "(SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(keys))
      .run();
    total += old.results.length;
    if (old.results.length < batch) break;
  }
  return total;
}

/** A playlist that names a segment the edge does not hold is refused (409), naming them:
 * viewers must never be sent to a segment that is not there. */
async function refuseMissing(env, channel, refs) {
  const missing = await env.DB.prepare(
    "SELECT value AS ref FROM json_each(?) WHERE value NOT IN " +
      "(SELECT ref FROM hls_segments WHERE channel = ?)",
  )
    .bind(refs, channel)
    .all();
  if (missing.results.length > 0) {
    throw new HttpError(409, "playlist references segments that are not uploaded", {
      missing: missing.results.map((r) => r.ref),
    });
  }
}

/** A playlist read from the database: answered, and kept in the cache for PLAYLIST_CACHE. */
function freshPlaylist(body, key, ctx, head) {
  const response = new Response(body, {
    headers: {
      "content-type": PLAYLIST_TYPE,
      "cache-control": PLAYLIST_CACHE,
      "access-control-allow-origin": "*",
    },
  });
  ctx.waitUntil(caches.default.put(key, response.clone()));
  return marked(response, "MISS", head);
}
