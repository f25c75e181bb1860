"""``xdomain-run wordsim`` (paper Table 6): input checks, plan, and a tiny end-to-end run.

The end-to-end run uses a generated mismatched pair (``xdomain-synth mismatched``: corpora
``{aa,bb}.{wiki,un}.txt`` and the SemEval-layout ``aa-bb.test.{data,gold}.txt``) with tiny
fastText and grid settings given as overrides of the ``tiny`` preset (~30 s on one core).
The scores are checked against an independent recomputation from the files the driver says each
row uses, so a row wired to the wrong vectors or mapping fails. ``--seeds``: each seed's run
under ``seed-S`` and the report's mean ± sd checked against a hand computation (statistics) from
the seeds' own result files.
"""
from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
from conftest import run
from scipy.stats import pearsonr, spearmanr

from fairseq_xdomain.embeddings.vecio import load_vec
from fairseq_xdomain.report import build_report
from fairseq_xdomain.results import WordsimResult, write_result

TINY = ["--preset", "tiny", "--dim", "16", "--ft-epoch", "3", "--min-count", "3",
        "--set", "fasttext.bucket=20000", "--max-vocab", "2000", "--epoch-size", "640",
        "--grid-seeds", "123", "--epochs", "1", "--refinements", "1", "--set", "grid.threads=1",
        "--set", "grid.dis_hid_dim=32", "--set", "grid.dis_most_frequent=500",
        "--set", "grid.dico_max_rank=500", "--set", "grid.criterion_max_rank=500",
        "--set", "grid.knn_backend=torch"]
ROWS = {"wiki-wiki": ("Wiki-Wiki", "separate", "Wiki-Wiki"),
        "un-wiki": ("UN-Wiki", "separate", "UN-Wiki w/o Joint PT"),
        "un-wiki-joint": ("UN-Wiki", "joint", "UN-Wiki w/ Joint PT")}
ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("wsdata")
    run(["xdomain-synth", "mismatched", "--out", d, "--n-lines", 8000, "--vocab-size", 600,
         "--n-wordsim", 200, "--n-dict-test", 100, "--n-dict-train", 100, "--min-count", 5])
    return d


def wordsim(data, tmp, *extra, check=True):
    return run(["xdomain-run", "wordsim", "--corpora", data, "--semeval", data, "--src-lang",
                "aa", "--langs", "bb", "--no-tokenize", "--results", tmp / "results", "--work",
                tmp / "work", *TINY, *extra], env=ENV, check=check)


def test_missing_input_one_line(data, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("aa.wiki.txt", "bb.wiki.txt", "aa-bb.test.data.txt", "aa-bb.test.gold.txt"):
        (partial / name).write_bytes((data / name).read_bytes())
    proc = run(["xdomain-run", "wordsim", "--corpora", partial, "--semeval", partial,
                "--src-lang", "aa", "--langs", "bb", "--results", tmp_path / "r", "--work",
                tmp_path / "w"], check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(partial / "aa.un.txt") in lines[0] and "UN Parallel Corpus" in lines[0]
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()
    # the Wiki-Wiki row alone does not need the UN corpus
    ok = run(["xdomain-run", "wordsim", "--corpora", partial, "--semeval", partial,
              "--src-lang", "aa", "--langs", "bb", "--rows", "wiki-wiki", "--check-only"])
    assert "aa-bb wiki-wiki" in ok.stdout and "un-wiki" not in ok.stdout
    # missing SemEval files: one line naming both files and where to get the data
    proc = run(["xdomain-run", "wordsim", "--corpora", data, "--semeval",
                tmp_path / "nosemeval", "--src-lang", "aa", "--langs", "bb", "--rows",
                "wiki-wiki"], check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {tmp_path / 'nosemeval' / 'aa-bb.test.data.txt'}:")
    assert str(tmp_path / "nosemeval" / "aa-bb.test.gold.txt") in lines[0]
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
    proc = wordsim(data, tmp_path)
    res, work = tmp_path / "results", tmp_path / "work"
    gold = np.loadtxt(data / "aa-bb.test.gold.txt")
    sep, joint = work / "emb" / "separate", work / "emb" / "joint" / "aa.un-bb.wiki"
    uses = {"wiki-wiki": (sep / "aa.wiki.vec", sep / "bb.wiki.vec"),
            "un-wiki": (sep / "aa.un.vec", sep / "bb.wiki.vec"),
            "un-wiki-joint": (joint / "aa.vec", joint / "bb.vec")}
    for row, (domains, init, _) in ROWS.items():
        rec = json.loads((res / "aa-bb" / f"{row}.json").read_text())
        W_path = rec["details"]["mapping"]
        assert W_path.startswith(str(work / "grid" / f"aa-bb.{row}.")), W_path
        assert W_path.endswith("/selected_W.npy")
        assert (rec["kind"], rec["pair"], rec["domains"], rec["init"], rec["space"]) == (
            "wordsim", "aa-bb", domains, init, "aligned")
        assert rec["n_pairs"] == 200
        assert rec["details"]["src_emb"] == str(uses[row][0])
        assert rec["details"]["tgt_emb"] == str(uses[row][1])
        expect = _cosines(*uses[row], data / "aa-bb.test.data.txt", np.load(W_path))
        scores = np.loadtxt(res / "aa-bb" / f"{row}.scores.txt")
        assert np.allclose(scores, expect, atol=1e-5)
        r, rho = pearsonr(expect, gold)[0], spearmanr(expect, gold)[0]
        assert rec["harmonic_mean"] == pytest.approx(2 * r * rho / (r + rho), abs=1e-4)
    # the source vectors of the rows come from different corpora (UN vs Wiki)
    assert load_vec(uses["un-wiki"][0]).words != load_vec(uses["wiki-wiki"][0]).words
    # xdomain-report reads them as the paper's three Table 6 rows (and the driver printed it)
    report = build_report(res, tmp_path / "check" / "report.md", plots=False)
    t6 = {x["canonical"]: x for x in json.loads(report["json"].read_text())["table6"]}
    assert set(t6) == {label for _, _, label in ROWS.values()}
    for row, (_, _, label) in ROWS.items():
        rec = json.loads((res / "aa-bb" / f"{row}.json").read_text())
        assert t6[label]["pair"] == "aa-bb"
        assert t6[label]["harmonic_mean"] == rec["harmonic_mean"]
    assert "| UN-Wiki w/ Joint PT |" in proc.stdout
    cfg = json.loads((res / "run.json").read_text())
    assert cfg["config"]["settings"]["fasttext"]["dim"] == 16
    assert cfg["config"]["corpora"]["aa.un"] == str(data / "aa.un.txt")
    assert cfg["seed"] == [123] and cfg["version"] and cfg["wall_s"] >= 0
    # rerunning resumes: every step is up to date and no result is rewritten
    before = {p: p.stat().st_mtime_ns for p in (res / "aa-bb").glob("*.json")}
    again = wordsim(data, tmp_path)
    steps = [line for line in again.stdout.splitlines() if line.startswith("[")]
    assert len(steps) == 3 + 3 + 1 + 3 + 1 and all(s.endswith(": up to date") for s in steps)
    assert {p: p.stat().st_mtime_ns for p in (res / "aa-bb").glob("*.json")} == before


def test_joint_space_without_mapping(data, tmp_path):
    """--no-joint-align scores the joint row in the joint space as trained (no grid for it)."""
    wordsim(data, tmp_path, "--rows", "un-wiki-joint", "--no-joint-align")
    rec = json.loads((tmp_path / "results" / "aa-bb" / "un-wiki-joint.json").read_text())
    assert rec["space"] == "joint" and rec["details"]["mapping"] is None
    assert not (tmp_path / "work" / "grid").exists()
    assert not (tmp_path / "work" / "emb" / "separate").exists()  # not needed
    joint = tmp_path / "work" / "emb" / "joint" / "aa.un-bb.wiki"
    expect = _cosines(joint / "aa.vec", joint / "bb.vec", data / "aa-bb.test.data.txt")
    scores = np.loadtxt(tmp_path / "results" / "aa-bb" / "un-wiki-joint.scores.txt")
    assert np.allclose(scores, expect, atol=1e-5)


def _hand_mean_sd(values, digits=3):
    """mean ± sample sd of ``values`` by hand (statistics), as the report prints it."""
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f} (n=2)"


def test_seeds_mean_sd_and_each_seed(data, tmp_path):
    """--seeds 2,3: the whole run once per seed (fastText's seed), under RESULTS/seed-S and
    WORK/seed-S; RESULTS/report.md gives mean ± sd over the seeds' own result files and each
    seed's value. (The joint row in its joint space: no grid, a few seconds per seed.)"""
    proc = wordsim(data, tmp_path, "--rows", "un-wiki-joint", "--no-joint-align",
                   "--seeds", "2,3")
    res, work = tmp_path / "results", tmp_path / "work"
    recs = {s: json.loads((res / f"seed-{s}" / "aa-bb" / "un-wiki-joint.json").read_text())
            for s in (2, 3)}
    assert [recs[s]["config"]["seed"] for s in (2, 3)] == [2, 3]
    # the seed reached fastText: different vectors, different scores
    vecs = {s: load_vec(work / f"seed-{s}" / "emb" / "joint" / "aa.un-bb.wiki" / "aa.vec")
            for s in (2, 3)}
    assert vecs[2].words == vecs[3].words  # same corpus, same vocabulary
    assert not np.allclose(vecs[2].vectors, vecs[3].vectors)
    hm = [recs[s]["harmonic_mean"] for s in (2, 3)]
    assert hm[0] != hm[1]
    run_rec = json.loads((res / "seed-2" / "run.json").read_text())
    assert run_rec["seed"] == 2 and run_rec["config"]["settings"]["fasttext"]["seed"] == 2
    assert run_rec["config"]["settings"]["grid"]["seeds"] == [123]  # --grid-seeds
    # the report over both seeds: mean ± sd by hand, each seed's value in the detail table
    md = (res / "report.md").read_text()
    cell = _hand_mean_sd(hm)
    assert f"| UN-Wiki w/ Joint PT | {cell} [100% cov., joint] (–) |" in md, md
    for s, (rec, h) in enumerate(zip(recs.values(), hm), start=2):
        assert (f"| UN-Wiki w/ Joint PT | aa-bb | {s} | {h:.3f} | {rec['pearson']:.3f} | "
                f"{rec['spearman']:.3f} | 100% |") in md, md
    t6 = json.loads((res / "report.json").read_text())["table6"]
    assert len(t6) == 1 and t6[0]["mean_sd"]["n"] == 2
    assert t6[0]["harmonic_mean"] == pytest.approx(statistics.mean(hm), abs=1e-12)
    assert t6[0]["mean_sd"]["sd"] == pytest.approx(statistics.stdev(hm), abs=1e-12)
    assert cell in proc.stdout  # the driver printed Table 6 over the seeds


def test_seeds_headline_mean_sd(tmp_path):
    """The headline's word-similarity row over two seeds: mean ± sd of each side (by hand) and
    Δ of the means; the per-seed files written as the driver writes them (config seed)."""
    hm = {("separate", 2): 0.41, ("separate", 3): 0.47, ("joint", 2): 0.52, ("joint", 3): 0.50}
    for (init, seed), h in hm.items():
        write_result(tmp_path / f"seed-{seed}" / "en-de" / f"{init}.json", WordsimResult(
            space="aligned", harmonic_mean=h, pearson=h, spearman=h, coverage=1.0, pair="en-de",
            domains="UN-Wiki", init=init, config={"seed": seed}))
    head = "\n".join(build_report(tmp_path, plots=False)["headline"])
    sep, joint = [hm[("separate", x)] for x in (2, 3)], [hm[("joint", x)] for x in (2, 3)]
    delta = statistics.mean(joint) - statistics.mean(sep)
    assert (f"| word similarity (UN-Wiki; unsupervised selection) | en-de | "
            f"{_hand_mean_sd(sep)} | {_hand_mean_sd(joint)} | {delta:+.3f} |") in head, head


def test_fasttext_seed_reproducible(tmp_path):
    """The same fastText seed gives the same vectors (one thread), another seed other ones;
    seed 0 is fastText's default."""
    from fairseq_xdomain.embeddings.fasttext_train import FastTextConfig, train_separate

    rng = np.random.default_rng(0)
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(" ".join(f"w{i}" for i in rng.integers(0, 80, 12)) + "\n"
                              for _ in range(600)))

    def vectors(seed, name):
        cfg = FastTextConfig(dim=8, epoch=1, min_count=1, thread=1, minn=0, maxn=0, seed=seed)
        train_separate(corpus, tmp_path / name, cfg, save_bin=False)
        return load_vec(tmp_path / f"{name}.vec").vectors

    a, b, c = vectors(5, "a"), vectors(5, "b"), vectors(6, "c")
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.array_equal(vectors(0, "d"), vectors(0, "e"))


def test_seeds_zero_and_one_refused(tmp_path):
    """fastText's seeds 0 and 1 are the same (std::minstd_rand): one line, exit 2, nothing made."""
    proc = run(["xdomain-run", "wordsim", "--corpora", tmp_path, "--semeval", tmp_path,
                "--results", tmp_path / "r", "--work", tmp_path / "w", "--seeds", "0,1"],
               check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "0 and 1" in lines[0], proc.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "w").exists()


def test_wordsim_plan_shape_and_trains_nothing(data, tmp_path):
    """``--plan`` (issue 23, point 1): the plan's shape, and that it trains nothing (no
    ``.vec``, no checkpoint, no mapping, no work folder)."""
    proc = run(["xdomain-run", "wordsim", "--corpora", data, "--semeval", data, "--src-lang",
                "aa", "--langs", "bb", "--no-tokenize", "--results", tmp_path / "results",
                "--work", tmp_path / "work", *TINY, "--plan"], env=ENV)
    first = proc.stdout.splitlines()[0]
    assert first.startswith("xdomain-run wordsim: preset tiny") and "nothing is trained" in first
    plan = json.loads((tmp_path / "results" / "plan.json").read_text())
    assert plan["kind"] == "plan" and plan["total_est_s"] > 0
    steps = plan["steps"]
    names = [s["name"] for s in steps]
    # every row's vectors, grid and scoring, fastText once per (language, domain) and the
    # joint space once, then the report
    assert names == [
        "fasttext.separate.aa.wiki", "fasttext.separate.bb.wiki", "fasttext.separate.aa.un",
        "grid.aa-bb.wiki-wiki", "wordsim.aa-bb.wiki-wiki", "grid.aa-bb.un-wiki",
        "wordsim.aa-bb.un-wiki", "fasttext.joint.aa.un-bb.wiki", "grid.aa-bb.un-wiki-joint",
        "wordsim.aa-bb.un-wiki-joint", "report"]
    for s in steps:
        assert set(s) >= {"name", "est_s", "est_peak_ram_mb", "est_peak_gpu_mb", "done"}
        assert s["done"] is False and s["est_s"] > 0 and s["est_peak_ram_mb"] > 0
        assert s["est_peak_gpu_mb"] is None  # nothing runs on a device on this CPU run
    assert plan["total_est_s"] == pytest.approx(sum(s["est_s"] for s in steps), abs=1)
    assert plan["peak_ram_mb"] == max(round(s["est_peak_ram_mb"]) for s in steps)
    # the probes saw the real shapes: the grid's settings and the corpus's tokens
    grid = next(s for s in steps if s["name"] == "grid.aa-bb.wiki-wiki")
    assert "1 seeds x 1 epochs x 640 samples" in grid["how"] and "x 16" in grid["how"]
    ft = steps[0]["how"]
    assert "x 3 epochs" in ft and int(ft.split(" tokens")[0].replace(",", "")) > 30_000
    assert "Total ETA" in proc.stdout
    # nothing trained, nothing written but the plan
    assert not list(tmp_path.rglob("*.vec")) and not list(tmp_path.rglob("*.bin"))
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.npy"))
    assert not (tmp_path / "work").exists()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["plan.json", "plan.md"]
