"""HDHomeRun tuner emulation: Plex, Emby and Jellyfin add the channel as a network tuner.

A media server given the channel's address reads ``/discover.json`` (the device),
``/lineup_status.json`` (no scan running), ``/lineup.json`` (the channels, each with the
URL of a continuous MPEG-TS stream) and, for UPnP, ``/device.xml``. The shapes are what
the servers read (Jellyfin's and Emby's ``DiscoverResponse`` and lineup ``Channels``,
which ErsatzTV and Tunarr also serve):

- ``discover.json``: ``FriendlyName``, ``Manufacturer``, ``ModelNumber``,
  ``FirmwareName``, ``FirmwareVersion``, ``DeviceID``, ``DeviceAuth``, ``BaseURL``,
  ``LineupURL`` (strings) and ``TunerCount`` (an integer);
- ``lineup.json``: a list of ``{GuideNumber, GuideName, URL}`` (strings) with ``HD`` (an
  integer) and codec names; ``Favorite``/``DRM`` are left out (absent = false), as a real
  device does, because servers disagree on whether they are numbers or booleans.

``DeviceID`` is eight hex digits that pass libhdhomerun's check digit (clients may drop
an invalid one), derived from the channel's guide id so it stays the same across
restarts. The model is an HDTC-2US: Jellyfin then offers its transcode profiles and
appends ``?transcode=<profile>`` to the stream URL, which the channel ignores (it always
sends its one rendition).
"""

from __future__ import annotations

import hashlib
from typing import Any

from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.text import clean, safe_url, xml_text

TUNER_COUNT = 4
"""Concurrent MPEG-TS streams the channel serves; one more is refused as "all tuners busy"."""
MODEL = "HDTC-2US"
FIRMWARE_NAME = "hdhomeruntc_atsc"
FIRMWARE_VERSION = "20200101"
MANUFACTURER = "vvtv - Silicondust"
_CHECK = (0xA, 0x5, 0xF, 0x6, 0x7, 0xC, 0x1, 0xB, 0x9, 0x2, 0x8, 0xD, 0x4, 0x3, 0xE, 0x0)


def _check_digit(first7: int) -> int:
    """The last hex digit that makes libhdhomerun's device-id checksum zero."""
    checksum = 0
    for i, shift in enumerate(range(28, 0, -4)):
        nibble = (first7 << 4 >> shift) & 0xF
        checksum ^= _CHECK[nibble] if i % 2 == 0 else nibble
    return checksum


def device_id_is_valid(device_id: str) -> bool:
    """libhdhomerun's ``hdhomerun_discover_validate_device_id`` on eight hex digits."""
    try:
        value = int(device_id, 16)
    except ValueError:
        return False
    return len(device_id) == 8 and _check_digit(value >> 4) == value & 0xF


def device_id(channel: ChannelInfo) -> str:
    first7 = int(hashlib.sha256(channel.id.encode()).hexdigest()[:7], 16)
    return f"{first7:07X}{_check_digit(first7):X}"


def discover(channel: ChannelInfo, base_url: str, tuners: int = TUNER_COUNT) -> dict[str, Any]:
    """``/discover.json``."""
    base = safe_url(base_url)
    return {
        "FriendlyName": clean(channel.name, 80),
        "Manufacturer": MANUFACTURER,
        "ModelNumber": MODEL,
        "FirmwareName": FIRMWARE_NAME,
        "FirmwareVersion": FIRMWARE_VERSION,
        "DeviceID": device_id(channel),
        "DeviceAuth": "",
        "BaseURL": base,
        "LineupURL": f"{base}/lineup.json",
        "TunerCount": tuners,
    }


def lineup(channel: ChannelInfo, stream_url: str) -> list[dict[str, Any]]:
    """``/lineup.json``: the one channel, number 1, on its MPEG-TS stream."""
    return [
        {
            "GuideNumber": "1",
            "GuideName": clean(channel.name, 80),
            "URL": safe_url(stream_url),
            "HD": 1,
            "VideoCodec": "H264",
            "AudioCodec": "AAC",
        }
    ]


def lineup_status() -> dict[str, Any]:
    """``/lineup_status.json``: no channel scan is ever running (the lineup is fixed)."""
    return {"ScanInProgress": 0, "ScanPossible": 1, "Source": "Cable", "SourceList": ["Cable"]}


def device_xml(channel: ChannelInfo, base_url: str) -> str:
    """``/device.xml``: the UPnP device description media servers fetch during discovery."""
    did = device_id(channel)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<root xmlns="urn:schemas-upnp-org:device-1-0">\n'
        f"  <URLBase>{xml_text(safe_url(base_url))}</URLBase>\n"
        "  <specVersion><major>1</major><minor>0</minor></specVersion>\n"
        "  <device>\n"
        "    <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>\n"
        f"    <friendlyName>{xml_text(clean(channel.name, 80))}</friendlyName>\n"
        f"    <manufacturer>{xml_text(MANUFACTURER)}</manufacturer>\n"
        f"    <modelName>{MODEL}</modelName>\n"
        f"    <modelNumber>{MODEL}</modelNumber>\n"
        f"    <serialNumber>{did}</serialNumber>\n"
        f"    <UDN>uuid:{did[:4]}-{did[4:]}-vvtv-{did}</UDN>\n"
        "  </device>\n"
        "</root>\n"
    )
