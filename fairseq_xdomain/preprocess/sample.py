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
from fairseq_xdomain.common.progress import progress
from fairseq_xdomain.common.textio import LineStats, iter_lines

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


class BottomK:
    """The ``n`` items of smallest priority offered so far: the one reservoir of the package.

    With priorities drawn uniformly in [0, 1) (one per offered item, from a stream that depends
    only on the seed) the kept items are a uniform sample without replacement of everything
    offered; memory is O(n). Used by :func:`sample_lines` and by ``stdm.sample_documents``.
    ``index`` is the item's position in the input: :meth:`in_order` returns the kept items in
    input order. Ties of priority keep the item offered first.
    """

    def __init__(self, n: int):
        if n <= 0:
            raise ValueError(f"BottomK: n must be positive, got {n}")
        self.n = n
        # max-heap through negated priorities: heap[0] is the entry with the largest priority
        self._heap: list[tuple[float, int, object]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def full(self) -> bool:
        """True once ``n`` items are kept (later offers replace the largest priority)."""
        return len(self._heap) >= self.n

    def max_priority(self) -> float:
        """The largest kept priority (the n-th smallest seen once full); IndexError if empty."""
        return -self._heap[0][0]

    def offer(self, priority: float, index: int, item) -> tuple[bool, object]:
        """Offer one item; returns (kept, evicted item or None)."""
        if len(self._heap) < self.n:
            heapq.heappush(self._heap, (-priority, index, item))
            return True, None
        if priority < -self._heap[0][0]:
            evicted = heapq.heapreplace(self._heap, (-priority, index, item))
            return True, evicted[2]
        return False, None

    def in_order(self) -> list:
        """The kept items, in input (``index``) order."""
        return [item for _, _, item in sorted(self._heap, key=lambda entry: entry[1])]


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
    reservoir = BottomK(n)
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
        kept, evicted = reservoir.offer(prio, index, line)
        if dedup and kept:
            if evicted is not None:
                in_heap.discard(_content_priority(key, evicted))
            in_heap.add(prio_int)
    stats.read = line_stats.read
    stats.bad_utf8 = line_stats.bad_utf8
    stats.eligible = eligible
    stats.kept = len(reservoir)
    if dedup:
        if not reservoir.full():
            stats.distinct_estimate = len(reservoir)  # exact: every distinct line is kept
        else:
            # KMV estimate of the number of distinct lines from the N-th smallest hash
            stats.distinct_estimate = int(round((n - 1) / max(reservoir.max_priority(), 1e-300)))
    stats.all_kept = not reservoir.full() or eligible <= n
    return reservoir.in_order(), stats


def sample_file(input_path, output_path, n: int, seed: int = 0, drop_empty: bool = False,
                dedup: bool = False, on_bad_utf8: str = "skip", show_progress: bool = True,
                hint: str = "use --on-bad-utf8 skip|replace to continue") -> dict:
    """Sample ``input_path`` into ``output_path`` (atomically); log and return the counts."""
    lines, stats = sample_lines(input_path, n, seed=seed, drop_empty=drop_empty, dedup=dedup,
                                on_bad_utf8=on_bad_utf8, show_progress=show_progress, hint=hint)
    if stats.kept == 0:  # refused here, naming the user's file, not at the next (work) file
        raise UserError(f"{input_path}: no line to sample ({stats.read} read, "
                        f"{stats.empty_dropped} empty, {stats.bad_utf8} with invalid UTF-8)")
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
