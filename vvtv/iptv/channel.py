"""The channel as viewers and IPTV apps know it: name, logo, time zone, guide id."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, tzinfo
from pathlib import Path

import attrs

GUIDE_ID_SUFFIX = ".vvtv"


def guide_id(name: str) -> str:
    """The channel's id in the guide and the M3U (``tvg-id``): ``voulez-vous.vvtv``.

    Derived from the name, so it stays the same across restarts and addresses (apps map
    guide data to channels by it). XMLTV wants a DNS-like name (letters, digits, dashes,
    at least one dot), hence the suffix.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-")
    return (slug or "channel") + GUIDE_ID_SUFFIX


@attrs.frozen
class ChannelInfo:
    """What the audience sees of the channel (from the OwnerCard's ``channel`` section).

    ``logo_url`` is the card's logo when it is an http(s) URL; ``logo_file`` the image
    file when it is local (the channel serves it at ``/channel/logo``). At most one is set.
    """

    name: str = "vvtv"
    logo_url: str = ""
    logo_file: Path | None = None
    tz: tzinfo = UTC
    # The lower rungs the channel offers (``channel.renditions``: ``480p``…); with any, IPTV
    # apps get the master playlist, which lets them step down.
    renditions: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return guide_id(self.name)

    def logo(self, base_url: str) -> str | None:
        """The logo's URL for someone who reaches the channel at ``base_url``; None = none."""
        if self.logo_url:
            return self.logo_url
        if self.logo_file is not None:
            return f"{base_url}/channel/logo"
        return None
