"""Vocabulary reallocation for joint spaces (``ubli/reallocation.py``, after Wang et al. 2020):
which shared words are split, where their new vectors come from, what is dropped, the counts
reported, and ``xdomain-ubli reallocate`` end to end, on generated data.

Data: 30 source-only words ``a*``, 30 target-only words ``b*``, 20 shared words ``s0..s19``
with one joint vector each. Counts (both corpora total 10,000): s0-s9 100/100 (balanced),
s10-s14 1000/2 (ratio 1001/3 = 334 >= 10: source-specific, their target side is reallocated),
s15-s19 1/500 (ratio 2/501: target-specific). The target's separate model has the balanced
words as the joint vectors rotated by Q, and s10-s12 (not s13, s14) at known vectors v @ Q; the
source has no separate model.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run

from fairseq_xdomain.embeddings.vecio import load_vec, save_vec
from fairseq_xdomain.ubli.reallocation import frequency_ratio, read_counts, reallocate

DIM = 8
SHARED = [f"s{i}" for i in range(20)]
SRC_W = [f"a{i}" for i in range(30)] + SHARED
TGT_W = SHARED + [f"b{i}" for i in range(30)]


def _counts():
    src = {w: 100 for w in SHARED[:10]} | {w: 1000 for w in SHARED[10:15]}
    src |= {w: 1 for w in SHARED[15:]}
    tgt = {w: 100 for w in SHARED[:10]} | {w: 2 for w in SHARED[10:15]}
    tgt |= {w: 500 for w in SHARED[15:]}
    src["a0"] = 10000 - sum(src.values())
    tgt["b0"] = 10000 - sum(tgt.values())
    return src, tgt


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    joint = {w: torch.randn(DIM, generator=g) for w in SRC_W + TGT_W}
    src = torch.stack([joint[w] for w in SRC_W])
    tgt = torch.stack([joint[w] for w in TGT_W])
    q, _ = torch.linalg.qr(torch.randn(DIM, DIM, generator=g))
    v = torch.randn(3, DIM, generator=g)  # the target-specific vectors of s10-s12
    sep_words = SHARED[:10] + SHARED[10:13]
    sep = torch.cat([torch.stack([joint[w] for w in SHARED[:10]]) @ q, v @ q])
    return src, tgt, (sep_words, sep), v


def test_reallocate_mechanics():
    src, tgt, tgt_sep, v = _data()
    sc, tc = _counts()
    assert frequency_ratio("s10", sc, tc, 10000, 10000) == pytest.approx(1001 / 3)
    re = reallocate(SRC_W, src, TGT_W, tgt, sc, tc, threshold=10.0, tgt_sep=tgt_sep)
    s = re.summary()
    assert (s["n_shared"], s["n_balanced"], s["n_src_specific"], s["n_tgt_specific"]) == (
        20, 10, 5, 5)
    assert re.src_specific == SHARED[10:15] and re.tgt_specific == SHARED[15:]
    assert re.replaced_tgt == SHARED[10:13] and re.dropped_tgt == SHARED[13:15]
    assert re.replaced_src == [] and re.dropped_src == SHARED[15:]  # no source separate model
    assert s["n_anchors_tgt"] == 10 and s["n_anchors_src"] == 0
    # dropped words leave their side, the order of the others is kept
    assert re.tgt_words == [w for w in TGT_W if w not in ("s13", "s14")]
    assert re.src_words == [w for w in SRC_W if w not in SHARED[15:]]
    # a replaced target vector is the separate one mapped back (Procrustes recovers Q^T),
    # with the norm of the joint vector it replaced; balanced words are untouched
    for j, w in enumerate(SHARED[10:13]):
        new = re.tgt[re.tgt_words.index(w)]
        old = tgt[TGT_W.index(w)]
        expect = torch.nn.functional.normalize(v[j], dim=0) * old.norm()
        assert torch.allclose(new, expect, atol=1e-4)
    assert torch.equal(re.tgt[0], tgt[0]) and torch.equal(re.src[:30], src[:30])
    # the source side of a source-specific word keeps its joint vector
    assert torch.equal(re.src[re.src_words.index("s10")], src[SRC_W.index("s10")])


def test_reallocate_threshold_and_counts_file(tmp_path):
    src, tgt, _, _ = _data()
    sc, tc = _counts()
    with pytest.raises(ValueError, match="must be > 1"):
        reallocate(SRC_W, src, TGT_W, tgt, sc, tc, threshold=1.0)
    # a higher threshold splits fewer words: 334 < 500 keeps s10-s14 balanced
    re = reallocate(SRC_W, src, TGT_W, tgt, sc, tc, threshold=500.0)
    assert re.src_specific == [] and re.tgt_specific == []
    (tmp_path / "c.txt").write_text("the 5\nthe 2\nbad line here\nx notanumber\ncat 3\n")
    assert read_counts(tmp_path / "c.txt") == {"the": 7, "cat": 3}


def test_reallocate_cli(tmp_path):
    src, tgt, tgt_sep, _ = _data()
    sc, tc = _counts()
    save_vec(tmp_path / "s.vec", SRC_W, src.numpy())
    save_vec(tmp_path / "t.vec", TGT_W, tgt.numpy())
    save_vec(tmp_path / "tsep.vec", tgt_sep[0], tgt_sep[1].numpy())
    for name, c in (("sc.txt", sc), ("tc.txt", tc)):
        (tmp_path / name).write_text("".join(f"{w} {n}\n" for w, n in c.items()))
    (tmp_path / "d.txt").write_text("".join(f"{w} {w}\n" for w in SHARED[:10]))
    run(["xdomain-ubli", "reallocate", "--src-emb", tmp_path / "s.vec", "--tgt-emb",
         tmp_path / "t.vec", "--src-counts", tmp_path / "sc.txt", "--tgt-counts",
         tmp_path / "tc.txt", "--tgt-sep-emb", tmp_path / "tsep.vec", "--dico-eval",
         tmp_path / "d.txt", "--out", tmp_path / "o", "--refinement", "1", "--cpu",
         "--threads", "1", "--no-progress"])
    summary = json.loads((tmp_path / "o/reallocation.json").read_text())
    assert summary["n_replaced_tgt"] == 3 and summary["n_dropped_tgt"] == 2
    assert summary["n_dropped_src"] == 5 and summary["dropped_src_examples"] == SHARED[15:]
    result = json.loads((tmp_path / "o/results.json").read_text())
    assert result["method"] == "reallocate" and result["config"]["ratio"] == 10.0
    assert result["details"]["reallocation"]["n_src_specific"] == 5
    assert result["metrics"]["n_covered"] == 10  # the balanced words, identical vectors
    assert result["metrics"]["csls_p@1"] == 100.0
    assert len(load_vec(tmp_path / "o/tgt.vec")) == 48
    assert np.load(tmp_path / "o/W.npy").shape == (DIM, DIM)
    assert "csls_ortho_p@1" not in result["metrics"]  # --ortho-weight 0 (default): off
    # with orthography-aware retrieval: w = 1 is spelling alone, and every test pair is
    # spelled identically here (100 %); the selection record comes with auto
    for w in ("1", "auto"):
        run(["xdomain-ubli", "reallocate", "--src-emb", tmp_path / "s.vec", "--tgt-emb",
             tmp_path / "t.vec", "--src-counts", tmp_path / "sc.txt", "--tgt-counts",
             tmp_path / "tc.txt", "--tgt-sep-emb", tmp_path / "tsep.vec", "--dico-eval",
             tmp_path / "d.txt", "--out", tmp_path / f"o{w}", "--refinement", "1", "--cpu",
             "--threads", "1", "--no-progress", "--no-export", "--ortho-weight", w])
    one = json.loads((tmp_path / "o1/results.json").read_text())
    assert one["metrics"]["ortho_weight"] == 1.0 and one["metrics"]["csls_ortho_p@1"] == 100.0
    assert one["metrics"]["csls_p@1"] == 100.0 and one["config"]["ortho_weight"] == 1.0
    auto = json.loads((tmp_path / "oauto/results.json").read_text())
    sel = auto["selected"]["ortho_weight_selection"]
    assert sel["criterion"] == "two_view_agreement"
    assert auto["metrics"]["ortho_weight"] == sel["weight"]


def test_reallocate_cli_bad_ratio(tmp_path, capsys):
    from fairseq_xdomain.ubli.commands.cli import main

    with pytest.raises(SystemExit) as e:
        main(["reallocate", "--src-emb", "x.vec", "--tgt-emb", "y.vec", "--src-counts", "a",
              "--tgt-counts", "b", "--out", str(tmp_path / "o"), "--ratio", "1"])
    assert e.value.code == 2
    assert "--ratio 1.0: must be > 1" in capsys.readouterr().err
