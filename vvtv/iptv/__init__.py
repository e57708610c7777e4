"""What IPTV apps and viewers read about the channel: guide, playlists, tuner emulation.

Pure rendering, from values the web layer hands in (the timeline as the dashboard sees it,
the plan grid, the channel's identity); nothing here does I/O or knows HTTP.

| module | holds |
|---|---|
| ``channel`` | ``ChannelInfo``: name, logo, time zone, and the stable guide id |
| ``text`` | making untrusted text (titles from feeds) safe for XML and M3U |
| ``guide`` | ``build_guide``: programmes from the timeline and the plan grid; ``public_status`` |
| ``xmltv`` | the XMLTV document (valid against the XMLTV DTD) |
| ``m3u`` | the M3U playlist IPTV apps load (``tvg-*`` attributes) |
| ``hdhomerun`` | the HDHomeRun tuner emulation Plex, Emby and Jellyfin read |
| ``stream`` | the segments of the live playlist, for the tuner's MPEG-TS stream |
"""
