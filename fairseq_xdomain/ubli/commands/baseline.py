"""``xdomain-ubli baseline``: copying, orthographic, or identical strings + Procrustes
(:mod:`..baseline_run`).

    xdomain-ubli baseline --method copy|identical|ortho --src-emb en.vec --tgt-emb fr.vec
                       --dico-eval en-fr.txt --out DIR [--pair en-fr --domains Wiki-UN
                       --init separate|joint]
"""
from __future__ import annotations

import argparse

from ...results import UBLIResult, add_label_arguments
from ..baseline_run import BASELINES, BaselineConfig, run_baseline
from . import common


def add_parser(sub) -> None:
    """The ``baseline`` subparser of ``sub``."""
    p = sub.add_parser("baseline", help="copy baseline, or identical-strings supervised Procrustes")
    common.add_pair_arguments(p)
    p.add_argument("--method", required=True, choices=BASELINES,
                   help="ortho: the target word with the most similar spelling (character "
                        "n-grams, no embeddings; see ubli/orthography.py)")
    add_label_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> UBLIResult:
    """Run ``baseline`` from its flags; prints the one-line summary; returns the result."""
    files = common.files_from_args(args)
    cfg = common.config_from_args(BaselineConfig, args, refinement=common.refinement_from_args(args)).check()
    result = run_baseline(files, cfg, common.device_of(args))
    common.print_result(result)
    return result


__all__ = ["add_parser", "run"]
