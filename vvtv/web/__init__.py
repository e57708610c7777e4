"""vvtv's HTTP face: the quart-trio app, its port to the channel, and the dashboard."""

from vvtv.web.app import create_app, live_streams
from vvtv.web.port import ChannelPort
from vvtv.web.server import serve

__all__ = ["ChannelPort", "create_app", "live_streams", "serve"]
