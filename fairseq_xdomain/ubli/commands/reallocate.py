"""``xdomain-ubli reallocate``: vocabulary reallocation of a joint space, then refinement
(Wang et al. 2020; :mod:`..reallocation_run`).

Only flags without fixed choices: the k-NN back end is ``auto``, no ``--normalize-embeddings``,
and the induced dictionary of the refinement is built as ``align``'s default (``--dico-build
S2T``, CSLS); score other settings on the written vectors with ``xdomain-ubli evaluate``.
"""
from __future__ import annotations

import argparse

from ...common.dataclass_args import add_dataclass_arguments
from ...results import UBLIResult, add_label_arguments
from ..data import add_max_vocab_argument
from ..ortho_retrieval import add_ortho_arguments
from ..reallocation import DEFAULT_THRESHOLD
from ..reallocation_run import ReallocateConfig, run_reallocate
from ..refinement import RefinementConfig
from . import common


def add_parser(sub) -> None:
    """The ``reallocate`` subparser of ``sub``."""
    p = sub.add_parser("reallocate", help="joint space: language-specific vectors for shared "
                       "words used very unevenly (Wang et al. 2020), then refinement")
    p.add_argument("--src-emb", "--src_emb", required=True,
                   help="the joint model's source-side .vec")
    p.add_argument("--tgt-emb", "--tgt_emb", required=True,
                   help="the joint model's target-side .vec")
    p.add_argument("--src-counts", required=True,
                   help="source corpus counts ('word count' lines, e.g. fairseq dict.txt)")
    p.add_argument("--tgt-counts", required=True, help="target corpus counts")
    p.add_argument("--src-sep-emb", default=None,
                   help="source separate-model .vec (default: uneven words are dropped)")
    p.add_argument("--tgt-sep-emb", default=None, help="target separate-model .vec")
    p.add_argument("--ratio", type=float, default=DEFAULT_THRESHOLD,
                   help="frequency ratio beyond which a shared word is uneven (> 1)")
    add_max_vocab_argument(p)
    p.add_argument("--dico-eval", "--dico_eval", default=None,
                   help="MUSE-format test dictionary")
    p.add_argument("--out", required=True, help="output folder")
    common.add_device_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-export", action="store_true",
                   help="do not write the reallocated .vec files")
    add_dataclass_arguments(p, RefinementConfig, exclude=("dico_build", "dico_method"))
    add_ortho_arguments(p)
    p.set_defaults(knn_backend="auto", normalize_embeddings="", run=run)
    add_label_arguments(p)


def run(args: argparse.Namespace) -> UBLIResult:
    """Run ``reallocate`` from its flags; prints the one-line summary; returns the result."""
    cfg = common.config_from_args(ReallocateConfig, args, refinement=common.refinement_from_args(args)).check()
    result = run_reallocate(common.files_from_args(args), cfg, common.device_of(args))
    common.print_result(result)
    return result


__all__ = ["add_parser", "run"]
