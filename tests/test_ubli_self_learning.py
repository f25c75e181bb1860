"""Robust fully unsupervised self-learning (Artetxe et al. 2018, ACL; ``ubli/self_learning.py``)
and ``xdomain-ubli align --method self-learning``.

The recovery test uses ``make_pair(n=3000, dim=64)`` (the default, nearly isotropic spectrum),
on which adversarial training fails for every seed. Measured once (not in the suite: ~70 s of
CPU) with the acceptance settings of ``test_ubli_unsupervised.py`` (seeds 123/456/789/321,
dis_hid_dim 64, epoch_size 32000, map_beta 0.1, 5 epochs, then 5 refinement steps): adversarial
NN P@1 0.1 / 0.3 / 0.2 / 0.7 %, after refinement 0.0 / 0.3 / 0.1 / 0.6 %. Self-learning, with
settings shortened for speed (``init_vocab=1000``, ``p0=0.5``, ``patience=3``; paper: 4000, 0.1,
50): 100 % (the paper's p0 0.1 with patience 5 too: 100 %, 48 iterations).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run

from fairseq_xdomain.embeddings.vecio import save_vec
from fairseq_xdomain.ubli.self_learning import (
    SelfLearningConfig,
    _stochastic_argmax,
    csls_union,
    final_mapping,
    initial_dictionary,
    normalize_sl,
    self_learning,
    sorted_similarity,
)
from fairseq_xdomain.ubli.synthetic_emb import make_pair, words_for

FAST = SelfLearningConfig(init_vocab=1000, p0=0.5, patience=3)




def _p1(x, z, out, perm, n=1500):
    m = torch.nn.functional.normalize(x @ out["W_src"], dim=1)
    t = torch.nn.functional.normalize(z @ out["W_tgt"], dim=1)
    hit = (m[:n] @ t.T).argmax(1) == torch.from_numpy(perm[:n])
    return 100.0 * hit.float().mean().item()


def test_sorted_similarity_is_rotation_invariant(one_thread):
    src, _, _, Q = make_pair(n=300, dim=16, seed=2)
    x = normalize_sl(torch.from_numpy(src))
    q = torch.from_numpy(Q)
    a, b = sorted_similarity(x), sorted_similarity(x @ q)
    assert a.shape == (300, 300)
    assert (a - b).abs().max() < 1e-4
    # rows are unit length after the normalisation
    assert torch.allclose(a.norm(dim=1), torch.ones(300, dtype=a.dtype), atol=1e-5)


def test_initial_dictionary_without_supervision(one_thread):
    src, tgt, perm, _ = make_pair(n=1000, dim=32, seed=4)
    x, z = normalize_sl(torch.from_numpy(src)), normalize_sl(torch.from_numpy(tgt))
    rows, cols = initial_dictionary(x, z, n_init=1000)
    assert rows.shape == cols.shape == (2000,)  # forward + backward (union, with repeats)
    correct = (torch.from_numpy(perm)[rows] == cols).float().mean().item()
    assert correct > 0.5, correct


def test_self_learning_recovers_rotation_where_adversarial_fails(one_thread):
    src, tgt, perm, _ = make_pair(n=3000, dim=64)
    x, z = normalize_sl(torch.from_numpy(src)), normalize_sl(torch.from_numpy(tgt))
    out = self_learning(x, z, FAST, seed=0)
    assert _p1(x, z, out, perm) >= 95.0
    # the keep probability doubled up to 1, and the run ended there
    assert out["keep_prob"][0] == 0.5 and out["keep_prob"][-1] == 1.0
    # without re-weighting the map is orthogonal and the target is untouched
    plain = self_learning(x, z, SelfLearningConfig(init_vocab=1000, p0=1.0, patience=2,
                                                   reweight=0.0, whiten=False), seed=0)
    W = plain["W_src"]
    assert (W @ W.T - torch.eye(64)).abs().max() < 1e-4
    assert torch.equal(plain["W_tgt"], torch.eye(64))
    assert _p1(x, z, plain, perm) >= 95.0


def test_same_seed_same_map_other_seed_runs(one_thread):
    src, tgt, _, _ = make_pair(n=600, dim=16, seed=5)
    x, z = normalize_sl(torch.from_numpy(src)), normalize_sl(torch.from_numpy(tgt))
    cfg = SelfLearningConfig(init_vocab=600, p0=0.25, patience=2)
    a, b = self_learning(x, z, cfg, seed=7), self_learning(x, z, cfg, seed=7)
    assert torch.equal(a["W_src"], b["W_src"]) and a["objective"] == b["objective"]
    c = self_learning(x, z, cfg, seed=8)
    assert c["objective"] != a["objective"]  # the stochastic induction follows the seed


def _write(tmp_path, n=800, dim=16):
    src, tgt, perm, _ = make_pair(n=n, dim=dim, seed=3)
    tw = [""] * n
    for i, j in enumerate(perm):
        tw[j] = f"t{i}"
    save_vec(tmp_path / "src.vec", words_for(n, "s"), src)
    save_vec(tmp_path / "tgt.vec", tw, tgt)
    (tmp_path / "dico.txt").write_text("".join(f"s{i} t{i}\n" for i in range(0, 400, 2)))
    return tmp_path / "src.vec", tmp_path / "tgt.vec", tmp_path / "dico.txt"


def test_align_cli_self_learning(tmp_path):
    s, t, d = _write(tmp_path)
    flags = ["--method", "self-learning", "--src-emb", s, "--tgt-emb", t, "--dico-eval", d,
             "--sl-init-vocab", "800", "--sl-p0", "0.5", "--sl-patience", "2", "--no-progress",
             "--threads", "1", "--knn-backend", "torch", "--seed", "3"]
    for name in ("a", "b"):
        run(["xdomain-ubli", "align", *flags, "--out", tmp_path / name])
    a = json.loads((tmp_path / "a/results.json").read_text())
    b = json.loads((tmp_path / "b/results.json").read_text())
    assert np.array_equal(np.load(tmp_path / "a/W.npy"), np.load(tmp_path / "b/W.npy"))
    assert a["metrics"] == b["metrics"] and a["method"] == "self-learning"
    assert a["config"]["method"] == "self-learning"
    assert a["config"]["self_learning"]["reweight"] == 0.5 and a["config"]["seed"] == 3
    assert a["metrics"]["n_covered"] == 200 and a["metrics"]["csls_p@1"] >= 95.0
    assert a["p_at_1"] == a["metrics"]["csls_p@1"]
    assert a["details"]["n_iterations"] == len(a["details"]["objective_per_iteration"]) > 0
    for f in ("W.pt", "W_tgt.npy", "src.mapped.vec", "tgt.vec", "results.md"):
        assert (tmp_path / "a" / f).exists(), f


def test_align_cli_self_learning_bad_flag(tmp_path, capsys):
    from fairseq_xdomain.ubli.commands.cli import main

    s, t, _ = _write(tmp_path, n=50)
    with pytest.raises(SystemExit) as e:
        main(["align", "--method", "self-learning", "--src-emb", str(s), "--tgt-emb", str(t),
              "--out", str(tmp_path / "o"), "--sl-p0", "0"])
    assert e.value.code == 2
    assert "--sl-p0 0.0: must be in (0, 1]" in capsys.readouterr().err


def test_stochastic_argmax_has_the_masking_distribution():
    """Keeping each entry with probability p and taking the kept maximum picks the entry of
    descending rank r with probability (1 - p)^r p; the geometric draw must match that, also
    past the top-k depth (38 for p = 0.1: those rows are redone) and with no kept entry (the
    last rank, probability (1 - p)^(m - 1))."""
    n, m, p = 40000, 60, 0.1
    c = torch.arange(m, 0, -1, dtype=torch.float32).repeat(n, 1)  # rank r = column r
    gen = torch.Generator().manual_seed(0)
    v, i = _stochastic_argmax(c, p, gen)
    assert torch.equal(v, c[0, i])
    freq = torch.bincount(i, minlength=m).double() / n
    expect = torch.tensor([(1 - p) ** r * p for r in range(m - 1)] + [(1 - p) ** (m - 1)],
                          dtype=torch.float64)
    assert (freq - expect).abs().sum() / 2 < 0.02  # total variation distance
    assert abs(freq[38:].sum() - (1 - p) ** 38) < 0.005  # the redone rows
    assert torch.equal(_stochastic_argmax(c[:5], 1.0, gen)[1], torch.zeros(5, dtype=torch.long))
    # same generator state, same draw
    a = _stochastic_argmax(c, p, torch.Generator().manual_seed(3))[1]
    assert torch.equal(a, _stochastic_argmax(c, p, torch.Generator().manual_seed(3))[1])


def test_dropped_entries_set_to_zero():
    """The paper's stochastic induction sets dropped entries to zero: a row whose kept entries
    are all negative picks a zero, the first dropped column (P(column j) = p^j (1 - p)); a row
    with a kept positive entry keeps it; with every entry kept (p = 1) nothing changes."""
    n, m, p = 40000, 30, 0.5
    neg = -torch.arange(1, m + 1, dtype=torch.float32).repeat(n, 1)
    v, i = _stochastic_argmax(neg, p, torch.Generator().manual_seed(0), zero=True)
    assert torch.equal(v, torch.zeros(n))
    freq = torch.bincount(i, minlength=m).double() / n
    expect = torch.tensor([p ** j * (1 - p) for j in range(m)], dtype=torch.float64)
    assert (freq - expect).abs().max() < 0.01, freq[:4]
    # excluded: the kept maximum, negative (rank r with probability (1 - p)^r p)
    v2, i2 = _stochastic_argmax(neg, p, torch.Generator().manual_seed(0), zero=False)
    assert (v2 < 0).all() and torch.equal(v2, neg[0, i2])
    # a kept positive entry wins over the zeros: column 0 (2.0) when kept (p), else column 1
    # (1.0) when kept ((1 - p) p), else both dropped: column 0 again, as the first zero
    pos = torch.cat([torch.full((n, 1), 2.0), torch.full((n, 1), 1.0), neg[:, 2:]], dim=1)
    v3, i3 = _stochastic_argmax(pos, p, torch.Generator().manual_seed(1), zero=True)
    assert abs((i3 == 0).double().mean().item() - (p + (1 - p) ** 2)) < 0.01
    assert abs((i3 == 1).double().mean().item() - (1 - p) * p) < 0.01
    assert abs((v3 == 0).double().mean().item() - (1 - p) ** 2) < 0.01
    assert set(i3.tolist()) == {0, 1}
    # positives past the top-k depth (38 at p = 0.1), at columns 3..59: the first zero is
    # column 0 with probability 0.9, 1 with 0.09, 2 with 0.009, else column 3
    wide = torch.cat([-torch.ones(n, 3), torch.arange(60, 3, -1).float().repeat(n, 1)], dim=1)
    v4, i4 = _stochastic_argmax(wide, 0.1, torch.Generator().manual_seed(2), zero=True)
    zeros = v4 == 0
    assert 0 < zeros.sum() < 0.05 * n and (i4[zeros] <= 3).all()
    assert torch.equal(_stochastic_argmax(neg[:5], 1.0, None, zero=True)[1],
                       torch.zeros(5, dtype=torch.long))


def test_objective_is_nearest_neighbour_cosine_and_ignores_the_draws():
    """The convergence objective is the mean cosine of each word's nearest neighbour (both
    directions), the same whatever the keep probability and the random draws."""
    g = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(300, 8, generator=g), dim=1)
    b = torch.nn.functional.normalize(torch.randn(200, 8, generator=g), dim=1)
    sim = a @ b.T
    expect = (sim.max(1).values.mean() + sim.max(0).values.mean()).item() / 2
    objs = [csls_union(a, b, 10, keep, torch.Generator().manual_seed(seed), block=64, zero=zero)[2]
            for keep, seed, zero in ((1.0, 0, True), (0.1, 1, True), (0.1, 2, False))]
    assert max(abs(o - expect) for o in objs) < 1e-6


def test_final_mapping_whitening_recovers_exact_rotation():
    """On a dictionary related by an exact rotation Q and an anisotropic spectrum, whitening,
    re-weighting and de-whitening (the paper's final step) give W_src = Q, W_tgt = I (the
    canonical correlations are all 1); without whitening re-weighting scales by the spectrum
    (W_tgt != I) but still maps the dictionary onto itself."""
    g = torch.Generator().manual_seed(0)
    d = 6
    x = torch.randn(500, d, generator=g, dtype=torch.float64) * torch.logspace(0, -1.5, d,
                                                                             dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    z = x @ q
    idx = torch.arange(500)
    ws, wt = final_mapping(x, z, idx, idx, reweight=0.5, whiten=True)
    assert torch.allclose(ws.double(), q, atol=1e-5)
    assert torch.allclose(wt.double(), torch.eye(d, dtype=torch.float64), atol=1e-5)
    ws2, wt2 = final_mapping(x, z, idx, idx, reweight=0.5, whiten=False)
    assert (wt2.double() - torch.eye(d, dtype=torch.float64)).abs().max() > 0.1
    assert torch.allclose((x @ ws2.double()), (z @ wt2.double()), atol=1e-4)
    # whitening with no re-weighting: an orthogonal source map, the target as it is
    ws3, wt3 = final_mapping(x, z + 0.01 * torch.randn(500, d, generator=g, dtype=torch.float64),
                             idx, idx, reweight=0.0, whiten=True)
    assert torch.allclose(ws3 @ ws3.T, torch.eye(d), atol=1e-5)
    assert torch.allclose(wt3, torch.eye(d), atol=1e-5)
