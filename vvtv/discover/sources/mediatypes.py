"""Telling a video from a thumbnail or a podcast, by what a feed declares or the URL's extension."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

VIDEO_URL_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".ts", ".m3u8", ".mpd", ".avi", ".mpg", ".mpeg"}
)
STREAM_MIME_TYPES = frozenset(
    {"application/x-mpegurl", "application/vnd.apple.mpegurl", "application/dash+xml"}
)


def declared_video(medium: str | None, mime: str | None) -> bool | None:
    """True/False when the feed says whether the media is video; None when it does not."""
    if medium:
        return medium.strip().lower() == "video"
    if mime:
        mime = mime.strip().lower()
        return mime.startswith("video/") or mime in STREAM_MIME_TYPES
    return None


def looks_like_video(url: str) -> bool:
    """The URL's path ends in a video file extension (judged on the text for a URL that
    does not parse: whether it is usable is decided later, and the item is refused)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url.split("?", 1)[0].split("#", 1)[0]
    return PurePosixPath(path).suffix.lower() in VIDEO_URL_EXTENSIONS


def is_video(medium: str | None, mime: str | None, url: str) -> bool:
    """What the feed declares, else what the URL's extension suggests."""
    verdict = declared_video(medium, mime)
    return looks_like_video(url) if verdict is None else verdict
