"""An output of the card made ready for ffmpeg: the key from the environment or a file, in
the option file and nowhere else; clear errors that never quote it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vvtv.outputs.command import (
    OptionFileError,
    ProgressReader,
    option_file,
    push_args,
    redact,
)
from vvtv.outputs.targets import (
    TargetError,
    display_url,
    key_file_is_private,
    make_target,
)
from vvtv.ownercard.card import OutputSpec

KEY = "abcd-efgh-ijkl-mnop"
KEYS = {"VVTV_OUTPUT_KEY_YT": KEY}


def spec(url: str = "rtmps://a.rtmps.youtube.com:443/live2", **more: str) -> OutputSpec:
    fields = {"key_env": "VVTV_OUTPUT_KEY_YT", **more}
    return OutputSpec(name="yt", url=url, **fields)  # type: ignore[arg-type]


def test_an_rtmps_target_carries_the_key_as_the_stream_name_and_checks_the_certificate(
    tmp_path: Path,
) -> None:
    target = make_target(spec(), KEYS, tmp_path)
    assert target.muxer == "flv" and target.protocol == "rtmps"
    assert target.secrets == (("rtmp_playpath", KEY),)
    assert ("tls_verify", "1") in target.options
    assert target.display == "rtmps://a.rtmps.youtube.com:443/live2"
    assert KEY not in repr(target)


def test_the_key_never_reaches_the_command_line(tmp_path: Path) -> None:
    target = make_target(spec(), KEYS, tmp_path)
    args = push_args(target, option_fd=7)
    assert KEY not in " ".join(args)
    assert args[args.index("-fpre") + 1] == "/dev/fd/7"
    assert args[-1] == "rtmps://a.rtmps.youtube.com:443/live2"
    assert "-re" in args and args[args.index("-c") + 1] == "copy"  # remux only
    assert option_file(target.secrets) == f"rtmp_playpath={KEY}\n".encode()
    with pytest.raises(ValueError, match="option file"):
        push_args(target, option_fd=None)


def test_ffmpeg_reads_the_option_file_as_output_options(tmp_path: Path) -> None:
    """The mechanism itself, on this machine's ffmpeg: an output option from ``-fpre`` applies
    (the end-to-end tests show ``rtmp_playpath`` reaching nginx-rtmp the same way)."""
    read, write = os.pipe()
    os.write(write, option_file([("mpegts_service_id", "4242")]))
    os.close(write)
    out = tmp_path / "out.ts"
    args = [
        "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=s=32x32:d=0.2",
        "-fpre", f"/dev/fd/{read}", str(out),
    ]  # fmt: skip
    subprocess.run(args, pass_fds=(read,), check=True)
    os.close(read)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "program=program_id", "-of", "csv=p=0", out],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split(",")[0].strip() == "4242"


def test_srt_keys_are_the_stream_id_or_the_passphrase(tmp_path: Path) -> None:
    target = make_target(spec("srt://ingest.example.com:9000?latency=2000000"), KEYS, tmp_path)
    assert target.muxer == "mpegts" and target.secrets == (("streamid", KEY),)
    assert target.display == "srt://ingest.example.com:9000"
    locked = make_target(spec("srt://h:9000", key_as="passphrase"), KEYS, tmp_path)
    assert locked.secrets == (("passphrase", KEY),)
    with pytest.raises(TargetError, match="SRT passphrase has 10 to 79 characters") as info:
        make_target(
            spec("srt://h:9000", key_as="passphrase"), {"VVTV_OUTPUT_KEY_YT": "short"}, tmp_path
        )
    assert "short" not in str(info.value)


def test_a_key_file_is_read_at_each_connection(tmp_path: Path) -> None:
    key_file = tmp_path / "yt.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    card = OutputSpec(name="yt", url="rtmp://h/live", key_file="yt.key")  # relative: to root
    assert make_target(card, {}, tmp_path).secrets == (("rtmp_playpath", KEY),)
    key_file.write_text("rotated-key\n")
    assert make_target(card, {}, tmp_path).secrets == (("rtmp_playpath", "rotated-key"),)
    assert key_file_is_private(card, tmp_path)
    key_file.chmod(0o644)
    assert not key_file_is_private(card, tmp_path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read key_file"),
        (b"", "is empty"),
        (b"line one\nline two\n", "must be one line"),
        (b"\xff\xfe\x00", "is not UTF-8 text"),
        (b"k" * 5000, "is larger than a key"),
    ],
)
def test_a_bad_key_file_says_what_is_wrong_without_the_key(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    key_file = tmp_path / "k"
    if content is not None:
        key_file.write_bytes(content)
    card = OutputSpec(name="yt", url="rtmp://h/live", key_file=str(key_file))
    with pytest.raises(TargetError, match=expected) as info:
        make_target(card, {}, tmp_path)
    assert "line one" not in str(info.value)


def test_a_key_file_that_is_a_directory_or_a_device_is_refused(tmp_path: Path) -> None:
    for path in (tmp_path, Path("/dev/zero")):
        card = OutputSpec(name="yt", url="rtmp://h/live", key_file=str(path))
        with pytest.raises(TargetError):
            make_target(card, {}, tmp_path)


def test_an_unset_key_variable_says_so(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="VVTV_OUTPUT_KEY_YT is not set"):
        make_target(spec(), {}, tmp_path)


def test_a_keyless_output_has_no_option_file(tmp_path: Path) -> None:
    target = make_target(OutputSpec(name="local", url="rtmp://127.0.0.1/live/ch"), {}, tmp_path)
    assert target.secrets == () and option_file(target.secrets) == b""
    assert "-fpre" not in push_args(target, option_fd=None)


def test_what_may_be_shown_of_a_url_stops_at_the_application() -> None:
    assert display_url("rtmp://h/live2/abcd-efgh") == "rtmp://h/live2/…"
    assert display_url("rtmps://[::1]:1935/app") == "rtmps://[::1]:1935/app"
    assert display_url("srt://h:9000?latency=1&streamid=x") == "srt://h:9000"


def test_an_option_that_is_not_one_line_is_refused() -> None:
    for name, value in (("rtmp_playpath", "a\nb"), ("x", "y" * 1000), ("", "v")):
        with pytest.raises(OptionFileError):
            option_file([(name, value)])


def test_redact_hides_every_secret_whole() -> None:
    line = f"[rtmp @ 0x1] Server error: stream {KEY} rejected ({KEY[:9]})"
    assert redact(line, [KEY, KEY[:9]]) == "[rtmp @ 0x1] Server error: stream *** rejected (***)"
    assert redact("nothing here", [""]) == "nothing here"


def test_progress_blocks_are_read_as_ffmpeg_writes_them() -> None:
    reader = ProgressReader()
    lines = [
        "frame=50", "bitrate= 812.3kbits/s", "total_size=N/A", "out_time_us=N/A",
        "progress=continue",
        "total_size=204800", "out_time_us=2000000", "speed=1x", "progress=continue",
        "garbage", "total_size=409600", "out_time_us=4000000", "progress=end",
    ]  # fmt: skip
    got = [p for p in (reader.feed(line) for line in lines) if p is not None]
    assert [(p.total_size, p.out_time_s, p.ended) for p in got] == [
        (0, 0.0, False),
        (204800, 2.0, False),
        (409600, 4.0, True),
    ]
