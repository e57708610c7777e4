// vvtv master control dashboard: plain JS, no build step, nothing from the internet.
//
// Live state comes from three websockets (/v1/ws/buffer, /v1/ws/alerts, /v1/ws/runtime):
// each sends the latest state on connect, then every change, as {"topic","seq","data"}
// (plus "gap": n when this tab was too slow and n updates were conflated away). A dropped
// socket reconnects with exponential backoff and jitter (0.5 s doubling to 10 s).
//
// Control calls are signed here with WebCrypto HMAC-SHA256 (SPEC §3) only once the
// operator has entered the control token and secret. They live in sessionStorage: this
// tab only, cleared when it closes, never sent except as Authorization + signature.
// The timestamp is the channel's clock (offset learnt from status.timestamp), so a
// browser with a skewed clock still signs inside the server's ±300 s window.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  status: null,
  queue: [],
  clockOffsetMs: 0, // channel clock minus browser clock
  target: 60,
  critical: 20,
};

// ---------------------------------------------------------------- formatting helpers

function fmtClock(date) {
  return date.toISOString().slice(11, 19);
}
function fmtHM(date) {
  return date.toISOString().slice(11, 16);
}
function fmtDuration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
}
function channelNow() {
  return new Date(Date.now() + state.clockOffsetMs);
}
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child == null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---------------------------------------------------------------- status / buffer

function applyStatus(status) {
  if (!status || typeof status !== "object") return;
  state.status = status;
  if (status.timestamp) {
    const t = Date.parse(status.timestamp);
    if (!Number.isNaN(t)) state.clockOffsetMs = t - Date.now();
  }
  if (typeof status.buffer_target_minutes === "number") state.target = status.buffer_target_minutes;
  if (typeof status.buffer_critical_minutes === "number") state.critical = status.buffer_critical_minutes;

  const pill = $("state");
  const mode = status.state || "UNKNOWN";
  pill.textContent = mode;
  pill.dataset.state = mode;
  pill.className = `state-pill state-${mode}`;

  const emergency = mode === "EMERGENCY";
  $("emergency-banner").hidden = !emergency;
  if (emergency) {
    $("emergency-detail").textContent =
      status.emergency_override === true
        ? "forced on by an operator"
        : "buffer below critical: airing from the emergency pool";
  }
  $("clock").textContent = fmtClock(channelNow());
  renderGauge(Number(status.buffer_minutes) || 0);
  const age = status.last_segment_age_s;
  $("segment-age").textContent = typeof age === "number" ? `${age.toFixed(1)} s` : "—";
  const avail = status.availability_pct;
  $("availability").textContent = typeof avail === "number" ? `${avail.toFixed(2)} %` : "—";
  $("availability").className = typeof avail === "number" && avail < 99.5 ? "below-slo" : "";
  renderNowPlaying();
  renderCardWarnings(status.card_warnings);
}

// What the OwnerCard in force asks for that vvtv does not do (each names its field).
function renderCardWarnings(warnings) {
  const list = Array.isArray(warnings) ? warnings.filter((w) => typeof w === "string") : [];
  $("card-warnings-panel").hidden = list.length === 0;
  $("card-warnings-count").textContent = list.length;
  const shown = $("card-warnings");
  if (shown.dataset.key === JSON.stringify(list)) return; // republished every second
  shown.dataset.key = JSON.stringify(list);
  shown.replaceChildren(
    ...list.map((w) => {
      // "field.path: what is wrong": the field in bold, as alerts show their code.
      const cut = w.indexOf(": ");
      return cut > 0
        ? el("li", {}, el("div", { class: "code" }, w.slice(0, cut)), el("div", { class: "msg" }, w.slice(cut + 2)))
        : el("li", {}, el("div", { class: "msg" }, w));
    }),
  );
}

// Semicircle from angle 180° (left, 0 min) to 0° (right, max minutes).
function arcPoint(fraction, radius = 80) {
  const angle = Math.PI * (1 - Math.min(Math.max(fraction, 0), 1));
  return [100 + radius * Math.cos(angle), 100 - radius * Math.sin(angle)];
}
function arcPath(from, to, radius = 80) {
  const [x1, y1] = arcPoint(from, radius);
  const [x2, y2] = arcPoint(to, radius);
  return `M${x1.toFixed(2)} ${y1.toFixed(2)} A${radius} ${radius} 0 0 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}
function renderGauge(minutes) {
  const max = Math.max(state.target * 1.5, minutes, 1);
  const crit = state.critical / max;
  const target = state.target / max;
  $("zone-critical").setAttribute("d", arcPath(0, crit, 94));
  $("zone-low").setAttribute("d", arcPath(crit, target, 94));
  $("zone-ok").setAttribute("d", arcPath(target, 1, 94));
  const fill = $("gauge-fill");
  fill.setAttribute("d", arcPath(0, Math.max(minutes / max, 0.001)));
  fill.setAttribute("class", minutes < state.critical ? "fill critical" : minutes < state.target ? "fill low" : "fill");
  for (const [id, f] of [["gauge-target", target], ["gauge-critical", crit]]) {
    const [x1, y1] = arcPoint(f, 68);
    const [x2, y2] = arcPoint(f, 100);
    const line = $(id);
    line.setAttribute("x1", x1); line.setAttribute("y1", y1);
    line.setAttribute("x2", x2); line.setAttribute("y2", y2);
  }
  $("buffer-value").textContent = minutes.toFixed(1);
  $("buffer-target").textContent = state.target;
  $("buffer-critical").textContent = state.critical;
}

function renderNowPlaying() {
  const status = state.status || {};
  const now = status.now_playing;
  $("now-title").textContent = now ? now.title || now.asset_id || "untitled" : "—";
  const bits = [];
  if (now && now.slot_type) bits.push(now.slot_type);
  if (now && now.fallback_level != null && now.fallback_level > 0) bits.push(`fallback ${now.fallback_level}`);
  if (now && now.asset_id) bits.push(now.asset_id);
  $("now-meta").textContent = bits.join(" · ");
  // /v1/status gives the next entries as a list (the first is what airs next).
  const next = Array.isArray(status.next) ? status.next[0] : status.next;
  $("next-title").textContent = next ? next.title || next.asset_id || "untitled" : "—";
  tickProgress();
}

function tickProgress() {
  const now = state.status && state.status.now_playing;
  let elapsed = 0;
  let duration = 0;
  if (now && now.start_at && now.duration_sec) {
    duration = Number(now.duration_sec);
    elapsed = Math.min(Math.max((channelNow() - Date.parse(now.start_at)) / 1000, 0), duration);
  }
  $("now-progress").style.width = duration ? `${(100 * elapsed) / duration}%` : "0";
  $("now-elapsed").textContent = fmtDuration(elapsed);
  $("now-remaining").textContent = `-${fmtDuration(duration - elapsed)}`;
}

// ---------------------------------------------------------------- timeline

const WINDOW_HOURS = 3;

async function refreshQueue() {
  try {
    const r = await fetch("/v1/queue", { cache: "no-store" });
    if (!r.ok) return;
    const body = await r.json();
    state.queue = Array.isArray(body) ? body : body.items || [];
    renderTimeline();
  } catch (_) {
    /* the websocket indicators already show the daemon is unreachable */
  }
}

function renderTimeline() {
  const lane = $("timeline");
  const axis = $("timeline-axis");
  const list = $("queue-list");
  const start = channelNow().getTime();
  const span = WINDOW_HOURS * 3600 * 1000;
  lane.replaceChildren();
  axis.replaceChildren();
  list.replaceChildren();
  for (const item of state.queue) {
    const t0 = Date.parse(item.start_at);
    const t1 = t0 + 1000 * Number(item.duration_sec || 0);
    if (Number.isNaN(t0) || t1 <= start || t0 >= start + span) continue;
    const left = (100 * (Math.max(t0, start) - start)) / span;
    const width = (100 * (Math.min(t1, start + span) - Math.max(t0, start))) / span;
    const level = item.fallback_level != null ? ` level-${item.fallback_level}` : "";
    lane.append(
      el("div", {
        class: `block ${item.slot_type || ""}${level}`,
        style: `left:${left}%;width:${width}%`,
        title: `${fmtHM(new Date(t0))} ${item.title || item.asset_id} (${fmtDuration(item.duration_sec)})`,
      }, item.title || item.asset_id, el("small", {}, fmtHM(new Date(t0)))),
    );
  }
  lane.append(el("div", { class: "nowline", style: "left:0" }));
  for (let m = 0; m <= WINDOW_HOURS * 60; m += 30) {
    const at = new Date(start + m * 60000);
    axis.append(el("span", { style: `left:${(100 * m) / (WINDOW_HOURS * 60)}%` }, m === 0 ? "now" : fmtHM(at)));
  }
  for (const item of state.queue.slice(0, 12)) {
    const t0 = new Date(Date.parse(item.start_at));
    list.append(
      el("li", {},
        el("span", { class: "t" }, Number.isNaN(t0.getTime()) ? "--:--" : fmtHM(t0)),
        el("span", { class: "n" }, item.title || item.asset_id || "untitled"),
        el("span", { class: `badge ${item.slot_type || ""}` }, item.slot_type || "?"),
        el("span", { class: "t" }, fmtDuration(item.duration_sec || 0)),
      ),
    );
  }
  if (!state.queue.length) list.append(el("li", { class: "empty" }, "Queue is empty"));
}

// ---------------------------------------------------------------- alerts

function renderAlerts(data) {
  const alerts = Array.isArray(data) ? data : (data && data.alerts) || [];
  const list = $("alerts-list");
  list.replaceChildren();
  const count = $("alerts-count");
  count.textContent = alerts.length;
  // Hot only for what pages: an inhibited alert is part of another one's incident.
  const paging = alerts.filter((a) => !a.inhibited_by);
  count.className = paging.some((a) => a.severity === "critical" || a.severity === "high") ? "count hot" : "count";
  const grace = data && data.startup_grace_until;
  if (grace && alerts.length) {
    list.append(el("li", { class: "grace" }, `Start-up grace: nothing is sent before ${fmtHM(new Date(Date.parse(grace)))}`));
  }
  if (!alerts.length) {
    list.append(el("li", { class: "empty" }, "No active alerts"));
    return;
  }
  for (const a of alerts) {
    const since = a.since ? ` · since ${fmtHM(new Date(Date.parse(a.since)))}` : "";
    const cls = `${a.severity || ""}${a.inhibited_by ? " inhibited" : ""}`;
    list.append(
      el("li", { class: cls },
        el("span", { class: "sev" }, a.inhibited_by ? `${a.severity || ""} · inhibited` : a.severity || ""),
        el("div", { class: "code" }, a.code || "ALERT"),
        el("div", { class: "msg" }, (a.message || "") + since),
        a.inhibited_by ? el("div", { class: "inhibitor" }, `inhibited by ${a.inhibited_by}: one incident, it pages`) : null,
      ),
    );
  }
}

// ---------------------------------------------------------------- push outputs

// The runtime websocket carries the push outputs beside the tree (/v1/outputs, same shape).
function renderOutputs(outputs) {
  const list = $("outputs-list");
  const items = Array.isArray(outputs) ? outputs : [];
  $("outputs-count").textContent = items.length;
  const down = items.filter((o) => o.enabled && !o.connected);
  $("outputs-count").className = down.length ? "count hot" : "count";
  if (!items.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No push outputs in the OwnerCard"));
    return;
  }
  list.replaceChildren(...items.map((o) => {
    const stats = o.connected
      ? `${Math.round(o.bitrate_kbps)} kbit/s · up ${fmtDuration(o.uptime_s)} · ${o.reconnects} reconnect${o.reconnects === 1 ? "" : "s"}`
      : o.enabled ? `down ${fmtDuration(o.down_s || 0)} · ${o.failures} failed attempt${o.failures === 1 ? "" : "s"}` : "switched off";
    return el("li", { class: String(o.status || "") },
      el("span", { class: "status" }, o.status || ""),
      el("div", { class: "name" }, o.name || "?"),
      el("div", { class: "url" }, o.url || ""),
      el("div", { class: "stats" }, stats),
      o.last_error && !o.connected ? el("div", { class: "err" }, o.last_error) : null,
    );
  }));
}

// ---------------------------------------------------------------- supervision tree

function isNode(value) {
  return value && typeof value === "object" && ("name" in value || "children" in value || "state" in value);
}
function childrenOf(node) {
  const c = node.children;
  if (Array.isArray(c)) return c;
  if (c && typeof c === "object") return Object.entries(c).map(([name, v]) => ({ name, ...v }));
  return [];
}
function renderNode(node) {
  const st = String(node.state || "unknown").toLowerCase();
  const restarts = Number(node.restarts || 0);
  const mb = node.mailbox;
  const item = el("li", {},
    el("div", { class: "node", title: node.last_failure ? `last failure: ${JSON.stringify(node.last_failure)}` : st },
      el("span", { class: `dot ${st}` }),
      el("span", { class: "name" }, node.name || "?"),
      el("span", { class: "kind" }, [node.kind, node.strategy].filter(Boolean).join(" · ")),
      el("span", { class: restarts ? "restarts hot" : "restarts" }, `${restarts} restart${restarts === 1 ? "" : "s"}`),
      el("span", { class: "mbox" }, mb && mb.capacity ? `✉ ${mb.depth}/${mb.capacity}` : ""),
    ),
  );
  const kids = childrenOf(node);
  if (kids.length) item.append(el("ul", {}, ...kids.map(renderNode)));
  return item;
}
function renderTree(data) {
  const view = $("tree");
  let roots = [];
  if (isNode(data)) roots = [data];
  else if (data && typeof data === "object") {
    const inner = data.tree || data.root;
    roots = isNode(inner) ? [inner] : Object.entries(data).filter(([, v]) => isNode(v)).map(([name, v]) => ({ name, ...v }));
  }
  view.replaceChildren(roots.length ? el("ul", {}, ...roots.map(renderNode)) : el("div", { class: "empty" }, "no runtime data"));
}

// ---------------------------------------------------------------- websockets

function connect(topic, onData) {
  const badge = $(`conn-${topic}`);
  let delay = 500;
  const open = () => {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/v1/ws/${topic}`);
    ws.onopen = () => {
      badge.className = "conn up";
      badge.title = "";
    };
    ws.onmessage = (event) => {
      // The backoff starts over only once data flows: a server at its cap accepts the
      // socket and closes it at once (1013), and must not be retried twice a second.
      delay = 500;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      badge.dataset.seq = frame.seq;
      if (frame.gap) badge.dataset.gaps = Number(badge.dataset.gaps || 0) + frame.gap;
      onData(frame.data);
    };
    ws.onclose = (event) => {
      badge.className = "conn retry";
      // Refused by the server (1013: too many live streams; 1008: policy): say why.
      badge.title = event.reason || "";
      const wait = delay * (0.75 + Math.random() * 0.5);
      delay = Math.min(delay * 2, 10000);
      setTimeout(open, wait);
    };
    ws.onerror = () => ws.close();
  };
  open();
}

// ---------------------------------------------------------------- signed controls

const CRED_KEY = "vvtv.control";

function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(CRED_KEY) || "null");
  } catch (_) {
    return null;
  }
}
function setControlStatus(text, kind = "") {
  const p = $("control-status");
  p.textContent = text;
  p.className = `hint ${kind}`;
}
function refreshControls() {
  const creds = credentials();
  const usable = !!(creds && window.crypto && crypto.subtle);
  $("emergency-on").disabled = !usable;
  $("emergency-off").disabled = !usable;
  $("credentials").classList.toggle("unlocked", !!creds);
  if (!window.crypto || !crypto.subtle) {
    setControlStatus("Signing needs WebCrypto, which browsers only offer over https or on localhost.", "error");
  } else if (creds) {
    setControlStatus("Controls unlocked for this tab. Every call is signed and audited.", "ok");
  } else {
    setControlStatus("Controls are locked: enter the token and secret (kept in this tab's sessionStorage only).");
  }
}
async function hmacHex(secret, message) {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(message));
  return Array.from(new Uint8Array(sig), (b) => b.toString(16).padStart(2, "0")).join("");
}
async function signedPost(path, bodyObject) {
  const creds = credentials();
  if (!creds) throw new Error("controls are locked");
  const body = bodyObject === undefined ? "" : JSON.stringify(bodyObject);
  const ts = String(Math.floor(channelNow().getTime() / 1000));
  const signature = await hmacHex(creds.secret, `POST\n${path}\n${ts}\n${body}`);
  const r = await fetch(path, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${creds.token}`,
      "x-vvtv-ts": ts,
      "x-vvtv-signature": signature,
      "Content-Type": "application/json",
    },
    body,
  });
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${r.status}: ${answer.error || r.statusText}`);
  return answer;
}
// true forces emergency on until released; null releases it (the buffer rule decides again).
async function setEmergency(enabled) {
  try {
    const status = await signedPost("/v1/control/emergency-mode", { enabled });
    applyStatus(status);
    setControlStatus(
      enabled ? "Emergency forced ON." : "Override released: the buffer rule decides.",
      "ok",
    );
  } catch (err) {
    setControlStatus(`Refused: ${err.message}`, "error");
  }
}

// ---------------------------------------------------------------- player

function setupPlayer() {
  const video = $("player");
  const note = $("player-note");
  const badge = $("player-state");
  // Muted, so it starts without a click; the operator unmutes with the video's controls.
  const player = new VvtvPlayer.LivePlayer(video, {
    onState: (state, text) => {
      badge.textContent = text;
      badge.dataset.state = state;
      badge.hidden = !text;
    },
  });
  window.vvtvPlayer = player; // what the page shows is also readable from the console
  if (!player.supported) {
    video.hidden = true;
    note.hidden = false;
    note.replaceChildren(
      "This browser cannot play the live stream. Open ",
      el("a", { href: "/live/master.m3u8" }, "/live/master.m3u8"),
      " in VLC or mpv.",
    );
    return;
  }
  player.start({ muted: true });
}

// ---------------------------------------------------------------- start

function start() {
  $("credentials").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("cred-token").value.trim();
    const secret = $("cred-secret").value;
    if (!token || !secret) {
      setControlStatus("Both the token and the secret are needed.", "error");
      return;
    }
    sessionStorage.setItem(CRED_KEY, JSON.stringify({ token, secret }));
    $("cred-token").value = "";
    $("cred-secret").value = "";
    refreshControls();
  });
  $("cred-forget").addEventListener("click", () => {
    sessionStorage.removeItem(CRED_KEY);
    refreshControls();
  });
  $("emergency-on").addEventListener("click", () => setEmergency(true));
  $("emergency-off").addEventListener("click", () => setEmergency(null));
  refreshControls();
  setupPlayer();

  let playingAsset = null;
  connect("buffer", (data) => {
    applyStatus(data);
    const asset = data && data.now_playing ? data.now_playing.asset_id : null;
    if (asset !== playingAsset) {
      playingAsset = asset;
      refreshQueue(); // the timeline moved on: fetch it now rather than at the next poll
    } else {
      renderTimeline();
    }
  });
  connect("alerts", renderAlerts);
  connect("runtime", (data) => {
    renderTree(data);
    renderOutputs(data && data.outputs);
  });
  fetch("/v1/status", { cache: "no-store" }).then((r) => r.json()).then(applyStatus).catch(() => {});
  refreshQueue();
  setInterval(refreshQueue, 15000);
  setInterval(() => {
    $("clock").textContent = fmtClock(channelNow());
    tickProgress();
  }, 1000);
  $("clock").textContent = fmtClock(channelNow());
}

document.addEventListener("DOMContentLoaded", start);
