"""Release tooling: soak, canary, promote and the go-live phases (SPEC §8, issue 9).

All of it is async (Trio) and talks to a running daemon over HTTP; the CLI
(``vvtv.cli.release``) reads the settings and runs these with ``trio.run``.

* ``soak(base_url, out_dir, SoakConfig, pid=, clock=, progress=) -> SoakResult``
* ``canary(CanaryConfig, daemon=, clock=, progress=) -> CanaryResult``
* ``promote(result_env, base_url, promotions_dir, now) -> PromoteResult``
* ``run_phase(phase, GoLiveConfig, clock=, progress=) -> PhaseResult``
* ``running_daemon(cmd, env, base_url, log_path)``: async context manager, ``--start-daemon``
* ``api``: the small HTTP client (``set_emergency``, ``status_and_alerts``, ...)
"""

from vvtv.release import api
from vvtv.release.canary import CanaryConfig, CanaryResult, canary
from vvtv.release.daemon import DaemonHandle, running_daemon
from vvtv.release.envfile import read_env, write_env
from vvtv.release.errors import ReleaseError
from vvtv.release.golive import PHASES, GoLiveConfig, PhaseResult, run_phase
from vvtv.release.promote import PromoteResult, latest_result, promote
from vvtv.release.soak import SoakConfig, SoakResult, soak

__all__ = [
    "PHASES",
    "CanaryConfig",
    "CanaryResult",
    "DaemonHandle",
    "GoLiveConfig",
    "PhaseResult",
    "PromoteResult",
    "ReleaseError",
    "SoakConfig",
    "SoakResult",
    "api",
    "canary",
    "latest_result",
    "promote",
    "read_env",
    "run_phase",
    "running_daemon",
    "soak",
    "write_env",
]
