"""Acceptance test of the unsupervised UBLI engine, and the lr floor of adversarial training.

``test_unsupervised_alignment_recovers_the_rotation``: fully unsupervised MUSE (adversarial
training of the paper's 4 seeds, selection by the unsupervised CSLS criterion, Procrustes
refinement) finds the hidden rotation of a synthetic pair with real structure: CSLS P@1 >= 95% on 1500 gold pairs.
Exact settings:

* data: ``synthetic_emb.make_pair(n=5000, dim=64, n_clusters=100, spectrum_decay=6.0, seed=0)``
  (anisotropic Gaussian mixture, frequency-dependent norms; target = random orthogonal rotation
  + noise 0.02; 5000 words each); test dictionary: 1500 pairs, every second word among the 3000
  most frequent source words, with its true translation (MUSE format).
* adversarial (``align.adversarial_train``, the seeds batched as the grid does): seeds 123,
  456, 789 and 321 (the paper's); MUSE's defaults (2 hidden layers, input dropout 0.1, smoothing 0.1, 5 discriminator
  steps per mapping step, SGD lr 0.1 for both, decay 0.98, shrink 0.5, min_lr 1e-6, batch 32,
  5 epochs, dis_most_frequent 75000, i.e. all 5000 words) except ``dis_hid_dim=64`` (MUSE:
  2048), ``epoch_size=32000`` (MUSE: 1M; 1000 iterations per epoch) and ``map_beta=0.1`` (MUSE:
  0.001, with which W drifts away from orthogonal on this data: max |W W^T - I| 0.25-0.64 instead
  of 0.02-0.06; with it, seed 456 fails here and 123 succeeds, and with dis_hid_dim 128 and 2
  epochs both fail).
* selection: ``grid.select`` over the seeds' best adversarial criteria (mean cosine of the
  S2T CSLS translations, k = 10, of the 10k (here: all 5000) most frequent words).
* refinement (``align.refine_and_select``): MUSE's defaults, 5 Procrustes iterations on S2T CSLS
  dictionaries among the 15k (here: all 5000) most frequent words, the best iteration by the
  criterion kept. Exact torch kNN (``backend="torch"``), 1 torch thread.

Measured here (2 CPU cores shared with another job, OMP_NUM_THREADS=1): 70 s. One seed alone
often fails at these settings (per-seed adversarial CSLS P@1 on data seed 1: 2.3, 51.7, 0.7,
77.2; on data seed 2: 98.8, 8.6, 80.1, 2.0), but the criterion picks the best seed every time
(data seeds 0, 1, 2: the selected seed refines to P@1 100%), as it does in MUSE: the 4 seeds plus
the unsupervised criterion are what make the run succeed; the test does not assert which seed
wins.
"""
from __future__ import annotations

import argparse
import logging

import pytest
import torch

from fairseq_xdomain.ubli.adversarial import AdversarialConfig
from fairseq_xdomain.ubli.align import adversarial_train, refine_and_select
from fairseq_xdomain.ubli.commands.grid import add_grid_arguments, run_args
from fairseq_xdomain.ubli.evaluation import evaluate_translation, load_dictionary
from fairseq_xdomain.ubli.grid import run_configuration
from fairseq_xdomain.ubli.grid_summary import select
from fairseq_xdomain.ubli.history import SeedHistory
from fairseq_xdomain.ubli.refinement import RefinementConfig
from fairseq_xdomain.ubli.synthetic_emb import make_pair, words_for

SEEDS = (123, 456, 789, 321)
N_DICO, DICO_RANKS = 1500, 3000




def _pair():
    src, tgt, perm, _ = make_pair(n=5000, dim=64, n_clusters=100, spectrum_decay=6.0, seed=0)
    src_words = words_for(len(src), "s")
    tgt_words = [""] * len(tgt)
    for i, j in enumerate(perm):
        tgt_words[j] = f"t{i}"  # the true translation of source word i is target row perm[i]
    return torch.from_numpy(src), torch.from_numpy(tgt), src_words, tgt_words


def _dictionary(path, n=N_DICO, ranks=DICO_RANKS):
    """MUSE-format test dictionary: every (ranks // n)-th of the ``ranks`` most frequent words."""
    step = ranks // n
    path.write_text("".join(f"s{i} t{i}\n" for i in range(0, ranks, step)[:n]))
    return load_dictionary(path)


def _csls_p1(src, tgt, W, src_words, tgt_words, dico):
    ev = evaluate_translation(src @ W, tgt, src_words, tgt_words, dico, methods=("csls",),
                              backend="torch")
    assert ev["n_covered"] == N_DICO and ev["coverage"] == 1.0
    return ev["csls_p@1"]


def test_unsupervised_alignment_recovers_the_rotation(tmp_path, one_thread):
    src, tgt, src_words, tgt_words = _pair()
    dico = _dictionary(tmp_path / "dico.txt")
    adv_cfg = AdversarialConfig(dis_hid_dim=64, epoch_size=32000, map_beta=0.1)
    assert adv_cfg.n_epochs == 5 and adv_cfg.dis_steps == 5 and adv_cfg.batch_size == 32
    ref_cfg = RefinementConfig()
    history = adversarial_train(src, tgt, SEEDS, adv_cfg, crit_max_rank=ref_cfg.criterion_max_rank,
                                k_csls=ref_cfg.k_csls, backend="torch", progress=False)
    assert [h.seed for h in history] == list(SEEDS)
    assert all(len(h.criterion) == 5 and h.stopped_epoch is None for h in history)

    # Both seeds' adversarial results; P@1 is recorded for the check only, never to select.
    records = [{"seed": h.seed, "criterion": h.best_criterion,
                "csls_p@1": _csls_p1(src, tgt, h.best_W, src_words, tgt_words, dico)}
               for h in history]
    selected, _ = select(records)
    assert selected["criterion"] == max(r["criterion"] for r in records)
    # The selection ignores P@1: with the P@1 values swapped between the seeds it is the same.
    swapped = [{**r, "csls_p@1": o["csls_p@1"]} for r, o in zip(records, records[::-1])]
    assert select(swapped)[0]["seed"] == selected["seed"]

    h = history[SEEDS.index(selected["seed"])]
    W, crit, _, ref_records = refine_and_select(src, tgt, h.best_W, h.best_criterion,
                                                ref_cfg, backend="torch")
    assert len(ref_records) == 5 and crit >= h.best_criterion
    p1 = _csls_p1(src, tgt, W, src_words, tgt_words, dico)
    assert p1 >= 95.0, (p1, records, ref_records)
    # W is (close to) the hidden rotation's inverse: an orthogonal map.
    assert (W @ W.T - torch.eye(64)).abs().max() < 1e-3


# ----------------------------------------------------------------------------- the lr floor


def _tiny(n=200, dim=8):
    src, tgt, _, _ = make_pair(n=n, dim=dim, seed=1)
    return torch.from_numpy(src), torch.from_numpy(tgt)


# map_lr 0.1 decays to 0.098 after epoch 1: under min_lr 0.099, so training stops there.
FLOOR = {"dis_hid_dim": 16, "epoch_size": 64, "n_epochs": 4, "min_lr": 0.099}


def test_training_stops_when_the_lr_falls_under_min_lr(caplog, one_thread):
    src, tgt = _tiny()
    with caplog.at_level(logging.INFO, logger="fairseq_xdomain.ubli.align"):
        hist = adversarial_train(src, tgt, [5], AdversarialConfig(**FLOOR), crit_max_rank=200,
                                 backend="torch", progress=False)[0]
    assert hist.stopped and hist.stopped_epoch == 1
    assert hist.stop_lr == pytest.approx(0.098) and len(hist.criterion) == 1
    assert hist.lr == [pytest.approx(0.1)]
    assert "is under min_lr 0.099 after epoch 1: adversarial training stops" in caplog.text
    assert hist.lr_stop(4) == {"epoch": 1, "lr": hist.stop_lr}
    # MUSE's floor 1e-6 (no halving here, lr_shrink 1): every epoch runs, no stop recorded.
    cfg = AdversarialConfig(**{**FLOOR, "min_lr": 1e-6, "lr_shrink": 1.0})
    full = adversarial_train(src, tgt, [5], cfg, crit_max_rank=200, backend="torch",
                             progress=False)[0]
    assert not full.stopped and full.stopped_epoch is None and len(full.criterion) == 4
    assert full.lr == pytest.approx([0.1 * 0.98 ** e for e in range(4)], rel=1e-6)
    assert full.lr_stop(4) is None
    # Checkpoints hold the history as a plain dict: it reads back the same.
    again = SeedHistory.from_dict(full.to_dict())
    assert again.lr == full.lr and again.criterion == full.criterion and again.lr_stop(4) is None
    assert all(torch.equal(a, b) for a, b in zip(again.epoch_W, full.epoch_W))


def test_lr_stop_is_in_the_json_records(tmp_path, one_thread):
    """The grid's configs/*.json (and a separate run's record) carry the stop; --min-lr sets it."""
    from fairseq_xdomain.common.atomic import read_json
    from fairseq_xdomain.embeddings.vecio import save_vec

    src, tgt = _tiny()
    save_vec(tmp_path / "s.vec", words_for(200, "w"), src.numpy())
    save_vec(tmp_path / "t.vec", words_for(200, "w"), tgt.numpy())
    args = add_grid_arguments(argparse.ArgumentParser()).parse_args([
        "--src-emb", str(tmp_path / "s.vec"), "--tgt-emb", str(tmp_path / "t.vec"),
        "--out", str(tmp_path / "grid"), "--seeds", "5,6", "--epochs", "1,3",
        "--refinements", "1", "--epoch-size", "64", "--dis-hid-dim", "16", "--min-lr", "0.099",
        "--knn-backend", "torch", "--no-progress"])
    summary, _ = run_args(args)
    for rec in summary["configurations"]:
        on_disk = read_json(tmp_path / "grid" / "configs" /
                            f"seed{rec['seed']}_e{rec['epochs']}_r1.json")
        assert on_disk["adversarial_lr_stop"] == {"epoch": 1, "lr": pytest.approx(0.098)}
        assert on_disk["adversarial_epochs_run"] == 1
    alone, _ = run_configuration(src, tgt, 5, 3, 1, AdversarialConfig(**FLOOR),
                                 RefinementConfig(n_refinement=1), backend="torch")
    assert alone["adversarial_lr_stop"]["epoch"] == 1 and alone["adversarial_epochs_run"] == 1
