"""The README's install step on a bare Debian: what `ops/bootstrap.sh` asks apt for.

The script runs for real in a scratch copy, with stand-ins on PATH for what a fresh machine
lacks or must not be touched here: `apt-get` records its arguments and stops the script
(nothing is installed), and the Python is one without `ensurepip`, as Debian ships it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_a_fresh_debian_gets_ffmpeg_chromium_node_xmltv_nginx_rtmp_and_venv_from_apt(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    (project / "ops").mkdir(parents=True)
    shutil.copy(REPO / "ops" / "bootstrap.sh", project / "ops" / "bootstrap.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    fake(bin_dir, "apt-get", f'echo "$@" >> {log}\n[ "$1" = update ] || exit 42\n')
    fake(bin_dir, "sudo", 'exec "$@"\n')
    # Debian's python3.11 without the python3.11-venv package: no ensurepip.
    fake(
        bin_dir,
        "python3.11",
        f'case "$2" in *ensurepip*) exit 1;; esac\nexec {os.path.realpath(sys.executable)} "$@"\n',
    )
    for tool in ("bash", "dirname", "id", "grep", "touch"):
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, bin_dir / tool)

    done = subprocess.run(
        ["bash", "ops/bootstrap.sh", "test"],
        cwd=project,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 42, done.stderr  # stopped by the fake apt-get install
    update, install = log.read_text().splitlines()
    assert update.startswith("update")
    wanted = [
        "ffmpeg", "chromium", "nodejs", "npm", "xmltv-util", "nginx", "libnginx-mod-rtmp",
        "python3.11-venv",
    ]  # fmt: skip
    assert install.split()[-len(wanted) :] == wanted
    assert f"installing {' '.join(wanted)} from apt" in done.stderr
    assert not (project / ".venv").exists()
