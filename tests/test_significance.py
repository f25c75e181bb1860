"""fairseq_xdomain.significance: paired bootstrap BLEU (sacrebleu's), exact McNemar, bootstrap
P@1 interval, mean ± sd over seeds; checked against sacrebleu/scipy and by hand."""
from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest
from scipy.stats import binomtest

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.significance import (
    bootstrap_p_at_1,
    format_mean_sd,
    mcnemar_exact,
    mean_sd,
    paired_bootstrap_bleu,
)

REFS = ["the cat sat on the mat", "a dog barks loudly today", "it is raining in paris",
        "we like green apples", "the house is very old", "she reads a long book",
        "they walk to school", "the sun rises in the east"]
SYS_A = ["the cat sat on a mat", "a dog barks today", "it rains in paris", "we like apples",
         "the house is old", "she reads a book", "they go to school", "the sun rises east"]
SYS_B = ["the cat is on the mat", "the dog barks loudly today", "it is raining in london",
         "we like green apples", "the house is very old", "she reads the long book",
         "they walk to school", "sun rises in the east"]


def test_paired_bootstrap_bleu_is_sacrebleus(monkeypatch):
    res = paired_bootstrap_bleu(SYS_A, SYS_B, REFS, n_resamples=300, seed=7)
    # corpus BLEU of each system: sacrebleu's own score
    assert res.baseline.score == pytest.approx(BLEU().corpus_score(SYS_A, [REFS]).score)
    assert res.system.score == pytest.approx(BLEU().corpus_score(SYS_B, [REFS]).score)
    assert res.delta == pytest.approx(res.system.score - res.baseline.score)
    # p, mean and CI: sacrebleu's PairedTest with the same seed and number of resamples
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    sigs, scores = PairedTest([("a", SYS_A), ("b", SYS_B)], {"BLEU": BLEU()}, [REFS],
                              test_type="bs", n_samples=300)()
    bl, sy = scores["BLEU"]
    assert (res.p_value, res.system.mean, res.system.ci) == pytest.approx((sy.p_value, sy.mean, sy.ci))
    assert res.p_value_sacrebleu == res.p_value
    assert (res.baseline.mean, res.baseline.ci) == pytest.approx((bl.mean, bl.ci))
    assert res.signature == sigs["BLEU"].format()
    assert "bs:300" in res.signature and "seed:7" in res.signature and "tok:13a" in res.signature
    assert (res.n_resamples, res.seed, res.n_segments) == (300, 7, len(REFS))
    assert res.system.lower == pytest.approx(sy.mean - sy.ci)


def test_paired_bootstrap_bleu_by_hand():
    """Koehn (2004) as sacrebleu computes it: both systems on the same resampled indices
    (default_rng(seed).choice), BLEU from summed statistics, p = (#{|d_i| - mean|d| > |d|} + 1) / (n + 1)."""
    n, seed = 200, 3
    res = paired_bootstrap_bleu(SYS_A, SYS_B, REFS, n_resamples=n, seed=seed)
    metric = BLEU()
    a = np.array(metric._extract_corpus_statistics(SYS_A, [REFS]), dtype="float32")
    b = np.array(metric._extract_corpus_statistics(SYS_B, [REFS]), dtype="float32")
    idx = np.random.default_rng(seed).choice(len(REFS), size=(n, len(REFS)), replace=True)
    sa = np.array([metric._compute_score_from_stats(s.sum(0)).score for s in a[idx]])
    sb = np.array([metric._compute_score_from_stats(s.sum(0)).score for s in b[idx]])
    d = np.abs(sb - sa)
    p = (np.sum(d - d.mean() > abs(res.delta)) + 1) / (n + 1)
    assert res.p_value == pytest.approx(p)
    assert res.system.mean == pytest.approx(sb.mean())
    assert res.baseline.mean == pytest.approx(sa.mean())
    srt = np.sort(sb)
    assert res.system.ci == pytest.approx(0.5 * (srt[n - n // 40 - 1] - srt[n // 40]))


def test_paired_bootstrap_bleu_deterministic_and_env_restored(monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "99")
    r1 = paired_bootstrap_bleu(SYS_A, SYS_B, REFS, n_resamples=100, seed=5)
    r2 = paired_bootstrap_bleu(SYS_A, SYS_B, REFS, n_resamples=100, seed=5)
    assert r1 == r2
    import os

    assert os.environ["SACREBLEU_SEED"] == "99"
    # a system against itself: no difference, p = 1 (sacrebleu's strict ">" gives 1 / (n + 1))
    same = paired_bootstrap_bleu(SYS_A, SYS_A, REFS, n_resamples=100, seed=5)
    assert same.delta == 0 and same.p_value == 1.0
    assert same.p_value_sacrebleu == pytest.approx(1 / 101)
    assert same.to_dict()["signature"] == same.signature


@pytest.mark.parametrize("args,kw,what", [
    ((SYS_A[:-1], SYS_B, REFS), {}, "hypotheses for"),
    (([], [], []), {}, "empty"),
    ((SYS_A, SYS_B, REFS), {"seed": 0}, "seed 0"),
    ((SYS_A, SYS_B, REFS), {"n_resamples": 0}, "resamples"),
])
def test_paired_bootstrap_bleu_errors(args, kw, what):
    with pytest.raises(UserError, match=what):
        paired_bootstrap_bleu(*args, **kw)


def test_mcnemar_by_hand():
    # b = 1 (A right, B wrong), c = 3 (A wrong, B right), 2 concordant words:
    # p = 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16 = 0.625
    a = [1, 0, 0, 0, 1, 0]
    b = [0, 1, 1, 1, 1, 0]
    res = mcnemar_exact(a, b)
    assert (res.b, res.c, res.n) == (1, 3, 6)
    assert res.p_value == pytest.approx(0.625)
    assert res.p_at_1_a == pytest.approx(100 * 2 / 6) and res.p_at_1_b == pytest.approx(100 * 4 / 6)
    # symmetric in the methods; no discordant word: p = 1
    assert mcnemar_exact(b, a).p_value == pytest.approx(0.625)
    assert mcnemar_exact(a, a).p_value == 1.0


def test_mcnemar_against_scipy():
    rng = np.random.default_rng(0)
    a = rng.random(1500) < 0.40
    b = rng.random(1500) < 0.43
    res = mcnemar_exact(a, b)
    nb, nc = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert (res.b, res.c) == (nb, nc)
    assert res.p_value == pytest.approx(binomtest(nb, nb + nc, 0.5).pvalue)


@pytest.mark.parametrize("a,b,what", [
    ([1, 0, 1], [1, 0], "same test words"),
    ([], [], "no test words"),
    ([1, 2, 0], [1, 0, 0], "0/1"),
    ([[1, 0]], [[1, 0]], "1-D"),
])
def test_mcnemar_errors(a, b, what):
    with pytest.raises(UserError, match=what):
        mcnemar_exact(a, b)


def test_bootstrap_p_at_1_interval():
    rng = np.random.default_rng(1)
    correct = rng.random(400) < 0.3
    r1 = bootstrap_p_at_1(correct, n_resamples=2000, seed=11)
    r2 = bootstrap_p_at_1(correct, n_resamples=2000, seed=11)
    assert r1 == r2  # the same seed, the same interval
    assert r1.p_at_1 == pytest.approx(100 * correct.mean())
    assert r1.lower < r1.p_at_1 < r1.upper
    # the normal approximation of a binomial proportion: the widths agree within ~10%
    se = 100 * np.sqrt(correct.mean() * (1 - correct.mean()) / correct.size)
    assert r1.upper - r1.lower == pytest.approx(2 * 1.96 * se, rel=0.1)
    # percentile interval by hand: the same draws, numpy quantiles
    idx = np.random.default_rng(11).integers(0, 400, size=(2000, 400))
    means = 100 * correct[idx].mean(axis=1)
    assert (r1.lower, r1.upper) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    assert bootstrap_p_at_1(correct, n_resamples=2000, seed=12) != r1
    assert r1.to_dict()["confidence"] == 0.95


def test_bootstrap_p_at_1_chunks_match(monkeypatch):
    import fairseq_xdomain.significance as sig

    correct = np.arange(50) % 3 == 0
    whole = bootstrap_p_at_1(correct, n_resamples=64, seed=2)
    monkeypatch.setattr(sig, "_CHUNK_ELEMENTS", 50 * 5)  # 5 resamples per chunk
    assert bootstrap_p_at_1(correct, n_resamples=64, seed=2) == whole


@pytest.mark.parametrize("kw,what", [({"n_resamples": 0}, "resamples"),
                                     ({"confidence": 1.0}, "confidence")])
def test_bootstrap_p_at_1_errors(kw, what):
    with pytest.raises(UserError, match=what):
        bootstrap_p_at_1([1, 0, 1], **kw)
    with pytest.raises(UserError, match="no test words"):
        bootstrap_p_at_1([])


def test_mean_sd_two_seeds_by_hand():
    # 36.0 and 37.6: mean 36.8; sd = |37.6 - 36.0| / sqrt(2) = 1.1314 (ddof = 1)
    s = mean_sd([36.0, 37.6])
    assert s.mean == pytest.approx(36.8)
    assert s.sd == pytest.approx(1.6 / np.sqrt(2))
    assert (s.n, s.values) == (2, (36.0, 37.6))
    assert format_mean_sd(s) == "36.8 ± 1.1 (n=2)"
    assert format_mean_sd([36.0, 37.6], digits=2) == "36.80 ± 1.13 (n=2)"
    assert s.to_dict() == {"mean": s.mean, "sd": s.sd, "n": 2, "values": [36.0, 37.6]}


def test_mean_sd_one_seed_and_errors():
    s = mean_sd([36.8])
    assert s.sd is None and format_mean_sd(s) == "36.8 (n=1)"
    with pytest.raises(UserError, match="no value"):
        mean_sd([])
    with pytest.raises(UserError, match="non-finite"):
        mean_sd([1.0, float("nan")])
