"""MPEG-TS segments rewritten onto one continuous timeline, whatever aired before them.

The air is a sequence of prepared assets, each cut into MPEG-TS segments whose timestamps
start near 1.4 s (ffmpeg's mux delay): at every item change, emergency filler or slate, the
live HLS playlist carries an ``EXT-X-DISCONTINUITY`` and the timestamps jump back. HLS
players expect that. A push does not: ffmpeg reading such a stream reports ``DTS out of
order`` and ``Packet corrupt`` at every boundary, and a platform receiving it over RTMP or
SRT drops the stream at the first timestamp that goes backwards.

``Rebaser.rebase(segment)`` takes the segments in air order and returns each one with:

- every PTS, DTS and PCR moved by one offset per *run* (consecutive segments whose
  timestamps continue each other, e.g. the segments of one asset). A segment that does not
  continue the previous one (a new item, the slate looping, a segment skipped to catch up)
  starts a new run, placed right after what was sent: for each stream, its first timestamp
  lands one frame after that stream's last one. Timestamps therefore only ever increase, per
  stream, and audio and video keep the alignment they had in the source;
- the continuity counter of every packet renumbered, so the stream has no continuity error
  (ffmpeg marks packets after one as corrupt).

Why rewrite in Python rather than let ffmpeg do it (``-output_ts_offset`` per item, or the
concat demuxer): one long-lived ffmpeg per push keeps one connection to the platform for
days; per-item processes would reconnect at every item, and the concat demuxer needs the
whole list ahead of time while the air is decided second by second. A rewrite touches
four bytes of most packets and thirteen of a few: about 2 µs a packet, well under 1 % of a
core for a 3 Mbit/s channel (``ops/bench/outputs.py``).

A segment that cannot be trusted (no sync bytes, timestamps going backwards inside it) is
dropped whole and counted: it loses only itself, the next one starts a new run.
Assumption, true of every asset the channel prepares: all segments use the same PIDs.
"""

from __future__ import annotations

import attrs

PACKET = 188
SYNC = 0x47
CLOCK_HZ = 90_000
WRAP = 1 << 33  # PTS, DTS and the PCR base are 33-bit counters of the 90 kHz clock
HALF = 1 << 32
NULL_PID = 0x1FFF
# PES stream ids without the optional header that carries PTS/DTS (ISO 13818-1 table 2-21).
_NO_HEADER = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})
#: How far (seconds) a segment's first timestamp may sit from where the previous one ended
#: and still continue it: rounding, never an item change (those jump by whole seconds).
CONTINUITY_TOLERANCE_S = 0.5


def read_ts(b: bytearray | bytes, p: int) -> int:
    """The 33-bit timestamp coded in the five bytes at ``p`` (PTS or DTS field)."""
    return (
        ((b[p] >> 1) & 0x07) << 30
        | b[p + 1] << 22
        | (b[p + 2] >> 1) << 15
        | b[p + 3] << 7
        | b[p + 4] >> 1
    )


def write_ts(b: bytearray, p: int, value: int) -> None:
    """Code ``value`` (mod 2^33) at ``p``, keeping the field's prefix nibble and marker bits."""
    v = value % WRAP
    b[p] = (b[p] & 0xF0) | ((v >> 29) & 0x0E) | 0x01
    b[p + 1] = (v >> 22) & 0xFF
    b[p + 2] = ((v >> 14) & 0xFE) | 0x01
    b[p + 3] = (v >> 7) & 0xFF
    b[p + 4] = ((v << 1) & 0xFE) | 0x01


def read_pcr_base(b: bytearray | bytes, p: int) -> int:
    """The 33-bit base of the PCR at ``p`` (the 9-bit extension is left alone)."""
    return b[p] << 25 | b[p + 1] << 17 | b[p + 2] << 9 | b[p + 3] << 1 | b[p + 4] >> 7


def write_pcr_base(b: bytearray, p: int, base: int) -> None:
    v = base % WRAP
    b[p] = (v >> 25) & 0xFF
    b[p + 1] = (v >> 17) & 0xFF
    b[p + 2] = (v >> 9) & 0xFF
    b[p + 3] = (v >> 1) & 0xFF
    b[p + 4] = ((v & 1) << 7) | (b[p + 4] & 0x7F)


def unwrap(reference: int, raw: int) -> int:
    """``raw`` (mod 2^33) as the value nearest ``reference``: counters wrap every 26.5 h."""
    return reference + ((raw - reference + HALF) % WRAP) - HALF


@attrs.frozen
class _Pes:
    pid: int
    pts_at: int  # offset of the PTS field in the buffer
    dts_at: int  # offset of the DTS field, or -1 when the PES carries only a PTS
    video: bool


@attrs.frozen
class _Scan:
    """Where the timestamps of one segment are, and each stream's first and last DTS."""

    pes: list[_Pes]
    pcrs: list[int]  # offsets of PCR fields
    first: dict[int, int]  # pid -> first DTS (unwrapped against the stream's previous one)
    last: dict[int, int]
    step: dict[int, int]  # pid -> how long its last PES lasts (ticks)
    video_pid: int | None


_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def adts_ticks(payload: bytes) -> int | None:
    """How long the ADTS (AAC) frames in ``payload`` last, in 90 kHz ticks; None if it is
    not ADTS. ffmpeg packs several AAC frames in one audio PES: the last PES of a segment
    is usually shorter than the others, and where the next run may start depends on it."""
    i, samples, rate = 0, 0, 0
    while i + 7 <= len(payload):
        if payload[i] != 0xFF or payload[i + 1] & 0xF0 != 0xF0:
            return None
        index = (payload[i + 2] >> 2) & 0x0F
        length = (payload[i + 3] & 0x03) << 11 | payload[i + 4] << 3 | payload[i + 5] >> 5
        if index >= len(_AAC_RATES) or length < 7:
            return None
        rate = _AAC_RATES[index]
        samples += 1024 * (1 + (payload[i + 6] & 0x03))
        i += length
    if not samples:
        return None
    return samples * CLOCK_HZ // rate


class BadSegment(ValueError):
    """A segment that cannot join a continuous stream (the rebaser drops it)."""


class Rebaser:
    """Rewrites a sequence of MPEG-TS segments into one stream with increasing timestamps.

    One per stream: it remembers where each elementary stream ended and each PID's
    continuity counter. ``rebase`` returns the rewritten bytes (``b""`` for a dropped
    segment); ``end_s`` is where the output stands, in seconds of its own timeline.
    """

    def __init__(self, tolerance_s: float = CONTINUITY_TOLERANCE_S) -> None:
        self.tolerance = round(tolerance_s * CLOCK_HZ)
        self.offset = 0  # added to source timestamps in the current run
        self._last_src: dict[int, int] = {}  # per PID, unwrapped source DTS of the last PES
        self._last_out: dict[int, int] = {}  # per PID, output DTS (unbounded) of the last PES
        self._step: dict[int, int] = {}
        self._cc: dict[int, int] = {}
        self._anchor: int | None = None  # the stream continuity is judged on (video)
        self.start: int | None = None  # output DTS of the first PES ever sent
        self.segments = 0
        self.runs = 0
        self.dropped = 0

    @property
    def end_s(self) -> float:
        """Seconds of output timeline sent so far (0 before the first segment)."""
        if self.start is None or not self._last_out:
            return 0.0
        end = max(last + self._step.get(pid, 0) for pid, last in self._last_out.items())
        return (end - self.start) / CLOCK_HZ

    def rebase(self, data: bytes) -> bytes:
        """``data`` (whole 188-byte packets) on the continuous timeline; ``b""`` if dropped."""
        buf = bytearray(data[: len(data) - len(data) % PACKET])
        try:
            scan = self._scan(buf)
        except BadSegment:
            self.dropped += 1
            return b""
        if not scan.pes:
            self.dropped += 1
            return b""
        if self._anchor is None or self._anchor not in scan.first:
            self._anchor = scan.video_pid if scan.video_pid is not None else scan.pes[0].pid
        if not self._continues(scan):
            self.offset = self._new_offset(scan)
            self.runs += 1
        offset = self.offset
        for pes in scan.pes:
            ref = self._last_src.get(pes.pid)
            pts = read_ts(buf, pes.pts_at)
            src_pts = unwrap(ref if ref is not None else pts, pts)
            write_ts(buf, pes.pts_at, src_pts + offset)
            if pes.dts_at >= 0:
                dts = read_ts(buf, pes.dts_at)
                src_dts = unwrap(ref if ref is not None else dts, dts)
                write_ts(buf, pes.dts_at, src_dts + offset)
            else:
                src_dts = src_pts
            self._last_src[pes.pid] = src_dts
        for at in scan.pcrs:
            base = read_pcr_base(buf, at)
            ref = self._last_src.get(self._anchor) if self._anchor is not None else None
            write_pcr_base(buf, at, unwrap(ref if ref is not None else base, base) + offset)
        for pid, last in scan.last.items():
            self._last_out[pid] = last + offset
            self._step[pid] = max(1, scan.step.get(pid, self._step.get(pid, 1)))
        if self.start is None:
            self.start = min(first + offset for first in scan.first.values())
        self.segments += 1
        return bytes(buf)

    # --- deciding the offset ---------------------------------------------------------

    def _continues(self, scan: _Scan) -> bool:
        anchor = self._anchor
        if anchor is None or anchor not in self._last_src or anchor not in scan.first:
            return False
        expected = self._last_src[anchor] + self._step.get(anchor, 0)
        return abs(scan.first[anchor] - expected) <= self.tolerance

    def _new_offset(self, scan: _Scan) -> int:
        """The offset that starts every stream of this segment after its own last output.

        The first segment keeps its timestamps. Later runs: for each stream the output
        must reach at least its last DTS plus one frame; the largest such shift is taken,
        so no stream goes backwards and all move together (A/V sync is the source's).
        """
        if not self._last_out:
            return 0
        needs = [
            self._last_out[pid] + self._step.get(pid, 1) - first
            for pid, first in scan.first.items()
            if pid in self._last_out
        ]
        if not needs:  # no stream in common: start after everything sent
            end = max(v + self._step.get(p, 1) for p, v in self._last_out.items())
            needs = [end - min(scan.first.values())]
        return max(needs)

    # --- reading one segment -------------------------------------------------------------

    def _scan(self, buf: bytearray) -> _Scan:
        """Find every PES timestamp and PCR, check the DTS of each stream only increase,
        and renumber the continuity counters (in place)."""
        pes: list[_Pes] = []
        pcrs: list[int] = []
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        step: dict[int, int] = {}
        video_pid: int | None = None
        cc = dict(self._cc)
        # pid -> payload slices of its latest PES, for the audio streams: their last PES
        # is measured (ADTS) rather than assumed as long as the one before.
        tails: dict[int, list[tuple[int, int]]] = {}
        for i in range(0, len(buf), PACKET):
            if buf[i] != SYNC:
                raise BadSegment(f"no sync byte at {i}")
            b1 = buf[i + 1]
            pid = ((b1 & 0x1F) << 8) | buf[i + 2]
            if pid == NULL_PID:
                continue
            b3 = buf[i + 3]
            afc = (b3 >> 4) & 0x03
            p = i + 4
            end = i + PACKET
            if afc & 0x02:
                length = buf[p]
                if length and buf[p + 1] & 0x10 and length >= 7:
                    pcrs.append(p + 2)
                p += 1 + length
            if afc & 0x01:
                n = (cc.get(pid, -1) + 1) & 0x0F
                cc[pid] = n
                buf[i + 3] = (b3 & 0xF0) | n
            else:
                buf[i + 3] = (b3 & 0xF0) | cc.get(pid, 0)
            if not afc & 0x01:
                continue
            if not b1 & 0x40:
                tail = tails.get(pid)
                if tail is not None and p < end:
                    tail.append((p, end))
                continue
            if p + 14 > end:
                continue
            if buf[p] or buf[p + 1] or buf[p + 2] != 1 or buf[p + 3] in _NO_HEADER:
                continue
            flags = buf[p + 7] >> 6
            if not flags & 0x02:
                continue
            if 0xC0 <= buf[p + 3] <= 0xDF:
                tails[pid] = [(min(p + 9 + buf[p + 8], end), end)]
            dts_at = p + 14 if flags == 0x03 and p + 19 <= end else -1
            video = 0xE0 <= buf[p + 3] <= 0xEF
            if video and video_pid is None:
                video_pid = pid
            entry = _Pes(pid, p + 9, dts_at, video)
            raw = read_ts(buf, dts_at if dts_at >= 0 else p + 9)
            previous = last.get(pid)
            if previous is None:
                ref = self._last_src.get(pid)
                dts = unwrap(ref if ref is not None else raw, raw)
                first[pid] = dts
            else:
                dts = unwrap(previous, raw)
                if dts <= previous:
                    raise BadSegment(f"pid {pid}: DTS {dts} after {previous}")
                step[pid] = dts - previous
            last[pid] = dts
            pes.append(entry)
        for pid, slices in tails.items():
            measured = adts_ticks(b"".join(bytes(buf[a:b]) for a, b in slices))
            if measured is not None:
                step[pid] = measured
        self._cc = cc
        return _Scan(pes, pcrs, first, last, step, video_pid)
