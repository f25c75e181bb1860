"""xdomain-report: typed results only, selection rule, paper numbers alongside, plots, skipped
counts; the producers' result files."""
from __future__ import annotations

import json

import pytest
from conftest import run

from fairseq_xdomain.common.atomic import write_json
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.report import build_report, load_paper_numbers
from fairseq_xdomain.results import (
    STDMResult,
    UBLIResult,
    UNMTCurve,
    WordsimResult,
    read_result,
    unmt_curves,
    unmt_file_name,
    write_result,
)


def _ubli(**kw) -> UBLIResult:
    return UBLIResult(**{"method": "muse", "pair": "en-es", "domains": "Wiki-UN", **kw})


@pytest.fixture()
def results(tmp_path):
    r = tmp_path / "results"
    write_result(r / "ubli/sep/s123_e1.json", _ubli(init="separate", criterion=0.50, p_at_1=10.0))
    write_result(r / "ubli/sep/s123_e3.json", _ubli(init="separate", criterion=0.61, p_at_1=5.0,
                                                    metrics={"nn_p@1": 4.0, "coverage": 0.5,
                                                             "csls_p@1_nonident": 2.5},
                                                    wall_s=12.0))
    write_result(r / "ubli/joint/a.json", _ubli(init="joint", criterion=0.1, p_at_1=70.0))
    write_result(r / "ubli/joint/b.json", _ubli(init="joint", criterion=0.9, p_at_1=60.0,
                                                selected={"seed": 1, "epochs": 3,
                                                          "refinement": 5}))
    write_result(r / "ubli/copy.json", _ubli(init="separate", method="copy", p_at_1=30.0))
    write_result(r / "ubli/identical.json", _ubli(init="separate", method="identical",
                                                  p_at_1=20.0))
    write_result(r / "stdm.json", STDMResult(pair="en-es", stdm=0.25, corpus1="es.wiki",
                                             corpus2="es.un"))
    # dev maxima 4.0 / 25.5; the selected checkpoints' test BLEU 3.5 / 22.0
    write_result(r / "unmt/b.json", UNMTCurve(direction="en-fr", init="baseline",
                                              data="En Wiki, Fr UN", epochs=[1, 2],
                                              bleu=[3.0, 4.0], selector="bleu",
                                              selected_epoch=2, test_bleu=3.5))
    write_result(r / "unmt/j.json", UNMTCurve(direction="en-fr", init="joint",
                                              data="En Wiki, Fr UN", epochs=[1, 2],
                                              bleu=[20.0, 25.5], selector="bleu",
                                              selected_epoch=2, test_bleu=22.0))
    for dom, init, hm in (("Wiki-Wiki", "separate", 0.45), ("UN-Wiki", "separate", 0.02),
                          ("UN-Wiki", "joint", 0.40)):
        write_result(r / f"ws/{hm}.json", WordsimResult(
            pair="en-de", domains=dom, init=init, harmonic_mean=hm, coverage=0.9, space="joint"))
    # the curves of one UNMT run, as recipes/unmt.sh writes them (unmt_curves)
    for init, b in (("baseline", 1.0), ("joint", 9.0)):
        rows = [{"epoch": e, "bleu_en_ru": b + e, "bleu_ru_en": b - e, "bleu": b}
                for e in (1, 2, 3)]
        for curve in unmt_curves(rows, langs=("en", "ru"), init=init, data="wiki-un-en-ru"):
            write_result(r / "unmt/run2" / unmt_file_name(curve), curve)
    write_json(r / "ubli/sep/grid/s1.json", {"kind": "ubli_config", "criterion": 9.9, "p1": 99})
    (r / "broken.json").write_text("{not json")
    write_json(r / "nokind.json", {"p1": 3})
    write_json(r / "other.json", {"kind": "mlm", "loss": 1.0})
    write_json(r / "ubli/old.json", {"kind": "ubli", "pair": "en-es", "p1": 3.0})  # no schema
    write_json(r / "ubli/alias.json", {"kind": "ubli", "schema": 1, "method": "muse",
                                       "p1": 3.0})  # an alias of p_at_1 is not read
    write_result(r / "ubli/bad.json", UBLIResult(method="muse", pair="en-es"))  # no P@1
    return r


def test_report_tables(results):
    res = build_report(results)
    md = res["report"].read_text()
    data = json.loads(res["json"].read_text())
    t2 = data["table2"]
    assert len(t2) == 1
    row = t2[0]
    # separate: best criterion (0.61 -> 5.0); joint: best criterion (0.9 -> 60.0)
    assert (row["separate"], row["joint"]) == (5.0, 60.0)
    assert (row["paper_separate"], row["paper_joint"]) == (0.2, 56.9)
    assert "| en-es | Wiki-UN | 5.0 | 60.0 | +55.0 | 0.2 | 56.9 | +56.7 |" in md
    # the every-method table: P@1, P@1 over non-identical pairs (copying: 0 by definition),
    # NN P@1, coverage in %, criterion, selected configuration, wall time
    muse = "| en-es | Wiki-UN | MUSE grid (adversarial + refinement; the paper's) |"
    assert f"{muse} separate | 5.0 | – | – | 2.5 | 4.0 | 50.0% | 0.6100 | | 12.0 |" in md
    assert f"{muse} joint | 60.0 | – | – | – | – | – | 0.9000 | seed 1, 3 epochs, 5 refinement | – |" in md
    assert "| en-es | Wiki-UN | copying (no embeddings) | separate | 30.0 | – | – | 0.0 |" in md
    t3 = {r["method"]: r for r in data["table3"]}
    assert t3["joint"]["copy_baseline"] == 30.0 and t3["joint"]["stdm"] == 0.25
    assert t3["identical"]["acc1"] == 20.0 and t3["identical"]["paper"]["acc1"] == 25.5
    assert t3["separate"]["acc1"] == 5.0 and t3["separate"]["paper"] is None
    assert "| 20.0 | 30.0 | -10.0 | 0.25 |" in md
    # UNMT: curves, delta, paper Table 4 rows alongside, plot written
    unmt = {(u["data"], u["direction"]): u for u in data["unmt"]}
    assert unmt[("En Wiki, Fr UN", "en-fr")]["joint"] == [20.0, 25.5]
    assert unmt[("En Wiki, Fr UN", "en-fr")]["paper_table"] == "table4"
    assert unmt[("wiki-un-en-ru", "en-ru")]["baseline"] == [2.0, 3.0, 4.0]
    assert unmt[("wiki-un-en-ru", "ru-en")]["joint"] == [8.0, 7.0, 6.0]
    assert "| Δ | +17.00 | +21.50 |" in md and "| paper 4 joint | 22.76 | 24.61 |" in md
    assert "| w/ joint pre-training | 20.00 | 25.50* |" in md  # the selected checkpoint
    assert all(p.with_suffix(".svg").is_file() for p in res["plots"])
    assert len(res["plots"]) == 3 and all(p.stat().st_size > 1000 for p in res["plots"])
    # word similarity with paper values, in the paper's row order
    assert "| UN-Wiki w/ Joint PT | 0.400 [90% cov., joint] (0.43) |" in md
    assert md.index("| Wiki-Wiki |") < md.index("| UN-Wiki w/o") < md.index("| UN-Wiki w/ ")
    # headline: joint vs separate for each experiment
    head = "\n".join(res["headline"])
    assert "| UBLI P@1 (Wiki-UN; unsupervised selection) | en-es | 5.0 | 60.0 | +55.0 |" in head
    assert ("| word similarity (UN-Wiki; unsupervised selection) | en-de | 0.020 | 0.400 | "
            "+0.380 |") in head
    # UNMT: the test BLEU of the checkpoint dev BLEU selected, never the dev maximum
    assert ("| UNMT test BLEU (En Wiki, Fr UN; checkpoint by dev BLEU) | en-fr | 3.50 | 22.00 | "
            "+18.50 |") in head
    assert "25.50" not in head and "4.00" not in head
    # run2 has no test set: no headline row, its curves stay in Tables 4/5
    assert "en-ru" not in head
    # nothing dropped silently: counted by reason and listed by name
    assert res["skipped"] == {
        "unreadable JSON": 1, "no 'kind' field": 1, "kind 'mlm'": 1,
        "no or another 'schema'": 1, "unknown field in a ubli result": 1,
        "ubli result without pair/domains/init/P@1 (not tabulated)": 1,
        "ubli duplicate (same pair, domains, init, method; lower criterion)": 2,
        "intermediate record (kind 'ubli_config')": 1}
    assert "- 1 × unreadable JSON: `broken.json`" in md
    assert "`ubli/sep/s123_e1.json`" in md and "`ubli/joint/a.json`" in md
    # the report's own JSON is not read back as a record
    again = build_report(results, plots=False)
    assert again["counts"] == res["counts"]


def test_every_method_table(tmp_path):
    """The methods beyond the paper get their own rows, under the names their producer wrote
    (evaluate: identity / identity+ortho / evaluate+ortho, whose P@1 is the orthography-aware
    retrieval's; reallocate scored both ways: two rows), with the labels of the one method
    table, the notes of what was done and the wall time; Tables 2/3 are unchanged."""
    r = tmp_path / "r"
    ev = {"init": "joint", "criterion": 0.7}
    write_result(r / "grid.json", _ubli(init="joint", p_at_1=40.0, criterion=0.8,
                                        selected={"selection_rule": "orthogonal",
                                                  "candidate": "identity"}))
    write_result(r / "id/results.json", _ubli(**ev, method="identity", p_at_1=30.0, wall_s=2.0,
                                              config={"mapping": None},
                                              metrics={"csls_p@1_nonident": 3.0}))
    write_result(r / "id_ortho/results.json", _ubli(
        **ev, method="identity+ortho", p_at_1=30.0, config={"mapping": None},
        metrics={"csls_p@1_nonident": 3.0, "csls_ortho_p@1": 35.0,
                 "csls_ortho_p@1_nonident": 8.0, "ortho_weight": 0.3}))
    write_result(r / "map_ortho/results.json", _ubli(
        **ev, method="evaluate+ortho", p_at_1=40.0, config={"mapping": "/w/grid/joint.abc/selected_W.npy"},
        metrics={"csls_ortho_p@1": 41.0, "csls_ortho_p@1_nonident": 9.0, "ortho_weight": 0.0}))
    write_result(r / "re/results.json", _ubli(
        method="reallocate", init="joint", p_at_1=42.0, criterion=0.75, wall_s=3.4,
        selected={"refinement": 2}, metrics={"csls_p@1_nonident": 10.0, "csls_ortho_p@1": 45.0,
                                             "csls_ortho_p@1_nonident": 12.0, "ortho_weight": 0.5},
        details={"reallocation": {"n_shared": 50, "n_src_specific": 4, "n_tgt_specific": 6}}))
    write_result(r / "sl/results.json", _ubli(method="self-learning", init="separate",
                                              p_at_1=1.5, wall_s=20.0,
                                              details={"n_iterations": 77}))
    res = build_report(r, plots=False)
    md = res["report"].read_text()
    data = json.loads(res["json"].read_text())
    rows = {(d["method"], d["init"]): d for d in data["ubli_methods"]}
    assert set(rows) == {("muse", "joint"), ("identity", "joint"), ("identity+ortho", "joint"),
                         ("evaluate+ortho", "joint"), ("reallocate", "joint"),
                         ("reallocate+ortho", "joint"), ("self-learning", "separate")}
    assert res["skipped"] == {}  # two evaluate results of the same vectors are not duplicates
    assert (rows["identity+ortho", "joint"]["p_at_1"],
            rows["identity+ortho", "joint"]["p_at_1_nonident"]) == (35.0, 8.0)
    assert "| W = I + orthography-aware retrieval (Riley & Gildea 2018) | joint | 35.0 | – | – | 8.0 |" \
        in md and "| 0.7000 | w = 0.3 | – |" in md
    assert "| given map + orthography-aware retrieval (Riley & Gildea 2018) | joint | 41.0 | " \
        "– | – | 9.0 | – | – | 0.7000 | map joint.abc/selected_W.npy; w = 0 | – |" in md
    assert "| no mapping (W = I) | joint | 30.0 | – | – | 3.0 | – | – | 0.7000 | | 2.0 |" in md
    assert "| joint | 42.0 | – | – | 10.0 | – | – | 0.7500 | refinement 2; 4+6 of 50 shared words " \
        "split | 3.4 |" in md
    # reallocation scored with orthography-aware retrieval too: a second row, its numbers
    assert "| vocabulary reallocation + orthography-aware retrieval | joint | 45.0 | – | – | 12.0 | – | " \
        "– | 0.7500 | refinement 2; w = 0.5; 4+6 of 50 shared words split | 3.4 |" in md
    assert "| robust self-learning (Artetxe et al. 2018) | separate | 1.5 | – | – | – | – | – | – | " \
        "77 iterations | 20.0 |" in md
    assert "rule orthogonal; candidate identity" in md
    # row order: the paper's methods first, then beyond the paper
    assert md.index("MUSE grid") < md.index("no mapping (W = I)") < md.index("reallocation")
    assert data["table2"][0]["joint"] == 40.0 and data["table2"][0]["separate"] is None


def test_paper_numbers_consistent():
    paper = load_paper_numbers()
    t2 = paper["table2"]["rows"]
    assert t2["Wiki-UN w/ Joint Pre-training"]["en-es"] == 56.9
    for row in paper["table3"]["rows"]:
        assert row["acc1"] - row["copy_baseline"] == pytest.approx(row["delta"], abs=0.051)
    for row in paper["table4"]["rows"] + paper["table5"]["rows"]:
        assert len(row["baseline"]) == len(row["joint"]) == 10
    assert paper["table6"]["rows"]["UN-Wiki w/ Joint PT"]["en-fa"] == 0.23


def test_cli(results, tmp_path):
    proc = run(["xdomain-report", results, "--out", tmp_path / "out" / "r.md", "--no-plots"])
    assert "report:" in proc.stdout and "| UBLI P@1 (Wiki-UN; unsupervised selection) | en-es |" in proc.stdout
    assert (tmp_path / "out" / "report.json").exists()
    bad = run(["xdomain-report", tmp_path / "missing"], check=False)
    assert bad.returncode == 2 and "results folder does not exist" in bad.stderr


# --------------------------------------------------------------------------- labels written by
# the producers themselves (issue 7): xdomain-ubli baseline (xdomain-run unmt: test_unmt_driver.py)


def _tiny_vec_pair(root):
    import numpy as np

    from fairseq_xdomain.embeddings.vecio import save_vec

    rng = np.random.default_rng(0)
    save_vec(root / "src.vec", ["a", "b", "c", "x"], rng.standard_normal((4, 4)))
    save_vec(root / "tgt.vec", ["a", "b", "d", "y"], rng.standard_normal((4, 4)))
    (root / "dico.txt").write_text("a a\nb b\nc d\nx y\n")


def test_ubli_baseline_json_labels(tmp_path):
    """`xdomain-ubli baseline` labels its JSON; the report uses it as the copying baseline, and
    an unlabelled one (no --pair) is counted as skipped, not guessed."""
    _tiny_vec_pair(tmp_path)
    r = tmp_path / "results"
    common = ["xdomain-ubli", "baseline", "--method", "copy", "--src-emb", tmp_path / "src.vec",
              "--tgt-emb", tmp_path / "tgt.vec", "--dico-eval", tmp_path / "dico.txt",
              "--no-progress", "--cpu"]
    run([*common, "--out", r / "copy", "--pair", "en-es", "--domains", "Wiki-UN",
         "--init", "separate"])
    rec = json.loads((r / "copy/baseline_copy.json").read_text())
    assert {k: rec[k] for k in ("kind", "schema", "pair", "domains", "init", "method")} == {
        "kind": "ubli", "schema": 1, "pair": "en-es", "domains": "Wiki-UN", "init": "separate",
        "method": "copy"}
    assert rec["metrics"]["copy_p@1"] == rec["p_at_1"] == 50.0  # a, b copied right; c, x wrong
    assert read_result(r / "copy/baseline_copy.json").metrics["coverage"] == 1.0
    assert "| metrics.copy_p@1 | 50.0000 |" in (r / "copy/baseline_copy.md").read_text()
    run([*common, "--out", r / "copy_nolabel"])
    bare = json.loads((r / "copy_nolabel/baseline_copy.json").read_text())
    assert bare["kind"] == "ubli" and bare["method"] == "copy"
    assert bare["pair"] is None and bare["domains"] is None and bare["init"] is None
    write_result(r / "joint.json", UBLIResult(pair="en-es", domains="Wiki-UN", init="joint",
                                              method="muse", p_at_1=40.0))
    res = build_report(r, plots=False)
    t3 = json.loads(res["json"].read_text())["table3"]
    assert [(x["method"], x["acc1"], x["copy_baseline"]) for x in t3] == [("joint", 40.0, 50.0)]
    assert res["skipped"] == {"ubli result without pair/domains/init/P@1 (not tabulated)": 1}
    bad = run([*common, "--out", r / "x", "--pair", "enes"], check=False)
    assert bad.returncode == 2 and "expected src-tgt" in bad.stderr
    bad = run([*common, "--out", r / "x", "--init", "both"], check=False)
    assert bad.returncode == 2 and "--init 'both': expected separate or joint" in bad.stderr


def test_no_result_is_an_error(tmp_path):
    """Issue 13, kind 3: a folder without any result exits 2 with one line, writes nothing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run(["xdomain-report", empty, "--no-plots"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {empty}: no result to report (no *.json result file)"]
    assert not (empty / "report.md").exists()
    other = tmp_path / "other"
    write_json(other / "a.json", {"hello": 1})
    write_result(other / "b.json", UBLIResult(method="muse", p_at_1=3.0))  # no pair: not usable
    with pytest.raises(UserError) as err:
        build_report(other, plots=False)
    assert str(err.value) == (f"{other}: no result to report (skipped: 1 × no 'kind' field, "
                              "1 × ubli result without pair/domains/init/P@1 (not tabulated))")


def test_unmt_seeds_mean_sd_and_paired_bootstrap(tmp_path):
    """Two seeds: the headline gives mean ± sd of the selected checkpoints' test BLEU (checked
    by hand), the detail table each seed's value, and the paired bootstrap p-value is
    sacrebleu's on the stored test hypotheses; round-trip selection is named."""
    import statistics

    from fairseq_xdomain.significance import paired_bootstrap_bleu

    r = tmp_path / "r"
    refs = [f"the cat sat on mat number {i}" for i in range(30)]
    hyp_b = [f"a cat sat on mat {i}" for i in range(30)]
    hyp_j = [f"the cat sat on mat number {i}" if i % 3 else f"a cat sat {i}" for i in range(30)]
    tests = {("baseline", 1): 10.0, ("baseline", 2): 12.0, ("joint", 1): 20.0,
             ("joint", 2): 23.0}
    for (init, seed), test_bleu in tests.items():
        hyps = hyp_b if init == "baseline" else hyp_j
        write_result(r / f"seed-{seed}" / f"bleu.{init}.aa-bb.json", UNMTCurve(
            direction="aa-bb", init=init, data="gen", epochs=[1, 2, 3], bleu=[],
            rt_bleu=[5.0, 40.0 + seed, 30.0], selector="rt_bleu", selected_epoch=2, seed=seed,
            test_bleu=test_bleu, signature="nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp",
            details={"test": {"sentences": 30, "hypotheses": hyps, "references": refs}}))
    res = build_report(r, plots=False)
    head = "\n".join(res["headline"])
    sd_b, sd_j = statistics.stdev([10.0, 12.0]), statistics.stdev([20.0, 23.0])
    assert (f"| UNMT test BLEU (gen; checkpoint by round-trip BLEU) | aa-bb | "
            f"11.00 ± {sd_b:.2f} (n=2) | 21.50 ± {sd_j:.2f} (n=2) | +10.50 |") in head
    md = res["report"].read_text()
    assert "seed 1: 10.00 / 20.00; seed 2: 12.00 / 23.00" in md
    assert "round-trip BLEU (no parallel dev set) per epoch" in md
    assert "| UNMT baseline (seed 2) | 5.00 | 42.00* | 30.00 |" in md
    assert "BLEU signature: `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp`" in md
    data = json.loads(res["json"].read_text())["unmt_test"][0]
    expected = paired_bootstrap_bleu(hyp_b, hyp_j, refs, tokenize="13a")
    assert data["paired_bootstrap"]["1"]["p_value"] == expected.p_value
    assert data["paired_bootstrap"]["1"]["delta"] == pytest.approx(expected.delta)
    assert data["joint"]["values"] == [20.0, 23.0]


def test_ubli_significance_columns(tmp_path):
    """Per-word correctness (ubli/evaluation.py's per_word_top1) gives each row a bootstrap 95%
    interval and the exact McNemar test against the best paper method on the same words,
    with the values of significance.py on those vectors (which are checked against scipy)."""
    from fairseq_xdomain.significance import bootstrap_p_at_1, mcnemar_exact

    r = tmp_path / "r"
    words = [f"w{i}" for i in range(40)]
    muse = [1 if i % 2 else 0 for i in range(40)]             # 50.0
    ident = [1 if i % 4 else 0 for i in range(40)]            # 75.0: the best paper method
    self_l = [1 if i % 5 else 0 for i in range(40)]           # 80.0 (beyond the paper)
    for name, init, method, corr in (("m", "joint", "muse", muse),
                                     ("i", "separate", "identical", ident),
                                     ("s", "separate", "self-learning", self_l)):
        write_result(r / f"{name}.json", _ubli(
            init=init, method=method, p_at_1=100.0 * sum(corr) / 40, criterion=0.5,
            metrics={"per_word_top1": {"words": words, "csls": corr}}))
    res = build_report(r, plots=False)
    rows = {x["method"]: x for x in json.loads(res["json"].read_text())["ubli_methods"]}
    mc = mcnemar_exact(ident, self_l)
    assert rows["self-learning"]["significance"]["mcnemar"]["p_value"] == mc.p_value
    assert (mc.b, mc.c) == (6, 8)  # b: identical right, self-learning wrong; c: the reverse
    assert rows["muse"]["significance"]["mcnemar"]["p_value"] == mcnemar_exact(ident, muse).p_value
    assert "mcnemar" not in rows["identical"]["significance"]  # the reference itself
    ci = bootstrap_p_at_1(muse, seed=0)
    assert rows["muse"]["significance"]["ci"]["lower"] == ci.lower
    md = res["report"].read_text()
    assert f"| 80.0 | {bootstrap_p_at_1(self_l, seed=0).lower:.1f}–" in md
    assert f"| {mc.p_value:.3f} (8+/6−) |" in md
