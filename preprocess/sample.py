"""Uniform random sampling of N lines from a corpus of any size, streaming, seeded.

The algorithm is *bottom-k* (priority) reservoir sampling: every eligible line gets a priority in
[0, 1) and the N lines with the smallest priorities are kept in a bounded max-heap. With random
priorities this is an exact uniform sample without replacement (equivalent to reservoir
sampling); memory is O(N), independent of the corpus size.

With ``dedup`` the priority of a line is instead a keyed 64-bit hash of its *content*
(blake2b, key = seed): equal lines get equal priorities, so a line and all its duplicates are
either all inside the heap or all outside it. Keeping the N smallest distinct hashes is a uniform
sample of N *distinct* lines of the whole file (global de-duplication), still in O(N) memory and
without storing a hash per seen line. Two different lines collide with probability ~ 2^-64 per
pair (negligible). The number of distinct lines is exact when the corpus has at most N of them
and estimated (KMV estimator) otherwise.

The kept lines are written in their original file order (first occurrence for dedup).
"""
from __future__ import annotations

import hashlib
import heapq
import logging
import random
from dataclasses import asdict, dataclass

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.textio import LineStats, iter_lines

from .progress import progress

logger = logging.getLogger("xdomain-prep.sample")

_HASH_SCALE = float(2**64)


@dataclass
class SampleStats:
    """What happened to the input lines (nothing is dropped silently)."""

    read: int = 0
    bad_utf8: int = 0
    empty_dropped: int = 0
    eligible: int = 0
    # duplicates of a line that was in the sample when they were read: exact when the corpus has
    # at most N distinct lines, a lower bound otherwise (see distinct_estimate)
    duplicates_in_sample: int = 0
    kept: int = 0
    distinct_estimate: int | None = None
    requested: int = 0
    all_kept: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _content_priority(key: bytes, line: str) -> int:
    digest = hashlib.blake2b(line.encode("utf-8", "surrogatepass"), digest_size=8, key=key).digest()
    return int.from_bytes(digest, "little")


def sample_lines(
    path,
    n: int,
    seed: int = 0,
    drop_empty: bool = False,
    dedup: bool = False,
    on_bad_utf8: str = "skip",
    show_progress: bool = True,
    hint: str = "use --on-bad-utf8 skip|replace to continue",
) -> tuple[list[str], SampleStats]:
    """Return (lines in file order, stats): N lines of ``path`` chosen uniformly with ``seed``.

    ``hint`` ends the error of ``on_bad_utf8="fail"``; it names the caller's own option.
    """
    if n <= 0:
        raise UserError(f"{path}: -n must be a positive number of lines, got {n}")
    stats = SampleStats(requested=n)
    line_stats = LineStats()
    # max-heap through negated priorities: heap[0] is the entry with the largest priority
    heap: list[tuple[float, int, str]] = []
    in_heap: set[int] = set()
    rng = random.Random(seed)
    key = hashlib.sha256(f"xdomain-prep-sample:{seed}".encode()).digest()[:32]
    eligible = 0
    lines = iter_lines(path, on_bad_utf8=on_bad_utf8, stats=line_stats, hint=hint)
    for index, line in enumerate(progress(lines, desc=f"sample {path}", unit=" lines",
                                          disable=not show_progress)):
        if drop_empty and not line.strip():
            stats.empty_dropped += 1
            continue
        eligible += 1
        if dedup:
            prio_int = _content_priority(key, line)
            if prio_int in in_heap:
                stats.duplicates_in_sample += 1
                continue
            prio = prio_int / _HASH_SCALE
        else:
            prio = rng.random()
        if len(heap) < n:
            heapq.heappush(heap, (-prio, index, line))
            if dedup:
                in_heap.add(prio_int)
        elif prio < -heap[0][0]:
            evicted = heapq.heapreplace(heap, (-prio, index, line))
            if dedup:
                in_heap.discard(_content_priority(key, evicted[2]))
                in_heap.add(prio_int)
    stats.read = line_stats.read
    stats.bad_utf8 = line_stats.bad_utf8
    stats.eligible = eligible
    stats.kept = len(heap)
    if dedup:
        if len(heap) < n:
            stats.distinct_estimate = len(heap)  # exact: every distinct line is kept
        else:
            # KMV estimate of the number of distinct lines from the N-th smallest hash
            stats.distinct_estimate = int(round((n - 1) / max(-heap[0][0], 1e-300)))
    stats.all_kept = len(heap) < n or eligible <= n
    kept = [line for _, _, line in sorted(heap, key=lambda item: item[1])]
    return kept, stats


def sample_file(input_path, output_path, n: int, seed: int = 0, drop_empty: bool = False,
                dedup: bool = False, on_bad_utf8: str = "skip", show_progress: bool = True,
                hint: str = "use --on-bad-utf8 skip|replace to continue") -> dict:
    """Sample ``input_path`` into ``output_path`` (atomically); log and return the counts."""
    lines, stats = sample_lines(input_path, n, seed=seed, drop_empty=drop_empty, dedup=dedup,
                                on_bad_utf8=on_bad_utf8, show_progress=show_progress, hint=hint)
    with atomic_open(output_path) as out:
        for line in lines:
            out.write(line)
            out.write("\n")
    if stats.bad_utf8:
        verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
        logger.warning("%s: %s %d line(s) with invalid UTF-8", input_path, verb, stats.bad_utf8)
    if stats.kept < n:
        what = "distinct " if dedup else ""
        what += "non-empty " if drop_empty else ""
        logger.warning("%s: asked for %d lines but the corpus has only %d %slines: keeping all "
                       "of them", input_path, n, stats.kept, what)
    logger.info(
        "%s: read %d lines, %d invalid UTF-8, %d empty dropped, %d duplicates dropped, kept %d -> %s",
        input_path, stats.read, stats.bad_utf8, stats.empty_dropped, stats.duplicates_in_sample,
        stats.kept, output_path,
    )
    if dedup and stats.distinct_estimate is not None and stats.kept == n:
        logger.info("%s: about %d distinct lines in the corpus (estimate)", input_path,
                    stats.distinct_estimate)
    return stats.as_dict()
