// The public landing/watch page, its assets (hls.js vendored from npm, served by the Worker
// itself), the channel logo and its fallback.

import hlsSource from "../node_modules/hls.js/dist/hls.min.js";
import watchScript from "./client/watch.js";
import watchStyle from "./client/watch.css";
import { HttpError, errorResponse, iso, json, sha256Hex } from "./http.js";

// Kept equal to package.json's hls.js by a test; the file name carries it, so it is immutable.
export const HLS_VERSION = "1.7.4";
export const ASSETS = {
  [`hls-${HLS_VERSION}.min.js`]: { body: hlsSource, type: "text/javascript; charset=utf-8", immutable: true },
  "watch.js": { body: watchScript, type: "text/javascript; charset=utf-8", immutable: false },
  "watch.css": { body: watchStyle, type: "text/css; charset=utf-8", immutable: false },
};

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
  "form-action 'none'";
const LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'";

export const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
};

export function escapeHtml(value) {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

export function serveAsset(name, head) {
  const asset = ASSETS[name];
  if (asset === undefined) return errorResponse(404, "not found");
  return new Response(head ? null : asset.body, {
    headers: {
      "content-type": asset.type,
      "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "public, max-age=300",
      ...SECURITY_HEADERS,
    },
  });
}

/** One channel's page; `mount` is "/vvtv" when the viewer came through the original's prefix. */
export function renderPage({ mount, channel, isDefault, channels, playlist = "index.m3u8", head }) {
  const base = `${mount}${isDefault ? "" : `/c/${channel.id}`}`;
  const name = escapeHtml(channel.name);
  const items = channels
    .map((c) => {
      const href = `${mount}${c.isDefault ? "/" : `/c/${c.id}/`}`;
      const current = c.id === channel.id ? ' aria-current="page"' : "";
      return (
        `<li><a href="${escapeHtml(href)}"${current}>${escapeHtml(c.name)}</a>` +
        ` <span class="badge" data-state="${escapeHtml(c.state)}">${escapeHtml(c.state)}</span></li>`
      );
    })
    .join("");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name} — live</title>
<link rel="stylesheet" href="${mount}/assets/watch.css">
<script src="${mount}/assets/hls-${HLS_VERSION}.min.js" defer></script>
<script src="${mount}/assets/watch.js" defer></script>
</head>
<body data-channel="${escapeHtml(channel.id)}" data-base="${escapeHtml(base)}" data-playlist="${escapeHtml(playlist)}">
<header>
<img class="brand" src="${base}/logo" alt="" width="64" height="36">
<h1 id="name">${name}</h1>
<span id="state" class="badge" data-state="${escapeHtml(channel.state)}">${escapeHtml(channel.state)}</span>
</header>
<main>
<div id="stage" class="stage" data-state="idle">
<video id="video" playsinline preload="none"></video>
<img id="poster" class="poster" src="${base}/logo" alt="${name}">
<p id="poster-text" class="poster-text" hidden>${name}</p>
<button id="play" class="play" type="button" aria-label="Play with sound">▶</button>
<p id="notice" class="notice" role="status" hidden></p>
<button id="fullscreen" class="fullscreen" type="button" aria-label="Fullscreen"><svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2"><path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"/></svg></button>
</div>
<section class="guide" aria-label="Programme">
<div><h2>Now</h2><p id="now">—</p></div>
<div><h2>Next</h2><p id="next">—</p></div>
</section>
<nav class="channels" aria-label="Channels"><h2>Channels</h2><ul id="channels">${items}</ul></nav>
</main>
</body>
</html>
`;
  return new Response(head ? null : html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-security-policy": PAGE_CSP,
      ...SECURITY_HEADERS,
    },
  });
}

// ---- the logo ---------------------------------------------------------------------------

export function logoObjectKey(channel) {
  return `logos/${channel}`;
}

/** PNG, JPEG or WebP by their magic bytes; anything else (SVG included) is refused. */
export function sniffImage(bytes) {
  const starts = (sig, at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts([0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return "image/webp";
  return null;
}

export async function putLogo({ env, channel, body, nowMs, actor, auditStatement }) {
  const type = sniffImage(body);
  if (type === null) throw new HttpError(422, "logo must be a PNG, JPEG or WebP image");
  const sha256 = await sha256Hex(body);
  await env.MEDIA.put(logoObjectKey(channel), body, { httpMetadata: { contentType: type }, sha256 });
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO channel_meta (channel, logo_type, logo_sha256, logo_updated_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (channel) DO UPDATE SET logo_type = excluded.logo_type, " +
        "logo_sha256 = excluded.logo_sha256, logo_updated_at = excluded.logo_updated_at",
    ).bind(channel, type, sha256, nowMs),
    auditStatement(env.DB, { at: nowMs, channel, actor, action: "logo_ingested", details: { type, sha256, bytes: body.byteLength } }),
  ]);
  return json({ ok: true, type, sha256, bytes: body.byteLength, updated_at: iso(nowMs) });
}

function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? "tv").slice(0, 2);
  return letters.toUpperCase();
}

export async function serveLogo({ env, channel, name, head }) {
  const object = await env.MEDIA.get(logoObjectKey(channel));
  if (object !== null) {
    return new Response(head ? null : object.body, {
      headers: {
        "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
        "cache-control": "public, max-age=300",
        etag: object.httpEtag,
        ...SECURITY_HEADERS,
      },
    });
  }
  // The fallback: the channel's initials, drawn here (never a file someone uploaded).
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 180" role="img" aria-label="${escapeHtml(name)}">` +
    `<rect width="320" height="180" fill="#15171c"/>` +
    `<text x="160" y="112" font-family="sans-serif" font-size="72" font-weight="700" ` +
    `fill="#e8e8ec" text-anchor="middle">${escapeHtml(initials(name))}</text></svg>`;
  return new Response(head ? null : svg, {
    headers: {
      "content-type": "image/svg+xml; charset=utf-8",
      "cache-control": "public, max-age=60",
      "content-security-policy": LOGO_CSP,
      "x-vvtv-logo": "fallback",
      ...SECURITY_HEADERS,
    },
  });
}
