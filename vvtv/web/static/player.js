// vvtv live player, shared by the dashboard and the watch page: plain JS, no build step,
// nothing from the internet (hls.js is vendored under /static/vendor/, see
// ops/vendor-hlsjs.sh).
//
// Native HLS first where the browser has a proven one (Safari, iOS: their own player;
// see engineFor); hls.js everywhere else (Chrome, Firefox, Edge). Errors and stalls are
// handled the way hls.js documents them, and shown, never swallowed:
//
//   - a fatal MEDIA_ERROR -> hls.recoverMediaError(); a second one within 5 s means the
//     recovery did not hold, so the player is rebuilt;
//   - a fatal NETWORK_ERROR (hls.js has already retried by its load policies) -> after a
//     backoff, hls.loadSource() again when the playlist itself failed, hls.startLoad()
//     otherwise; the viewer sees "Reconnecting";
//   - any other fatal error -> destroy and rebuild after a backoff;
//   - a non-fatal BUFFER_STALLED_ERROR (hls.js nudges the playhead itself) -> "Buffering";
//   - the playhead stuck for STALL_S while it should play -> rebuild (the same for native).
//
// Backoff: 1 s doubling to 15 s with jitter, back to 1 s once playback runs again.
// Every error lands in player.errors (fatal ones also in player.fatal) so a page, a test
// or a curious operator can read what happened.
"use strict";

(function (global) {
  // The master playlist: the main rendition and the card's lower rungs (channel.renditions),
  // or the main one alone; hls.js (and Safari) pick a rung by the bandwidth they measure.
  const LIVE_PLAYLIST = "/live/master.m3u8";
  const HLS_WORKER = "/static/vendor/hls.worker.js";
  const MEDIA_RECOVERY_WINDOW_MS = 5000;
  const STALL_S = 12;
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 15000;

  // What the viewer is told, by state.
  const STATE_TEXT = {
    idle: "",
    loading: "Loading…",
    playing: "",
    buffering: "Buffering…",
    reconnecting: "Reconnecting…",
    paused: "Paused",
    unsupported: "This browser cannot play the live stream.",
    error: "The live stream cannot be played right now.",
  };

  // Which player plays the stream here. "Native" means the browser's own, proven HLS
  // player: Safari's (it is the browser with ManagedMediaSource), or whatever plays HLS
  // where hls.js cannot run at all (no MediaSource, older iOS). Recent Chrome also
  // answers "maybe" to canPlayType for HLS but fails on some streams, so, as hls.js's
  // own README advises since 2026, a "maybe" alone is not trusted where hls.js works.
  function engineFor(video) {
    const native = video.canPlayType("application/vnd.apple.mpegurl") !== "";
    const hlsjs = Boolean(global.Hls && global.Hls.isSupported());
    if (native && ("ManagedMediaSource" in global || !hlsjs)) return "native";
    if (hlsjs) return "hls.js";
    return null;
  }

  class LivePlayer {
    // onState(state, text) is called on every change of state.
    constructor(video, options = {}) {
      this.video = video;
      this.src = options.src || LIVE_PLAYLIST;
      this.onState = options.onState || (() => {});
      this.engine = engineFor(video);
      this.state = "idle";
      this.errors = [];
      this.fatal = [];
      this.recoveries = { media: 0, network: 0, rebuilds: 0 };
      this.hls = null;
      this.started = false;
      this._lastMediaRecovery = 0;
      this._retryTimer = null;
      this._delay = BACKOFF_MIN_MS;
      this._lastTime = -1;
      this._stuckSince = null;
      this._watchdog = null;
      this._bindVideo();
    }

    get supported() {
      return this.engine !== null;
    }

    // Start playing. Muted playback may start without a user gesture; with sound, call
    // this from a click (browsers refuse unmuted autoplay otherwise).
    start({ muted = false } = {}) {
      this.video.muted = muted;
      if (!this.supported) {
        this._setState("unsupported");
        return;
      }
      this.started = true;
      this._setState("loading");
      this._attach();
      this._play();
      if (!this._watchdog) this._watchdog = setInterval(() => this._checkProgress(), 2000);
    }

    stop() {
      this.started = false;
      clearTimeout(this._retryTimer);
      clearInterval(this._watchdog);
      this._watchdog = null;
      this._detach();
      this._setState("idle");
    }

    // ------------------------------------------------------------------ internals

    _attach() {
      if (this.engine === "native") {
        this.video.src = this.src;
        this.video.load();
        return;
      }
      const Hls = global.Hls;
      const hls = new Hls({ workerPath: HLS_WORKER, enableWorker: true, lowLatencyMode: false });
      this.hls = hls;
      hls.on(Hls.Events.ERROR, (_event, data) => this._onHlsError(hls, data));
      hls.on(Hls.Events.FRAG_BUFFERED, () => {
        if (this.state === "reconnecting") this._setState("buffering");
      });
      hls.attachMedia(this.video);
      hls.loadSource(this.src);
    }

    _detach() {
      if (this.hls) {
        this.hls.destroy();
        this.hls = null;
      }
      if (this.engine === "native") {
        this.video.removeAttribute("src");
        this.video.load();
      }
    }

    _play() {
      const attempt = this.video.play();
      if (attempt && attempt.catch) {
        attempt.catch((err) => {
          // Autoplay refused (no user gesture) or interrupted by a reload: say so.
          this._record({ type: "play", details: err.name || String(err), fatal: false });
          if (err.name === "NotAllowedError") this._setState("paused");
        });
      }
    }

    _onHlsError(hls, data) {
      const Hls = global.Hls;
      this._record({ type: data.type, details: data.details, fatal: data.fatal });
      if (hls !== this.hls) return; // a late event of a player already replaced
      if (!data.fatal) {
        if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) this._setState("buffering");
        return;
      }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        const now = Date.now();
        if (now - this._lastMediaRecovery < MEDIA_RECOVERY_WINDOW_MS) {
          this._rebuildLater();
        } else {
          this._lastMediaRecovery = now;
          this.recoveries.media += 1;
          this._setState("buffering");
          hls.recoverMediaError();
        }
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        this.recoveries.network += 1;
        this._setState("reconnecting");
        const playlistFailed =
          data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR ||
          data.details === Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT ||
          data.details === Hls.ErrorDetails.MANIFEST_PARSING_ERROR ||
          data.details === Hls.ErrorDetails.LEVEL_LOAD_ERROR ||
          data.details === Hls.ErrorDetails.LEVEL_LOAD_TIMEOUT;
        this._later(() => {
          if (hls !== this.hls) return;
          if (playlistFailed) hls.loadSource(this.src);
          else hls.startLoad();
        });
      } else {
        this._rebuildLater();
      }
    }

    _rebuildLater() {
      this._setState("reconnecting");
      this._later(() => this._rebuild());
    }

    _rebuild() {
      if (!this.started) return;
      this.recoveries.rebuilds += 1;
      this._detach();
      this._stuckSince = null;
      this._attach();
      this._play();
    }

    _later(fn) {
      clearTimeout(this._retryTimer);
      const wait = this._delay * (0.75 + Math.random() * 0.5);
      this._delay = Math.min(this._delay * 2, BACKOFF_MAX_MS);
      this._retryTimer = setTimeout(() => {
        if (this.started) fn();
      }, wait);
    }

    _bindVideo() {
      const v = this.video;
      v.addEventListener("playing", () => {
        this._delay = BACKOFF_MIN_MS;
        this._setState("playing");
      });
      v.addEventListener("waiting", () => {
        if (this.started && this.state !== "reconnecting") this._setState("buffering");
      });
      v.addEventListener("pause", () => {
        if (this.started && !v.ended) this._setState("paused");
      });
      v.addEventListener("play", () => {
        if (this.state === "paused") this._setState("loading");
      });
      v.addEventListener("error", () => {
        if (!this.started || this.engine !== "native") return; // hls.js reports its own
        const err = v.error;
        this._record({ type: "native", details: err ? `code ${err.code}` : "unknown", fatal: true });
        this._rebuildLater();
      });
    }

    // A playhead that does not move while it should is a stall neither engine noticed.
    _checkProgress() {
      const v = this.video;
      if (!this.started || v.paused || this.state === "reconnecting") {
        this._stuckSince = null;
        return;
      }
      if (v.currentTime !== this._lastTime) {
        this._lastTime = v.currentTime;
        this._stuckSince = null;
        return;
      }
      const now = Date.now();
      if (this._stuckSince === null) this._stuckSince = now;
      else if (now - this._stuckSince > STALL_S * 1000) {
        this._record({ type: "stall", details: `no progress for ${STALL_S} s`, fatal: false });
        this._stuckSince = null;
        this._rebuildLater();
      }
    }

    _record(error) {
      const entry = { at: new Date().toISOString(), ...error };
      this.errors.push(entry);
      if (this.errors.length > 100) this.errors.shift();
      if (entry.fatal) {
        this.fatal.push(entry);
        if (this.fatal.length > 100) this.fatal.shift();
        if (global.console) console.warn("vvtv player:", entry.type, entry.details);
      }
    }

    _setState(state) {
      if (state === this.state) return;
      this.state = state;
      this.video.dataset.state = state;
      this.onState(state, STATE_TEXT[state] || "");
    }
  }

  global.VvtvPlayer = { LivePlayer, engineFor, STATE_TEXT };
})(window);
