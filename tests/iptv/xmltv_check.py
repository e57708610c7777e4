"""Debian's XMLTV validator (xmltv-util's ``tv_validate_file``), against the packaged DTD.

The validator checks the document against the XMLTV DTD and then XMLTV's own rules:
channel ids that look like DNS names, a <channel> for every programme's channel, no
empty title or description, well-formed times, UTF-8 without C1 controls, no undefined
entities. ``--dtd-file`` keeps it offline (it would fetch the DTD from the internet).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

VALIDATOR = shutil.which("tv_validate_file")
DTD = Path("/usr/share/xmltv/xmltv.dtd")


def tv_validate(document: bytes, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the validator on ``document``; the result's returncode is 0 when it is valid."""
    # ops/bootstrap.sh installs xmltv-util for the tests: its absence is a failure.
    assert VALIDATOR is not None and DTD.exists(), "apt-get install xmltv-util"
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "guide.xml"
    path.write_bytes(document)
    return subprocess.run(
        [VALIDATOR, "--dtd-file", str(DTD), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
