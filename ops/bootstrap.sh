#!/usr/bin/env bash
# Install what vvtv needs on a fresh Debian machine, then run the channel or the test suite.
#   bash ops/bootstrap.sh run    # the channel, dashboard on http://127.0.0.1:7070/
#   bash ops/bootstrap.sh test   # ruff, the import contract (lint-imports), mypy, the edge's tests
#                                # (cloud/worker) + the default suite
# Extra arguments go to `vvtv run` or to pytest; with pytest arguments the edge's own tests
# are skipped (run them with `cd cloud/worker && npm test`), its npm packages still installed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
shift || true

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bootstrap: installing $* from apt" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >/dev/null
}

python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
# The dashboard's browser tests drive Debian's headless chromium.
if [ "$mode" = "test" ] && ! command -v chromium >/dev/null; then need+=(chromium); fi
# The edge (cloud/worker, a Cloudflare Worker) is tested in workerd through npm's miniflare.
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
# The XMLTV guide is checked by xmltv-util's tv_validate_file against the XMLTV DTD.
if [ "$mode" = "test" ] && ! command -v tv_validate_file >/dev/null; then need+=(xmltv-util); fi
# Push outputs are tested against a real RTMP server: nginx with Debian's RTMP module, run by
# the tests themselves from a temporary config (on a machine with systemd, installing nginx
# also enables its default site on port 80: stop it with `systemctl disable --now nginx`).
if [ "$mode" = "test" ] && { ! command -v nginx >/dev/null \
    || [ ! -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]; }; then
    need+=(nginx libnginx-mod-rtmp)
fi
# Debian ships Python without ensurepip: `python -m venv` needs the pythonX.Y-venv package.
if [ ! -x .venv/bin/python ] && ! "$python" -c 'import ensurepip' 2>/dev/null; then
    need+=("$("$python" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')")
fi
[ "${#need[@]}" -eq 0 ] || apt_install "${need[@]}"

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# Reinstall only when the project's metadata changed since the last install.
stamp=.venv/.vvtv-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip's warnings about this machine's local package mirrors are noise here.
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2> >(grep -v '^WARNING: Location' >&2)
    touch "$stamp"
fi

# The edge's npm packages, exactly as package-lock.json pins them (npm ci), again only when
# the lock file changed since the last install (npm ci leaves node_modules/.package-lock.json).
edge=cloud/worker
if [ ! -f "$edge/node_modules/.package-lock.json" ] \
    || [ "$edge/package-lock.json" -nt "$edge/node_modules/.package-lock.json" ]; then
    (cd "$edge" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi

case "$mode" in
    run)
        exec .venv/bin/vvtv run "$@"
        ;;
    test)
        .venv/bin/ruff check .
        # The import contract in pyproject.toml (layers, no cycles); see README "How it is built".
        .venv/bin/lint-imports --no-cache --no-logo
        # Types ([tool.mypy] in pyproject.toml): strict on supervisors/ and vvtv/core/.
        .venv/bin/mypy
        if [ "$#" -eq 0 ]; then
            (cd "$edge" && WRANGLER_SEND_METRICS=false npm test --silent)
        fi
        exec .venv/bin/python -m pytest -q "$@"
        ;;
    *)
        echo "usage: bash ops/bootstrap.sh run|test [args...]" >&2
        exit 2
        ;;
esac
