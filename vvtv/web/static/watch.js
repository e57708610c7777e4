// vvtv watch page: the live channel for viewers. Plain JS, no build step, read-only.
//
// The player (player.js) plays /live/master.m3u8 natively where it can, with hls.js
// elsewhere, and says when it buffers or reconnects. ▶ starts it with sound (a click is
// what browsers require for that). What is on and next comes from /v1/public/status,
// polled every 15 s and again when the programme on air ends; while the channel cannot
// be reached the page says "Reconnecting…" and retries with backoff (2 s doubling to
// 30 s). Times are shown in the viewer's own zone.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 15000;
  const RETRY_MIN_MS = 2000;
  const RETRY_MAX_MS = 30000;
  const FETCH_TIMEOUT_MS = 10000;
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

  const page = {
    status: null,
    offsetMs: 0, // channel clock minus this browser's clock
    retryMs: RETRY_MIN_MS,
    timer: null,
    reachable: true,
    player: null,
    refresh: null, // ask the channel now (set below)
  };
  window.vvtvWatch = page; // readable from the console (and by the browser tests)

  function channelNow() {
    return Date.now() + page.offsetMs;
  }

  function span(programme) {
    const start = new Date(Date.parse(programme.start));
    const stop = new Date(Date.parse(programme.stop));
    return `${timeFormat.format(start)}–${timeFormat.format(stop)}`;
  }

  // ------------------------------------------------------------------ channel identity

  function showChannel(channel) {
    const name = $("channel-name");
    const logo = $("logo");
    name.textContent = channel.name;
    document.title = `${channel.name} · live`;
    if (!channel.logo) {
      logo.hidden = true;
      name.hidden = false;
      logo.removeAttribute("src");
      return;
    }
    if (logo.getAttribute("src") !== channel.logo) {
      logo.alt = channel.name;
      logo.src = channel.logo; // load/error below decide between the image and the name
    }
  }

  function logoLoaded() {
    $("logo").hidden = false;
    $("channel-name").hidden = true;
  }

  function logoFailed() {
    $("logo").hidden = true;
    $("channel-name").hidden = false;
  }

  // ------------------------------------------------------------------ now and next

  function showStatus(status) {
    page.status = status;
    const t = Date.parse(status.timestamp);
    if (!Number.isNaN(t)) page.offsetMs = t - Date.now();
    showChannel(status.channel);
    const now = status.now;
    $("now-title").textContent = now ? now.title : "The channel is starting…";
    $("now-time").textContent = now ? span(now) : "";
    $("now-category").textContent = now && now.category && !now.intermission ? now.category : "";
    const list = $("next");
    list.replaceChildren(
      ...status.next.map((p) => {
        const li = document.createElement("li");
        const time = document.createElement("time");
        time.className = "time";
        time.textContent = timeFormat.format(new Date(Date.parse(p.start)));
        const title = document.createElement("span");
        title.className = "title";
        title.textContent = p.title;
        li.append(time, title);
        if (p.intermission) li.className = "intermission";
        return li;
      }),
    );
    tick();
  }

  function tick() {
    const now = page.status && page.status.now;
    let fraction = 0;
    if (now) {
      const start = Date.parse(now.start);
      const stop = Date.parse(now.stop);
      if (stop > start) fraction = Math.min(Math.max((channelNow() - start) / (stop - start), 0), 1);
    }
    $("now-progress").style.width = `${(100 * fraction).toFixed(2)}%`;
  }

  function setReachable(reachable) {
    page.reachable = reachable;
    const note = $("status-note");
    note.textContent = reachable ? "" : "Reconnecting…";
    note.hidden = reachable;
    document.body.classList.toggle("offline", !reachable);
  }

  function schedule(ms) {
    clearTimeout(page.timer);
    page.timer = setTimeout(refresh, ms);
  }

  async function refresh() {
    // A connection that hangs counts as unreachable too.
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const response = await fetch("/v1/public/status", { cache: "no-store", signal: abort.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      showStatus(await response.json());
      setReachable(true);
      page.retryMs = RETRY_MIN_MS;
      // Ask again when the programme on air ends (the guide moves on), or in 15 s.
      const now = page.status.now;
      const untilEnd = now ? Date.parse(now.stop) - channelNow() + 1000 : POLL_MS;
      schedule(Math.max(1000, Math.min(POLL_MS, untilEnd)));
    } catch (_) {
      setReachable(false);
      schedule(page.retryMs * (0.75 + Math.random() * 0.5));
      page.retryMs = Math.min(page.retryMs * 2, RETRY_MAX_MS);
    } finally {
      clearTimeout(timeout);
    }
  }

  // ------------------------------------------------------------------ player

  function showPlayerState(state, text) {
    const waitingForClick = state === "idle" || state === "paused";
    $("play").hidden = !waitingForClick;
    const box = $("state");
    box.textContent = waitingForClick ? "" : text;
    box.hidden = waitingForClick || !text;
    box.dataset.state = state;
    $("stage").dataset.state = state;
  }

  function play() {
    const video = $("video");
    video.controls = true;
    if (page.player.started) video.play();
    else page.player.start({ muted: false }); // a click: sound is allowed
  }

  function toggleFullscreen() {
    const stage = $("stage");
    const video = $("video");
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (stage.requestFullscreen) {
      stage.requestFullscreen().catch(() => {});
    } else if (video.webkitEnterFullscreen) {
      video.webkitEnterFullscreen(); // iOS: only the video element goes full screen
    }
  }

  page.refresh = refresh;

  function start() {
    $("logo").addEventListener("load", logoLoaded);
    $("logo").addEventListener("error", logoFailed);
    page.player = new VvtvPlayer.LivePlayer($("video"), { onState: showPlayerState });
    if (!page.player.supported) {
      showPlayerState("unsupported", VvtvPlayer.STATE_TEXT.unsupported);
    }
    $("play").addEventListener("click", play);
    $("fullscreen").addEventListener("click", toggleFullscreen);
    $("stage").addEventListener("dblclick", toggleFullscreen);
    refresh();
    setInterval(tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
