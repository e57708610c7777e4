"""vvtv's HTTP face (SPEC §3): the quart-trio app, its port to the channel, the dashboard.

``app`` holds the routes (reads, signed control, websockets, the HLS origin), ``reads`` the hot
read endpoints answered before quart, ``params`` the query parameters, ``openapi`` the
document, ``port`` what the app asks of the channel (``ChannelPort``), ``server`` hypercorn.
What browsers and slow clients may do is limited in ``limits`` (one ``WebLimits``), enforced
by ``hosts`` (Host and Origin), ``body`` (body deadline), ``headers`` (security headers),
``live_clients`` (websocket caps), ``server`` (connections, timeouts) and ``refusals``
(refused control calls recorded without flooding the audit).
"""

from vvtv.web.app import create_app, live_streams
from vvtv.web.port import ChannelPort
from vvtv.web.server import serve

__all__ = ["ChannelPort", "create_app", "live_streams", "serve"]
