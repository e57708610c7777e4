"""vvtv: an automated 24/7 TV channel on one machine, built from supervised Trio actors.

Where each part of the spec (``SPEC.md``) lives; folders follow the data flow of §1:

=================================  ==========================================================
SPEC                               folder
=================================  ==========================================================
§1.1 discovery                     ``vvtv/discover/`` (``sources/``, ``screening``)
§1.2 planning                      ``vvtv/plan/grid``
§1.3 commit at T-4h, windows       ``vvtv/plan/windows`` (when), ``actors/committer`` (what)
§1.4 fetch                         ``vvtv/media/fetch``
§1.5 prepare / QA                  ``vvtv/media/`` (``prepare``, ``loudness``, ``qa``,
                                   ``playlist``: the one VOD playlist parser)
§1.6 queue, buffer, emergency      ``vvtv/air/`` (``timeline``, ``status``, ``emergency``)
§1.7 air: the live HLS playlist    ``vvtv/air/live_playlist``, ``vvtv/air/live``
§1.8 curator                       ``vvtv/air/curator``
§1.9 nightly                       ``vvtv/nightly/``
§2 OwnerCard                       ``vvtv/ownercard/`` (``card``, ``load``, ``rules``,
                                   ``holder``)
§3 control API                     ``vvtv/web/`` (signing in ``vvtv/core/signing``)
§4 environment                     ``vvtv/core/settings``
§5 alerts                          ``vvtv/notify/alerts``
§6 cloud sync                      ``vvtv/notify/delivery``, ``actors/cloudsync``
§7 state                           ``vvtv/store/``
§8 operations                      ``vvtv/cli/``, ``vvtv/backup/``, ``vvtv/release/``
§10 untrusted input                ``vvtv/guard/``
§10 audience: guide, M3U, tuner    ``vvtv/iptv/``, served by ``vvtv/web/``
§10 push outputs (RTMP, SRT)       ``vvtv/outputs/``, run by ``actors/outputs``
=================================  ==========================================================

Underneath: ``vvtv/core/`` (model, messages, the one JSON path, clock), ``vvtv/observe/``
(topics, metrics, stats); above: ``actors/`` (one actor per stage, the supervision tree) and
``vvtv/cli/`` (``vvtv run``). Imports point down that order only (README "How it is built").
"""

__version__ = "0.1.0"
