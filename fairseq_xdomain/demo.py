"""``make demo`` / ``python -m fairseq_xdomain.demo [--out DIR] [--quick]``: the entry of the demo,
which is ``xdomain-run demo`` (:mod:`fairseq_xdomain.experiments.demo`, where it is described)."""
from __future__ import annotations

import sys

from .experiments.cli import main as run_main


def main(argv=None) -> int:
    """``xdomain-run demo ARGV``; its exit status."""
    return run_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
