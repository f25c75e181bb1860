"""``align --method self-learning``'s run: the robust fully unsupervised self-learning of
Artetxe, Labaka & Agirre (2018, ACL; :mod:`.self_learning`).

Writes what ``align`` writes, with the same writers (:mod:`.pair_run`): DIR/W.pt and W.npy (the
source map), DIR/src.mapped.vec and DIR/tgt.vec, DIR/results.json (a ``UBLIResult``, method
``self-learning``: ``config`` with the seed, ``metrics``, ``details`` with the objective per
iteration) and DIR/results.md. Both spaces are normalised first (unit, centre, unit, as in the
paper), so the maps apply to the normalised vectors: ``mapped_src = normalize_sl(src) @ W``;
with whitening (``whiten``, the paper's setting, the default) or re-weighting (``reweight`` >
0, the paper's default 0.5) the target is mapped too (``normalize_sl(tgt) @ W_tgt``, written as
DIR/W_tgt.npy; tgt.vec holds the mapped target). No checkpoints: a run is restarted afresh.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import torch

from ..common.errors import UserError
from ..results import UBLIResult, write_result
from . import pair_run
from .align import save_mapping
from .data import load_pair
from .evaluation import load_checked_dictionary
from .refinement import RefinementConfig
from .selection import mean_cosine_criterion
from .self_learning import SelfLearningConfig, normalize_sl, self_learning


@dataclass
class SelfLearningRunConfig(pair_run.PairSettings):
    """``xdomain-ubli align --method self-learning``: the seed, the self-learning settings, and
    the refinement settings whose CSLS k and criterion rank score the result."""

    seed: int = 0
    self_learning: SelfLearningConfig = field(default_factory=SelfLearningConfig)
    refinement: RefinementConfig = field(default_factory=RefinementConfig)

    def check(self) -> SelfLearningRunConfig:
        super().check()
        self.refinement.check()
        self.self_learning.check()
        return self


def run_self_learning(files: pair_run.PairFiles, cfg: SelfLearningRunConfig,
                      device: torch.device) -> UBLIResult:
    """Run self-learning on ``files`` (see the module docstring); returns the result written to
    results.json. Raises ``UserError`` for bad settings or input files (before any training)."""
    labels = files.labels()
    cfg.check()
    sl = cfg.self_learning
    out = pair_run.out_dir(files)
    src_wv, tgt_wv, src, tgt = load_pair(files.src_emb, files.tgt_emb, cfg.max_vocab,
                                         cfg.normalize_embeddings, lowercase=cfg.lowercase)
    if min(len(src_wv), len(tgt_wv)) < src.shape[1]:
        raise UserError(f"{files.tgt_emb}: self-learning needs at least as many words as "
                        f"dimensions ({src.shape[1]}); have {len(src_wv)}/{len(tgt_wv)}")
    dico = load_checked_dictionary(files.dico_eval, src_wv.word2id, tgt_wv.word2id)
    ref = pair_run.clamped_refinement(cfg.refinement, len(src_wv), len(tgt_wv)).check()
    config = {"command": "align", "method": "self-learning",
              "src_emb": os.fspath(files.src_emb), "tgt_emb": os.fspath(files.tgt_emb),
              "max_vocab": cfg.max_vocab, "normalize_embeddings": cfg.normalize_embeddings,
              "self_learning_normalization": "unit,center,unit", "seed": cfg.seed,
              "self_learning": sl.to_dict(), "knn_backend": cfg.knn_backend,
              "csls_k_eval": cfg.refinement.k_csls, "criterion_max_rank": ref.criterion_max_rank,
              "dico_eval": files.dico_eval}
    t0 = time.perf_counter()
    x, z = normalize_sl(src.to(device)), normalize_sl(tgt.to(device))
    run = self_learning(x, z, sl, seed=cfg.seed)
    W, W_tgt = run["W_src"], run["W_tgt"]
    z_mapped = z @ W_tgt
    crit = mean_cosine_criterion(x @ W, z_mapped, max_rank=ref.criterion_max_rank,
                                 k_csls=ref.k_csls, backend=cfg.knn_backend)
    evaluation = pair_run.evaluate(files, ref.k_csls, cfg.knn_backend, src_wv, tgt_wv, x, z_mapped, W,
                          dico)
    pair_run.export(out, cfg, src_wv.words, tgt_wv.words, x, z_mapped, W)
    outputs = {"W": os.fspath(out / "W.pt")}
    if sl.reweight > 0 or sl.whiten:
        save_mapping(out / "W_tgt.npy", W_tgt)
        outputs["W_tgt"] = os.fspath(out / "W_tgt.npy")
    evaluation = evaluation or {}
    result = UBLIResult(
        **labels, method="self-learning", p_at_1=evaluation.get("csls_p@1"),
        metrics=evaluation, criterion=crit, config=config, wall_s=time.perf_counter() - t0,
        details={"objective_per_iteration": run["objective"],
                 "keep_prob_per_iteration": run["keep_prob"], "n_iterations": run["n_iterations"],
                 "n_dictionary_pairs": run["n_pairs"], "self_learning_time_s": run["time_s"],
                 **pair_run.word_counts(src_wv, tgt_wv), "outputs": outputs})
    write_result(out / "results.json", result)
    return result


__all__ = ["SelfLearningRunConfig", "run_self_learning"]
