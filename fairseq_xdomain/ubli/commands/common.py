"""What the ``xdomain-ubli`` commands share: device and thread setup, the flags -> config
builder, the flags every pair command has, and the one-line print of a result."""
from __future__ import annotations

import argparse
import logging

import torch

from ...common.dataclass_args import add_dataclass_arguments, dataclass_from_args
from ...common.errors import check_minimums
from ...results import UBLIResult
from ..csls import BACKENDS
from ..data import NORMALIZATIONS, add_lowercase_argument, add_max_vocab_argument
from ..pair_run import PairFiles
from ..refinement import RefinementConfig

logger = logging.getLogger("xdomain-ubli")


def setup_device(cpu: bool, threads: int) -> torch.device:
    """Set torch's thread count (``threads`` > 0; 0 = torch's default) and return the device:
    CUDA when available and not ``cpu``. ``UserError`` for ``threads`` < 0."""
    check_minimums((("--threads", threads, 0),))
    if threads > 0:
        torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")
    logger.info("device: %s", device)
    return device


def device_of(args: argparse.Namespace) -> torch.device:
    """:func:`setup_device` of the ``--cpu`` and ``--threads`` flags."""
    return setup_device(args.cpu, args.threads)


def config_from_args(cls, args: argparse.Namespace, **nested):
    """The typed config ``cls`` of a run from the parsed flags: each field from the flag of its
    name (``common/dataclass_args.py``), ``nested`` configs (and values) given by the caller."""
    return dataclass_from_args(cls, args, **nested)


def files_from_args(args: argparse.Namespace) -> PairFiles:
    """The run's :class:`~fairseq_xdomain.ubli.pair_run.PairFiles` from ``--src-emb``,
    ``--tgt-emb``, ``--out``, ``--dico-eval`` and the label flags."""
    return dataclass_from_args(PairFiles, args)


def refinement_from_args(args: argparse.Namespace) -> RefinementConfig:
    """The :class:`RefinementConfig` of the flags (fields without a flag keep their default)."""
    return dataclass_from_args(RefinementConfig, args)


def add_pair_arguments(p: argparse.ArgumentParser) -> None:
    """The flags ``align`` and ``baseline`` share (inputs, output, vectors, back end, device,
    refinement)."""
    add_embedding_arguments(p)
    p.add_argument("--dico-eval", "--dico_eval", default=None,
                   help="MUSE-format test dictionary ('src tgt' lines)")
    p.add_argument("--out", required=True, help="output folder")
    add_normalize_arguments(p)
    add_device_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_dataclass_arguments(p, RefinementConfig)  # --refinement, --dico-*, --csls-k, ...
    p.add_argument("--no-export", action="store_true", help="do not write the mapped .vec files")


def add_embedding_arguments(p) -> None:
    """``--src-emb``, ``--tgt-emb`` (MUSE's ``--src_emb``/``--tgt_emb`` too), ``--max-vocab``
    and ``--lowercase``: the word vectors of a pair command."""
    p.add_argument("--src-emb", "--src_emb", required=True,
                   help="source .vec (frequency order)")
    p.add_argument("--tgt-emb", "--tgt_emb", required=True,
                   help="target .vec (frequency order)")
    add_max_vocab_argument(p)
    add_lowercase_argument(p)


def add_normalize_arguments(p) -> None:
    """``--normalize-embeddings`` (MUSE's ``--normalize_embeddings`` too) and
    ``--knn-backend``."""
    p.add_argument("--normalize-embeddings", "--normalize_embeddings", default="",
                   choices=NORMALIZATIONS,
                   help="MUSE's normalisation of both spaces before alignment: comma-separated "
                        "steps center (subtract the mean) and renorm (unit rows); '' = none")
    p.add_argument("--knn-backend", default="auto", choices=BACKENDS,
                   help="nearest-neighbour search: faiss, torch, or auto (faiss when installed)")


def add_device_arguments(p, threads_help: str = "torch threads (0 = torch's default)") -> None:
    """``--threads`` and ``--cpu`` (read by :func:`device_of`)."""
    p.add_argument("--threads", type=int, default=0, help=threads_help)
    p.add_argument("--cpu", action="store_true", help="do not use CUDA even when available")


def print_result(result: UBLIResult) -> None:
    """One line: criterion, selected epoch/refinement, P@1 (%) (and the orthography-aware
    retrieval's with its weight, when scored), coverage (fraction); the copying and
    orthographic baselines: their own P@1 (all pairs, non-identical pairs) and coverage."""
    ev = result.metrics
    if result.method == "copy":
        print(f"copy_p@1 {ev['copy_p@1']:.2f} (all {ev['copy_p@1_all']:.2f}), "
              f"coverage {ev['coverage']:.3f}")
        return
    if result.method == "ortho":
        print(f"ortho_p@1 {ev['ortho_p@1']:.2f} (all {ev['ortho_p@1_all']:.2f}), "
              f"ortho_p@1_nonident {ev['ortho_p@1_nonident']:.2f}, "
              f"coverage {ev['coverage']:.3f}")
        return
    parts = [f"criterion {result.criterion:.4f}"]
    if result.selected.get("candidate") == "identity":
        parts.append("candidate identity")
    elif result.selected.get("epoch") is not None:
        parts.append(f"epoch {result.selected['epoch']}")
    if "refinement" in result.selected:
        parts.append(f"refinement {result.selected['refinement']}")
    for k in ("csls_p@1", "nn_p@1", "copy_p@1"):
        if k in ev:
            parts.append(f"{k} {ev[k]:.2f}")
    if "csls_ortho_p@1" in ev:  # orthography-aware retrieval (--ortho-weight)
        parts.append(f"csls_ortho_p@1 {ev['csls_ortho_p@1']:.2f} (w = {ev['ortho_weight']:g})")
    if "coverage" in ev:
        parts.append(f"coverage {ev['coverage']:.3f}")
    print(", ".join(parts))


__all__ = ["setup_device", "device_of", "config_from_args", "files_from_args",
           "refinement_from_args", "add_pair_arguments", "add_embedding_arguments",
           "add_normalize_arguments", "add_device_arguments", "print_result"]
