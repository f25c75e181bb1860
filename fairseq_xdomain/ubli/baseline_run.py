"""``baseline``'s runs: copying, orthographic (character n-grams) and identical strings +
supervised Procrustes + refinement (Søgaard et al. 2018).

:func:`run_baseline` writes DIR/baseline_{METHOD}.json, a
:class:`~fairseq_xdomain.results.UBLIResult` read by ``xdomain-report`` (``method``, and
``pair``/``domains``/``init`` from the labels, null when not given), and
DIR/baseline_{METHOD}.md; ``identical`` also writes the map (``pair_run.export``).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import torch

from ..common.errors import UserError
from ..results import UBLIResult, write_result
from .align import identical_pairs, refine_and_select, supervised_procrustes
from .data import load_pair
from .evaluation import copy_baseline, load_checked_dictionary, load_dictionary
from .orthography import ortho_baseline
from .pair_run import PairFiles, PairSettings, clamped_refinement, evaluate, export, out_dir
from .refinement import RefinementConfig
from .selection import mean_cosine_criterion

#: the baselines of ``xdomain-ubli baseline --method``
BASELINES = ("copy", "identical", "ortho")


@dataclass
class BaselineConfig(PairSettings):
    """``xdomain-ubli baseline``: the method (:data:`BASELINES`) and, for ``identical``, the
    refinement after the supervised Procrustes."""

    method: str = field(default="copy", metadata={"choices": BASELINES})
    refinement: RefinementConfig = field(default_factory=RefinementConfig)

    def check(self) -> BaselineConfig:
        super().check()
        self.refinement.check()
        return self


def run_baseline(files: PairFiles, cfg: BaselineConfig, device: torch.device) -> UBLIResult:
    """Run baseline ``cfg.method`` (see the module docstring); returns the result. Raises
    ``UserError`` for bad settings or files."""
    labels = {**files.labels(), "method": cfg.method}
    cfg.check()
    out = out_dir(files)
    if not files.dico_eval and cfg.method in ("copy", "ortho"):
        raise UserError(f"--method {cfg.method} needs --dico-eval")
    src_wv, tgt_wv, src, tgt = load_pair(files.src_emb, files.tgt_emb, cfg.max_vocab,
                                         cfg.normalize_embeddings, lowercase=cfg.lowercase)
    config = {"command": "baseline", "method": cfg.method, "src_emb": os.fspath(files.src_emb),
              "tgt_emb": os.fspath(files.tgt_emb), "max_vocab": cfg.max_vocab,
              "dico_eval": files.dico_eval, "normalize_embeddings": cfg.normalize_embeddings}
    t0 = time.perf_counter()
    if cfg.method == "copy":
        evaluation = copy_baseline(load_dictionary(files.dico_eval), src_wv.word2id,
                                   tgt_wv.word2id)
        result = UBLIResult(**labels, p_at_1=evaluation["copy_p@1"], metrics=evaluation,
                            config=config)
        if evaluation["n_covered"] == 0:
            raise UserError(f"{files.dico_eval}: no dictionary pair is covered by the "
                            f"vocabularies")
    elif cfg.method == "ortho":  # spelling only: the vectors are not used
        evaluation = ortho_baseline(load_dictionary(files.dico_eval), src_wv.word2id,
                                    tgt_wv.word2id)
        result = UBLIResult(**labels, p_at_1=evaluation["ortho_p@1"], metrics=evaluation,
                            config=config)
    else:
        src, tgt = src.to(device), tgt.to(device)
        pairs = identical_pairs(src_wv.words, tgt_wv.words)
        if not pairs:
            raise UserError(f"{files.tgt_emb}: no word is spelled identically in both "
                            f"vocabularies ({files.src_emb})")
        dico = load_checked_dictionary(files.dico_eval, src_wv.word2id, tgt_wv.word2id)
        ref = clamped_refinement(cfg.refinement, len(src_wv), len(tgt_wv)).check()
        config["refinement"] = ref.to_dict()
        W0 = supervised_procrustes(src, tgt, pairs)
        crit0 = mean_cosine_criterion(src @ W0, tgt, max_rank=ref.criterion_max_rank,
                                      k_csls=ref.k_csls, backend=cfg.knn_backend)
        W, crit, ref_it, ref_records = refine_and_select(src, tgt, W0, crit0, ref,
                                                         backend=cfg.knn_backend,
                                                         progress=not cfg.no_progress)
        evaluation = evaluate(files, ref.k_csls, cfg.knn_backend, src_wv, tgt_wv, src, tgt, W,
                              dico)
        export(out, cfg, src_wv.words, tgt_wv.words, src, tgt, W)
        evaluation = evaluation or {}
        result = UBLIResult(**labels, p_at_1=evaluation.get("csls_p@1"), metrics=evaluation,
                            criterion=crit, config=config, selected={"refinement": ref_it},
                            details={"n_seed_pairs": len(pairs), "procrustes_criterion": crit0,
                                     "refinement": ref_records})
    result.wall_s = time.perf_counter() - t0
    write_result(out / f"baseline_{cfg.method}.json", result)
    return result


__all__ = ["BASELINES", "BaselineConfig", "run_baseline"]
