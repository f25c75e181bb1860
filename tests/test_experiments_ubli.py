"""``xdomain-run ubli --preset tiny`` end to end on a small generated pair (overrides make it
~1 min on one core): sampling, tokenization, fastText separate + joint, the grid for both
initialisations, baselines, STDM, the methods beyond the paper (W = I, orthography-aware
retrieval, vocabulary reallocation, self-learning) and the report; a rerun skips everything and
a changed setting recomputes exactly the steps that depend on it."""
from __future__ import annotations

import json

import pytest
from conftest import run

from fairseq_xdomain.embeddings.vecio import load_vec
from fairseq_xdomain.results import read_result
from fairseq_xdomain.ubli_methods import BEYOND as METHOD_OF

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


def ubli(data, tmp, dim, *extra):
    return run(["xdomain-run", "ubli", "--src-lang", "aa", "--tgt-lang", "bb",
                "--src-corpus", data / "aa.wiki.txt", "--src-domain", "Wiki",
                "--tgt-corpus", data / "bb.un.txt", "--tgt-domain", "UN",
                "--stdm-corpus", data / "bb.wiki.txt", "--dico", data / "dict.aa-bb.test.txt",
                "--sample-lines", 4000, "--results", tmp / "results", "--work", tmp / "work",
                *SMALL, "--dim", dim, *extra], env={"OMP_NUM_THREADS": "1"})


def steps(proc) -> dict:
    """{step: "up to date" | "ran"} from the progress lines."""
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("["):
            name, _, what = line.split("] ", 1)[1].partition(": ")
            out[name] = "up to date" if what == "up to date" else "ran"
    return out


#: beyond the paper: {step: result folder under RESULTS/NAME}
BEYOND = {"beyond.identity.joint": "beyond_identity_joint",
          "beyond.ortho_identity.joint": "beyond_ortho_identity_joint",
          "beyond.ortho_grid.joint": "beyond_ortho_grid_joint",
          "beyond.reallocation.joint": "beyond_reallocation_joint",
          "beyond.self_learning.separate": "beyond_self_learning_separate"}


def test_ubli_driver_tiny(data, tmp_path):
    proc = ubli(data, tmp_path, 16)
    res, work = tmp_path / "results" / "aa-bb", tmp_path / "work" / "aa-bb"
    first = steps(proc)
    # prep 3+3+3, fastText 3, grids 2, baselines 4, STDM 1, beyond 5 + word counts 2, report 1
    assert set(first.values()) == {"ran"} and len(first) == 3 + 3 + 3 + 2 + 4 + 2 + 5 + 2
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
    stdm = read_result(res / "stdm.json")
    assert (stdm.pair, stdm.domains) == ("aa-bb", "Wiki/UN") and stdm.stdm > 0
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
    assert t3["ortho"]["stdm"] == pytest.approx(stdm.stdm)  # Table 3's STDM column is its value
    # beyond the paper: one labelled result each, with its wall time, and a row in the report
    beyond = {step: read_result(res / folder / "results.json") for step, folder in BEYOND.items()}
    # each written under its final name, the one method table's (ubli_methods.py)
    assert {step: r.method for step, r in beyond.items()} == {
        step: METHOD_OF[step.split(".")[1]].name for step in beyond}
    assert {r.method for r in beyond.values()} == {"identity", "identity+ortho", "evaluate+ortho",
                                                   "reallocate", "self-learning"}
    for step, r in beyond.items():
        init = step.rsplit(".", 1)[1]
        assert (r.pair, r.domains, r.init) == ("aa-bb", "Wiki-UN", init), step
        assert r.p_at_1 is not None and r.wall_s > 0 and "csls_p@1_nonident" in r.metrics, step
    assert beyond["beyond.ortho_grid.joint"].config["mapping"].endswith("selected_W.npy")
    assert "csls_ortho_p@1" in beyond["beyond.ortho_identity.joint"].metrics
    assert beyond["beyond.self_learning.separate"].config["seed"] == 123
    rows = {(d["method"], d["init"]): d for d in report["ubli_methods"]}
    assert {"identity", "identity+ortho", "evaluate+ortho", "reallocate", "reallocate+ortho"} == {
        m for m, i in rows if i == "joint"} - {"muse", "identical"}
    # reallocation is scored with orthography-aware retrieval too: its second row
    realloc = beyond["beyond.reallocation.joint"]
    assert rows["reallocate+ortho", "joint"]["p_at_1"] == pytest.approx(
        realloc.metrics["csls_ortho_p@1"])
    assert realloc.selected["ortho_weight_selection"]["criterion"] == "two_view_agreement"
    assert rows["self-learning", "separate"]["wall_s"] == pytest.approx(
        beyond["beyond.self_learning.separate"].wall_s)
    assert rows["identity+ortho", "joint"]["p_at_1"] == pytest.approx(
        beyond["beyond.ortho_identity.joint"].metrics["csls_ortho_p@1"])
    # W = I on the joint vectors: the number xdomain-ubli evaluate gives on them directly
    direct = run(["xdomain-ubli", "evaluate", "--src-emb", work / "emb" / "joint" / "aa.vec",
                  "--tgt-emb", work / "emb" / "joint" / "bb.vec", "--dico-eval",
                  data / "dict.aa-bb.test.txt", "--max-vocab", 2000, "--knn-backend", "torch",
                  "--criterion-max-rank", 500, "--out", tmp_path / "direct"],
                 env={"OMP_NUM_THREADS": "1"})
    assert direct.returncode == 0
    identity = read_result(tmp_path / "direct" / "results.json")
    assert rows["identity", "joint"]["p_at_1"] == pytest.approx(identity.p_at_1)
    assert rows["identity", "joint"]["p_at_1_nonident"] == pytest.approx(
        identity.metrics["csls_p@1_nonident"])
    # reallocation counted the corpora fastText trained on and reports its split
    split = json.loads((work / "beyond" / "reallocation_joint" / "reallocation.json").read_text())
    assert split["n_shared"] > 0
    assert (f"{split['n_src_specific']}+{split['n_tgt_specific']} of {split['n_shared']} "
            "shared words split") in rows["reallocate", "joint"]["notes"]
    counts = (work / "corpus" / "aa.counts").read_text().split("\n")[0].split()
    assert int(counts[1]) == max(int(line.split()[1]) for line in
                                 (work / "corpus" / "aa.counts").read_text().splitlines())
    assert "## UBLI, every method" in proc.stdout and "robust self-learning" in proc.stdout
    # run.json: the full configuration, seed(s), version, wall time
    rec = json.loads((res / "run.json").read_text())
    assert rec["config"]["preset"] == "tiny" and rec["config"]["sample_lines"] == 4000
    assert rec["config"]["settings"]["fasttext"]["dim"] == 16
    assert rec["config"]["settings"]["grid"]["dis_hid_dim"] == 32 and rec["seed"] == [123]
    assert rec["version"] and rec["wall_s"] > 0 and len(rec["steps"]) == len(first)

    # nothing changed: everything is up to date
    assert set(steps(ubli(data, tmp_path, 16)).values()) == {"up to date"}
    # another vector size: the vectors and everything built on them, nothing else (two of
    # the methods beyond the paper, to keep the test short: no word counts then)
    again = steps(ubli(data, tmp_path, 8, "--set", "beyond.methods=[identity, ortho_grid]"))
    assert {s for s, v in again.items() if v == "ran"} == {
        "fasttext.separate.aa", "fasttext.separate.bb", "fasttext.joint", "grid.separate",
        "grid.joint", "baseline.copy.separate", "baseline.identical.separate",
        "baseline.identical.joint", "baseline.ortho.separate", "beyond.identity.joint",
        "beyond.ortho_grid.joint", "report"}
    assert load_vec(work / "emb" / "separate.aa.vec").dim == 8
    assert json.loads((res / "run.json").read_text())["config"]["settings"]["fasttext"]["dim"] == 8
    # the methods left out of beyond.methods leave the results folder and the report
    assert {p.name for p in res.glob("beyond_*")} == {"beyond_identity_joint",
                                                      "beyond_ortho_grid_joint"}
    methods = {d["method"] for d in json.loads((res / "report.json").read_text())["ubli_methods"]}
    assert {"identity", "evaluate+ortho"} <= methods
    assert not methods & {"identity+ortho", "reallocate", "reallocate+ortho", "self-learning"}
    assert (work / "beyond" / "self_learning_separate" / "results.json").exists()
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
            *SMALL, "--dim", 8, "--set", "beyond.methods=[]"]
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
    # --set beyond.methods=[] turns the methods beyond the paper off
    assert not list((tmp_path / "results" / "p1").glob("beyond_*"))


def test_unknown_beyond_method(data, tmp_path):
    proc = run(["xdomain-run", "ubli", "--src-lang", "aa", "--tgt-lang", "bb", "--src-corpus",
                data / "aa.wiki.txt", "--tgt-corpus", data / "bb.un.txt", "--dico",
                data / "dict.aa-bb.test.txt", "--no-tokenize", "--results", tmp_path / "r",
                "--work", tmp_path / "w", "--preset", "tiny", "--set",
                "beyond.methods=[identity, muse]"], check=False)
    assert proc.returncode == 2 and not (tmp_path / "w").exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --preset/--set: beyond.methods: 'muse' is not one of identity, ortho_identity, "
        "ortho_grid, reallocation, self_learning")


def test_beyond_section_checked_in_a_preset_file(tmp_path):
    """A preset file's ``beyond`` section is checked on loading (one error naming the file);
    a file without it runs every method, at the paper's self-learning sizes."""
    from fairseq_xdomain.common.errors import UserError
    from fairseq_xdomain.presets import BEYOND_METHODS, load_preset, preset_path

    text = preset_path("ubli", "tiny").read_text()
    mine = tmp_path / "mine.yaml"
    mine.write_text(text.replace("ratio: 10.0", "ratio: 0.5"))
    with pytest.raises(UserError, match=r"mine.yaml: beyond.ratio: 0.5: must be a number > 1"):
        load_preset("ubli", str(mine))
    mine.write_text(text[:text.index("beyond:")])
    beyond = load_preset("ubli", str(mine))["beyond"]
    assert beyond["methods"] == list(BEYOND_METHODS) and beyond["sl_vocab"] is None
    assert load_preset("ubli", "tiny")["beyond"]["sl_vocab"] == 1000
