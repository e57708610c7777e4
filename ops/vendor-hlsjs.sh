#!/usr/bin/env bash
# Vendor hls.js from the npm registry into vvtv/web/static/vendor/, reproducibly (issue 18).
#
#   bash ops/vendor-hlsjs.sh            # re-vendor the pinned version (PINNED below)
#   bash ops/vendor-hlsjs.sh 1.7.5      # upgrade: then update PINNED here, run
#                                       # tests/web/test_player_assets.py and the browser tests
#
# The browser loads nothing from the internet: the dashboard and /watch get hls.js from
# the channel itself. What lands in the repository is exactly what the registry serves:
# the tarball is checked against the registry's sha512 integrity before anything is
# copied, and hls.js.json records the version, that integrity and each file's SHA-256
# (tests/web/test_player_assets.py checks the files against it). The edge
# (cloud/worker/) uses the same hls.js version.
set -euo pipefail
cd "$(dirname "$0")/.."

PINNED=1.7.4
version="${1:-$PINNED}"
dest=vvtv/web/static/vendor

command -v npm >/dev/null || { echo "vendor-hlsjs: npm is needed (apt-get install npm)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

integrity="$(npm view "hls.js@$version" dist.integrity)"
[ -n "$integrity" ] || { echo "vendor-hlsjs: hls.js@$version is not on the registry" >&2; exit 1; }
(cd "$tmp" && npm pack --silent "hls.js@$version" >/dev/null)
tarball="$tmp/hls.js-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
    echo "vendor-hlsjs: tarball integrity $actual does not match the registry's $integrity" >&2
    exit 1
fi

tar -xzf "$tarball" -C "$tmp" package/package.json package/LICENSE \
    package/dist/hls.min.js package/dist/hls.worker.js
mkdir -p "$dest"
cp "$tmp/package/dist/hls.min.js" "$dest/hls.min.js"
cp "$tmp/package/dist/hls.worker.js" "$dest/hls.worker.js"
cp "$tmp/package/LICENSE" "$dest/hls.js.LICENSE.txt"

python3 - "$tmp/package/package.json" "$dest" "$integrity" <<'PY'
import hashlib, json, sys
from pathlib import Path

package = json.loads(Path(sys.argv[1]).read_text())
dest, integrity = Path(sys.argv[2]), sys.argv[3]
files = ("hls.min.js", "hls.worker.js", "hls.js.LICENSE.txt")
manifest = {
    "package": package["name"],
    "version": package["version"],
    "license": package["license"],
    "registry_integrity": integrity,
    "sha256": {name: hashlib.sha256((dest / name).read_bytes()).hexdigest() for name in files},
}
(dest / "hls.js.json").write_text(json.dumps(manifest, indent=2) + "\n")
print(f"vendored {package['name']} {package['version']} into {dest}")
PY
