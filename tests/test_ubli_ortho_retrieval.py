"""Orthography-aware retrieval (``ubli/ortho_retrieval.py``; Riley & Gildea 2018): a hand-checked
tiny case, the unsupervised weight choice, and ``xdomain-ubli evaluate --ortho-weight``.

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

import numpy as np
import pytest
import torch
from conftest import run

from fairseq_xdomain.embeddings.vecio import save_vec
from fairseq_xdomain.ubli.ortho_retrieval import (
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


def test_weight_selection_prefers_spelling_only_when_it_agrees():
    g = torch.Generator().manual_seed(0)
    words = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "lmnrs"][:100]
    # unrelated embeddings, identical spellings: only the n-grams are mutually consistent
    sel = select_ortho_weight(torch.randn(100, 8, generator=g), torch.randn(100, 8, generator=g),
                              words, words, k_csls=3, backend="torch")
    assert sel["criterion"] == "mutual_nn_share" and sel["values"]["1.0"] == 1.0
    assert sel["values"]["0.0"] < 0.9 and sel["weight"] > 0
    assert sel["values"][str(sel["weight"])] == 1.0
    # a perfect map and no shared characters at all: the n-grams are 0 everywhere, w = 0 wins
    x = torch.randn(100, 8, generator=g)
    src_w = [f"{a}{b}" for a in "abcdefghij" for b in "klmnopqrst"]
    tgt_w = [f"{a}{b}" for a in "ABCDEFGHIJ" for b in "KLMNOPQRST"]
    sel = select_ortho_weight(x @ _rotation(8, 1), x @ _rotation(8, 1), src_w, tgt_w,
                              k_csls=3, backend="torch")
    assert sel["weight"] == 0.0 and sel["values"]["0.0"] == 1.0


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
    assert sel["criterion"] == "mutual_nn_share" and set(sel["values"]) >= {"0.0", "1.0"}
    assert auto["metrics"]["ortho_weight"] == sel["weight"]
    assert auto["metrics"]["csls_ortho_self_top1"] == 1.0
