"""``xdomain-ubli``: unsupervised bilingual lexicon induction and its baselines.

MUSE's option names are accepted where the option means the same (``--src_emb``, ``--tgt_emb``,
``--dico_eval``, ``--max_vocab``, ``--normalize_embeddings``, ``--n_refinement``, ``--dis_*``,
``--epoch_size``, ...); ``--lowercase`` lowercases the embedding words as MUSE does, and
``evaluate --mapping best_mapping.pth --mapping-format muse`` scores MUSE's own map.

    xdomain-ubli align --src-emb en.vec --tgt-emb fr.vec --out DIR [--dico-eval en-fr.txt]
                       [--seed S --epochs E --refinement R --epoch-size N ...]
                       [--method self-learning --sl-* ...]
    xdomain-ubli baseline --method copy|identical|ortho --src-emb en.vec --tgt-emb fr.vec
                       --dico-eval en-fr.txt --out DIR [--pair en-fr --domains Wiki-UN
                       --init separate|joint]
    xdomain-ubli grid ...       (the grid search: see ``xdomain-ubli grid --help``)
    xdomain-ubli evaluate --src-emb S.vec --tgt-emb T.vec [--mapping W.npy] --dico-eval D
                       [--out DIR]   (score a given map, identity by default)
    xdomain-ubli reallocate ...  (vocabulary reallocation of a joint space, then refinement)
    xdomain-ubli dictionary --pairs P.tsv --src-corpus A --tgt-corpus B -o dico.txt
                       (a test dictionary of words frequent in both corpora)

``align`` writes DIR/W.pt and W.npy (the selected map, ``mapped = src @ W``), DIR/src.mapped.vec and
DIR/tgt.vec, DIR/results.json (a ``UBLIResult``: ``config`` with the seed, ``metrics`` = the
evaluation, ``selected`` = epoch and refinement, ``details`` = criterion per epoch, refinement
steps, timings) and DIR/results.md; it checkpoints after every adversarial epoch and
resumes from DIR/checkpoint.pt when restarted with the same configuration.

Refinement (both subcommands) induces its dictionary with ``--dico-build``: ``S2T``, ``T2S``,
their intersection ``S2T&T2S`` (mutual pairs) or union ``S2T|T2S``. When the induced dictionary
has fewer pairs than the embedding dimension, refinement stops with a warning giving the count and
the map from before that iteration is kept. Flag values are checked before any file is read.

``baseline`` writes DIR/baseline_{METHOD}.json, a :class:`~fairseq_xdomain.results.UBLIResult`
read by ``xdomain-report`` (``method``, and ``pair``/``domains``/``init`` from the flags, null when
not given), and DIR/baseline_{METHOD}.md. Every result file here is written through
:func:`fairseq_xdomain.results.write_result` (schema in ``fairseq_xdomain/results.py``).

Each subcommand is one module of ``fairseq_xdomain/ubli/commands/`` (flags, then one call of its
run in ``fairseq_xdomain/ubli/``).
"""
from __future__ import annotations

import argparse
import sys

from ...common.cli import ArgumentParser, setup_logging
from ...common.errors import cli_entry
from . import align, baseline, dictionary, evaluate, grid, reallocate


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``xdomain-ubli`` (``grid`` is listed; :func:`main` hands it its own)."""
    parser = ArgumentParser(prog="xdomain-ubli", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    align.add_parser(sub)
    baseline.add_parser(sub)
    p = sub.add_parser("grid", help="the paper's grid search: seeds x epochs x refinements, "
                       "selected by the unsupervised criterion", description=grid.DESCRIPTION)
    grid.add_grid_arguments(p)
    evaluate.add_parser(sub)
    reallocate.add_parser(sub)
    dictionary.add_parser(sub)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    """``xdomain-ubli``; returns 0, exits 2 with a one-line message on a ``UserError``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "grid":  # the grid parses its own flags (its parser is listed above)
        return grid.main(argv[1:])
    args = build_parser().parse_args(argv)
    setup_logging()
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
