"""``xdomain-ubli evaluate``: score a given map on a test dictionary (:mod:`..evaluate_run`).

    xdomain-ubli evaluate --src-emb S.vec --tgt-emb T.vec [--mapping W.npy] --dico-eval D
                          [--out DIR] [--ortho-weight auto|0|FLOAT]
    xdomain-ubli evaluate ... --mapping best_mapping.pth --mapping-format muse   (MUSE's map)

Use the ``--normalize-embeddings`` the map was trained with. With ``--out``, DIR/results.json
(a ``UBLIResult``: configuration, metrics) and DIR/results.md are written atomically. Prints the
one-line summary of the other subcommands.
"""
from __future__ import annotations

import argparse

from ...embeddings.mapping_io import add_mapping_format_argument
from ...results import UBLIResult, add_label_arguments
from ..evaluate_run import EvaluateConfig, run_evaluate
from ..ortho_retrieval import add_ortho_arguments
from .common import (
    add_device_arguments,
    add_embedding_arguments,
    add_normalize_arguments,
    config_from_args,
    device_of,
    files_from_args,
    print_result,
)


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``xdomain-ubli evaluate`` (defaults: :class:`EvaluateConfig`)."""
    d = EvaluateConfig()
    add_label_arguments(p)
    add_embedding_arguments(p)
    p.add_argument("--mapping", default=None, help="W.npy [d, d], mapped = src @ W, or a torch "
                   "file (W.pt, MUSE's best_mapping.pth) with --mapping-format (None: the "
                   "identity)")
    add_mapping_format_argument(p)
    p.add_argument("--dico-eval", "--dico_eval", required=True,
                   help="MUSE-format test dictionary")
    p.add_argument("--out", default=None, help="output folder (results.json, results.md)")
    add_normalize_arguments(p)
    p.add_argument("--csls-k", type=int, default=d.csls_k, help="CSLS neighbourhood k")
    p.add_argument("--criterion-max-rank", type=int, default=d.criterion_max_rank,
                   help="most frequent source words of the unsupervised criterion (0: all)")
    add_device_arguments(p)
    add_ortho_arguments(p)


def add_parser(sub) -> None:
    """The ``evaluate`` subparser of ``sub``."""
    p = sub.add_parser("evaluate", help="score a given map (default: identity) on a test "
                       "dictionary with the evaluator of align/grid")
    add_evaluate_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> UBLIResult:
    """Run ``evaluate`` from its flags; prints the one-line summary; returns the result."""
    cfg = config_from_args(EvaluateConfig, args).check()
    result = run_evaluate(files_from_args(args), cfg, device_of(args))
    print_result(result)
    return result


__all__ = ["add_evaluate_arguments", "add_parser", "run"]
