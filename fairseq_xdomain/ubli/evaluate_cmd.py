"""``xdomain-ubli evaluate``: score a given map on a test dictionary (issue 16, point 7).

    xdomain-ubli evaluate --src-emb S.vec --tgt-emb T.vec [--mapping W.npy] --dico-eval D
                          [--out DIR] [--ortho-weight auto|0|FLOAT]

The evaluator is the one of ``align``, ``baseline`` and ``grid``
(:func:`~fairseq_xdomain.ubli.evaluation.evaluate_translation`: NN and CSLS P@1/5/10 in % of the
covered source words, coverage in [0, 1], P@1 over the non-identical pairs, self-translation
share), plus MUSE's unsupervised criterion (mean CSLS cosine) of the map. ``--mapping``: a
``[d, d]`` ``.npy`` (as ``align``/``grid`` write it, applied as ``src @ W``); without it the
identity (a joint space as it is). Use the ``--normalize-embeddings`` the map was trained with.
``--ortho-weight`` (not 0) adds the orthography-aware retrieval of :mod:`.ortho_retrieval`
(``csls_ortho_*`` metrics, ``ortho_weight``; with ``auto`` the weight's unsupervised selection
record in ``selected.ortho_weight_selection``).
With ``--out``, DIR/results.json (a ``UBLIResult``: configuration, metrics) and DIR/results.md
are written atomically. Prints the one-line summary of the other subcommands.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from ..common.errors import UserError, check_minimums
from ..results import UBLIResult, add_label_arguments, labels_from_args, write_result
from .csls import BACKENDS
from .data import NORMALIZATIONS, add_max_vocab_argument, load_pair
from .evaluation import evaluate_translation, load_dictionary, require_coverage
from .ortho_retrieval import add_ortho_arguments, ortho_evaluation
from .refinement import RefinementConfig
from .selection import mean_cosine_criterion


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``xdomain-ubli evaluate``."""
    r = RefinementConfig()
    add_label_arguments(p)
    p.add_argument("--src-emb", required=True)
    p.add_argument("--tgt-emb", required=True)
    p.add_argument("--mapping", default=None, help="W.npy [d, d], mapped = src @ W "
                   "(default: the identity)")
    p.add_argument("--dico-eval", required=True, help="MUSE-format test dictionary")
    p.add_argument("--out", default=None, help="output folder (results.json, results.md)")
    add_max_vocab_argument(p)
    p.add_argument("--normalize-embeddings", default="", choices=NORMALIZATIONS)
    p.add_argument("--knn-backend", default="auto", choices=BACKENDS)
    p.add_argument("--csls-k", type=int, default=r.k_csls)
    p.add_argument("--criterion-max-rank", type=int, default=r.criterion_max_rank)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--cpu", action="store_true", help="do not use CUDA even when available")
    add_ortho_arguments(p)


def load_mapping(path: str | os.PathLike, dim: int) -> torch.Tensor:
    """A ``[dim, dim]`` float32 map from a ``.npy`` file. Raises ``UserError`` (naming the file)
    when it is missing, unreadable, not 2-D numeric, of another shape, or not finite."""
    try:
        W = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: mapping file not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a W.npy file") from None
    except (OSError, ValueError, EOFError):
        raise UserError(f"{path}: not a .npy array file (as numpy.save writes, e.g. the W.npy "
                        f"of align or grid)") from None
    if W.ndim != 2 or W.shape != (dim, dim) or not np.issubdtype(W.dtype, np.number):
        raise UserError(f"{path}: mapping of shape {tuple(W.shape)} ({W.dtype}), expected "
                        f"({dim}, {dim}) for embeddings of dimension {dim}")
    if not np.isfinite(W).all():
        raise UserError(f"{path}: the mapping has non-finite values")
    return torch.from_numpy(W.astype(np.float32))


def cmd_evaluate(args: argparse.Namespace) -> UBLIResult:
    """Run ``evaluate`` (see the module docstring); returns the UBLIResult (written to results.json with --out)."""
    from .cli import _print_result, _words

    check_minimums((("--max-vocab", args.max_vocab, 1), ("--threads", args.threads, 0),
                    ("--csls-k", args.csls_k, 1), ("--criterion-max-rank",
                                                   args.criterion_max_rank, 0)))
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    t0 = time.perf_counter()
    dico = load_dictionary(args.dico_eval)
    src_wv, tgt_wv, src, tgt = load_pair(args.src_emb, args.tgt_emb, args.max_vocab,
                                         args.normalize_embeddings)
    require_coverage(dico, src_wv.word2id, tgt_wv.word2id)
    if args.mapping:
        W = load_mapping(args.mapping, src.shape[1])
    else:
        W = torch.eye(src.shape[1])
    src, tgt, W = src.to(device), tgt.to(device), W.to(device)
    mapped = src @ W
    rank = min(args.criterion_max_rank, len(src_wv), len(tgt_wv))
    crit = mean_cosine_criterion(mapped, tgt, max_rank=rank, k_csls=args.csls_k,
                                 backend=args.knn_backend)
    evaluation = evaluate_translation(mapped, tgt, src_wv.word2id, tgt_wv.word2id, dico,
                                      k_csls=args.csls_k, backend=args.knn_backend)
    selected = {"mapping": os.fspath(args.mapping) if args.mapping else "identity"}
    if args.ortho_weight != 0:  # orthography-aware retrieval (ortho_retrieval.py)
        ortho, selected["ortho_weight_selection"] = ortho_evaluation(
            mapped, tgt, src_wv.word2id, tgt_wv.word2id, dico, args.ortho_weight,
            k_csls=args.csls_k, max_rank=rank or len(src_wv), backend=args.knn_backend)
        evaluation.update(ortho)
    config = {"command": "evaluate", "src_emb": os.fspath(args.src_emb),
              "tgt_emb": os.fspath(args.tgt_emb),
              "mapping": os.fspath(args.mapping) if args.mapping else None,
              "dico_eval": os.fspath(args.dico_eval), "max_vocab": args.max_vocab,
              "normalize_embeddings": args.normalize_embeddings, "csls_k": args.csls_k,
              "criterion_max_rank": rank, "knn_backend": args.knn_backend, "seed": None,
              "ortho_weight": args.ortho_weight}
    result = UBLIResult(**labels_from_args(args), method="evaluate", p_at_1=evaluation.get("csls_p@1"), metrics=evaluation,
                        criterion=crit, config=config, wall_s=time.perf_counter() - t0,
                        selected=selected,
                        details=_words(src_wv, tgt_wv))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_result(out / "results.json", result)
    _print_result(result)
    return result
