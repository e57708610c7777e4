"""A generic supervised actor runtime on Trio (it knows nothing of the application using it).

Actors with bounded mailboxes and typed messages, ``cast``/``call`` through name-based refs,
supervisors with Erlang-style strategies, restart types, intensity and backoff, monitors,
graceful shutdown, a JSON-ready snapshot and Prometheus metrics. See ``supervisors/README.md``.
"""

from supervisors.actor import Actor, ActorContext
from supervisors.errors import (
    ActorDied,
    ActorError,
    ActorUnavailable,
    CallTimeout,
    DuplicateName,
    MessageRefused,
    SupervisorEscalated,
)
from supervisors.host import Host
from supervisors.node import Down
from supervisors.policy import Backoff, Restart, RestartIntensity, Strategy
from supervisors.ref import ActorRef
from supervisors.runtime import Runtime
from supervisors.supervisor import ChildSpec, Supervisor

__all__ = [
    "Actor",
    "ActorContext",
    "ActorDied",
    "ActorError",
    "ActorRef",
    "ActorUnavailable",
    "Backoff",
    "CallTimeout",
    "ChildSpec",
    "Down",
    "DuplicateName",
    "Host",
    "MessageRefused",
    "Restart",
    "RestartIntensity",
    "Runtime",
    "Strategy",
    "Supervisor",
    "SupervisorEscalated",
]
