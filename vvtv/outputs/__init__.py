"""What carries the air to other places: push outputs to RTMP, RTMPS and SRT servers.

The channel's live HLS stream is made of prepared segments whose timestamps restart at every
item; a platform that receives a push drops the stream at the first timestamp that goes
backwards. Everything here makes one continuous stream of the air and says how to send it;
nothing here runs a process or holds a socket (``actors/outputs.py`` does, under supervision).

| module | holds |
|---|---|
| ``rebase`` | ``Rebaser``: MPEG-TS segments rewritten onto one continuous, increasing timeline |
| ``follow`` | ``Follower``: which live segments a push sends next, and when it skips to catch up |
| ``targets`` | ``Target``: an output of the card made ready to push (URL, muxer, secret options) |
| ``command`` | the ffmpeg command of a push, its option file (the key, never in argv), progress |
| ``state`` | ``OutputState`` and ``OutputBoard``: what each push is doing, for the API and alerts |
"""
