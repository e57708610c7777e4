#!/usr/bin/env bash
# The original's `scripts/vvtv-canary.sh`, kept so its invocations keep working:
# everything is forwarded to `vvtv canary` (see ops/runbook.md). Settings come from the
# environment (VVTV_*), exactly as for the daemon.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Like the original, relative defaults mean "in the checkout", whatever the caller's cwd.
export VVTV_RUNTIME_DIR="${VVTV_RUNTIME_DIR:-$root/runtime}"
export VVTV_OWNER_CARD_PATH="${VVTV_OWNER_CARD_PATH:-$root/config/owner_card.demo.yaml}"
if [ -x "$root/.venv/bin/python" ]; then
    exec "$root/.venv/bin/python" -m vvtv canary "$@"
fi
exec vvtv canary "$@"
