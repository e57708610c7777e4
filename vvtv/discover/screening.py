"""Discovery's domain: which candidates the channel keeps, how it scores them, and dedupe.

SPEC §1.1, in the order ``screen`` applies it (cheap checks first, so the expensive
HD probe only runs on candidates that could still be kept):

0. at most ``search_policy.max_candidates_per_source`` candidates of each source (in
   the source's order; the rest wait for a later window: ``CANDIDATE_CAP``);
1. the media URL's host is allowlisted and not blacklisted (``url_allowed``);
2. no blocked keyword in the title or tags (``blocked_keyword``);
3. not a duplicate, by normalised URL or normalised title, of anything already known
   (the store's ``is_known``), nor by URL of an earlier candidate of the batch, and
   not media that recently failed its probes (``recently_rejected``: a 480p video
   stays 480p, so it is not probed and audited again every hour);
4. a known duration (probed when the source did not say) within the card's
   ``search_policy.min_duration_sec..max_duration_sec`` (``duration_outside``);
5. when ``safety_policy.require_hd_playback_confirmation`` is on, the media really
   decodes at ``quality_policy.min_resolution_height`` or more (``confirm_hd``);
6. scored (``score``) and turned into a ``CANDIDATE`` ``PlanItem``; among plans of the
   batch with the same normalised title the first that passed its probes wins.

Everything rejected comes back as a ``Rejection`` with a reason code and a detail the
Discovery actor audits.

Probing remote media (steps 4 and 5): ffprobe never opens a URL. The head of the file is
fetched through the same vetted path as a download (``head_fetcher``, by default
``vvtv.media.fetch.fetch_head``: the allowlist on every redirect hop, the card's address
policy, bounded size and time) into a temporary file, and that local file is probed,
through the media-format whitelist. A redirect off the allowlist is
``REDIRECT_NOT_ALLOWED``, an address the card does not allow ``ADDRESS_REFUSED``, a file
that is not a media container (an HLS playlist, an ffconcat script, text)
``MEDIA_FORMAT_REFUSED``. At most ``search_policy.max_probes_per_window`` candidates are
probed per call; the others wait for a later window (``PROBE_BUDGET_SPENT``).

Local files: a folder source yields ``file://`` media URLs. They have no host, so
``host_allowed`` refuses them like any other non-HTTP URL; ``url_allowed`` accepts a
``file://`` URL only when the file lies inside a folder source the OwnerCard names.
The card is the owner's allowlist for local media, and a feed can never smuggle in a
``file:///etc/...`` URL.
"""

from __future__ import annotations

import enum
import math
import re
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import trio

from vvtv.core.model import PlanItem, PlanState, duration_defect, new_id
from vvtv.discover.sources.candidate import Candidate, local_path
from vvtv.guard.addresses import AddressPolicy
from vvtv.media.fetch import FetchError, fetch_head
from vvtv.media.formats import REASON as FORMAT_REFUSED
from vvtv.media.probe import HDCheck, MediaFormatRefused, ProbeError, ProbeResult, confirm_hd, probe
from vvtv.ownercard.card import OwnerCard

HDChecker = Callable[[str, int], Awaitable[HDCheck]]
Prober = Callable[[str], Awaitable[ProbeResult]]
HeadFetcher = Callable[[str, Path], Awaitable[Path]]
"""``(media URL, a directory)`` → a local file holding the media's head, fetched through
the vetted client (``vvtv.media.fetch.fetch_head``); ``FetchError`` when it cannot be."""
IsKnown = Callable[[str, str], bool]
RecentlyRejected = Callable[[str], bool]

# Scoring of SPEC §1.1. The three weights are "fine weights" the nightly autotune may
# adjust (``ScoreWeights``); the caps stay structural: two mood tags, three signals.
BASE_SCORE = 0.5
DURATION_MIN_SEC = 60.0
MOOD_MAX_TAGS = 2
QUALITY_MAX_SIGNALS = 3
QUALITY_WORDS = ("4k", "1080", "stereo", "clean")

_DEFAULT_PORTS = {"http": 80, "https": 443}
CHECKPOINT_EVERY = 200


class RejectReason(enum.StrEnum):
    """Why ``screen`` dropped a candidate (the audit event's reason code)."""

    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    HOST_BLACKLISTED = "HOST_BLACKLISTED"
    BLOCKED_KEYWORD = "BLOCKED_KEYWORD"
    DUPLICATE_KNOWN = "DUPLICATE_KNOWN"  # already in the store (by URL or title)
    DUPLICATE_IN_BATCH = "DUPLICATE_IN_BATCH"  # an earlier candidate of this batch
    DURATION_UNKNOWN = "DURATION_UNKNOWN"
    HD_NOT_CONFIRMED = "HD_NOT_CONFIRMED"
    DURATION_OUT_OF_RANGE = "DURATION_OUT_OF_RANGE"  # outside the card's min..max duration
    PROBE_REJECTED_RECENTLY = "PROBE_REJECTED_RECENTLY"  # failed its probes not long ago
    MEDIA_FORMAT_REFUSED = "MEDIA_FORMAT_REFUSED"  # a playlist, a script, text: not media
    ADDRESS_REFUSED = "ADDRESS_REFUSED"  # the host (or a redirect's) is not a public address
    REDIRECT_NOT_ALLOWED = "REDIRECT_NOT_ALLOWED"  # the media redirects off the allowlist
    CANDIDATE_CAP = "CANDIDATE_CAP"  # over the source's candidates per window: later
    PROBE_BUDGET_SPENT = "PROBE_BUDGET_SPENT"  # over the window's probes: a later window


# The rejections that come from probing the media (worth remembering: probing is costly).
PROBE_REJECTIONS = frozenset(
    {
        RejectReason.DURATION_UNKNOWN,
        RejectReason.HD_NOT_CONFIRMED,
        RejectReason.DURATION_OUT_OF_RANGE,
        RejectReason.MEDIA_FORMAT_REFUSED,
        RejectReason.ADDRESS_REFUSED,
        RejectReason.REDIRECT_NOT_ALLOWED,
    }
)
# What a head fetch failure says about the candidate; any other failure (a 404, a
# timeout) fails the probe that needed the head.
_FETCH_REJECTIONS = {
    FORMAT_REFUSED: RejectReason.MEDIA_FORMAT_REFUSED,
    "ADDRESS_REFUSED": RejectReason.ADDRESS_REFUSED,
    "NOT_ALLOWED": RejectReason.REDIRECT_NOT_ALLOWED,
}
#: What the default head fetcher may download, whatever the file: the size cap of a
#: download (``VVTV_MAX_DOWNLOAD_MB``'s default); the Discovery actor passes the setting.
DEFAULT_MAX_MEDIA_BYTES = 2048 << 20


class ScoringWeights(Protocol):
    """What ``score`` reads from its weights (``vvtv.nightly.autotune.TuneWeights`` fits)."""

    @property
    def duration_weight(self) -> float: ...
    @property
    def mood_weight(self) -> float: ...
    @property
    def quality_weight(self) -> float: ...


@attrs.frozen
class ScoreWeights:
    """SPEC §1.1's weights: +0.2 × duration closeness, +0.08 per mood, +0.05 per signal."""

    duration_weight: float = 0.2
    mood_weight: float = 0.08
    quality_weight: float = 0.05


SPEC_WEIGHTS = ScoreWeights()


@attrs.frozen
class Rejection:
    candidate: Candidate
    reason_code: RejectReason
    detail: str


@attrs.frozen
class ScreenResult:
    accepted: list[PlanItem]
    rejected: list[Rejection]


# --- host rules ---------------------------------------------------------------------


def _clean_domain(domain: str) -> str:
    return domain.strip().strip(".").lower()


def host_matches(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or a subdomain of it (dot boundary, case-insensitive)."""
    host, domain = _clean_domain(host), _clean_domain(domain)
    if not host or not domain:
        return False
    return host == domain or host.endswith("." + domain)


def host_allowed(url: str, allowlist: Iterable[str], blacklist: Iterable[str]) -> bool:
    """An http(s) URL whose host is allowlisted and not blacklisted (the blacklist wins).

    ``a.example.com`` matches ``example.com``; ``notexample.com`` does not. URLs that
    are not http(s) or have no host are refused (see ``url_allowed`` for local files).
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return False
    host = parts.hostname or ""
    if not host:
        return False
    if any(host_matches(host, d) for d in blacklist):
        return False
    return any(host_matches(host, d) for d in allowlist)


def folder_roots(card: OwnerCard) -> list[Path]:
    """The resolved directories of the card's folder sources."""
    return [Path(s.location).expanduser().resolve() for s in card.sources if s.kind == "folder"]


def _host_verdict(url: str, card: OwnerCard) -> tuple[RejectReason, str] | None:
    path = local_path(url)
    if path is not None:
        resolved = path.resolve()
        if any(resolved.is_relative_to(root) for root in folder_roots(card)):
            return None
        return RejectReason.HOST_NOT_ALLOWED, f"{url}: not inside a folder source of the card"
    policy = card.search_policy
    host = (urlsplit(url.strip()).hostname or "").lower()
    if host and any(host_matches(host, d) for d in policy.blacklist_domains):
        return RejectReason.HOST_BLACKLISTED, f"host {host} is blacklisted"
    if not host_allowed(url, policy.allowlist_domains, policy.blacklist_domains):
        return RejectReason.HOST_NOT_ALLOWED, f"host {host or '(none)'} of {url} is not allowlisted"
    return None


def address_policy(card: OwnerCard) -> AddressPolicy:
    """Where feeds, probes and downloads may connect: public addresses, plus the card's
    ``search_policy.allow_private_addresses`` (validated when the card was loaded)."""
    return AddressPolicy.from_entries(card.search_policy.allow_private_addresses)


def url_allowed(url: str, card: OwnerCard) -> bool:
    """``host_allowed`` for http(s) URLs; file URLs only inside the card's folder sources."""
    return _host_verdict(url, card) is None


# --- durations ----------------------------------------------------------------------


def duration_outside(duration_sec: float, card: OwnerCard) -> str | None:
    """Why a duration is not one the card accepts (``search_policy.min/max_duration_sec``),
    or ``None`` when it is."""
    policy = card.search_policy
    low, high = policy.min_duration_sec, policy.max_duration_sec
    defect = duration_defect(duration_sec)
    if defect is not None:
        return defect
    if not low <= duration_sec <= high:
        return f"duration {duration_sec:g} s is outside the card's range {low:g}..{high:g} s"
    return None


# --- keywords -----------------------------------------------------------------------


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Whole words: "ass" must not block "class". Boundaries are "not a letter or digit",
    # so keywords like "18+" or "gore fest" work too.
    return re.compile(r"(?<!\w)" + re.escape(keyword.casefold()) + r"(?!\w)")


def blocked_keyword(title: str, tags: Iterable[str], keywords: Iterable[str]) -> str | None:
    """The first blocked keyword found, as a whole word, in the title or a tag (any case)."""
    texts = [title.casefold(), *(t.casefold() for t in tags)]
    for keyword in keywords:
        if not keyword.strip():
            continue
        pattern = _keyword_pattern(keyword.strip())
        if any(pattern.search(text) for text in texts):
            return keyword
    return None


# --- scoring ------------------------------------------------------------------------


def duration_closeness(duration_sec: float, target_sec: float) -> float:
    """``max(0, 1 - |d - target| / target)``: 1 on target, 0 at twice (or zero) the target."""
    if target_sec <= 0:
        return 0.0
    return max(0.0, 1.0 - abs(duration_sec - target_sec) / target_sec)


def count_quality_signals(quality: Iterable[str]) -> int:
    """How many of a source's quality signals contain 4k/1080/stereo/clean (any case)."""
    return sum(1 for q in quality if any(word in q.casefold() for word in QUALITY_WORDS))


def _moods(card: OwnerCard) -> frozenset[str]:
    return frozenset(m.strip().casefold() for m in card.music_policy.preferred_moods if m.strip())


def preferred_mood_tags(tags: Iterable[str], card: OwnerCard) -> int:
    """How many distinct tags match one of ``music_policy.preferred_moods`` (any case)."""
    return len({t.strip().casefold() for t in tags} & _moods(card))


def _score(
    duration: float | None,
    tags: Iterable[str],
    signals: int,
    target: float,
    moods: frozenset[str],
    weights: ScoringWeights,
) -> float:
    total = BASE_SCORE
    if duration is not None and duration > DURATION_MIN_SEC:
        total += weights.duration_weight * duration_closeness(duration, target)
    matching = len({t.strip().casefold() for t in tags} & moods)
    total += weights.mood_weight * min(MOOD_MAX_TAGS, matching)
    total += weights.quality_weight * min(QUALITY_MAX_SIGNALS, signals)
    return min(1.0, max(0.0, round(total, 10)))


def score(candidate: Candidate, card: OwnerCard, weights: ScoringWeights = SPEC_WEIGHTS) -> float:
    """SPEC §1.1: 0.5 base; +0.2 × duration closeness (only > 60 s); +0.08 per tag
    matching a preferred mood (max 0.16, two tags); +0.05 per quality signal containing
    4k/1080/stereo/clean (max 0.15, three signals); clamped to [0, 1]. Matching ignores
    case. ``weights`` replaces 0.2/0.08/0.05 with autotuned values."""
    target = card.editorial_profile.target_avg_duration_sec
    signals = count_quality_signals(candidate.quality)
    return _score(candidate.duration_sec, candidate.tags, signals, target, _moods(card), weights)


def plan_scorer(
    card: OwnerCard, weights: ScoringWeights = SPEC_WEIGHTS
) -> Callable[[PlanItem], float]:
    """``score`` of stored plans under the card and weights in force now, so a change of
    either (the nightly autotune, a reload) reaches the candidates already in the pool,
    not only the next ones found. A plan stored before its quality signals were kept
    (``quality_signals`` None) keeps the score it was given."""
    target = card.editorial_profile.target_avg_duration_sec
    moods = _moods(card)

    def scored(plan: PlanItem) -> float:
        if plan.quality_signals is None:
            return plan.score
        return _score(plan.duration_sec, plan.tags, plan.quality_signals, target, moods, weights)

    return scored


def plan_score(plan: PlanItem, card: OwnerCard, weights: ScoringWeights = SPEC_WEIGHTS) -> float:
    """One plan's ``plan_scorer`` score."""
    return plan_scorer(card, weights)(plan)


# --- normalisation ------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """A canonical form for dedupe: lowercase scheme and host, no default port, no
    fragment, no trailing slash, query sorted and without ``utm_*`` parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


_NOT_ALNUM = re.compile(r"[^\w ]|_")


def normalize_title(title: str) -> str:
    """Lowercase, letters/digits and single spaces only: "The  Sea (4K)!" → "the sea 4k"."""
    text = _NOT_ALNUM.sub(" ", title.casefold())
    return " ".join(text.split())


# --- the pipeline -------------------------------------------------------------------


def theme_of(candidate: Candidate) -> str:
    """The candidate's theme, or its first tag when the source gave none."""
    if candidate.theme.strip():
        return candidate.theme.strip().casefold()
    for tag in candidate.tags:
        if tag.strip():
            return tag.strip().casefold()
    return ""


def default_head_fetcher(card: OwnerCard) -> HeadFetcher:
    """``fetch_head`` within ``card``'s allowlist and address policy, default limits."""
    return partial(
        fetch_head,
        max_bytes=DEFAULT_MAX_MEDIA_BYTES,
        allowed=lambda url: url_allowed(url, card),
        addresses=address_policy(card),
    )


async def screen(
    candidates: Sequence[Candidate],
    card: OwnerCard,
    *,
    is_known: IsKnown,
    now: datetime,
    recently_rejected: RecentlyRejected = lambda _url: False,
    hd_check: HDChecker = confirm_hd,
    prober: Prober = probe,
    head_fetcher: HeadFetcher | None = None,
    probe_dir: Path | None = None,
    probe_concurrency: int = 4,
    weights: ScoringWeights = SPEC_WEIGHTS,
) -> ScreenResult:
    """Filter, probe, score and dedupe one batch; see the module docstring for the order.

    ``is_known(normalized_url, normalized_title)`` says whether the store already holds
    a plan with that URL or title; ``recently_rejected(normalized_url)`` whether that
    media failed its probes recently (it is not probed again). Within the batch the
    first candidate of a URL wins, and of a title the first that passes its probes.
    Probes (duration when the source did not give one, and the HD check) run
    ``probe_concurrency`` at a time, on local files: a remote candidate's head is
    fetched first by ``head_fetcher`` (default: ``default_head_fetcher(card)``) into a
    temporary directory under ``probe_dir`` (default: the system's), removed after the
    probe. Accepted plans keep the batch order. ``weights``: the autotuned scoring
    weights.
    """
    fetch_head_of = head_fetcher or default_head_fetcher(card)
    policy = card.search_policy
    require_hd = card.safety_policy.require_hd_playback_confirmation
    rejected: list[Rejection] = []
    survivors: list[tuple[Candidate, str, str]] = []
    seen_urls: set[str] = set()
    per_source: Counter[str] = Counter()
    probes_left = policy.max_probes_per_window
    keywords = policy.blocked_keywords
    for index, cand in enumerate(candidates):
        if index % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
            await trio.lowlevel.checkpoint()  # a big batch must not hold the event loop
        per_source[cand.source_name] += 1
        if per_source[cand.source_name] > policy.max_candidates_per_source:
            cap = policy.max_candidates_per_source
            detail = f"source {cand.source_name!r} has more than {cap} candidates this window"
            rejected.append(Rejection(cand, RejectReason.CANDIDATE_CAP, detail))
            continue
        verdict = _host_verdict(cand.media_url, card)
        if verdict is not None:
            rejected.append(Rejection(cand, *verdict))
            continue
        keyword = blocked_keyword(cand.title, cand.tags, keywords)
        if keyword is not None:
            rejected.append(
                Rejection(cand, RejectReason.BLOCKED_KEYWORD, f"blocked keyword {keyword!r}")
            )
            continue
        n_url, n_title = normalize_url(cand.media_url), normalize_title(cand.title)
        if is_known(n_url, n_title):
            rejected.append(
                Rejection(cand, RejectReason.DUPLICATE_KNOWN, f"already known: {n_url}")
            )
            continue
        if recently_rejected(n_url):
            rejected.append(
                Rejection(cand, RejectReason.PROBE_REJECTED_RECENTLY, f"failed its probes: {n_url}")
            )
            continue
        if n_url in seen_urls:
            # The same media gives the same probe verdict: no need to probe it twice.
            rejected.append(
                Rejection(cand, RejectReason.DUPLICATE_IN_BATCH, f"same URL earlier: {n_url}")
            )
            continue
        if require_hd or not _usable_duration(cand.duration_sec):
            if probes_left <= 0:
                detail = f"{policy.max_probes_per_window} probes already this window"
                rejected.append(Rejection(cand, RejectReason.PROBE_BUDGET_SPENT, detail))
                continue
            probes_left -= 1
        seen_urls.add(n_url)
        survivors.append((cand, n_url, n_title))

    min_height = card.quality_policy.min_resolution_height
    limiter = trio.CapacityLimiter(max(1, probe_concurrency))
    outcomes: list[PlanItem | Rejection | None] = [None] * len(survivors)

    async def examine(i: int, cand: Candidate, n_url: str, n_title: str) -> None:
        async with limiter:
            outcomes[i] = await _examine(cand, n_url, n_title)

    @asynccontextmanager
    async def local_copy(url: str) -> AsyncIterator[str]:
        """The file to probe: the folder's own file, or the fetched head of remote media."""
        path = local_path(url)
        if path is not None:
            yield str(path)
            return
        if probe_dir is not None:
            probe_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".probe-", dir=probe_dir) as directory:
            yield str(await fetch_head_of(url, Path(directory)))

    async def _examine(cand: Candidate, n_url: str, n_title: str) -> PlanItem | Rejection:
        if not require_hd and _usable_duration(cand.duration_sec):
            return _plan(cand, float(cand.duration_sec or 0), n_url, n_title, None, False)
        # The step that needs the probe names the rejection when the head cannot be had.
        step = RejectReason.HD_NOT_CONFIRMED
        if not _usable_duration(cand.duration_sec):
            step = RejectReason.DURATION_UNKNOWN
        try:
            async with local_copy(cand.media_url) as target:
                outcome = await _probe(cand, target, n_url, n_title)
        except FetchError as exc:
            reason = _FETCH_REJECTIONS.get(exc.reason_code, step)
            detail = exc.message if reason is not step else f"cannot fetch its head: {exc}"
            return Rejection(cand, reason, detail)
        if isinstance(outcome, Rejection):
            # Name the media, not the temporary file its head was probed from.
            detail = outcome.detail.replace(target, cand.media_url)
            return attrs.evolve(outcome, detail=detail)
        return outcome

    async def _probe(
        cand: Candidate, target: str, n_url: str, n_title: str
    ) -> PlanItem | Rejection:
        duration = cand.duration_sec
        if not _usable_duration(duration):
            try:
                info = await prober(target)
            except MediaFormatRefused as exc:
                return Rejection(cand, RejectReason.MEDIA_FORMAT_REFUSED, exc.reason)
            except ProbeError as exc:
                return Rejection(cand, RejectReason.DURATION_UNKNOWN, exc.reason)
            if not info.duration_sec:
                return Rejection(
                    cand, RejectReason.DURATION_UNKNOWN, f"{target}: no duration in the media"
                )
            duration = info.duration_sec
            cand = attrs.evolve(cand, duration_sec=duration)
        assert duration is not None
        outside = duration_outside(duration, card)
        if outside is not None:
            return Rejection(cand, RejectReason.DURATION_OUT_OF_RANGE, outside)
        height: int | None = None
        hd_ok = False
        if require_hd:
            check = await hd_check(target, min_height)
            if not check.ok:
                reason = RejectReason.HD_NOT_CONFIRMED
                if check.code == FORMAT_REFUSED:
                    reason = RejectReason.MEDIA_FORMAT_REFUSED
                return Rejection(cand, reason, check.reason)
            height, hd_ok = check.height, True
        return _plan(cand, float(duration), n_url, n_title, height, hd_ok)

    def _plan(
        cand: Candidate,
        duration: float,
        n_url: str,
        n_title: str,
        height: int | None,
        hd_ok: bool,
    ) -> PlanItem | Rejection:
        outside = duration_outside(duration, card)
        if outside is not None:
            return Rejection(cand, RejectReason.DURATION_OUT_OF_RANGE, outside)
        return PlanItem(
            plan_id=new_id("plan"),
            source_url=cand.media_url,
            title=cand.title,
            duration_sec=duration,
            discovered_at=now,
            state=PlanState.CANDIDATE,
            score=score(cand, card, weights),
            quality_signals=count_quality_signals(cand.quality),
            theme=theme_of(cand),
            tags=tuple(cand.tags),
            source_name=cand.source_name,
            normalized_url=n_url,
            normalized_title=n_title,
            resolution_height=height,
            hd_confirmed=hd_ok,
            updated_at=now,
            trace_id=new_id("trace"),
        )

    async with trio.open_nursery() as nursery:
        for i, (cand, n_url, n_title) in enumerate(survivors):
            nursery.start_soon(examine, i, cand, n_url, n_title)

    # Titles are deduped after probing: a same-titled copy that fails its probe must not
    # shadow one that passes.
    accepted: list[PlanItem] = []
    seen_titles: set[str] = set()
    for (cand, _, _), outcome in zip(survivors, outcomes, strict=True):
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
        elif isinstance(outcome, PlanItem):
            title = outcome.normalized_title
            if title and title in seen_titles:
                detail = f"same title earlier: {title!r}"
                rejected.append(Rejection(cand, RejectReason.DUPLICATE_IN_BATCH, detail))
                continue
            seen_titles.add(title)
            accepted.append(outcome)
    return ScreenResult(accepted=accepted, rejected=rejected)


def _usable_duration(duration: float | None) -> bool:
    return duration is not None and math.isfinite(duration) and duration > 0
