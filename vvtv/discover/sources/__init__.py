"""Where candidates come from: local folders, RSS/Media RSS/Atom feeds, JSON Feeds.

``fetch_all`` reads every source of the OwnerCard concurrently and returns the raw
``Candidate`` values plus a ``SourceError`` per failure; ``vvtv.discover.screening`` decides
what to keep.
"""

from vvtv.discover.sources.candidate import (
    LOCAL_DOMAIN,
    Candidate,
    SourceError,
    SourceFailure,
    domain_of,
    local_path,
)
from vvtv.discover.sources.collect import SOURCE_KINDS, fetch_all, read_source

__all__ = [
    "LOCAL_DOMAIN",
    "SOURCE_KINDS",
    "Candidate",
    "SourceError",
    "SourceFailure",
    "domain_of",
    "fetch_all",
    "local_path",
    "read_source",
]
