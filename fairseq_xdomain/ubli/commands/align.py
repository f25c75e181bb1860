"""``xdomain-ubli align``: MUSE (adversarial + refinement, :mod:`..align_run`) or, with
``--method self-learning``, the robust self-learning of Artetxe et al. 2018
(:mod:`..self_learning_run`).

    xdomain-ubli align --src-emb en.vec --tgt-emb fr.vec --out DIR [--dico-eval en-fr.txt]
                       [--seed S --epochs E --refinement R --epoch-size N ...]
                       [--method self-learning --sl-* ...]
"""
from __future__ import annotations

import argparse

from ...common.dataclass_args import add_dataclass_arguments, dataclass_from_args
from ...results import UBLIResult, add_label_arguments
from ..adversarial import AdversarialConfig
from ..align_run import AlignConfig, run_align
from ..selection import add_selection_arguments
from ..self_learning import SelfLearningConfig
from ..self_learning_run import SelfLearningRunConfig, run_self_learning
from . import common

METHODS = ("adversarial", "self-learning")


def add_self_learning_arguments(p: argparse.ArgumentParser) -> None:
    """``--method`` (default ``adversarial``: MUSE) and the ``--sl-*`` flags."""
    p.add_argument("--method", default="adversarial", choices=METHODS,
                   help="adversarial (MUSE, default) or self-learning (Artetxe et al. 2018, "
                        "ACL: fully unsupervised initial dictionary + stochastic self-learning)")
    g = p.add_argument_group("self-learning (--method self-learning)")
    add_dataclass_arguments(g, SelfLearningConfig, prefix="sl-", exclude=("eps", "max_iter"))


def sl_config(args: argparse.Namespace) -> SelfLearningConfig:
    """The checked :class:`SelfLearningConfig` of the flags (``UserError`` naming a bad one)."""
    return dataclass_from_args(SelfLearningConfig, args, prefix="sl-").check()


def add_parser(sub) -> None:
    """The ``align`` subparser of ``sub``."""
    p = sub.add_parser("align", help="adversarial training + refinement (MUSE, unsupervised)")
    common.add_pair_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="random seed of the adversarial training")
    add_dataclass_arguments(p, AdversarialConfig)  # --epochs, --epoch-size, --dis-*, ...
    add_self_learning_arguments(p)  # --method, --sl-*
    add_selection_arguments(p)  # --selection, --identity-candidate (ubli/selection.py)
    add_label_arguments(p)  # --pair, --domains, --init (results.py)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> UBLIResult:
    """Run ``align`` from its flags; prints the one-line summary; returns the result."""
    files, ref = common.files_from_args(args), common.refinement_from_args(args)
    if args.method == "self-learning":
        cfg = common.config_from_args(SelfLearningRunConfig, args, self_learning=sl_config(args),
                               refinement=ref).check()
        result = run_self_learning(files, cfg, common.device_of(args))
    else:
        cfg = common.config_from_args(AlignConfig, args, refinement=ref,
                               adversarial=dataclass_from_args(AdversarialConfig, args)).check()
        result = run_align(files, cfg, common.device_of(args))
    common.print_result(result)
    return result


__all__ = ["METHODS", "add_parser", "add_self_learning_arguments", "sl_config", "run"]
