"""The media layer: probe, HD confirmation, prepare (conform, loudness, HLS), QA, slate, demo clips.

Every ffmpeg/ffprobe run goes through ``vvtv.media.ffmpeg.run_tool`` (``trio.run_process``), so a
cancelled caller kills the child process and never blocks the event loop.
"""
