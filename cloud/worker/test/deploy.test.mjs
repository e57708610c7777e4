// What `wrangler deploy` would upload is what the other tests run: wrangler bundles the
// Worker (dry run, offline), applies the D1 migrations to a local database, and the bundle
// then serves from that database in workerd.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { WORKER_DIR, applyMigrations, call, newChannels, startEdge } from "./edge.mjs";

const run = promisify(execFile);
const WRANGLER = join(WORKER_DIR, "node_modules", ".bin", "wrangler");
const DATABASE_ID = "00000000-0000-0000-0000-000000000000"; // wrangler.toml's placeholder
let dir;

function wrangler(...args) {
  return run(WRANGLER, args, {
    cwd: WORKER_DIR,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", HOME: dir },
    timeout: 120_000,
  });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "vvtv-edge-deploy-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("wrangler's bundle and wrangler's migrations serve the edge", async () => {
  const out = join(dir, "dist");
  const state = join(dir, "state");
  const [bundle, migrate] = await Promise.all([
    wrangler("deploy", "--dry-run", "--outdir", out),
    wrangler("d1", "migrations", "apply", "vvtv-edge", "--local", "--persist-to", state),
  ]);
  assert.match(bundle.stdout, /env\.DB \(vvtv-edge\)\s+D1 Database/);
  assert.match(bundle.stdout, /env\.MEDIA \(vvtv-edge\)\s+R2 Bucket/);
  assert.match(migrate.stdout, /0001_init\.sql\s*│\s*✅/);
  const files = readdirSync(out);
  const text = files.filter((f) => /-(hls\.min|watch)\.(js|css)$/.test(f));
  assert.equal(text.length, 3, files.join(", "));

  const channels = newChannels(["main"]);
  const edge = await startEdge({
    persistDir: dir,
    channels,
    d1: { id: DATABASE_ID, persist: join(state, "v3", "d1") },
    source: {
      scriptPath: join(out, "index.js"),
      modulesRoot: out,
      modules: true,
      modulesRules: [{ type: "Text", include: ["**/*-hls.min.js", "**/*-watch.js", "**/*-watch.css"] }],
    },
  });
  try {
    // wrangler recorded the migration in d1_migrations: nothing is left to apply.
    assert.deepEqual(await applyMigrations(edge.db), []);
    const page = await fetch(`${edge.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /hls-1\.7\.4\.min\.js/);
    const hls = await fetch(`${edge.url}/assets/hls-1.7.4.min.js`);
    assert.ok((await hls.text()).length > 100_000);
    const r = await call(edge, channels.main.ingest, "POST", "/v1/ingest/status", { body: { state: "RUNNING", buffer_minutes: 60 } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await (await fetch(`${edge.url}/v1/status`)).json()).buffer_minutes, 60);
    await edge.scheduled();
  } finally {
    await edge.dispose();
  }
});
