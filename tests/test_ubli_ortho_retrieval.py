"""Orthography-aware retrieval (``ubli/ortho_retrieval.py``; Riley & Gildea 2018): a hand-checked
tiny case, the unsupervised weight choice (two-view agreement, by hand and on a pair where
only both signals together find the translations), and ``xdomain-ubli evaluate --ortho-weight``.

Hand computation for :func:`test_combined_score_by_hand` (2-d unit vectors, CSLS k = 1):
sources s0 "kat" = (1, 0), s1 "sol" = (0.8, 0.6); targets t0 "hund" = (1, 0), t1 "kit" =
(0.6, 0.8), t2 "kat" = (0, 1).
cos(s0, .) = 1, 0.6, 0; cos(s1, .) = 0.8, 0.96, 0.6. r_S(s0) = 1; r_T = max over the sources:
1, 0.96, 0.6. CSLS(s0, .) = 2 cos - r_S - r_T = 0, -0.76, -1.6.
n-gram cosine (1-grams, and 2-/3-grams of ^w$): kat = {k a t ^k ka at t$ ^ka kat at$} (10),
kit shares k, t, ^k, t$ -> 4 / 10 = 0.4; kat/kat = 1; kat/hund = 0.
combined = (1 - w) CSLS + w ngram: w = 0.5 -> 0, -0.18, -0.3 (hund first);
w = 0.7 -> 0, 0.052, 0.22 (kat first, then kit, then hund).
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from conftest import run

from fairseq_xdomain.embeddings.vecio import save_vec
from fairseq_xdomain.ubli.ortho_retrieval import (
    WEIGHT_GRID,
    combined_topk,
    parse_ortho_weight,
    select_ortho_weight,
)
from fairseq_xdomain.ubli.orthography import ngram_matrices

SRC = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
TGT = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
SRC_W, TGT_W = ["kat", "sol"], ["hund", "kit", "kat"]


def test_ngram_cosine_by_hand():
    q, t = ngram_matrices(["kat"], TGT_W)
    assert np.allclose((q @ t.T).toarray(), [[0.0, 0.4, 1.0]])


@pytest.mark.parametrize("w, order, scores", [
    (0.0, [0, 1, 2], [0.0, -0.76, -1.6]),
    (0.5, [0, 1, 2], [0.0, -0.18, -0.3]),
    (0.7, [2, 1, 0], [0.22, 0.052, 0.0]),
    (1.0, [2, 1, 0], [1.0, 0.4, 0.0]),
])
def test_combined_score_by_hand(w, order, scores):
    v, i = combined_topk(SRC, TGT, SRC_W, TGT_W, [0], w, k_csls=1, topn=3, backend="torch")
    assert i[0].tolist() == order
    assert torch.allclose(v[0], torch.tensor(scores), atol=1e-5)


def _rotation(dim, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return torch.from_numpy(q).float()


def test_weight_selection_agreement_by_hand():
    """Sources "kat", "kid" and targets "kap", "kit", "kat" at the vectors of the docstring's
    case. s0 "kat": CSLS 0, -0.76, -1.6; n-gram cosine with kap 0.5 (k a ^k ka ^ka of 10), kit
    0.4, kat 1. With k_agree = 2 its agreeing targets are those in the CSLS top 2 {kap, kit} and
    the spelling top 2 {kat, kap}: only kap. Combined: kap 0.5 w, kit 1.16 w - 0.76, kat
    2.6 w - 1.6, so kap is s0's best for w < 0.762, kat above. s1 "kid" (r_S = 0.96): CSLS
    -0.36, 0, -0.36; n-grams 0.2, 0.5 (k i ^k ki ^ki), 0.2: kit is best by both, for every w.
    Agreement = 1 for w <= 0.7, 1/2 for w >= 0.8; ties -> w = 0; at w = 1 it is 1/2, far above
    the chance threshold (min(5 * 2 / 3, 0.05) = 0.05): no fallback."""
    sel = select_ortho_weight(SRC, TGT, ["kat", "kid"], ["kap", "kit", "kat"], k_csls=1,
                              k_agree=2, backend="torch")
    assert sel["criterion"] == "two_view_agreement" and sel["k_agree"] == 2
    assert sel["values"] == {str(w): (1.0 if w <= 0.7 else 0.5) for w in WEIGHT_GRID}
    assert sel["weight"] == 0.0 and sel["fallback"] is None
    assert sel["agreement_at_1"] == 0.5 and sel["chance_threshold"] == 0.05
    assert set(sel["mutual_nn_share"]) == set(sel["values"])


def _words(n, rng):
    cons, vow = "bcdfghklmnprstvz", "aeiou"
    out: list[str] = []
    while len(out) < n:
        w = "".join(rng.choice(cons) + rng.choice(vow) for _ in range(3))
        if w not in out:
            out.append(w)
    return out


def _spelling_and_meaning_pair(n=200, seed=0):
    """n source words; each translation keeps the source's first 4 letters (meaning: its vector
    is the source's plus noise), and a decoy keeps them too (an unrelated vector): neither
    signal alone finds most translations, both together do."""
    rng, g = random.Random(seed), torch.Generator().manual_seed(seed)
    cons, vow = "bcdfghklmnprstvz", "aeiou"
    src_w = _words(n, rng)
    tgt_w = ([w[:4] + rng.choice(cons) + rng.choice(vow) for w in src_w]
             + [w[:4] + rng.choice(cons) + rng.choice(vow) for w in src_w])
    x = torch.randn(n, 16, generator=g)
    tgt = torch.cat([x + 0.9 * torch.randn(n, 16, generator=g), torch.randn(n, 16, generator=g)])
    return x, tgt, src_w, tgt_w


def test_weight_selection_mixes_two_partial_signals():
    x, tgt, src_w, tgt_w = _spelling_and_meaning_pair()
    sel = select_ortho_weight(x, tgt, src_w, tgt_w, k_csls=5, backend="torch")
    assert 0.0 < sel["weight"] < 1.0 and sel["fallback"] is None
    assert sel["agreement_at_0"] >= sel["agreement_at_1"]  # spelling not the more precise view
    p1 = {}
    for w in (0.0, sel["weight"], 1.0):
        _, idx = combined_topk(x, tgt, src_w, tgt_w, range(len(src_w)), w, k_csls=5, topn=1,
                               backend="torch")
        p1[w] = (idx[:, 0] == torch.arange(len(src_w))).float().mean().item()
    # measured: 0.685 (embeddings only), 0.965 (w = 0.5), 0.625 (spelling only)
    assert p1[sel["weight"]] > max(p1[0.0], p1[1.0]) + 0.2


def _strong_spelling_weak_map_pair(n=200, seed=0, noise=2.0):
    """n source words; each translation keeps the source's first 5 letters (spelling finds
    almost all), a decoy keeps its first 2; the map is weak but far above chance: a
    translation's vector is the source's plus noise of twice its size."""
    rng, g = random.Random(seed), torch.Generator().manual_seed(seed)
    cons, vow = "bcdfghklmnprstvz", "aeiou"
    src_w = _words(n, rng)
    tgt_w = ([w[:5] + rng.choice(vow) for w in src_w]
             + [w[:2] + "".join(rng.choice(cons) + rng.choice(vow) for _ in range(2))
                for w in src_w])
    x = torch.randn(n, 16, generator=g)
    tgt = torch.cat([x + noise * torch.randn(n, 16, generator=g),
                     torch.randn(n, 16, generator=g)])
    return x, tgt, src_w, tgt_w


def test_weight_selection_chooses_spelling_alone_when_it_is_the_more_precise_view():
    """Issue 24 point 6: the agreement's argmax alone mixes (0.4 here, P@1 0.48) where spelling
    alone is right for 199 of 200 words; the map endorses the spelling's picks (agreement at
    w = 1: 0.405) more often than the spelling endorses the map's (0.195 at w = 0), so the rule
    takes w = 1. Measured P@1: 0.165 (w = 0), 0.48 (w = 0.4), 0.995 (w = 1)."""
    x, tgt, src_w, tgt_w = _strong_spelling_weak_map_pair()
    sel = select_ortho_weight(x, tgt, src_w, tgt_w, k_csls=5, backend="torch")
    argmax = max(WEIGHT_GRID, key=lambda w: (sel["values"][str(w)], -w))
    assert argmax <= 0.5  # the earlier rule (the argmax) would mix
    assert sel["agreement_at_1"] > sel["agreement_at_0"] > sel["chance_threshold"]
    assert sel["weight"] == 1.0 and "more precise view" in sel["fallback"]
    p1 = {}
    for w in (argmax, 1.0):
        _, idx = combined_topk(x, tgt, src_w, tgt_w, range(len(src_w)), w, k_csls=5, topn=1,
                               backend="torch")
        p1[w] = (idx[:, 0] == torch.arange(len(src_w))).float().mean().item()
    assert p1[1.0] > p1[argmax] + 0.4


def test_weight_selection_falls_back_to_spelling_for_an_unaligned_map():
    """Unrelated embeddings (an unaligned map) and identical spellings: the identical string is
    among a word's 10 CSLS neighbours about 10 / 1000 of the time, below the chance threshold
    0.05, so the guard uses spelling alone (which is right for every word here)."""
    g = torch.Generator().manual_seed(0)
    words = _words(1000, random.Random(1))
    sel = select_ortho_weight(torch.randn(1000, 16, generator=g),
                              torch.randn(1000, 16, generator=g), words, words, backend="torch")
    assert sel["agreement_at_1"] < 0.03 and sel["chance_threshold"] == 0.05
    assert sel["weight"] == 1.0 and "spelling alone" in sel["fallback"]
    assert max(sel["values"].values()) > sel["agreement_at_1"]  # the argmax alone would mix


def test_weight_selection_without_shared_characters_is_zero():
    # a perfect map and no shared characters at all: the n-grams are 0 everywhere, w = 0 wins
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 8, generator=g)
    src_w = [f"{a}{b}" for a in "abcdefghij" for b in "klmnopqrst"]
    tgt_w = [f"{a}{b}" for a in "ABCDEFGHIJ" for b in "KLMNOPQRST"]
    sel = select_ortho_weight(x @ _rotation(8, 1), x @ _rotation(8, 1), src_w, tgt_w,
                              k_csls=3, backend="torch")
    assert sel["weight"] == 0.0 and set(sel["values"].values()) == {0.0}
    assert sel["share_with_shared_ngrams"] == 0.0 and "no shared spelling" in sel["fallback"]
    assert sel["mutual_nn_share"]["0.0"] == 1.0


def test_parse_ortho_weight():
    assert parse_ortho_weight("auto") == "auto" and parse_ortho_weight("0.3") == 0.3
    for bad in ("1.5", "x"):
        with pytest.raises(Exception, match="auto|\\[0, 1\\]"):
            parse_ortho_weight(bad)


def test_evaluate_cli_ortho_weight(tmp_path):
    # a joint-like space: identical vectors for identical strings, except two words whose
    # translation is spelled differently and sits at another vector
    rng = np.random.default_rng(0)
    words = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "lmnrs"][:60]
    vecs = rng.standard_normal((60, 6)).astype(np.float32)
    save_vec(tmp_path / "s.vec", words, vecs)
    save_vec(tmp_path / "t.vec", words, vecs)
    (tmp_path / "d.txt").write_text("".join(f"{w} {w}\n" for w in words[:20]))
    for w in ("0.5", "auto"):
        run(["xdomain-ubli", "evaluate", "--src-emb", tmp_path / "s.vec", "--tgt-emb",
             tmp_path / "t.vec", "--dico-eval", tmp_path / "d.txt", "--knn-backend", "torch",
             "--ortho-weight", w, "--out", tmp_path / w, "--cpu", "--threads", "1"])
    half = json.loads((tmp_path / "0.5/results.json").read_text())
    auto = json.loads((tmp_path / "auto/results.json").read_text())
    assert half["metrics"]["ortho_weight"] == 0.5 and half["metrics"]["csls_ortho_p@1"] == 100.0
    sel = auto["selected"]["ortho_weight_selection"]
    assert sel["criterion"] == "two_view_agreement" and set(sel["values"]) >= {"0.0", "1.0"}
    assert auto["metrics"]["ortho_weight"] == sel["weight"]
    assert auto["metrics"]["csls_ortho_self_top1"] == 1.0
