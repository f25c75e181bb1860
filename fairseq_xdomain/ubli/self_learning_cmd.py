"""``xdomain-ubli align --method self-learning``: the robust fully unsupervised self-learning of
Artetxe, Labaka & Agirre (2018, ACL; :mod:`.self_learning`) behind the ``align`` command.

Writes what ``align`` writes, with ``align``'s own writers (``cli._export``, ``cli._evaluate``):
DIR/W.pt and W.npy (the source map), DIR/src.mapped.vec and DIR/tgt.vec, DIR/results.json
(a ``UBLIResult``: ``config`` with the seed, ``metrics``, ``details`` with the objective per
iteration) and DIR/results.md. Both spaces are
normalised first (unit, centre, unit, as in the paper), so the maps apply to the normalised
vectors: ``mapped_src = normalize_sl(src) @ W``; with whitening (``--sl-whiten``, the paper's
setting, the default) or re-weighting (``--sl-reweight`` > 0, the paper's default 0.5) the
target is mapped too (``normalize_sl(tgt) @ W_tgt``, written as DIR/W_tgt.npy; tgt.vec holds the
mapped target). No checkpoints: a run is restarted afresh.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from ..common.dataclass_args import add_dataclass_arguments, dataclass_from_args
from ..common.errors import UserError
from ..results import UBLIResult, labels_from_args, write_result
from .self_learning import SelfLearningConfig, normalize_sl, self_learning

logger = logging.getLogger(__name__)

METHODS = ("adversarial", "self-learning")


def add_self_learning_arguments(p: argparse.ArgumentParser) -> None:
    """``--method`` (default ``adversarial``: ``align`` unchanged) and the ``--sl-*`` flags."""
    p.add_argument("--method", default="adversarial", choices=METHODS,
                   help="adversarial (MUSE, default) or self-learning (Artetxe et al. 2018, "
                        "ACL: fully unsupervised initial dictionary + stochastic self-learning)")
    g = p.add_argument_group("self-learning (--method self-learning)")
    add_dataclass_arguments(g, SelfLearningConfig, prefix="sl-", exclude=("eps", "max_iter"))


def sl_config(args) -> SelfLearningConfig:
    """The checked :class:`SelfLearningConfig` of the flags (``UserError`` naming a bad one)."""
    return dataclass_from_args(SelfLearningConfig, args, prefix="sl-").check()


def cmd_align_self_learning(args) -> UBLIResult:
    """Run ``align --method self-learning``; returns the UBLIResult written to results.json.
    Raises ``UserError`` for bad flags or input files (before any training)."""
    from .cli import (
        _check_common,
        _evaluate,
        _export,
        _print_result,
        _ref_cfg,
        _setup,
        _words,
    )
    from .data import load_pair
    from .evaluation import load_checked_dictionary
    from .selection import mean_cosine_criterion

    _check_common(args)
    cfg = sl_config(args)
    device = _setup(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src_wv, tgt_wv, src, tgt = load_pair(args.src_emb, args.tgt_emb, args.max_vocab,
                                         args.normalize_embeddings)
    if min(len(src_wv), len(tgt_wv)) < src.shape[1]:
        raise UserError(f"{args.tgt_emb}: self-learning needs at least as many words as "
                        f"dimensions ({src.shape[1]}); have {len(src_wv)}/{len(tgt_wv)}")
    dico = load_checked_dictionary(args.dico_eval, src_wv.word2id, tgt_wv.word2id)
    ref = _ref_cfg(args, len(src_wv), len(tgt_wv))
    config = {"command": "align", "method": "self-learning",
              "src_emb": os.fspath(args.src_emb), "tgt_emb": os.fspath(args.tgt_emb),
              "max_vocab": args.max_vocab, "normalize_embeddings": args.normalize_embeddings,
              "self_learning_normalization": "unit,center,unit", "seed": args.seed,
              "self_learning": cfg.to_dict(), "knn_backend": args.knn_backend,
              "csls_k_eval": args.csls_k, "criterion_max_rank": ref.criterion_max_rank,
              "dico_eval": args.dico_eval}
    t0 = time.perf_counter()
    x, z = normalize_sl(src.to(device)), normalize_sl(tgt.to(device))
    run = self_learning(x, z, cfg, seed=args.seed)
    W, W_tgt = run["W_src"], run["W_tgt"]
    z_mapped = z @ W_tgt
    crit = mean_cosine_criterion(x @ W, z_mapped, max_rank=ref.criterion_max_rank,
                                 k_csls=ref.k_csls, backend=args.knn_backend)
    evaluation = _evaluate(args, src_wv, tgt_wv, x, z_mapped, W, dico)
    _export(args, out, src_wv, tgt_wv, x, z_mapped, W)
    outputs = {"W": os.fspath(out / "W.pt")}
    if cfg.reweight > 0 or cfg.whiten:
        from .align import save_mapping

        save_mapping(out / "W_tgt.npy", W_tgt)
        outputs["W_tgt"] = os.fspath(out / "W_tgt.npy")
    evaluation = evaluation or {}
    result = UBLIResult(
        **labels_from_args(args), method="self-learning", p_at_1=evaluation.get("csls_p@1"), metrics=evaluation,
        criterion=crit, config=config, wall_s=time.perf_counter() - t0,
        details={"objective_per_iteration": run["objective"],
                 "keep_prob_per_iteration": run["keep_prob"], "n_iterations": run["n_iterations"],
                 "n_dictionary_pairs": run["n_pairs"], "self_learning_time_s": run["time_s"],
                 **_words(src_wv, tgt_wv), "outputs": outputs})
    write_result(out / "results.json", result)
    _print_result(result)
    return result
