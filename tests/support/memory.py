"""How much a piece of code grew this process's memory, measured by the kernel.

``peak_growth()`` resets the process's peak resident set (``VmHWM``, by writing ``5`` to
``/proc/self/clear_refs``), runs the block, and reports how far the peak rose above the
resident set at the start. It sees every allocation, C ones included (zlib's output, a
parser's tree), unlike ``tracemalloc``; and it measures the peak, so memory freed before
the block ends still counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

_STATUS = Path("/proc/self/status")


def _kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    assert match, f"{field} not in /proc/self/status"
    return int(match.group(1))


@attrs.define
class Growth:
    start_kib: int = 0
    peak_kib: int = 0

    @property
    def mib(self) -> float:
        return max(0, self.peak_kib - self.start_kib) / 1024


@contextmanager
def peak_growth() -> Iterator[Growth]:
    Path("/proc/self/clear_refs").write_text("5")
    growth = Growth(start_kib=_kib("VmRSS"))
    try:
        yield growth
    finally:
        growth.peak_kib = _kib("VmHWM")
