"""xdomain-report: discovery, selection rule, paper numbers alongside, plots, skipped counts."""
from __future__ import annotations

import json

import pytest
from conftest import run

from fairseq_xdomain.common.atomic import write_json
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.report import build_report, load_paper_numbers


@pytest.fixture()
def results(tmp_path):
    r = tmp_path / "results"
    base = {"kind": "ubli", "pair": "en-es", "domains": "wiki-un"}
    write_json(r / "ubli/sep/s123_e1.json", {**base, "init": "separate", "criterion": 0.50,
                                              "p1": 10.0})
    write_json(r / "ubli/sep/s123_e3.json", {**base, "init": "separate", "criterion": 0.61,
                                              "p1": {"csls": 5.0, "nn": 4.0}})
    write_json(r / "ubli/joint/a.json", {**base, "init": "joint", "criterion": 0.9, "p1": 70.0})
    write_json(r / "ubli/joint/b.json", {**base, "init": "joint", "criterion": 0.1, "p1": 60.0,
                                          "selected": True})
    write_json(r / "ubli/copy.json", {**base, "method": "copy", "p1": 30.0})
    write_json(r / "ubli/identical.json", {**base, "method": "identical", "p1": 20.0})
    write_json(r / "stdm.json", {"kind": "stdm", "pair": "en-es", "stdm": 0.25,
                                 "corpus1": "es.wiki", "corpus2": "es.un"})
    write_json(r / "unmt/bleu.json", {"kind": "unmt", "direction": "en-fr", "init": "baseline",
                                      "data": "En Wiki, Fr UN", "bleu": [3.0, 4.0]})
    write_json(r / "unmt/bleu_joint.json", {"kind": "unmt", "direction": "en-fr", "init": "joint",
                                            "data": "En Wiki, Fr UN",
                                            "bleu": {"1": 20.0, "2": 25.5}})
    for setting, hm in (("Wiki-Wiki", 0.45), ("UN-Wiki w/o Joint PT", 0.02),
                        ("UN-Wiki w/ Joint PT", 0.40)):
        write_json(r / f"ws/{hm}.json", {"kind": "wordsim", "pair": "en-de", "setting": setting,
                                         "harmonic_mean": hm, "coverage": 0.9, "space": "joint"})
    # recipes/unmt.sh layout (no kind): one file, both variants and both directions
    curves = {v: [{"epoch": e, "bleu_en_ru": b + e, "bleu_ru_en": b - e, "bleu": b}
                  for e in (1, 2, 3)] for v, b in (("baseline", 1.0), ("joint", 9.0))}
    write_json(r / "unmt/run2/bleu.json", {"run": "wiki-un-en-ru", "config": {"langs": "en,ru"},
                                           "curves": curves})
    write_json(r / "ubli/sep/grid/s1.json", {"kind": "ubli_config", "criterion": 9.9, "p1": 99})
    (r / "broken.json").write_text("{not json")
    write_json(r / "nokind.json", {"p1": 3})
    write_json(r / "other.json", {"kind": "mlm", "loss": 1.0})
    write_json(r / "ubli/bad.json", {"kind": "ubli", "pair": "en-es"})  # no P@1
    return r


def test_report_tables(results):
    res = build_report(results)
    md = res["report"].read_text()
    data = json.loads(res["json"].read_text())
    t2 = data["table2"]
    assert len(t2) == 1
    row = t2[0]
    # separate: best criterion (0.61 -> csls 5.0); joint: the record marked selected (60.0)
    assert (row["separate"], row["joint"]) == (5.0, 60.0)
    assert (row["paper_separate"], row["paper_joint"]) == (0.2, 56.9)
    assert "| en-es | Wiki-UN | 5.0 | 60.0 | +55.0 | 0.2 | 56.9 | +56.7 |" in md
    t3 = {r["method"]: r for r in data["table3"]}
    assert t3["joint"]["copy_baseline"] == 30.0 and t3["joint"]["stdm"] == 0.25
    assert t3["identical"]["acc1"] == 20.0 and t3["identical"]["paper"]["acc1"] == 25.5
    assert "| 20.0 | 30.0 | -10.0 | 0.25 |" in md
    # UNMT: curves from list and dict forms, delta, paper Table 4 rows alongside, plot written
    unmt = {(u["data"], u["direction"]): u for u in data["unmt"]}
    assert unmt[("En Wiki, Fr UN", "en-fr")]["joint"] == [20.0, 25.5]
    assert unmt[("En Wiki, Fr UN", "en-fr")]["paper_table"] == "table4"
    assert unmt[("wiki-un-en-ru", "en-ru")]["baseline"] == [2.0, 3.0, 4.0]
    assert unmt[("wiki-un-en-ru", "ru-en")]["joint"] == [8.0, 7.0, 6.0]
    assert "| Δ | +17.00 | +21.50 |" in md and "| paper 4 joint | 22.76 | 24.61 |" in md
    assert len(res["plots"]) == 3 and all(p.stat().st_size > 1000 for p in res["plots"])
    # word similarity with paper values, in the paper's row order
    assert "| UN-Wiki w/ Joint PT | 0.400 [90% cov., joint] (0.43) |" in md
    assert md.index("| Wiki-Wiki |") < md.index("| UN-Wiki w/o") < md.index("| UN-Wiki w/ ")
    # headline: joint vs separate for each experiment
    head = "\n".join(res["headline"])
    assert "| UBLI P@1 (Wiki-UN) | en-es | 5.0 | 60.0 | +55.0 |" in head
    assert "| word similarity (UN-Wiki) | en-de | 0.020 | 0.400 | +0.380 |" in head
    assert "| UNMT best BLEU (En Wiki, Fr UN) | en-fr | 4.00 | 25.50 | +21.50 |" in head
    # nothing dropped silently
    assert res["skipped"] == {"unreadable JSON": 1, "no 'kind' field": 1, "kind 'mlm'": 1,
                              "ubli record without pair/P@1": 1,
                              "intermediate record (kind 'ubli_config')": 1}
    assert "1 × unreadable JSON" in md
    # the report's own JSON is not read back as a record
    again = build_report(results, plots=False)
    assert again["counts"] == res["counts"]


def test_ubli_tables_json_layout(tmp_path):
    """The table.json of fairseq_xdomain.ubli.tables (no kind) is read as ubli + stdm records."""
    r = tmp_path / "res"
    write_json(r / "ubli/aa-bb/table.json", {
        "pair": "fr-en", "domains": "Wiki-UN",
        "table2": [{"table": 2, "row": "Wiki-UN", "init": "separate", "method": "muse",
                    "p1_csls": 2.5, "criterion": 0.4},
                   {"table": 2, "row": "Wiki-UN w/ Joint Pre-training", "init": "joint",
                    "method": "muse", "p1_csls": 40.0},
                   {"table": 2, "row": "delta", "p1_csls": 37.5}],
        "table3": [{"table": 3, "row": "Søgaard et al. (2018): identical strings",
                    "init": "separate", "p1_csls": 4.0, "copy_p1": 5.0, "stdm": 0.5},
                   {"table": 3, "row": "Joint pre-training (MUSE grid)", "init": "joint",
                    "p1_csls": 40.0, "copy_p1": 5.0, "stdm": 0.5}],
        "copy": None, "stdm": {"kind": "stdm", "stdm": 0.5, "corpus1": "a", "corpus2": "b"}})
    res = build_report(r, plots=False)
    data = json.loads(res["json"].read_text())
    assert data["table2"][0]["separate"] == 2.5 and data["table2"][0]["joint"] == 40.0
    assert data["table2"][0]["paper_joint"] == 68.3
    t3 = {x["method"]: x for x in data["table3"]}
    assert t3["identical"]["acc1"] == 4.0 and t3["joint"]["copy_baseline"] == 5.0
    assert t3["joint"]["stdm"] == 0.5
    assert res["skipped"] == {}


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
    assert "report:" in proc.stdout and "| UBLI P@1 (Wiki-UN) | en-es |" in proc.stdout
    assert (tmp_path / "out" / "report.json").exists()
    bad = run(["xdomain-report", tmp_path / "missing"], check=False)
    assert bad.returncode == 2 and "results folder does not exist" in bad.stderr


# --------------------------------------------------------------------------- labels written by
# the producers themselves (issue 7): xdomain-ubli baseline and recipes/unmt.sh


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
    run([*common, "--out", r / "copy", "--pair", "en-es", "--domains", "wiki-un",
         "--init", "separate"])
    rec = json.loads((r / "copy/baseline_copy.json").read_text())
    assert {k: rec[k] for k in ("kind", "pair", "domains", "init", "method")} == {
        "kind": "ubli", "pair": "en-es", "domains": "wiki-un", "init": "separate",
        "method": "copy"}
    assert rec["evaluation"]["copy_p@1"] == 50.0  # a, b copied right; c, x wrong
    run([*common, "--out", r / "copy_nolabel"])
    bare = json.loads((r / "copy_nolabel/baseline_copy.json").read_text())
    assert bare["kind"] == "ubli" and bare["method"] == "copy"
    assert bare["pair"] is None and bare["domains"] is None and bare["init"] is None
    write_json(r / "joint.json", {"kind": "ubli", "pair": "en-es", "domains": "Wiki-UN",
                                  "init": "joint", "p1": 40.0, "selected": True})
    res = build_report(r, plots=False)
    t3 = json.loads(res["json"].read_text())["table3"]
    assert [(x["method"], x["acc1"], x["copy_baseline"]) for x in t3] == [("joint", 40.0, 50.0)]
    assert res["skipped"] == {"ubli record without pair/P@1": 1}
    bad = run([*common, "--out", r / "x", "--pair", "enes"], check=False)
    assert bad.returncode == 2 and "expected src-tgt" in bad.stderr


def test_unmt_recipe_bleu_json_labels(tmp_path):
    """recipes/unmt.sh writes "kind", "data" and per-variant "mlm_data" into bleu.json, and the
    report files the run under that data label (the paper's Table 4 row). The MLM/UNMT stages
    are marked done, so only the collection step runs, on fairseq-style json logs."""
    from conftest import REPO, write_lines

    base, joint, res = tmp_path / "bin_wiki", tmp_path / "bin_joint", tmp_path / "results"
    for d in (base, joint):
        write_lines(d / "dict.txt", ["▁a 3", "▁b 2"])
        for lang in ("en", "fr"):
            (d / lang).mkdir()
            (d / lang / "train.bin").write_bytes(b"")
    write_json(joint / "manifest.json", {"config": {"corpora": [
        {"lang": "en", "domain": "wiki", "train": "en.txt"},
        {"lang": "fr", "domain": "un", "train": "fr.txt"}]}})
    for variant, bleu in (("baseline", [1.0, 2.0]), ("joint", [5.0, 7.5])):
        for stage in ("mlm", "unmt"):
            (res / "r1" / variant / stage).mkdir(parents=True)
            (res / "r1" / variant / stage / "done").touch()
        write_lines(res / "r1" / variant / "unmt" / "train.log", [
            f'2025-01-01 00:00:00 | INFO | valid | {{"epoch": {e + 1}, "valid_loss": 3.0, '
            f'"valid_bleu_en_fr": {b}, "valid_bleu_fr_en": {b / 2}, "valid_bleu": {0.75 * b}}}'
            for e, b in enumerate(bleu)])
    run(["bash", REPO / "recipes" / "unmt.sh", "--tiny", "--run", "r1", "--langs", "en,fr",
         "--mlm-baseline", base, "--mlm-joint", joint, "--results", res,
         "--data-label", "En Wiki, Fr UN", "--mlm-baseline-label", "En Wiki, Fr Wiki"])
    rec = json.loads((res / "r1" / "bleu.json").read_text())
    assert rec["kind"] == "unmt" and rec["data"] == "En Wiki, Fr UN"
    assert rec["config"]["emb_init"] == "fasttext"  # the --tiny default
    bad = run(["bash", REPO / "recipes" / "unmt.sh", "--tiny", "--run", "r1", "--langs", "en,fr",
               "--mlm-baseline", base, "--mlm-joint", joint, "--results", res, "--emb-init", "glove"],
              check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --emb-init must be fasttext or random, got glove"
    assert rec["mlm_data"]["baseline"]["label"] == "En Wiki, Fr Wiki"  # given
    assert rec["mlm_data"]["joint"]["label"] == "en wiki, fr un"  # from the manifest
    assert rec["mlm_data"]["joint"]["corpora"] == ["en.wiki", "fr.un"]
    assert rec["mlm_data"]["baseline"]["corpora"] is None
    assert rec["mlm_data"]["baseline"]["langs"] == ["en", "fr"]
    out = build_report(res, plots=False)
    unmt = {(u["data"], u["direction"]): u for u in json.loads(out["json"].read_text())["unmt"]}
    row = unmt[("En Wiki, Fr UN", "en-fr")]
    assert (row["baseline"], row["joint"], row["paper_table"]) == ([1.0, 2.0], [5.0, 7.5], "table4")
    assert unmt[("En Wiki, Fr UN", "fr-en")]["joint"] == [2.5, 3.75]


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
    write_json(other / "b.json", {"kind": "ubli", "p1": 3.0})  # no pair: not usable
    with pytest.raises(UserError) as err:
        build_report(other, plots=False)
    assert str(err.value) == (f"{other}: no result to report (skipped: 1 × no 'kind' field, "
                              "1 × ubli record without pair/P@1)")
