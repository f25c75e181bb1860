"""Word similarity: hand-computed Pearson/Spearman/harmonic mean, OOV and multi-word handling."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch  # a hard dependency (requirements.txt): a .pt map is tested, never skipped
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.results import read_result
from fairseq_xdomain.wordsim import correlations, evaluate


def write_vec(path, table):
    dim = len(next(iter(table.values())))
    lines = [f"{len(table)} {dim}"] + [f"{w} " + " ".join(f"{x:g}" for x in v)
                                       for w, v in table.items()]
    return write_lines(path, lines)


SRC = {"a": (1, 0), "b": (0, 1), "c": (1, 0), "new": (1, 0), "york": (0, 1)}
TGT = {"x": (2, 0), "y": (1, 0), "z": (-1, 0)}
# cosines: a-x = 1, b-y = 0, c-z = -1; "q" is out of vocabulary
PAIRS = [("a", "x", 4.0), ("b", "y", 3.0), ("c", "z", 0.0), ("q", "x", 2.0)]


@pytest.fixture()
def files(tmp_path):
    src = write_vec(tmp_path / "src.vec", SRC)
    tgt = write_vec(tmp_path / "tgt.vec", TGT)
    data = write_lines(tmp_path / "aa-bb.test.data.txt", [f"{a}\t{b}" for a, b, _ in PAIRS])
    write_lines(tmp_path / "aa-bb.test.gold.txt", [f"{g}" for *_, g in PAIRS])
    plain = write_lines(tmp_path / "plain.txt", [f"{a}\t{b}\t{g}" for a, b, g in PAIRS])
    return src, tgt, data, plain


def test_hand_computed_correlations_with_oov_fallback(files, tmp_path):
    src, tgt, data, plain = files
    rec = evaluate(src, tgt, data, skip_oov=True, out_scores=tmp_path / "pred.txt")
    # every pair, the OOV one scored 0: pred (1, 0, -1, 0) vs gold (4, 3, 0, 2)
    r_all = 8 / math.sqrt(70)          # cov 4 / sqrt(2 * 35/4)
    rho_all = math.sqrt(0.9)           # ranks (4, 2.5, 1, 2.5) vs (4, 3, 1, 2)
    assert rec["pearson"] == pytest.approx(r_all)
    assert rec["spearman"] == pytest.approx(rho_all)
    assert rec["harmonic_mean"] == pytest.approx(2 * r_all * rho_all / (r_all + rho_all))
    assert rec["n_pairs"] == 4 and rec["n_covered"] == 3 and rec["n_oov_pairs"] == 1
    assert rec["coverage"] == pytest.approx(0.75)
    assert rec["terms"]["src"]["oov"] == 1 and rec["terms"]["src"]["oov_examples"] == ["q"]
    # covered only: pred (1, 0, -1) vs gold (4, 3, 0)
    r_cov = 6 / math.sqrt(39)
    cov = rec["covered_only"]
    assert cov["n"] == 3
    assert cov["pearson"] == pytest.approx(r_cov)
    assert cov["spearman"] == pytest.approx(1.0)
    assert cov["harmonic_mean"] == pytest.approx(2 * r_cov / (r_cov + 1))
    assert rec["gold_file"].endswith("aa-bb.test.gold.txt")  # found next to the data file
    assert rec["space"] == "as-given"
    pred = [float(x) for x in (tmp_path / "pred.txt").read_text().split()]
    assert pred == pytest.approx([1.0, 0.0, -1.0, 0.0])
    # a different fallback changes the all-pairs figure only; the plain layout reads the same
    rec2 = evaluate(src, tgt, plain, oov_score=0.5, skip_oov=True)
    assert rec2["covered_only"]["pearson"] == pytest.approx(r_cov)
    assert rec2["pearson"] != pytest.approx(r_all)
    assert "covered_only" not in evaluate(src, tgt, plain)


def test_harmonic_mean_definition():
    c = correlations([1, 2, 3, 4], [1, 3, 2, 4])
    assert c["spearman"] == pytest.approx(0.8)
    assert c["pearson"] == pytest.approx(0.8)
    assert c["harmonic_mean"] == pytest.approx(0.8)
    assert correlations([1, 1, 1], [1, 2, 3])["pearson"] is None  # constant: undefined


def test_multiword_lowercase_and_mapping(tmp_path, files):
    src, tgt, _, _ = files
    pairs = write_lines(tmp_path / "mw.txt", ["new york\ty\t4", "New_Zork\ty\t1", "A\tx\t0"])
    rec = evaluate(src, tgt, pairs, skip_oov=True, out_scores=tmp_path / "p.txt")
    pred = [float(x) for x in (tmp_path / "p.txt").read_text().split()]
    # mean of new=(1,0) and york=(0,1) against (1,0): 1/sqrt(2); New_Zork -> new only: 1
    assert pred == pytest.approx([1 / math.sqrt(2), 1.0, 1.0])
    assert rec["terms"]["src"] == {"exact": 0, "lowercased": 1, "multiword": 2,
                                   "multiword_partial": 1, "oov": 0, "oov_examples": []}
    # a rotated target space with the matching mapping gives the same numbers
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    rot = write_vec(tmp_path / "rot.vec", {w: tuple(R @ np.array(v, float)) for w, v in TGT.items()})
    np.save(tmp_path / "W.npy", R.T)  # row vectors: x @ R.T == (R x)^T
    np.save(tmp_path / "W_muse.npy", R)  # MUSE convention: W x
    data = tmp_path / "aa-bb.test.data.txt"
    base = evaluate(src, tgt, data)
    mapped = evaluate(src, rot, data, mapping_path=tmp_path / "W.npy")
    assert mapped["space"] == "aligned" and mapped["mapping_applied_as"] == "x @ W"
    assert mapped["pearson"] == pytest.approx(base["pearson"])
    muse = evaluate(src, rot, data, mapping_path=tmp_path / "W_muse.npy", mapping_transpose=True)
    assert muse["pearson"] == pytest.approx(base["pearson"])
    torch.save({"W": torch.tensor(R.T)}, tmp_path / "W.pt")
    # a tensor in a torch file is ours (MUSE saves a numpy array): no option needed
    assert evaluate(src, rot, data, mapping_path=tmp_path / "W.pt",
                    mapping_format="ours")["pearson"] == pytest.approx(base["pearson"])
    assert evaluate(src, rot, data,
                    mapping_path=tmp_path / "W.pt")["pearson"] == pytest.approx(base["pearson"])
    # a numpy array in a torch file (MUSE's best_mapping.pth) says nothing of its convention
    torch.save(R, tmp_path / "best_mapping.pth")
    with pytest.raises(UserError, match="--mapping-format muse"):
        evaluate(src, rot, data, mapping_path=tmp_path / "best_mapping.pth")
    unmapped = evaluate(src, rot, data)
    assert unmapped["pearson"] != pytest.approx(base["pearson"])
    # a joint file (same path twice) is labelled joint
    joint = write_vec(tmp_path / "joint.vec", {**SRC, **TGT})
    assert evaluate(joint, joint, data)["space"] == "joint"


def test_bad_inputs(tmp_path, files):
    src, tgt, data, plain = files
    short = write_lines(tmp_path / "short.gold.txt", ["1", "2"])
    with pytest.raises(UserError, match="2 scores for 4 pairs"):
        evaluate(src, tgt, data, short)
    bad = write_lines(tmp_path / "bad.txt", ["a\tx\t1", "b y 2"])
    with pytest.raises(UserError, match="line 2"):
        evaluate(src, tgt, bad)
    nan = write_lines(tmp_path / "nan.txt", ["a\tx\tfoo"])
    with pytest.raises(UserError, match="not a number"):
        evaluate(src, tgt, nan)
    oov = write_lines(tmp_path / "oov.txt", ["q\tx\t1", "r\ty\t2"])
    with pytest.raises(UserError, match="no pair is covered"):
        evaluate(src, tgt, oov)
    d3 = write_vec(tmp_path / "d3.vec", {"x": (1, 0, 0)})
    with pytest.raises(UserError, match="dimension"):
        evaluate(src, d3, plain)
    with pytest.raises(UserError, match="does not exist"):
        evaluate(src, tgt, tmp_path / "missing.txt")


def test_cli(tmp_path, files):
    src, tgt, data, _ = files
    out = tmp_path / "res" / "ws.json"
    proc = run(["xdomain-wordsim", "--src-emb", src, "--tgt-emb", tgt, "--pairs", data,
                "--skip-oov", "--pair", "aa-bb", "--domains", "Wiki-Wiki", "--init", "separate",
                "--json", out])
    rec = json.loads(out.read_text())
    assert rec["kind"] == "wordsim" and rec["pair"] == "aa-bb"
    assert (rec["domains"], rec["init"]) == ("Wiki-Wiki", "separate")
    assert rec["pearson"] == pytest.approx(8 / math.sqrt(70))
    assert read_result(out).covered_only["n"] == 3 and rec["coverage"] == 0.75
    assert "coverage 3/4" in proc.stdout and "covered only (3 pairs)" in proc.stdout
    assert (tmp_path / "res" / "ws.md").exists()
    bad = run(["xdomain-wordsim", "--src-emb", tmp_path / "none.vec", "--tgt-emb", tgt,
               "--pairs", data], check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "none.vec" in bad.stderr
