"""The paper's UBLI grid search (seeds x adversarial epochs x refinement iterations), shared prefixes.

The paper runs MUSE for every configuration (seed, E epochs, R refinement iterations) of
seeds {123, 456, 789, 321} x E {1, 3, 5} x R {1, 3, 5} and reports the configuration with the best
unsupervised criterion. Run alone, a configuration does what MUSE's ``unsupervised.py`` does:

* adversarial training for E epochs; after each epoch the criterion of W is computed, the best W
  so far is kept, and the mapping lr is decayed (x ``lr_decay``), and from the second epoch that
  is not a new best on, also shrunk (x ``lr_shrink``); training stops early when the lr falls
  under ``min_lr`` (logged, and ``adversarial_lr_stop`` in the record). The lr schedule only
  looks at past epochs, so the W after epoch e (and the best W over epochs 1..e) does not depend
  on E: epochs are prefixes of each other.
* refinement starts from the best adversarial W and runs R Procrustes iterations. MUSE's trainer
  keeps one "best criterion" across both phases, so the final W is the best by the criterion
  among the adversarial epochs 1..E *and* the refinement iterations 1..R (a refinement iteration
  replaces the adversarial W only when it beats it). Iterations are prefixes too.

Both choices (best epoch, kept stage) are made by the one rule of :mod:`.selection`
(``best_epoch``, ``best_stage``), which ``align`` applies too: grid and separate runs select alike.

So the grid trains every seed once for max(E) epochs, branches after each E, refines each branch
max(R) times and scores after each R; and the seeds are trained together as one batched model
(:class:`~fairseq_xdomain.ubli.adversarial.BatchedAdversarial`, one random generator per seed, so
a seed draws the same random numbers as alone; its W equals a separate run's up to float rounding,
and bit for bit when that run is also batched, next to a companion seed, as the tests do it; see
:func:`run_configuration`). Branches whose best adversarial epoch is the same share their
refinement. :func:`run_configuration` is the plain one-configuration run, used by the tests and
the benchmark to check the grid gives the same numbers.

Output folder (everything written atomically; a killed run resumes from it):
``grid_config.json`` (the full configuration; a restart with a different one is refused),
``adv/state.pt`` (batched adversarial state + lr schedule after the last finished epoch, and
each seed's ``history.SeedHistory`` as a dict),
``adv/snapshot_e{E}.pt`` (best W per seed over epochs 1..E), ``configs/seed{S}_e{E}_r{R}.json``
(one record per configuration: criterion, P@1/5/10 nn and CSLS in %, coverage in [0, 1],
timings in s),
``summary.json`` (``"kind": "ubli_grid"``: the selected configuration, the oracle, all records),
``table.md``, and ``result.json``/``result.md`` (the selected configuration as a
:class:`~fairseq_xdomain.results.UBLIResult`, what ``xdomain-report`` reads), written by
:mod:`.grid_summary`. Finished configurations are never recomputed. The settings are one
:class:`~.grid_config.GridConfig` (:func:`run_grid`); the command is
:mod:`fairseq_xdomain.ubli.commands.grid`.

Selection rule and identity candidate (issue 16, :mod:`.selection`): under ``selection
orthogonal`` (default) an epoch is scored by, and refinement starts from, the nearest orthogonal
matrix of its W; ``selection muse`` keeps MUSE's rule. Every record says which rule
(``selection_rule``), how far each epoch's W was from orthogonal (``adversarial_orthogonality``,
``flagged_epochs``), and for its map: ``orthogonality``, ``source_orthogonality`` (the kept
epoch's W before projection) and ``flagged_nonorthogonal``. When the two ``.vec`` files come from
one joint model (``identity_candidate auto``, ``selection.detect_joint_space``) or with
``always``, W = I refined R times (R in ``refinements``) is a configuration too
(``configs/identity_r{R}.json``: ``candidate: identity``, seed None, 0 epochs), selected among the
others by the same criterion (listed first, so it wins a tie).

Progress (issue 23): a bar of configurations done of all (those on disk count as done), around
the bars of the adversarial epochs, the refinements and the large kNN searches
(``common.progress``): on a terminal tqdm's bars, in a log the plain lines from which the step
runner's live line (``common.step_progress``) shows percent, rate and time left; none with
``no_progress``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..common.atomic import atomic_open, read_json, write_json
from ..common.errors import UserError
from ..common.progress import progress as progress_bar
from ..common.progress import quiet
from ..compat import load_trusted_checkpoint
from .adversarial import AdversarialConfig, BatchedAdversarial
from .align import adversarial_train, complete_histories, save_mapping
from .data import clamp_rank, load_pair
from .evaluation import Dictionary, evaluate_translation, load_dictionary
from .grid_config import PAPER_EPOCHS, PAPER_REFINEMENTS, PAPER_SEEDS, GridConfig
from .grid_summary import summarize
from .history import SeedHistory, histories_from_dicts, histories_to_dicts
from .pair_run import PairFiles
from .refinement import RefinementConfig, refine
from .selection import (
    best_stage,
    decide_identity,
    is_nonorthogonal,
    mean_cosine_criterion,
    orthogonality,
)

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- configurations


def _stage(best_epoch: int, adv_criterion: float, refinement_criteria: Sequence[float],
           ) -> tuple[tuple[str, int], float]:
    """(('adv', e) or ('ref', r), criterion): the stage a run ends with, by
    ``selection.best_stage`` (the rule ``align.refine_and_select`` applies)."""
    r, crit = best_stage(adv_criterion, refinement_criteria)
    return (("adv", best_epoch) if r == 0 else ("ref", r)), crit


def _eval(mapped, tgt, src_w2i, tgt_w2i, dico, backend, k_csls):
    if dico is None:
        return {}
    return evaluate_translation(mapped, tgt, src_w2i, tgt_w2i, dico, k_csls=k_csls,
                                backend=backend)


def _selection_fields(rule, history, n_epochs, best_epoch, steps, n_ref, W):
    """The issue-16 fields of a configuration's record: the rule, how far each epoch's W (of
    ``history``, None for the identity candidate) and each refinement step's map (``steps``: the
    ``refine`` output) is from orthogonal, and the returned map ``W``'s numbers."""
    if history is None:
        source = orthogonality(torch.eye(W.shape[0]))
        adv_orth, polar = [], []
    else:
        adv_orth = history.orthogonality[:n_epochs]
        polar = history.polar_criterion[:n_epochs]
        source = adv_orth[best_epoch - 1]
    return {
        "selection_rule": rule, "candidate": "adversarial" if history is not None else "identity",
        "adversarial_criteria_polar": polar, "adversarial_orthogonality": adv_orth,
        "flagged_epochs": [i + 1 for i, o in enumerate(adv_orth) if is_nonorthogonal(o)],
        "refinement_orthogonality": [orthogonality(Wr) for Wr, _, _ in steps[:n_ref]],
        "orthogonality": orthogonality(W), "source_orthogonality": source,
        "flagged_nonorthogonal": is_nonorthogonal(source),
    }


def _record(seed, n_epochs, n_ref, stage, criterion, adv_criteria, best_epoch, ref_steps,
            evaluation, times, stop=None, selection=None):
    rec = {
        "kind": "ubli_config", "seed": seed, "epochs": n_epochs, "refinement": n_ref,
        "criterion": criterion, "selected_stage": f"{stage[0]}{stage[1]}",
        "best_adversarial_epoch": best_epoch,
        "adversarial_criteria": adv_criteria,
        "refinement_criteria": [c for c, _ in ref_steps[:n_ref]],
        "refinement_pairs": [n for _, n in ref_steps[:n_ref]],
        "adversarial_epochs_run": len(adv_criteria),
        "adversarial_lr_stop": stop,  # {"epoch", "lr"}: lr fell under min_lr; None: it did not
        **(selection or {}),
    }
    for key, val in evaluation.items():
        rec[key] = val
    if evaluation:
        rec["p1"] = {"csls": evaluation["csls_p@1"], "nn": evaluation["nn_p@1"]}
    rec["time_s"] = times
    rec["wall_s"] = round(sum(times.values()), 3)
    return rec


def _ref_cfg(ref_cfg: RefinementConfig, n):
    d = ref_cfg.to_dict()
    d["n_refinement"] = n
    return RefinementConfig(**d)


def run_configuration(src: torch.Tensor, tgt: torch.Tensor, seed: int, n_epochs: int,
                      n_ref: int, adv_cfg: AdversarialConfig, ref_cfg: RefinementConfig, *,
                      src_w2i: dict[str, int] | None = None,
                      tgt_w2i: dict[str, int] | None = None, dico: Dictionary | None = None,
                      backend: str = "auto", progress: bool = False,
                      companion_seed: int | None = None, selection: str = "orthogonal",
                      ) -> tuple[dict, torch.Tensor]:
    """One configuration run alone, as ``xdomain-ubli align --seed S --epochs E --refinement R``
    does it (``align.adversarial_train`` + ``align.select_run``); returns (record, W).

    ``src [n_src, d]`` / ``tgt [n_tgt, d]``: the embeddings; ``dico`` (with the vocabularies'
    word -> row maps): evaluate the result (P@1/5/10 in %, ``coverage`` in [0, 1] in the
    record); without it the record has the criterion only. ``W [d, d]`` maps ``src @ W``.

    ``companion_seed``: train ``seed`` in a batch of two next to this other seed and use only the
    first one. Seeds in a batch are independent, so the result is that of ``seed`` alone, computed
    with the batched (S > 1) matrix-product kernels the grid uses (torch's CPU ``bmm`` over a batch
    of one can round differently from a batch of several). ``selection``: the rule
    (``selection.SELECTION_RULES``).
    """
    t0 = time.perf_counter()
    seeds = [seed] if companion_seed is None else [seed, companion_seed]
    cfg = AdversarialConfig(**{**adv_cfg.to_dict(), "n_epochs": n_epochs})
    hist = adversarial_train(src, tgt, seeds, cfg, crit_max_rank=ref_cfg.criterion_max_rank,
                             k_csls=ref_cfg.k_csls, backend=backend, progress=progress)[0]
    t1 = time.perf_counter()
    best_epoch, crit0, W0 = hist.start(n_epochs, selection)
    W0 = W0.to(src.device)
    steps = refine(src, tgt, W0, _ref_cfg(ref_cfg, n_ref), backend=backend)
    ref_it, crit = best_stage(crit0, [c for _, c, _ in steps])
    W = W0 if ref_it == 0 else steps[ref_it - 1][0]
    t2 = time.perf_counter()
    stage = ("adv", best_epoch) if ref_it == 0 else ("ref", ref_it)
    ref_steps = [(c, n) for _, c, n in steps]
    evaluation = _eval(src @ W, tgt, src_w2i, tgt_w2i, dico, backend, ref_cfg.k_csls)
    t3 = time.perf_counter()
    times = {"adversarial_s": round(t1 - t0, 3), "refinement_s": round(t2 - t1, 3),
             "evaluation_s": round(t3 - t2, 3)}
    fields = _selection_fields(selection, hist, n_epochs, best_epoch, steps, n_ref, W)
    return _record(seed, n_epochs, n_ref, stage, crit, hist.criterion, best_epoch,
                   ref_steps, evaluation, times, stop=hist.lr_stop(n_epochs),
                   selection=fields), W


# ----------------------------------------------------------------------------- the grid


def config_name(seed: int | None, n_epochs: int, n_ref: int) -> str:
    """File name of one configuration's record under ``configs/`` (seed None: the identity
    candidate refined ``n_ref`` times)."""
    if seed is None:
        return f"identity_r{n_ref}.json"
    return f"seed{seed}_e{n_epochs}_r{n_ref}.json"


def _save_pt(path, obj):
    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)


def _load_pt(path):
    return load_trusted_checkpoint(path)


class Grid:
    """The shared-prefix batched grid over one output folder (see the module docstring).

    ``on_config(seed, epochs, refinement, record)``, when given, is called after each
    configuration computed in this run, once its record is on disk (seed None, epochs 0: the
    identity candidate). ``selection``: the rule (``selection.SELECTION_RULES``);
    ``identity``: W = I and its refinements are configurations too.
    """

    def __init__(self, src: torch.Tensor, tgt: torch.Tensor, adv_cfg: AdversarialConfig,
                 ref_cfg: RefinementConfig, seeds: Sequence[int], epochs: Sequence[int],
                 refinements: Sequence[int], out: str | os.PathLike, *,
                 src_w2i: dict[str, int] | None = None, tgt_w2i: dict[str, int] | None = None,
                 dico: Dictionary | None = None, backend: str = "auto",
                 device: torch.device | None = None, progress: bool = True,
                 on_config: Callable[[int, int, int, dict], None] | None = None,
                 selection: str = "orthogonal", identity: bool = False):
        self.src, self.tgt = src, tgt
        self.adv_cfg, self.ref_cfg = adv_cfg, ref_cfg
        self.seeds = list(seeds)
        self.epochs = sorted(set(epochs))
        self.refinements = sorted(set(refinements))
        self.out = Path(out)
        self.src_w2i, self.tgt_w2i, self.dico = src_w2i, tgt_w2i, dico
        self.backend, self.device, self.progress = backend, device, progress
        self.n_computed = 0
        self.on_config = on_config
        self._bar = None  # configurations done of all, while run() runs
        self.selection, self.identity = selection, identity

    # -- disk --------------------------------------------------------------------------------
    def path(self, seed: int | None, e: int, r: int) -> Path:
        """The JSON record of configuration (seed, E epochs, R refinement iterations)."""
        return self.out / "configs" / config_name(seed, e, r)

    def mapping_path(self, seed: int | None, e: int, r: int) -> Path:
        """W of a configuration (``x @ W`` maps source into target space), beside its record."""
        return self.path(seed, e, r).with_suffix(".W.npy")

    def done(self, seed: int | None, e: int, r: int) -> bool:
        return self.path(seed, e, r).is_file()

    def todo_epochs(self) -> list[int]:
        """Epoch counts with at least one configuration not on disk yet."""
        return [e for e in self.epochs
                if any(not self.done(s, e, r) for s in self.seeds for r in self.refinements)]

    @property
    def n_configs(self) -> int:
        return (len(self.seeds) * len(self.epochs) + int(self.identity)) * len(self.refinements)

    # -- run ---------------------------------------------------------------------------------
    def n_done(self) -> int:
        """Configurations on disk."""
        seeds = ([None] if self.identity else []) + self.seeds
        return sum(self.done(s, 0 if s is None else e, r) for s in seeds
                   for e in (self.epochs if s is not None else [0]) for r in self.refinements)

    def run(self) -> None:
        """Compute every configuration not on disk, resuming from ``adv/state.pt``; with
        ``progress``, a bar of configurations done of all (``common.progress``: on a terminal a
        bar, in a log the lines the step runner's live line reads) around the bars of the
        adversarial epochs, refinements and kNN searches."""
        self._bar = progress_bar(total=self.n_configs, initial=self.n_done(), desc="grid",
                                 unit=" configurations", unit_scale=False, mininterval=0,
                                 disable=not self.progress)
        try:
            self._run()
        finally:
            self._bar.close()
            self._bar = None

    def _run(self) -> None:
        if self.identity:
            self.identity_branch()
        todo = self.todo_epochs()
        if not todo:
            logger.info("all %d configurations are on disk", self.n_configs)
            return
        state_path = self.out / "adv" / "state.pt"
        trainer = BatchedAdversarial(self.src, self.tgt, self.seeds, self.adv_cfg,
                                     device=self.device)
        last, history = 0, None
        if state_path.is_file():
            state = _load_pt(state_path)
            last, history = state["epoch"], histories_from_dicts(state["history"])
            complete_histories(history, self.src, self.tgt, self.ref_cfg.criterion_max_rank,
                               self.ref_cfg.k_csls, self.backend)
            trainer.load_state_dict(state["trainer"])
            logger.info("resuming: adversarial state after epoch %d found", last)
        for e in [e for e in todo if e <= last]:
            self.branch(e, history)
        remaining = [e for e in todo if e > last]
        if not remaining:
            return

        def on_epoch(epoch, tr, hist):
            _save_pt(state_path, {"epoch": epoch, "trainer": tr.state_dict(),
                                  "history": histories_to_dicts(hist)})
            if epoch in remaining:
                self.branch(epoch, hist)

        cfg = AdversarialConfig(**{**self.adv_cfg.to_dict(), "n_epochs": max(remaining)})
        history = adversarial_train(
            self.src, self.tgt, self.seeds, cfg, crit_max_rank=self.ref_cfg.criterion_max_rank,
            k_csls=self.ref_cfg.k_csls, backend=self.backend, progress=self.progress,
            trainer=trainer, start_epoch=last, history=history, on_epoch=on_epoch)
        # Every seed stopped early (lr < min_lr): later branches equal the last epoch run.
        for e in [e for e in remaining if not all(self.done(s, e, r) for s in self.seeds
                                                  for r in self.refinements)]:
            self.branch(e, history)

    def branch(self, n_epochs: int, history: list[SeedHistory]) -> None:
        """All configurations with ``n_epochs`` epochs, from the training history so far."""
        src, tgt = self.src, self.tgt
        cache = {}
        for s, seed in enumerate(self.seeds):
            missing = [r for r in self.refinements if not self.done(seed, n_epochs, r)]
            if not missing:
                continue
            h = history[s]
            adv_criteria, _ = h.prefix(n_epochs)  # MUSE's criteria, recorded under both rules
            best_epoch, crit0, best_W = h.start(n_epochs, self.selection)
            best_W = best_W.to(src.device)
            # The adversarial time of this seed alone ~ its share of the batched epochs.
            adv_s = sum(h.epoch_time_s[:len(adv_criteria)])
            key = (seed, best_epoch)
            if key not in cache:  # branches with the same best epoch share their refinement
                t = time.perf_counter()
                steps = self._refine(best_W, f"refinement seed {seed} epoch {n_epochs}")
                cache[key] = (steps, time.perf_counter() - t)
            steps, ref_time = cache[key]
            ref_steps = [(c, n) for _, c, n in steps]
            per_iter = ref_time / max(1, len(steps))
            for r in missing:
                t = time.perf_counter()
                stage, crit = _stage(best_epoch, crit0, [c for c, _ in ref_steps[:r]])
                W = best_W if stage[0] == "adv" else steps[stage[1] - 1][0]
                evaluation = _eval(src @ W, tgt, self.src_w2i, self.tgt_w2i, self.dico,
                                   self.backend, self.ref_cfg.k_csls)
                times = {"adversarial_s": round(adv_s, 3),
                         "refinement_s": round(per_iter * min(r, len(steps)), 3),
                         "evaluation_s": round(time.perf_counter() - t, 3)}
                fields = _selection_fields(self.selection, h, n_epochs, best_epoch, steps, r, W)
                rec = _record(seed, n_epochs, r, stage, crit, adv_criteria, best_epoch,
                              ref_steps, evaluation, times, stop=h.lr_stop(n_epochs),
                              selection=fields)
                self._save(seed, n_epochs, r, W, rec)

    def identity_branch(self) -> None:
        """The identity candidate's configurations (W = I refined R times, R in
        ``refinements``) not on disk yet; refinement runs once, to max(R)."""
        missing = [r for r in self.refinements if not self.done(None, 0, r)]
        if not missing:
            return
        src, tgt = self.src, self.tgt
        t = time.perf_counter()
        eye = torch.eye(src.shape[1], device=src.device, dtype=src.dtype)
        crit0 = mean_cosine_criterion(src, tgt, max_rank=self.ref_cfg.criterion_max_rank,
                                      k_csls=self.ref_cfg.k_csls, backend=self.backend)
        steps = self._refine(eye, "refinement of the identity")
        per_iter = (time.perf_counter() - t) / max(1, len(steps))
        ref_steps = [(c, n) for _, c, n in steps]
        for r in missing:
            t = time.perf_counter()
            it, crit = best_stage(crit0, [c for c, _ in ref_steps[:r]])
            W = eye if it == 0 else steps[it - 1][0]
            evaluation = _eval(src @ W, tgt, self.src_w2i, self.tgt_w2i, self.dico,
                               self.backend, self.ref_cfg.k_csls)
            times = {"adversarial_s": 0.0, "refinement_s": round(per_iter * min(r, len(steps)), 3),
                     "evaluation_s": round(time.perf_counter() - t, 3)}
            fields = _selection_fields(self.selection, None, 0, None, steps, r, W)
            rec = _record(None, 0, r, ("identity", "") if it == 0 else ("ref", it), crit, [],
                          None, ref_steps, evaluation, times, selection=fields)
            self._save(None, 0, r, W, rec)

    def _refine(self, W0: torch.Tensor, desc: str) -> list:
        """``refine`` from ``W0`` to max(R) iterations, with a bar of its iterations."""
        with progress_bar(total=max(self.refinements), desc=desc, unit=" iterations",
                          unit_scale=False, disable=not self.progress) as bar:
            return refine(self.src, self.tgt, W0, _ref_cfg(self.ref_cfg, max(self.refinements)),
                          backend=self.backend, progress=bar)

    def _save(self, seed: int | None, n_epochs: int, r: int, W: torch.Tensor, rec: dict) -> None:
        """Write one configuration (the mapping first, then the record: a record on disk always
        has its W), log it and call ``on_config``."""
        save_mapping(self.mapping_path(seed, n_epochs, r), W)
        write_json(self.path(seed, n_epochs, r), rec)
        self.n_computed += 1
        logger.info("configuration computed: %s epochs=%d refinement=%d criterion=%.5f%s",
                    "identity" if seed is None else f"seed={seed}", n_epochs, r, rec["criterion"],
                    f" csls P@1={rec['csls_p@1']:.2f}" if "csls_p@1" in rec else "")
        if self._bar is not None:
            self._bar.update(1)
        if self.on_config is not None:
            self.on_config(seed, n_epochs, r, rec)

    def records(self) -> list[dict]:
        """Every configuration's record, read from disk: the identity candidate's first (so it
        wins a tie in ``select``: no mapping is the simpler map), then seed, epochs, refinement."""
        recs = [read_json(self.path(None, 0, r)) for r in self.refinements] if self.identity else []
        return recs + [read_json(self.path(s, e, r)) for s in self.seeds for e in self.epochs
                       for r in self.refinements]



# ----------------------------------------------------------------------------- the run


def _file_id(path):
    st = os.stat(path)
    return {"path": str(path), "size": st.st_size}


def _selection_config(cfg: GridConfig, src_wv, tgt_wv) -> dict:
    """The grid configuration's selection keys: the rule, the ``identity_candidate`` choice,
    the joint-space test on the raw vectors (``selection.detect_joint_space``) and whether the
    identity candidate is in the grid (logged)."""
    identity, joint = decide_identity(cfg.identity_candidate, src_wv.words, tgt_wv.words,
                                      src_wv.vectors, tgt_wv.vectors)
    return {"selection": cfg.selection, "identity_candidate": cfg.identity_candidate,
            "joint_space": joint, "identity": identity}


def run_grid(cfg: GridConfig, files: PairFiles, device: torch.device,
             on_config: Callable[[int, int, int, dict], None] | None = None) -> tuple[dict, str]:
    """Run (or resume) the grid of ``cfg`` on ``files`` (``files.out``: the output folder of
    the module docstring) on ``device`` (torch threads are the caller's: ``cfg.threads``);
    return (summary dict, Markdown table) of :func:`.grid_summary.summarize`.

    ``on_config``: see :class:`Grid`. Raises ``UserError`` for bad settings (before anything
    is loaded) and for an output folder that holds a grid with another configuration.
    """
    labels = files.labels()
    cfg.check()  # every value checked before anything is loaded or trained
    out = Path(files.out)
    t0 = time.perf_counter()
    src_wv, tgt_wv, src, tgt = load_pair(files.src_emb, files.tgt_emb, cfg.max_vocab,
                                         cfg.normalize_embeddings)
    dico = load_dictionary(files.dico_eval) if files.dico_eval else None
    n_src, n_tgt = len(src_wv), len(tgt_wv)
    adv_cfg = cfg.adversarial_config(clamp_rank(
        "--dis-most-frequent", cfg.adversarial.dis_most_frequent, n_src, n_tgt))
    ref_cfg = cfg.refinement_config(
        dico_max_rank=clamp_rank("--dico-max-rank", cfg.refinement.dico_max_rank, n_src, n_tgt),
        criterion_max_rank=clamp_rank("--criterion-max-rank", cfg.refinement.criterion_max_rank,
                                      n_src, n_tgt))
    config = {
        "src_emb": _file_id(files.src_emb), "tgt_emb": _file_id(files.tgt_emb),
        "dico_eval": _file_id(files.dico_eval) if files.dico_eval else None,
        "max_vocab": cfg.max_vocab, "normalize_embeddings": cfg.normalize_embeddings,
        "n_src": n_src, "n_tgt": n_tgt, "dim": src_wv.dim,
        "seeds": cfg.seeds, "epochs": sorted(cfg.epochs),
        "refinements": sorted(cfg.refinements), "adversarial": adv_cfg.to_dict(),
        "refinement": ref_cfg.to_dict(), "knn_backend": cfg.knn_backend,
        **_selection_config(cfg, src_wv, tgt_wv),
    }
    cfg_path = out / "grid_config.json"
    if cfg_path.is_file():
        old = read_json(cfg_path)
        diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        if diff:
            raise UserError(f"{cfg_path}: this folder holds a grid with a different "
                            f"configuration ({', '.join(diff)}); use another --out")
    else:
        write_json(cfg_path, config)
    grid = Grid(src.to(device), tgt.to(device), adv_cfg, ref_cfg, cfg.seeds, cfg.epochs,
                cfg.refinements, out, src_w2i=src_wv.word2id, tgt_w2i=tgt_wv.word2id,
                dico=dico, backend=cfg.knn_backend, device=device,
                progress=not cfg.no_progress, on_config=on_config,
                selection=cfg.selection, identity=config["identity"])
    logger.info("grid: %d seeds x epochs %s x refinements %s = %d configurations on %s -> %s",
                len(cfg.seeds), grid.epochs, grid.refinements, grid.n_configs, device, out)
    with quiet() if cfg.no_progress else contextlib.nullcontext():  # also the kNN bars deep down
        grid.run()
    return summarize(grid, config, {k: labels[k] for k in ("pair", "domains", "init")},
                     time.perf_counter() - t0)


__all__ = ["Grid", "GridConfig", "run_configuration", "config_name", "run_grid",
           "PAPER_SEEDS", "PAPER_EPOCHS", "PAPER_REFINEMENTS"]
