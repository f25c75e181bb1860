"""Join two (or more) domain-mismatched corpora into one corpus, recording each line's origin.

``interleave`` takes one line from each corpus in turn (round robin; when a corpus runs out the
others continue), ``append`` writes the corpora one after the other. Next to ``OUTPUT`` the
sidecar ``OUTPUT.origin`` has one line per output line, ``lang<TAB>domain``, taken from the tags
(``en.wiki``, ``fr.un``, ...), so ``paste OUTPUT.origin OUTPUT`` shows where each line came from.
"""
from __future__ import annotations

import contextlib
import logging
from collections import Counter

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.progress import progress
from fairseq_xdomain.common.textio import LineStats, iter_lines, require_file

logger = logging.getLogger("xdomain-prep.concat")

MODES = ("interleave", "append")


def parse_tag(tag: str) -> tuple[str, str]:
    """``en.wiki`` -> (``en``, ``wiki``)."""
    lang, dot, domain = tag.partition(".")
    if not dot or not lang or not domain or any(c.isspace() for c in tag):
        raise UserError(f"--tags: '{tag}' is not of the form LANG.DOMAIN (e.g. en.wiki)")
    return lang, domain


def origin_path(output_path) -> str:
    return f"{output_path}.origin"


def concat_files(inputs, tags, output_path, mode: str = "interleave",
                 on_bad_utf8: str = "skip") -> dict:
    """Write the joint corpus and its ``.origin`` sidecar atomically; return per-tag counts."""
    if len(inputs) < 2:
        raise UserError("concat needs at least two input corpora")
    if len(tags) != len(inputs):
        raise UserError(f"--tags: got {len(tags)} tag(s) for {len(inputs)} input file(s)")
    if mode not in MODES:
        raise UserError(f"--mode must be one of {', '.join(MODES)}")
    parsed = [parse_tag(tag) for tag in tags]
    for path in inputs:
        require_file(path)
    stats = [LineStats() for _ in inputs]
    labels = [f"{lang}\t{domain}\n" for lang, domain in parsed]
    counts: Counter = Counter()
    with atomic_open(output_path) as out, atomic_open(origin_path(output_path)) as origin, \
            progress(desc=f"concat -> {output_path}") as bar:
        iters = [iter_lines(p, on_bad_utf8=on_bad_utf8, stats=s) for p, s in zip(inputs, stats)]
        if mode == "append":
            schedule = [[i] for i in range(len(iters))]
        else:
            schedule = [list(range(len(iters)))]
        for group in schedule:
            active = list(group)
            while active:
                for i in list(active):
                    line = next(iters[i], None)
                    if line is None:
                        active.remove(i)
                        continue
                    out.write(line)
                    out.write("\n")
                    origin.write(labels[i])
                    counts[tags[i]] += 1
                    bar.update(1)
        for it in iters:
            with contextlib.suppress(AttributeError):
                it.close()
    for path, s in zip(inputs, stats):
        if s.bad_utf8:
            verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
            logger.warning("%s: %s %d line(s) with invalid UTF-8", path, verb, s.bad_utf8)
    total = sum(counts.values())
    logger.info("%s: %d lines (%s, %s); origins in %s", output_path, total, mode,
                ", ".join(f"{t}: {counts[t]}" for t in tags), origin_path(output_path))
    return {"lines": total, "mode": mode, "per_tag": {t: counts[t] for t in tags},
            "bad_utf8": {str(p): s.bad_utf8 for p, s in zip(inputs, stats)}}
