// vvtv's edge: a Cloudflare Worker that serves a channel's public face (watch page, status,
// reports, HLS) to any number of viewers and relays operator control to the channel, which
// only ever connects outwards. The protocol is written down in ../PROTOCOL.md.
//
// Every path exists three ways: as is for the default channel (/v1/status), keyed by
// channel (/c/<id>/v1/status), and under the original's /vvtv prefix (/vvtv/...).

import { HttpError, errorResponse, json, readBody, decodeUtf8, parseJson, iso, sha256Hex } from "./http.js";
import { verify } from "./signing.js";
import { CHANNEL_ID, channelIds, credential, defaultChannel } from "./channels.js";
import { LIMITS, tunable } from "./config.js";
import { publicSubset, statusReply } from "./status.js";
import { KINDS as REPORT_KINDS, parseDay, parseWeek, reportKey, reportObjectKey } from "./reports.js";
import { ingestAlert, activeAlerts } from "./alerts.js";
import { ASSET_ID, SEGMENT_NAME } from "./playlist.js";
import {
  hlsState,
  putMaster,
  putPlaylist,
  putRung,
  putSegment,
  resetPlaylist,
  servePlaylist,
  serveRendition,
  serveSegment,
} from "./live.js";
import { checkControlBody } from "./control.js";
import {
  COMMAND_ID,
  agentPoll,
  createCommand,
  listCommands,
  postResult,
  readAudit,
  readCommand,
} from "./commands.js";
import { auditStatement } from "./audit.js";
import { putLogo, renderPage, serveAsset, serveLogo } from "./page.js";
import { runCron } from "./cron.js";

const PUBLIC = { "access-control-allow-origin": "*" };
const ON_AIR_S = 60; // a playlist older than this means the channel is not reaching the edge

// ---- request context ---------------------------------------------------------------------

/** Split /vvtv and /c/<id> off the path: {mount, channel (explicit or null), rest}. */
export function splitPath(pathname) {
  let rest = pathname;
  let mount = "";
  if (rest === "/vvtv" || rest.startsWith("/vvtv/")) {
    mount = "/vvtv";
    rest = rest.slice(5) || "/";
  }
  let channel = null;
  const m = /^\/c\/([^/]+)(\/.*)?$/.exec(rest);
  if (m) {
    channel = m[1];
    rest = m[2] ?? "/";
  }
  return { mount, channel, rest };
}

function resolveChannel(env, explicit) {
  const ids = channelIds(env);
  const chosen = explicit ?? defaultChannel(env);
  if (!CHANNEL_ID.test(chosen) || !ids.includes(chosen)) throw new HttpError(404, "unknown channel");
  return { channel: chosen, isDefault: chosen === defaultChannel(env) };
}

async function signed(req, role, limit) {
  const cred = credential(req.env, req.channel, role);
  const body = await readBody(req.request, limit);
  const who = await verify({
    request: req.request,
    path: req.url.pathname,
    body,
    credential: cred,
    role,
    channel: req.channel,
    db: req.env.DB,
    nowMs: Date.now(),
  });
  const ip = req.request.headers.get("cf-connecting-ip");
  return { body, actor: ip ? `${who}@${ip}` : who };
}

// ---- public reads ------------------------------------------------------------------------

async function channelSummaries(env, nowMs) {
  const ids = channelIds(env);
  const def = defaultChannel(env);
  const statuses = await env.DB.prepare("SELECT channel, body FROM channel_status").all();
  const playlists = await env.DB.prepare("SELECT channel, updated_at FROM hls_playlists").all();
  const byId = new Map(statuses.results.map((r) => [r.channel, JSON.parse(r.body)]));
  const liveAt = new Map(playlists.results.map((r) => [r.channel, r.updated_at]));
  return ids.map((id) => {
    const status = byId.get(id);
    const at = liveAt.get(id);
    const onAir = at !== undefined && nowMs - at <= ON_AIR_S * 1000;
    return {
      id,
      name: status?.name ?? id,
      state: onAir ? (status?.state ?? "UNKNOWN") : "OFF AIR",
      on_air: onAir,
      isDefault: id === def,
    };
  });
}

async function page(req) {
  const [summaries, master] = await Promise.all([
    channelSummaries(req.env, Date.now()),
    // A channel that publishes a master playlist (it has lower rungs, or a recent agent) is
    // played from it, so viewers on a slow line can take a rung; otherwise the main one.
    req.env.DB.prepare("SELECT 1 AS found FROM hls_renditions WHERE channel = ? AND name = 'master'")
      .bind(req.channel)
      .first(),
  ]);
  const channel = summaries.find((c) => c.id === req.channel);
  const playlist = master === null ? "index.m3u8" : "master.m3u8";
  return renderPage({ mount: req.mount, channel, isDefault: req.isDefault, channels: summaries, playlist, head: req.head });
}

async function channels(req) {
  const summaries = await channelSummaries(req.env, Date.now());
  const prefix = (c) => `${req.mount}${c.isDefault ? "" : `/c/${c.id}`}`;
  return json(
    {
      default: defaultChannel(req.env),
      channels: summaries.map((c) => ({
        id: c.id,
        name: c.name,
        state: c.state,
        on_air: c.on_air,
        watch_url: `${prefix(c)}/`,
        status_url: `${prefix(c)}/v1/status`,
        playlist_url: `${prefix(c)}/hls/index.m3u8`,
      })),
    },
    200,
    { ...PUBLIC, "cache-control": "public, max-age=5" },
  );
}

async function status(req) {
  const nowMs = Date.now();
  const row = await req.env.DB.prepare("SELECT body, received_at FROM channel_status WHERE channel = ?")
    .bind(req.channel)
    .first();
  const playlist = await req.env.DB.prepare(
    "SELECT media_sequence, discontinuity_sequence, updated_at FROM hls_playlists WHERE channel = ?",
  )
    .bind(req.channel)
    .first();
  const reply = statusReply(req.channel, row, playlist, nowMs, tunable(req.env, "STATUS_STALE_S"));
  reply.on_air = playlist !== null && nowMs - playlist.updated_at <= ON_AIR_S * 1000;
  return json(reply, 200, { ...PUBLIC, "cache-control": "public, max-age=5" });
}

function reportRead(kind) {
  return async (req) => {
    const { field } = REPORT_KINDS[kind];
    const raw = req.url.searchParams.get(field);
    const key = kind === "daily" ? parseDay(raw) : parseWeek(raw);
    const object = await req.env.MEDIA.get(reportObjectKey(req.channel, kind, key));
    if (object === null) throw new HttpError(404, `no ${kind} report for ${key}`);
    return new Response(req.head ? null : object.body, {
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=60", ...PUBLIC },
    });
  };
}

function segmentRef(req, [asset, name], status) {
  if (!ASSET_ID.test(asset) || !SEGMENT_NAME.test(name)) {
    throw new HttpError(status, status === 404 ? "segment not found" : "invalid segment name: <asset_id>/<name>.ts");
  }
  return `${asset}/${name}`;
}

// ---- signed ingest (the channel's daemon) ------------------------------------------------

async function ingestStatus(req) {
  const { body } = await signed(req, "ingest", LIMITS.status);
  const subset = publicSubset(parseJson(body));
  await req.env.DB.prepare(
    "INSERT INTO channel_status (channel, body, received_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (channel) DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
  )
    .bind(req.channel, JSON.stringify(subset), Date.now())
    .run();
  return json({ ok: true, state: subset.state, buffer_minutes: subset.buffer_minutes });
}

function ingestReport(kind) {
  return async (req) => {
    const { body, actor } = await signed(req, "ingest", LIMITS.report);
    const payload = parseJson(body);
    const key = reportKey(kind, payload);
    const text = JSON.stringify(payload);
    const bytes = new TextEncoder().encode(text);
    const sha256 = await sha256Hex(bytes);
    const objectKey = reportObjectKey(req.channel, kind, key);
    const nowMs = Date.now();
    const before = await req.env.DB.prepare("SELECT sha256 FROM reports WHERE channel = ? AND kind = ? AND key = ?")
      .bind(req.channel, kind, key)
      .first();
    await req.env.MEDIA.put(objectKey, bytes, {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { received_at: iso(nowMs) },
      sha256,
    });
    await req.env.DB.batch([
      req.env.DB.prepare(
        "INSERT INTO reports (channel, kind, key, object_key, sha256, bytes, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (channel, kind, key) DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes, " +
          "received_at = excluded.received_at",
      ).bind(req.channel, kind, key, objectKey, sha256, bytes.byteLength, nowMs),
      auditStatement(req.env.DB, {
        at: nowMs,
        channel: req.channel,
        actor,
        action: `${kind}_report_ingested`,
        details: { key, sha256, replaced: before !== null && before.sha256 !== sha256 },
      }),
    ]);
    return json({ ok: true, kind, [REPORT_KINDS[kind].field]: key, sha256, replaced: before !== null });
  };
}

async function ingestAlertRoute(req) {
  const { body, actor } = await signed(req, "ingest", LIMITS.alert);
  return ingestAlert({ env: req.env, channel: req.channel, payload: parseJson(body), nowMs: Date.now(), actor });
}

async function ingestLogo(req) {
  const { body, actor } = await signed(req, "ingest", LIMITS.logo);
  return putLogo({ env: req.env, channel: req.channel, body, nowMs: Date.now(), actor, auditStatement });
}

async function ingestSegment(req, params) {
  const { body } = await signed(req, "ingest", tunable(req.env, "HLS_MAX_SEGMENT_BYTES"));
  const ref = segmentRef(req, params, 422);
  return putSegment({ env: req.env, channel: req.channel, ref, body, nowMs: Date.now() });
}

async function ingestPlaylist(req) {
  const { body } = await signed(req, "ingest", LIMITS.playlist);
  const text = decodeUtf8(body, "playlist");
  return putPlaylist({ request: req.request, env: req.env, channel: req.channel, text, nowMs: Date.now() });
}

async function ingestRendition(req, [name]) {
  const { body } = await signed(req, "ingest", LIMITS.playlist);
  const text = decodeUtf8(body, "playlist");
  const args = { request: req.request, env: req.env, channel: req.channel, text, nowMs: Date.now() };
  return name === "master" ? putMaster(args) : putRung({ ...args, name });
}

function renditionRoute(req, [name]) {
  return serveRendition({ request: req.request, env: req.env, ctx: req.ctx, channel: req.channel, name, head: req.head });
}

async function deletePlaylist(req) {
  const { actor } = await signed(req, "ingest", LIMITS.empty);
  return resetPlaylist({ request: req.request, env: req.env, channel: req.channel, nowMs: Date.now(), actor });
}

async function ingestHlsState(req) {
  await signed(req, "ingest", LIMITS.empty);
  return hlsState({ env: req.env, channel: req.channel });
}

// ---- the agent (the channel's side of the control relay) ----------------------------------

async function agentCommands(req) {
  const { actor } = await signed(req, "ingest", LIMITS.empty);
  return agentPoll({ env: req.env, channel: req.channel, url: req.url, actor });
}

async function agentResult(req, [id]) {
  const { body, actor } = await signed(req, "ingest", LIMITS.result);
  if (!COMMAND_ID.test(id)) throw new HttpError(404, "command not found");
  return postResult({ env: req.env, channel: req.channel, id, bytes: body, nowMs: Date.now(), actor });
}

// ---- the operator ------------------------------------------------------------------------

async function controlCall(req, [kind]) {
  const { body, actor } = await signed(req, "control", LIMITS.control);
  checkControlBody(kind, body);
  return createCommand({ env: req.env, channel: req.channel, kind, body, nowMs: Date.now(), actor });
}

async function controlCommand(req, [id]) {
  await signed(req, "control", LIMITS.empty);
  if (!COMMAND_ID.test(id)) throw new HttpError(404, "command not found");
  return readCommand({ env: req.env, channel: req.channel, id, url: req.url });
}

async function controlCommands(req) {
  await signed(req, "control", LIMITS.empty);
  return listCommands({ env: req.env, channel: req.channel, url: req.url });
}

async function controlAlerts(req) {
  await signed(req, "control", LIMITS.empty);
  return activeAlerts({ env: req.env, channel: req.channel });
}

async function controlAudit(req) {
  await signed(req, "control", LIMITS.empty);
  return readAudit({ env: req.env, channel: req.channel, url: req.url });
}

// ---- the route table ---------------------------------------------------------------------

const ROUTES = [
  ["/", { GET: page }],
  [/^\/assets\/([A-Za-z0-9._-]+)$/, { GET: (req, [name]) => serveAsset(name, req.head) }],
  ["/logo", { GET: (req) => logoRoute(req) }],
  ["/v1/channels", { GET: channels }],
  ["/v1/status", { GET: status }],
  ["/v1/reports/daily", { GET: reportRead("daily") }],
  ["/v1/reports/weekly", { GET: reportRead("weekly") }],
  [
    "/hls/index.m3u8",
    { GET: (req) => servePlaylist({ request: req.request, env: req.env, ctx: req.ctx, channel: req.channel, head: req.head }) },
  ],
  // The master playlist and the lower rungs' playlists (channel.renditions).
  [/^\/hls\/(master|[0-9]{3,4}p)\.m3u8$/, { GET: renditionRoute }],
  [
    /^\/hls\/seg\/([^/]+)\/([^/]+)$/,
    {
      GET: (req, params) =>
        serveSegment({
          request: req.request,
          env: req.env,
          ctx: req.ctx,
          channel: req.channel,
          ref: segmentRef(req, params, 404),
          head: req.head,
        }),
    },
  ],
  ["/v1/ingest/status", { POST: ingestStatus }],
  ["/v1/ingest/daily", { POST: ingestReport("daily") }],
  ["/v1/ingest/weekly", { POST: ingestReport("weekly") }],
  ["/v1/ingest/alerts", { POST: ingestAlertRoute }],
  ["/v1/ingest/logo", { PUT: ingestLogo }],
  ["/v1/ingest/hls", { GET: ingestHlsState }],
  ["/v1/ingest/hls/index.m3u8", { PUT: ingestPlaylist, DELETE: deletePlaylist }],
  [/^\/v1\/ingest\/hls\/seg\/([^/]+)\/([^/]+)$/, { PUT: ingestSegment }],
  [/^\/v1\/ingest\/hls\/(master|[0-9]{3,4}p)\.m3u8$/, { PUT: ingestRendition }],
  ["/v1/agent/commands", { GET: agentCommands }],
  [/^\/v1\/agent\/commands\/([^/]+)\/result$/, { POST: agentResult }],
  [/^\/v1\/control\/(reload-owner-card|emergency-mode|curator-mode|nightly)$/, { POST: controlCall }],
  ["/v1/control/commands", { GET: controlCommands }],
  [/^\/v1\/control\/commands\/([^/]+)$/, { GET: controlCommand }],
  ["/v1/control/alerts", { GET: controlAlerts }],
  ["/v1/control/audit", { GET: controlAudit }],
];

async function logoRoute(req) {
  const summaries = await channelSummaries(req.env, Date.now());
  const name = summaries.find((c) => c.id === req.channel)?.name ?? req.channel;
  return serveLogo({ env: req.env, channel: req.channel, name, head: req.head });
}

function match(rest) {
  for (const [pattern, methods] of ROUTES) {
    if (typeof pattern === "string") {
      if (pattern === rest) return { methods, params: [] };
    } else {
      const m = pattern.exec(rest);
      if (m) return { methods, params: m.slice(1) };
    }
  }
  return null;
}

function allowOf(methods) {
  const names = Object.keys(methods);
  if (names.includes("GET")) names.push("HEAD");
  return names.join(", ");
}

async function handle(request, env, ctx) {
  const url = new URL(request.url);
  const { mount, channel: explicit, rest } = splitPath(url.pathname);
  const found = match(rest);
  if (found === null) throw new HttpError(404, "not found");
  const head = request.method === "HEAD";
  const handler = found.methods[head ? "GET" : request.method];
  if (handler === undefined) {
    throw new HttpError(405, `method ${request.method} not allowed`, {}, { allow: allowOf(found.methods) });
  }
  const { channel, isDefault } = resolveChannel(env, explicit);
  const req = { request, env, ctx, url, mount, channel, isDefault, head };
  const response = await handler(req, found.params);
  return head && response.body !== null ? new Response(null, response) : response;
}

export default {
  async fetch(request, env, ctx) {
    try {
      return await handle(request, env, ctx);
    } catch (err) {
      if (err instanceof HttpError) {
        const response = errorResponse(err.status, err.message, err.extra, err.headers);
        return request.method === "HEAD" ? new Response(null, response) : response;
      }
      console.error("unhandled error", err && err.stack ? err.stack : err);
      return errorResponse(500, "internal error");
    }
  },

  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runCron(env, Date.now()));
  },
};
