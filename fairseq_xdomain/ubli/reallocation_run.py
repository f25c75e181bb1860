"""``reallocate``'s run: vocabulary reallocation of a joint space (:mod:`.reallocation`, after
Wang et al. 2020), then the Procrustes/CSLS refinement of ``align`` from the identity.

:func:`run_reallocate` writes DIR/src.vec, DIR/tgt.vec (reallocated, before the map; not with
``no_export``), DIR/W.npy (``src @ W``), DIR/reallocation.json (counts and examples) and
DIR/results.json (a ``UBLIResult``, method ``reallocate``; with ``ortho_weight`` and a test
dictionary also the orthography-aware retrieval's ``csls_ortho_*`` metrics, as ``evaluate`` has
them, which the report shows on a second row, ``reallocate+ortho``). The k-NN back end is
``auto``, no normalisation, and the induced dictionary of the refinement is built as
``align``'s default (S2T, CSLS).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import torch

from ..common.atomic import write_json
from ..common.errors import UserError
from ..embeddings.vecio import load_vec, save_vec
from ..results import UBLIResult, write_result
from .align import refine_and_select, save_mapping
from .data import load_pair, normalize_embeddings
from .evaluation import evaluate_translation, load_checked_dictionary
from .ortho_retrieval import ortho_evaluation
from .pair_run import PairFiles, PairSettings, clamped_refinement, out_dir
from .reallocation import DEFAULT_THRESHOLD, read_counts, reallocate
from .refinement import RefinementConfig
from .selection import mean_cosine_criterion


@dataclass
class ReallocateConfig(PairSettings):
    """``xdomain-ubli reallocate``: the two corpora's counts files (``word count`` lines), the
    separate models' ``.vec`` (None: uneven words are dropped), the frequency ratio (> 1), the
    refinement, the orthography-aware retrieval's weight (``auto``, 0 = off, or in [0, 1])."""

    src_counts: str = ""
    tgt_counts: str = ""
    src_sep_emb: str | None = None
    tgt_sep_emb: str | None = None
    ratio: float = DEFAULT_THRESHOLD
    refinement: RefinementConfig = field(default_factory=RefinementConfig)
    ortho_weight: str | float = 0.0

    def check(self) -> ReallocateConfig:
        super().check()
        self.refinement.check()
        if self.ratio <= 1:
            raise UserError(f"--ratio {self.ratio}: must be > 1")
        return self


def run_reallocate(files: PairFiles, cfg: ReallocateConfig, device: torch.device) -> UBLIResult:
    """Run reallocation + refinement (see the module docstring); returns the result. Raises
    ``UserError`` for bad settings or files."""
    labels = files.labels()
    cfg.check()
    t0 = time.perf_counter()
    src_counts, tgt_counts = read_counts(cfg.src_counts), read_counts(cfg.tgt_counts)
    src_wv, tgt_wv, src, tgt = load_pair(files.src_emb, files.tgt_emb, cfg.max_vocab)
    seps = []
    for path in (cfg.src_sep_emb, cfg.tgt_sep_emb):
        if path is None:
            seps.append(None)
            continue
        wv = load_vec(path, cfg.max_vocab)
        if wv.dim != src.shape[1]:
            raise UserError(f"{path}: dimension {wv.dim}, the joint vectors have {src.shape[1]}")
        seps.append((wv.words, torch.from_numpy(wv.vectors)))
    re = reallocate(src_wv.words, src, tgt_wv.words, tgt, src_counts, tgt_counts, cfg.ratio,
                    seps[0], seps[1])
    src_w2i = {w: i for i, w in enumerate(re.src_words)}
    tgt_w2i = {w: i for i, w in enumerate(re.tgt_words)}
    dico = load_checked_dictionary(files.dico_eval, src_w2i, tgt_w2i)
    x = normalize_embeddings(re.src, cfg.normalize_embeddings).to(device)
    z = normalize_embeddings(re.tgt, cfg.normalize_embeddings).to(device)
    ref = clamped_refinement(cfg.refinement, len(re.src_words), len(re.tgt_words)).check()
    eye = torch.eye(x.shape[1], device=device)
    crit0 = mean_cosine_criterion(x, z, max_rank=ref.criterion_max_rank, k_csls=ref.k_csls,
                                  backend=cfg.knn_backend)
    W, crit, ref_it, records = refine_and_select(x, z, eye, crit0, ref, backend=cfg.knn_backend,
                                                 progress=not cfg.no_progress)
    metrics: dict = {}
    selected = {"refinement": ref_it, "identity_criterion": crit0}
    if dico is not None:
        metrics = evaluate_translation(x @ W, z, src_w2i, tgt_w2i, dico, k_csls=ref.k_csls,
                                       backend=cfg.knn_backend)
        if cfg.ortho_weight != 0:  # orthography-aware retrieval on the reallocated space
            ortho, selected["ortho_weight_selection"] = ortho_evaluation(
                x @ W, z, src_w2i, tgt_w2i, dico, cfg.ortho_weight, k_csls=ref.k_csls,
                max_rank=ref.criterion_max_rank or len(src_w2i), backend=cfg.knn_backend)
            metrics.update(ortho)
    out = out_dir(files)
    summary = re.summary()
    if not cfg.no_export:
        save_vec(out / "src.vec", re.src_words, re.src.numpy())
        save_vec(out / "tgt.vec", re.tgt_words, re.tgt.numpy())
    save_mapping(out / "W.npy", W)
    write_json(out / "reallocation.json", summary)
    config = {"command": "reallocate", "src_emb": os.fspath(files.src_emb),
              "tgt_emb": os.fspath(files.tgt_emb), "src_counts": os.fspath(cfg.src_counts),
              "tgt_counts": os.fspath(cfg.tgt_counts), "src_sep_emb": cfg.src_sep_emb,
              "tgt_sep_emb": cfg.tgt_sep_emb, "ratio": cfg.ratio,
              "max_vocab": cfg.max_vocab, "normalize_embeddings": cfg.normalize_embeddings,
              "refinement": ref.to_dict(), "dico_eval": files.dico_eval, "seed": None,
              "ortho_weight": cfg.ortho_weight}
    result = UBLIResult(**labels, method="reallocate", p_at_1=metrics.get("csls_p@1"),
                        metrics=metrics, criterion=crit, config=config, selected=selected,
                        details={"reallocation": {k: v for k, v in summary.items()
                                                  if not k.endswith("_examples")},
                                 "refinement": records},
                        wall_s=time.perf_counter() - t0)
    write_result(out / "results.json", result)
    return result


__all__ = ["ReallocateConfig", "run_reallocate"]
