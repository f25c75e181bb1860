"""``align``'s MUSE run (Conneau et al. 2018): adversarial training + refinement of one seed,
selected by the unsupervised criterion, checkpointed after every epoch.

:func:`run_align` writes DIR/W.pt and W.npy (the selected map, ``mapped = src @ W``),
DIR/src.mapped.vec and DIR/tgt.vec (not with ``no_export``), DIR/results.json (a
``UBLIResult``, method ``muse``: ``config`` with the seed, ``metrics`` = the evaluation,
``selected`` = epoch and refinement, ``details`` = criterion per epoch, refinement steps,
timings) and DIR/results.md; it checkpoints after every adversarial epoch (DIR/checkpoint.pt)
and resumes from it when restarted with the same configuration.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field

import torch

from ..common.atomic import atomic_open
from ..compat import load_trusted_checkpoint
from ..results import UBLIResult, write_result
from . import pair_run
from .adversarial import AdversarialConfig, BatchedAdversarial
from .align import adversarial_train, check_adversarial_config, select_run, selection_blocks
from .data import clamp_rank, load_pair
from .evaluation import load_dictionary, require_coverage
from .history import histories_from_dicts, histories_to_dicts
from .refinement import RefinementConfig
from .selection import decide_identity

logger = logging.getLogger(__name__)


@dataclass
class AlignConfig(pair_run.PairSettings):
    """``xdomain-ubli align`` (MUSE): the seed, the adversarial and refinement settings, the
    selection rule and identity candidate (``selection.SELECTION_RULES``,
    ``selection.IDENTITY_CHOICES``)."""

    seed: int = 0
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    refinement: RefinementConfig = field(default_factory=RefinementConfig)
    selection: str = "orthogonal"
    identity_candidate: str = "auto"

    def check(self) -> AlignConfig:
        """``UserError`` for a value that could only fail once training runs; returns self."""
        super().check()
        self.refinement.check()
        check_adversarial_config(self.adversarial)
        return self


def run_align(files: pair_run.PairFiles, cfg: AlignConfig, device: torch.device) -> UBLIResult:
    """Run (or resume) MUSE on ``files`` (see the module docstring); returns the result written
    to ``files.out``/results.json. Raises ``UserError`` for bad settings or files (before any
    training)."""
    labels = files.labels()
    cfg.check()
    out = pair_run.out_dir(files)
    src_wv, tgt_wv, src, tgt = load_pair(files.src_emb, files.tgt_emb, cfg.max_vocab,
                                         cfg.normalize_embeddings, lowercase=cfg.lowercase)
    if files.dico_eval:  # fail early on a bad dictionary, not after training
        require_coverage(load_dictionary(files.dico_eval), src_wv.word2id, tgt_wv.word2id)
    src, tgt = src.to(device), tgt.to(device)
    adv = check_adversarial_config(dataclasses.replace(cfg.adversarial, dis_most_frequent=clamp_rank(
        "--dis-most-frequent", cfg.adversarial.dis_most_frequent, len(src_wv), len(tgt_wv))))
    ref = pair_run.clamped_refinement(cfg.refinement, len(src_wv), len(tgt_wv)).check()
    config = {"command": "align", "src_emb": os.fspath(files.src_emb),
              "tgt_emb": os.fspath(files.tgt_emb), "max_vocab": cfg.max_vocab,
              "normalize_embeddings": cfg.normalize_embeddings, "seed": cfg.seed,
              "adversarial": adv.to_dict(), "refinement": ref.to_dict(),
              "knn_backend": cfg.knn_backend, "dico_eval": files.dico_eval}
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    trainer = BatchedAdversarial(src, tgt, [cfg.seed], adv, device=device)
    ckpt_path = out / "checkpoint.pt"
    start_epoch, history = 0, None
    if ckpt_path.exists():
        ckpt = load_trusted_checkpoint(ckpt_path)
        if ckpt["config"] == config:
            trainer.load_state_dict(ckpt["trainer"])
            start_epoch, history = ckpt["epoch"], histories_from_dicts(ckpt["history"])
            logger.info("resuming from %s after epoch %d", ckpt_path, start_epoch)
        else:
            logger.warning("%s has another configuration: starting afresh", ckpt_path)

    def save_ckpt(epoch, tr, hist):
        with atomic_open(ckpt_path, "wb") as handle:
            torch.save({"config": config, "epoch": epoch, "trainer": tr.state_dict(),
                        "history": histories_to_dicts(hist)}, handle)

    progress = not cfg.no_progress
    history = adversarial_train(src, tgt, [cfg.seed], adv, crit_max_rank=ref.criterion_max_rank,
                                k_csls=ref.k_csls, backend=cfg.knn_backend, progress=progress,
                                trainer=trainer, start_epoch=start_epoch, history=history,
                                on_epoch=save_ckpt)
    h = history[0]
    t_adv = time.perf_counter() - t0
    identity, joint = decide_identity(cfg.identity_candidate, src_wv.words, tgt_wv.words,
                                      src_wv.vectors, tgt_wv.vectors)
    W, fields = select_run(src, tgt, h, adv.n_epochs, ref, rule=cfg.selection,
                           identity=identity, backend=cfg.knn_backend, progress=progress)
    crit, (selected, sel_details) = fields["criterion"], selection_blocks(fields)
    evaluation = pair_run.evaluate(files, ref.k_csls, cfg.knn_backend, src_wv, tgt_wv, src, tgt, W)
    pair_run.export(out, cfg, src_wv.words, tgt_wv.words, src, tgt, W)
    result = UBLIResult(
        **labels,
        method="muse", p_at_1=(evaluation or {}).get("csls_p@1"), metrics=evaluation or {},
        criterion=crit, config=config, wall_s=time.perf_counter() - t0,
        selected=selected,
        details={"criterion_per_epoch": h.criterion, "map_lr_per_epoch": h.lr,
                 **sel_details, "joint_space": joint, "adversarial_epoch_time_s": h.epoch_time_s,
                 "adversarial_time_s": t_adv, "adversarial_lr_stop": h.lr_stop(adv.n_epochs),
                 **pair_run.word_counts(src_wv, tgt_wv), "outputs": {"W": os.fspath(out / "W.pt")}})
    write_result(out / "results.json", result)
    return result


__all__ = ["AlignConfig", "run_align"]
