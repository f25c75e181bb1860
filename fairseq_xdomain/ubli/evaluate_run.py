"""``evaluate``'s run: score a given map (default: the identity) on a test dictionary.

The evaluator is the one of ``align``, ``baseline`` and ``grid``
(:func:`~fairseq_xdomain.ubli.evaluation.evaluate_translation`: NN and CSLS P@1/5/10 in % of the
covered source words, coverage in [0, 1], P@1 over the non-identical pairs, self-translation
share), plus MUSE's unsupervised criterion (mean CSLS cosine) of the map. ``mapping``: a
``[d, d]`` ``.npy`` (as ``align``/``grid`` write it, applied as ``src @ W``) or a torch file
(our ``W.pt``, MUSE's ``best_mapping.pth``) with its convention ``mapping_format``
(``ours``/``muse``; the rule: :mod:`fairseq_xdomain.embeddings.mapping_io`); without it the
identity (a joint space as it is). ``ortho_weight`` (not 0) adds the orthography-aware retrieval
of :mod:`.ortho_retrieval` (``csls_ortho_*`` metrics, ``ortho_weight``; with ``auto`` the
weight's unsupervised selection record in ``selected.ortho_weight_selection``). The result's
``method`` is the name of the one method table (``ubli_methods.evaluate_method``): ``identity``
or ``evaluate``, ``+ortho`` with orthography-aware retrieval.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from ..common.errors import check_choice, check_minimums
from ..embeddings.mapping_io import MAPPING_FORMATS, applied_as
from ..embeddings.mapping_io import load_mapping as read_mapping
from ..results import UBLIResult, write_result
from ..ubli_methods import evaluate_method
from .data import load_pair
from .evaluation import evaluate_translation, load_dictionary, require_coverage
from .ortho_retrieval import ortho_evaluation
from .pair_run import PairFiles, PairSettings, fspath, out_dir, word_counts
from .refinement import RefinementConfig
from .selection import mean_cosine_criterion

_REF = RefinementConfig()


@dataclass
class EvaluateConfig(PairSettings):
    """``xdomain-ubli evaluate``: the map (None: W = I), CSLS k, the criterion's most frequent
    words (0: all), the orthography-aware retrieval's weight (``auto``, 0 = off, or in [0, 1])."""

    mapping: str | None = None
    mapping_format: str = "auto"
    csls_k: int = _REF.k_csls
    criterion_max_rank: int = _REF.criterion_max_rank
    ortho_weight: str | float = 0.0

    def check(self) -> EvaluateConfig:
        super().check()
        check_choice("--mapping-format", self.mapping_format, MAPPING_FORMATS)
        check_minimums((("--csls-k", self.csls_k, 1),
                        ("--criterion-max-rank", self.criterion_max_rank, 0)))
        return self


def load_mapping(path: str | os.PathLike, dim: int, fmt: str = "auto") -> torch.Tensor:
    """A ``[dim, dim]`` float32 map applied as ``src @ W``, read by the one mapping loader
    (:func:`fairseq_xdomain.embeddings.mapping_io.load_mapping`: ``.npy`` or a torch file,
    ``fmt`` = ``ours`` | ``muse`` | ``auto``). Raises ``UserError`` (naming the file)."""
    return torch.from_numpy(read_mapping(path, dim, fmt))


def run_evaluate(files: PairFiles, cfg: EvaluateConfig, device: torch.device) -> UBLIResult:
    """Score ``cfg.mapping`` (see the module docstring); returns the result, also written to
    ``files.out``/results.json (+ .md) when ``files.out`` is set. Raises ``UserError`` for bad
    settings or files."""
    labels = files.labels()
    cfg.check()
    t0 = time.perf_counter()
    dico = load_dictionary(files.dico_eval)
    src_wv, tgt_wv, src, tgt = load_pair(files.src_emb, files.tgt_emb, cfg.max_vocab,
                                         cfg.normalize_embeddings, lowercase=cfg.lowercase)
    require_coverage(dico, src_wv.word2id, tgt_wv.word2id)
    W = (load_mapping(cfg.mapping, src.shape[1], cfg.mapping_format) if cfg.mapping
         else torch.eye(src.shape[1]))
    src, tgt, W = src.to(device), tgt.to(device), W.to(device)
    mapped = src @ W
    rank = min(cfg.criterion_max_rank, len(src_wv), len(tgt_wv))
    crit = mean_cosine_criterion(mapped, tgt, max_rank=rank, k_csls=cfg.csls_k,
                                 backend=cfg.knn_backend)
    evaluation = evaluate_translation(mapped, tgt, src_wv.word2id, tgt_wv.word2id, dico,
                                      k_csls=cfg.csls_k, backend=cfg.knn_backend)
    selected = {"mapping": fspath(cfg.mapping) if cfg.mapping else "identity"}
    if cfg.ortho_weight != 0:  # orthography-aware retrieval (ortho_retrieval.py)
        ortho, selected["ortho_weight_selection"] = ortho_evaluation(
            mapped, tgt, src_wv.word2id, tgt_wv.word2id, dico, cfg.ortho_weight,
            k_csls=cfg.csls_k, max_rank=rank or len(src_wv), backend=cfg.knn_backend)
        evaluation.update(ortho)
    config = {"command": "evaluate", "src_emb": os.fspath(files.src_emb),
              "tgt_emb": os.fspath(files.tgt_emb),
              "mapping": fspath(cfg.mapping) if cfg.mapping else None,
              "mapping_format": cfg.mapping_format,
              "mapping_applied_as": applied_as(cfg.mapping_format) if cfg.mapping else None,
              "dico_eval": os.fspath(files.dico_eval), "max_vocab": cfg.max_vocab,
              "normalize_embeddings": cfg.normalize_embeddings, "csls_k": cfg.csls_k,
              "criterion_max_rank": rank, "knn_backend": cfg.knn_backend, "seed": None,
              "ortho_weight": cfg.ortho_weight}
    result = UBLIResult(**labels, method=evaluate_method(bool(cfg.mapping), cfg.ortho_weight != 0),
                        p_at_1=evaluation.get("csls_p@1"), metrics=evaluation, criterion=crit,
                        config=config, wall_s=time.perf_counter() - t0, selected=selected,
                        details=word_counts(src_wv, tgt_wv))
    if files.out:
        write_result(out_dir(files) / "results.json", result)
    return result


__all__ = ["EvaluateConfig", "load_mapping", "run_evaluate"]
