"""``xdomain-run ubli --preset tiny`` end to end on a small generated pair (overrides make it
~1 min on one core): sampling, tokenization, fastText separate + joint, the grid for both
initialisations, baselines, STDM and Tables 2/3; a rerun skips everything and a changed setting
recomputes exactly the steps that depend on it."""
from __future__ import annotations

import json

import pytest
from conftest import run

from fairseq_xdomain.embeddings.vecio import load_vec
from fairseq_xdomain.results import read_result

SMALL = ["--preset", "tiny", "--ft-epoch", "3", "--min-count", "3",
         "--set", "fasttext.bucket=20000", "--max-vocab", "2000", "--epoch-size", "640",
         "--seeds", "123", "--epochs", "1", "--refinements", "1", "--set", "grid.threads=1",
         "--set", "grid.dis_hid_dim=32", "--set", "grid.dis_most_frequent=500",
         "--set", "grid.dico_max_rank=500", "--set", "grid.criterion_max_rank=500",
         "--set", "grid.knn_backend=torch", "--set", "stdm.docs_per_corpus=200",
         "--set", "stdm.svd_dim=20", "--set", "tokenize.workers=1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("ublidata")
    run(["xdomain-synth", "mismatched", "--out", d, "--n-lines", 6000, "--vocab-size", 600,
         "--n-dict-test", 100, "--n-dict-train", 100, "--min-count", 5])
    return d


def ubli(data, tmp, dim):
    return run(["xdomain-run", "ubli", "--src-lang", "aa", "--tgt-lang", "bb",
                "--src-corpus", data / "aa.wiki.txt", "--src-domain", "Wiki",
                "--tgt-corpus", data / "bb.un.txt", "--tgt-domain", "UN",
                "--stdm-corpus", data / "bb.wiki.txt", "--dico", data / "dict.aa-bb.test.txt",
                "--sample-lines", 4000, "--results", tmp / "results", "--work", tmp / "work",
                *SMALL, "--dim", dim], env={"OMP_NUM_THREADS": "1"})


def steps(proc) -> dict:
    """{step: "up to date" | "ran"} from the progress lines."""
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("["):
            name, _, what = line.split("] ", 1)[1].partition(": ")
            out[name] = "up to date" if what == "up to date" else "ran"
    return out


def test_ubli_driver_tiny(data, tmp_path):
    proc = ubli(data, tmp_path, 16)
    res, work = tmp_path / "results" / "aa-bb", tmp_path / "work" / "aa-bb"
    first = steps(proc)
    assert set(first.values()) == {"ran"} and len(first) == 3 + 3 + 3 + 2 + 4 + 2
    # sampled (4,000 of 6,000 lines), then tokenized with the English rules (no rules for aa)
    assert len((work / "corpus" / "aa.src.sample").read_text().splitlines()) == 4000
    assert len((work / "corpus" / "aa.src.tok").read_text().splitlines()) == 4000
    assert load_vec(work / "emb" / "separate.aa.vec").dim == 16
    assert load_vec(work / "emb" / "joint" / "bb.vec").dim == 16
    # typed results for Tables 2/3, labelled
    grids = {init: read_result(res / f"grid_{init}.json") for init in ("separate", "joint")}
    for init, r in grids.items():
        assert (r.pair, r.domains, r.init, r.method) == ("aa-bb", "Wiki-UN", init, "muse")
    copy = read_result(res / "baseline_copy_separate" / "baseline_copy.json")
    assert copy.method == "copy" and copy.init == "separate"
    ortho = read_result(res / "baseline_ortho_separate" / "baseline_ortho.json")
    assert ortho.method == "ortho" and ortho.p_at_1 is not None
    assert read_result(res / "stdm.json").stdm is not None
    report = json.loads((res / "report.json").read_text())
    (row,) = report["table2"]
    assert row["pair"] == "aa-bb"
    assert row["separate"] == pytest.approx(grids["separate"].p_at_1)
    assert row["joint"] == pytest.approx(grids["joint"].p_at_1)
    assert "## Table 2" in proc.stdout and "## Table 3" in proc.stdout
    # Table 3 has the orthographic baseline beside the copying baseline (issue 16 point 4)
    t3 = {r["method"]: r for r in report["table3"]}
    assert t3["ortho"]["acc1"] == pytest.approx(ortho.p_at_1)
    assert t3["ortho"]["copy_baseline"] == pytest.approx(copy.p_at_1)
    # run.json: the full configuration, seed(s), version, wall time
    rec = json.loads((res / "run.json").read_text())
    assert rec["config"]["preset"] == "tiny" and rec["config"]["sample_lines"] == 4000
    assert rec["config"]["settings"]["fasttext"]["dim"] == 16
    assert rec["config"]["settings"]["grid"]["dis_hid_dim"] == 32 and rec["seed"] == [123]
    assert rec["version"] and rec["wall_s"] > 0 and len(rec["steps"]) == len(first)

    # nothing changed: everything is up to date
    assert set(steps(ubli(data, tmp_path, 16)).values()) == {"up to date"}
    # another vector size: the vectors and everything built on them, nothing else
    again = steps(ubli(data, tmp_path, 8))
    assert {s for s, v in again.items() if v == "ran"} == {
        "fasttext.separate.aa", "fasttext.separate.bb", "fasttext.joint", "grid.separate",
        "grid.joint", "baseline.copy.separate", "baseline.identical.separate",
        "baseline.identical.joint", "baseline.ortho.separate", "report"}
    assert load_vec(work / "emb" / "separate.aa.vec").dim == 8
    assert json.loads((res / "run.json").read_text())["config"]["settings"]["fasttext"]["dim"] == 8
    # the report (rerun after the first run.json existed) counts run.json as an intermediate
    # record, never as a file it could not read
    skipped = json.loads((res / "report.json").read_text())["skipped"]
    assert "no 'kind' field" not in skipped, skipped


def test_separate_vectors_reused_across_pairs(data, tmp_path):
    """Two pairs with the same source corpus under one --work folder: the source's separate
    vectors are trained once and reused (same file), the other side's are trained."""
    base = ["xdomain-run", "ubli", "--src-lang", "aa", "--tgt-lang", "bb", "--src-corpus",
            data / "aa.wiki.txt", "--src-domain", "Wiki", "--dico", data / "dict.aa-bb.test.txt",
            "--no-tokenize", "--results", tmp_path / "results", "--work", tmp_path / "work",
            *SMALL, "--dim", 8]
    run([*base, "--tgt-corpus", data / "bb.un.txt", "--tgt-domain", "UN", "--name", "p1"],
        env={"OMP_NUM_THREADS": "1"})
    run([*base, "--tgt-corpus", data / "bb.wiki.txt", "--tgt-domain", "Wiki", "--name", "p2"],
        env={"OMP_NUM_THREADS": "1"})
    stamps = {p: json.loads((tmp_path / "work" / p / ".stamps" / "fasttext.separate.aa.json")
                            .read_text())["counts"] for p in ("p1", "p2")}
    assert (stamps["p1"]["reused"], stamps["p2"]["reused"]) == (False, True)
    assert stamps["p1"]["cache"] == stamps["p2"]["cache"]
    vec = [(tmp_path / "work" / p / "emb" / "separate.aa.vec").read_bytes() for p in ("p1", "p2")]
    assert vec[0] == vec[1]
    tgt = json.loads((tmp_path / "work" / "p2" / ".stamps" / "fasttext.separate.bb.json")
                     .read_text())["counts"]
    assert tgt["reused"] is False
