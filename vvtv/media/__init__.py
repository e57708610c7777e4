"""Media (SPEC §1.4-1.5): from a committed plan to an asset ready to air.

``port`` is the committer's view of this stage; ``fetch`` downloads within the card's
allowlist; ``probe``, ``prepare``, ``loudness`` and ``qa`` conform, normalise, segment and
check with ffmpeg; ``playlist`` is the one reader of a prepared asset's VOD playlist (prepare,
QA and the Buffer share its rules); ``slate``, ``generate`` and
``demo`` render what the channel makes itself.

Every ffmpeg/ffprobe run goes through ``vvtv.media.ffmpeg``: ``run_tool`` (``trio.run_process``)
for the short ones, ``run_progressing`` for the long runs of preparation, which fail for lack
of progress rather than for being slow. Either way a cancelled caller kills the child process
and never blocks the event loop.
"""
