// Serve the edge in workerd on 127.0.0.1 for other test suites (the Python integration
// tests): prints one JSON line {"url", "channels", "default", "persist"} once it answers,
// then runs until SIGTERM/SIGINT or until its stdin closes (the parent went away).
//
//   node test/serve.mjs --persist DIR [--port 0] [--config FILE]
//
// FILE (JSON): {"channels": {"<id>": {"ingest": {"token", "secret"}, "control": {...}}},
//               "default": "<id>", "vars": {"POLL_INTERVAL_MS": "100", ...}}
// Without --config one channel "main" gets fresh credentials (printed). State (D1, R2,
// cache) persists in DIR, so a restart with the same DIR and port is the same edge.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { newChannels, startEdge } from "./edge.mjs";

const { values } = parseArgs({
  options: {
    persist: { type: "string" },
    port: { type: "string", default: "0" },
    config: { type: "string" },
  },
});
const config = values.config ? JSON.parse(readFileSync(values.config, "utf8")) : {};
const channels = config.channels ?? newChannels(["main"]);
// Without --persist the state lives in a temporary directory removed on exit.
const persist = values.persist ?? mkdtempSync(join(tmpdir(), "vvtv-edge-serve-"));
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve.mjs: --port must be 0-65535, got ${values.port}`);
  process.exit(2);
}

// miniflare makes a scratch directory in os.tmpdir() and, on dispose, removes it without
// waiting, which process.exit below cuts short (and a SIGTERM during dispose skips its own
// exit hook): runs left miniflare-* directories in /tmp. It gets one of ours instead,
// removed on exit, however the process exits (but SIGKILL).
const scratch = mkdtempSync(join(tmpdir(), "vvtv-edge-scratch-"));
process.env.TMPDIR = scratch;
process.on("exit", () => rmSync(scratch, { recursive: true, force: true, maxRetries: 3 }));

const edge = await startEdge({ persistDir: persist, channels, defaultChannel: config.default, vars: config.vars ?? {}, port });
process.stdout.write(
  `${JSON.stringify({ url: edge.url, channels, default: config.default ?? Object.keys(channels)[0], persist })}\n`,
);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await edge.dispose();
  if (values.persist === undefined) rmSync(persist, { recursive: true, force: true });
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
