"""recipes/wordsim.sh (paper Table 6): input checks, plan, and a tiny end-to-end run.

The end-to-end run uses a generated mismatched pair (``xdomain-synth mismatched``: corpora
``{aa,bb}.{wiki,un}.txt`` and the SemEval-layout ``aa-bb.test.{data,gold}.txt``) with tiny
fastText and grid settings passed through the recipe's environment knobs (~30 s on one core).
The scores are checked against an independent recomputation from the files the recipe says each
row uses, so a row wired to the wrong vectors or mapping fails.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO, run
from scipy.stats import pearsonr, spearmanr

from fairseq_xdomain.embeddings.vecio import load_vec
from fairseq_xdomain.report import build_report

RECIPE = REPO / "recipes" / "wordsim.sh"
TINY = {"DIM": "16", "FT_EPOCH": "3", "MIN_COUNT": "3", "BUCKET": "20000", "FT_THREADS": "1",
        "MAX_VOCAB": "2000", "EPOCH_SIZE": "640", "SEEDS": "123", "EPOCHS": "1",
        "REFINEMENTS": "1", "THREADS": "1", "OMP_NUM_THREADS": "1",
        "GRID_ARGS": "--dis-hid-dim 32 --dis-most-frequent 500 --dico-max-rank 500 "
                     "--criterion-max-rank 500 --knn-backend torch"}
ROWS = {"wiki-wiki": "Wiki-Wiki", "un-wiki": "UN-Wiki w/o Joint PT",
        "un-wiki-joint": "UN-Wiki w/ Joint PT"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("wsdata")
    run(["xdomain-synth", "mismatched", "--out", d, "--n-lines", 8000, "--vocab-size", 600,
         "--n-wordsim", 200, "--n-dict-test", 100, "--n-dict-train", 100, "--min-count", 5])
    return d


def recipe(data, tmp, *extra, check=True):
    return run(["bash", RECIPE, "--corpora", data, "--semeval", data, "--src-lang", "aa",
                "--langs", "bb", "--no-tokenize", "--results", tmp / "results", "--work",
                tmp / "work", *extra], env=TINY, check=check)


def test_missing_input_one_line(data, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("aa.wiki.txt", "bb.wiki.txt", "aa-bb.test.data.txt", "aa-bb.test.gold.txt"):
        (partial / name).write_bytes((data / name).read_bytes())
    proc = run(["bash", RECIPE, "--corpora", partial, "--semeval", partial, "--src-lang", "aa",
                "--langs", "bb", "--results", tmp_path / "r", "--work", tmp_path / "w"],
               check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(partial / "aa.un.txt") in lines[0] and "UN Parallel Corpus" in lines[0]
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()
    # the Wiki-Wiki row alone does not need the UN corpus
    ok = run(["bash", RECIPE, "--corpora", partial, "--semeval", partial, "--src-lang", "aa",
              "--langs", "bb", "--rows", "wiki-wiki", "--check-only"])
    assert "aa-bb Wiki-Wiki" in ok.stdout and "UN-Wiki" not in ok.stdout
    # a missing SemEval file names the file and where to get the data
    proc = run(["bash", RECIPE, "--corpora", data, "--semeval", tmp_path / "nosemeval",
                "--src-lang", "aa", "--langs", "bb", "--rows", "wiki-wiki"], check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 2  # data and gold file
    assert str(tmp_path / "nosemeval" / "aa-bb.test.data.txt") in lines[0]
    assert "alt.qcri.org/semeval2017/task2" in lines[0]


def _cosines(src_vec, tgt_vec, pairs_file, W=None):
    """Independent recomputation: cosine of the terms' vectors (exact, else lower-cased), the
    source rows mapped as x @ W."""
    s, t = load_vec(src_vec), load_vec(tgt_vec)

    def vec(wv, term):
        return wv.vectors[wv.word2id.get(term, wv.word2id.get(term.lower()))].astype(np.float64)

    out = []
    for line in pairs_file.read_text(encoding="utf-8").splitlines():
        a, b = line.split("\t")
        va, vb = vec(s, a), vec(t, b)
        va = va @ W if W is not None else va
        out.append(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
    return np.array(out)


def test_end_to_end_tiny(data, tmp_path):
    proc = recipe(data, tmp_path)
    res, work = tmp_path / "results", tmp_path / "work"
    gold = np.loadtxt(data / "aa-bb.test.gold.txt")
    sep, joint = work / "emb" / "separate", work / "emb" / "joint" / "aa.un-bb.wiki"
    uses = {"wiki-wiki": (sep / "aa.wiki.vec", sep / "bb.wiki.vec"),
            "un-wiki": (sep / "aa.un.vec", sep / "bb.wiki.vec"),
            "un-wiki-joint": (joint / "aa.vec", joint / "bb.vec")}
    for row, setting in ROWS.items():
        rec = json.loads((res / "aa-bb" / f"{row}.json").read_text())
        W_path = work / "grid" / f"aa-bb.{row}" / "selected_W.npy"
        assert (rec["kind"], rec["pair"], rec["setting"], rec["space"]) == (
            "wordsim", "aa-bb", setting, "aligned")
        assert rec["mapping"] == str(W_path) and rec["n_pairs"] == 200
        assert rec["src_emb"] == str(uses[row][0]) and rec["tgt_emb"] == str(uses[row][1])
        expect = _cosines(*uses[row], data / "aa-bb.test.data.txt", np.load(W_path))
        scores = np.loadtxt(res / "aa-bb" / f"{row}.scores.txt")
        assert np.allclose(scores, expect, atol=1e-5)
        r, rho = pearsonr(expect, gold)[0], spearmanr(expect, gold)[0]
        assert rec["harmonic_mean"] == pytest.approx(2 * r * rho / (r + rho), abs=1e-4)
    # the source vectors of the rows come from different corpora (UN vs Wiki)
    assert load_vec(uses["un-wiki"][0]).words != load_vec(uses["wiki-wiki"][0]).words
    # xdomain-report reads them as the paper's three Table 6 rows (and the recipe printed it)
    report = build_report(res, plots=False)
    t6 = {x["canonical"]: x for x in json.loads(report["json"].read_text())["table6"]}
    assert set(t6) == set(ROWS.values())
    for row, setting in ROWS.items():
        rec = json.loads((res / "aa-bb" / f"{row}.json").read_text())
        assert t6[setting]["pair"] == "aa-bb"
        assert t6[setting]["harmonic_mean"] == rec["harmonic_mean"]
    assert "| UN-Wiki w/ Joint PT |" in proc.stdout
    cfg = json.loads((res / "recipe.json").read_text())
    assert cfg["dim"] == 16 and cfg["corpora"]["aa.un"] == str(data / "aa.un.txt")
    # rerunning resumes: every step is skipped and no result is rewritten
    before = {p: p.stat().st_mtime_ns for p in (res / "aa-bb").glob("*.json")}
    again = recipe(data, tmp_path)
    assert again.stderr.count("skip:") >= 3 + 3 + 3  # corpora, grids, word similarity
    assert {p: p.stat().st_mtime_ns for p in (res / "aa-bb").glob("*.json")} == before


def test_joint_space_without_mapping(data, tmp_path):
    """JOINT_ALIGN=0 scores the joint row in the joint space as trained (no grid for it)."""
    env_extra = {**TINY, "JOINT_ALIGN": "0"}
    run(["bash", RECIPE, "--corpora", data, "--semeval", data, "--src-lang", "aa", "--langs",
         "bb", "--no-tokenize", "--rows", "un-wiki-joint", "--results", tmp_path / "results",
         "--work", tmp_path / "work"], env=env_extra)
    rec = json.loads((tmp_path / "results" / "aa-bb" / "un-wiki-joint.json").read_text())
    assert rec["space"] == "joint" and rec["mapping"] is None
    assert not (tmp_path / "work" / "grid" / "aa-bb.un-wiki-joint").exists()
    assert list((tmp_path / "work" / "emb" / "separate").glob("*.vec")) == []  # not needed
    joint = tmp_path / "work" / "emb" / "joint" / "aa.un-bb.wiki"
    expect = _cosines(joint / "aa.vec", joint / "bb.vec", data / "aa-bb.test.data.txt")
    scores = np.loadtxt(tmp_path / "results" / "aa-bb" / "un-wiki-joint.scores.txt")
    assert np.allclose(scores, expect, atol=1e-5)
