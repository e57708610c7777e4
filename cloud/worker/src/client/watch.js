// The watch page's player: hls.js (served by this Worker) where the browser has Media Source
// Extensions, else the browser's native HLS. Click ▶ to start with sound; errors are handled the way hls.js documents them
// (recover media errors, reload on network errors) and shown, never swallowed.
(function () {
  "use strict";
  var body = document.body;
  var base = body.getAttribute("data-base") || "";
  // The master playlist when the channel publishes one (lower rungs to switch to), else the
  // main rendition's: the Worker says which.
  var source = base + "/hls/" + (body.getAttribute("data-playlist") || "index.m3u8");
  var video = document.getElementById("video");
  var stage = document.getElementById("stage");
  var play = document.getElementById("play");
  var notice = document.getElementById("notice");
  var poster = document.getElementById("poster");
  var posterText = document.getElementById("poster-text");
  var fullscreen = document.getElementById("fullscreen");
  var hls = null;
  var retries = 0;
  var mediaRecoveries = 0;
  var retryTimer = null;
  var lastStatus = null;
  // What the player did, for people debugging a stream (and the tests): its state, errors,
  // and the media sequence (sn) and discontinuity (cc) numbers of the fragments it played.
  window.vvtvPlayer = { engine: null, errors: [], fatal: 0, state: "idle", played: [] };

  function show(state, text) {
    stage.setAttribute("data-state", state);
    window.vvtvPlayer.state = state;
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function nativeHls() {
    return video.canPlayType("application/vnd.apple.mpegurl") !== "";
  }

  function reconnect(reason) {
    window.vvtvPlayer.fatal += 1;
    window.vvtvPlayer.errors.push(String(reason));
    var offAir = lastStatus && !lastStatus.on_air;
    show("reconnecting", offAir ? "Off air — reconnecting…" : "Reconnecting…");
    clearTimeout(retryTimer);
    var delay = Math.min(30000, 1000 * Math.pow(2, Math.min(retries, 5)));
    retries += 1;
    retryTimer = setTimeout(start, delay);
  }

  function start() {
    if (hls) {
      hls.destroy();
      hls = null;
    }
    show("loading", "Loading…");
    // hls.js wherever Media Source Extensions exist (hls.js's documented order: the same
    // recovery everywhere, and Chromium now claims native HLS too); native HLS elsewhere
    // (iPhone Safari).
    if (!window.Hls || !window.Hls.isSupported()) {
      if (!nativeHls()) {
        show("unsupported", "This browser cannot play the stream.");
        return;
      }
      window.vvtvPlayer.engine = "native";
      video.src = source;
      video.play().catch(function (err) { reconnect(err && err.name); });
      return;
    }
    window.vvtvPlayer.engine = "hls.js";
    var Hls = window.Hls;
    hls = new Hls({ enableWorker: false, liveSyncDurationCount: 3 });
    hls.on(Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) {
        window.vvtvPlayer.errors.push(data.details);
        return;
      }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 3) {
        mediaRecoveries += 1;
        hls.recoverMediaError();
        return;
      }
      reconnect(data.details);
    });
    hls.on(Hls.Events.FRAG_CHANGED, function (_event, data) {
      var played = window.vvtvPlayer.played;
      played.push({ sn: data.frag.sn, cc: data.frag.cc });
      if (played.length > 200) played.shift();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      video.play().catch(function (err) { reconnect(err && err.name); });
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  }

  video.addEventListener("playing", function () {
    retries = 0;
    mediaRecoveries = 0;
    show("playing", "");
  });
  video.addEventListener("waiting", function () {
    if (stage.getAttribute("data-state") === "playing") show("buffering", "Buffering…");
  });
  video.addEventListener("error", function () {
    if (!hls) reconnect("video error " + (video.error ? video.error.code : ""));
  });
  play.addEventListener("click", function () {
    video.muted = false;
    start();
  });
  fullscreen.addEventListener("click", function () {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (stage.requestFullscreen) {
      stage.requestFullscreen();
    } else if (video.webkitEnterFullscreen) {
      video.webkitEnterFullscreen();
    }
  });
  poster.addEventListener("error", function () {
    poster.hidden = true;
    posterText.hidden = false;
  });

  // ---- now / next from the public status ------------------------------------------------

  function clock(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) return "";
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function line(item) {
    if (!item || !item.title) return "—";
    return item.start_at ? clock(item.start_at) + " · " + item.title : item.title;
  }

  function endsAt(item) {
    if (!item || !item.start_at || typeof item.duration_sec !== "number") return null;
    return new Date(item.start_at).getTime() + item.duration_sec * 1000;
  }

  function render(status) {
    lastStatus = status;
    var now = status.now_playing;
    var next = status.next;
    // The edge's status is as fresh as the last upload: move on when "now" has ended.
    var end = endsAt(now);
    if (end !== null && end < Date.now() && next) {
      now = next;
      next = null;
    }
    document.getElementById("now").textContent = line(now);
    document.getElementById("next").textContent = line(next);
    var badge = document.getElementById("state");
    var state = status.on_air ? status.state : "OFF AIR";
    badge.textContent = state;
    badge.setAttribute("data-state", state);
    if (status.name) document.getElementById("name").textContent = status.name;
  }

  function refresh() {
    fetch(base + "/v1/status", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function () {})
      .then(function () { setTimeout(refresh, 15000); });
  }
  refresh();
})();
