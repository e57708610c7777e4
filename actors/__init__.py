"""The channel's actors: one per stage, thin, on the ``supervisors`` runtime.

Each actor module reads top to bottom as what it owns, what it receives and what it sends
(``vvtv.core.messages``); the work itself is the domain code of ``vvtv/``:

- ``scheduler``: the windows (``vvtv.plan.windows``), their cursors, the leader lock;
- ``discovery``: sources, screening and the planning grid (``vvtv.discover``, ``vvtv.plan``);
- ``committer``: the T-4h commit: fetch, prepare, QA, reserves (``vvtv.media``);
- ``buffer``: the timeline, emergency mode, curator and live playlist (``vvtv.air``);
- ``alerter`` (rules in ``vvtv.notify.alerts``, inputs in ``inputs``) and ``cloudsync``
  (``vvtv.notify.delivery``): telling the outside through durable outboxes;
- ``api``: the HTTP face (``vvtv.web``) over the running channel.

``context`` holds what every actor is built with, ``tree`` the supervision tree, and
``daemon`` boots and runs a channel. Only ``vvtv.cli`` imports this package.
"""
