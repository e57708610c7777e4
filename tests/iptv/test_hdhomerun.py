"""HDHomeRun emulation: the JSON shapes Plex, Emby and Jellyfin read, a valid device id."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.hdhomerun import (
    TUNER_COUNT,
    device_id,
    device_id_is_valid,
    device_xml,
    discover,
    lineup,
    lineup_status,
)

BASE = "http://192.168.1.20:7070"
UPNP = "{urn:schemas-upnp-org:device-1-0}"

# What the media servers deserialise (Jellyfin's and Emby's DiscoverResponse and lineup
# Channels): a JSON type per key. An integer where a string is expected, or a number
# where a boolean is, fails their deserialiser and the tuner is refused.
DISCOVER_SHAPE = {
    "FriendlyName": str,
    "Manufacturer": str,
    "ModelNumber": str,
    "FirmwareName": str,
    "FirmwareVersion": str,
    "DeviceID": str,
    "DeviceAuth": str,
    "BaseURL": str,
    "LineupURL": str,
    "TunerCount": int,
}
LINEUP_SHAPE = {
    "GuideNumber": str,
    "GuideName": str,
    "URL": str,
    "HD": int,
    "VideoCodec": str,
    "AudioCodec": str,
}


def test_discover_json_has_every_field_with_the_type_servers_read() -> None:
    device = discover(ChannelInfo(name="Voulez Vous"), BASE)
    assert {k: type(v) for k, v in device.items()} == DISCOVER_SHAPE
    assert device["BaseURL"] == BASE
    assert device["LineupURL"] == f"{BASE}/lineup.json"
    assert device["TunerCount"] == TUNER_COUNT
    assert device["FriendlyName"] == "Voulez Vous"
    # Jellyfin offers its transcode profiles to "hdtc" models.
    assert "hdtc" in device["ModelNumber"].lower()


def test_lineup_json_lists_the_channel_on_its_transport_stream() -> None:
    channels = lineup(ChannelInfo(name="Voulez Vous"), f"{BASE}/iptv/channel.ts")
    assert [{k: type(v) for k, v in c.items()} for c in channels] == [LINEUP_SHAPE]
    assert channels[0]["GuideNumber"] == "1"
    assert channels[0]["URL"] == f"{BASE}/iptv/channel.ts"
    assert "Favorite" not in channels[0] and "DRM" not in channels[0]


def test_lineup_status_says_no_scan_is_running() -> None:
    assert lineup_status() == {
        "ScanInProgress": 0,
        "ScanPossible": 1,
        "Source": "Cable",
        "SourceList": ["Cable"],
    }


@pytest.mark.parametrize("name", ["vvtv", "Voulez Vous", "Télé", "x" * 80])
def test_the_device_id_passes_libhdhomeruns_check_and_is_stable(name: str) -> None:
    did = device_id(ChannelInfo(name=name))
    assert len(did) == 8 and did == did.upper() and device_id_is_valid(did)
    assert device_id(ChannelInfo(name=name)) == did


def test_the_check_digit_is_libhdhomeruns() -> None:
    # A device id another HDHomeRun emulator ships as valid, and its neighbours.
    assert device_id_is_valid("105A1B22")
    assert not device_id_is_valid("105A1B23")
    assert not device_id_is_valid("105A1B2")
    assert not device_id_is_valid("ZZZZZZZZ")


def test_device_xml_is_a_upnp_description_with_the_hostile_name_escaped() -> None:
    channel = ChannelInfo(name="<Voulez> & Vous\x00")
    root = ElementTree.fromstring(device_xml(channel, BASE))
    assert root.tag == f"{UPNP}root"
    assert root.find(f"{UPNP}URLBase").text == BASE
    device = root.find(f"{UPNP}device")
    assert device.find(f"{UPNP}friendlyName").text == "<Voulez> & Vous"
    assert device.find(f"{UPNP}deviceType").text == "urn:schemas-upnp-org:device:MediaServer:1"
    assert device_id(channel) in device.find(f"{UPNP}UDN").text
