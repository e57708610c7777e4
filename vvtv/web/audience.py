"""What the audience reaches: the watch page, the logo, the IPTV playlist and guide, and
the HDHomeRun emulation. All read-only and safe to expose: nothing here steers the
channel, needs a token, or shows a plan URL, a source, a path or the runtime tree.

``register(app, port, public_base_url=...)`` adds the routes to the quart app; the
rendering lives in ``vvtv.iptv`` and the tuner's MPEG-TS stream in ``vvtv.web.tuner``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import trio
from quart import Response, request, send_file
from quart_trio import QuartTrio

from vvtv.core import offload
from vvtv.iptv import hdhomerun
from vvtv.iptv.guide import build_guide
from vvtv.iptv.m3u import M3U_TYPE, render_m3u
from vvtv.iptv.xmltv import XMLTV_TYPE, render_xmltv
from vvtv.ownercard.card import LOGO_TYPES
from vvtv.web.headers import COMMON, csp, origin_of, page_headers
from vvtv.web.params import BadInput, parse_guide_hours, parse_lineup_scan
from vvtv.web.port import ChannelPort
from vvtv.web.public_url import base_url, cache_headers
from vvtv.web.reads import dump_json

JSON_TYPE = "application/json"
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_CACHE = "public, max-age=300"
# Plans that should have started this long ago but are not on the timeline yet (a late
# preparation) still air next: the guide lists them.
PLANS_LOOKBACK = timedelta(hours=2)

STREAM_PATH = "/iptv/channel.ts"
PLAYLIST_PATH = "/live/index.m3u8"
MASTER_PATH = "/live/master.m3u8"
GUIDE_PATH = "/iptv/xmltv.xml"


def register(app: QuartTrio, port: ChannelPort, *, public_base_url: str | None) -> None:
    """Add the audience's routes to ``app`` (made by ``vvtv.web.app.create_app``)."""

    def base() -> str:
        return base_url(public_base_url, request.scheme, request.headers.get("host", ""))

    def answer(body: str | bytes, content_type: str, **headers: str) -> Response:
        response = Response(body, content_type=content_type)
        response.headers.update({**COMMON, **cache_headers(public_base_url), **headers})
        return response

    def answer_json(value: Any) -> Response:
        return answer(dump_json(value), JSON_TYPE)

    # ---- the watch page ------------------------------------------------------------

    @app.get("/watch")
    async def watch() -> Response:
        response = await app.send_static_file("watch.html")
        # A logo on another host is the one thing the page may load from elsewhere.
        origin = origin_of(port.channel_info().logo_url)
        response.headers.update(page_headers(csp(img=(origin,) if origin else ())))
        return response

    @app.get("/channel/logo")
    async def channel_logo() -> Response:
        path = port.channel_info().logo_file
        if path is None:
            raise BadInput(404, "the channel has no logo file")
        content_type = LOGO_TYPES.get(path.suffix.lower())
        file = trio.Path(path)
        if content_type is None or not await file.is_file():
            raise BadInput(404, "the channel's logo file is missing")
        if (await file.stat()).st_size > LOGO_MAX_BYTES:
            raise BadInput(404, f"the channel's logo file is larger than {LOGO_MAX_BYTES} bytes")
        response = await send_file(path, mimetype=content_type, conditional=True)
        response.headers.update(
            {**COMMON, "Cache-Control": LOGO_CACHE, "Content-Security-Policy": "default-src 'none'"}
        )
        return response

    # ---- IPTV: playlist and guide --------------------------------------------------

    @app.get("/iptv/channel.m3u")
    async def iptv_playlist() -> Response:
        root = base()
        channel = port.channel_info()
        text = render_m3u(
            channel,
            # With lower rungs, the master (apps pick a rung); else the one media playlist,
            # as before (some older IPTV apps read only media playlists).
            stream_url=root + (MASTER_PATH if channel.renditions else PLAYLIST_PATH),
            guide_url=root + GUIDE_PATH,
            logo=channel.logo(root),
        )
        return answer(text, M3U_TYPE)

    @app.get("/iptv/xmltv.xml")
    async def iptv_guide() -> Response:
        hours = parse_guide_hours(request.args.get("hours"))
        root = base()
        now = port.now()
        channel = port.channel_info()
        plans = await port.upcoming_plans(now - PLANS_LOOKBACK, now + timedelta(hours=hours))
        timeline = port.queue()

        def render() -> bytes:
            programmes = build_guide(now, hours, timeline, plans)
            return render_xmltv(
                channel, programmes, logo=channel.logo(root), page_url=root + "/watch"
            )

        # A dense day is ~1,500 programmes, ~17 ms of CPU: off the event loop, like /metrics.
        return answer(await offload.run_sync(render), XMLTV_TYPE)

    # ---- HDHomeRun emulation -------------------------------------------------------

    @app.get("/discover.json")
    async def hdhr_discover() -> Response:
        return answer_json(hdhomerun.discover(port.channel_info(), base()))

    @app.get("/lineup.json")
    async def hdhr_lineup() -> Response:
        return answer_json(hdhomerun.lineup(port.channel_info(), base() + STREAM_PATH))

    @app.get("/lineup_status.json")
    async def hdhr_lineup_status() -> Response:
        return answer_json(hdhomerun.lineup_status())

    @app.post("/lineup.post")
    async def hdhr_lineup_post() -> Response:
        # Media servers ask the tuner to rescan; the lineup is fixed, so it is done at once.
        parse_lineup_scan(request.args.get("scan"))
        return answer(b"", "text/plain")

    @app.get("/device.xml")
    async def hdhr_device() -> Response:
        return answer(
            hdhomerun.device_xml(port.channel_info(), base()), "application/xml; charset=utf-8"
        )
