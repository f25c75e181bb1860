"""The shared-prefix batched UBLI grid equals running the configurations one by one, and resumes.

Tiny embeddings (800 words, dim 32), a small discriminator and short epochs keep it fast; the
grid is 2 seeds x epochs {1, 3} x refinements {1, 2} (8 configurations).
"""
from __future__ import annotations

import argparse
import re

import pytest
import torch
from conftest import run

from fairseq_xdomain.embeddings.vecio import load_vec
from fairseq_xdomain.results import STDMResult, UBLIResult, read_result, write_result
from fairseq_xdomain.ubli.commands.grid import add_grid_arguments, grid_config, run_args
from fairseq_xdomain.ubli.evaluation import load_dictionary
from fairseq_xdomain.ubli.grid import run_configuration
from fairseq_xdomain.ubli.grid_summary import select
from fairseq_xdomain.ubli.synthetic_emb import write_pair

N, DIM = 800, 32
SEEDS, EPOCHS, REFS = [123, 456], [1, 3], [1, 2]
FLAGS = ["--seeds", "123,456", "--epochs", "1,3", "--refinements", "1,2",
         "--epoch-size", "960", "--dis-hid-dim", "32", "--dis-most-frequent", "600",
         "--dico-max-rank", "600", "--criterion-max-rank", "600", "--knn-backend", "torch",
         "--threads", "1", "--no-progress"]
NUMBERS = ("criterion", "nn_p@1", "nn_p@5", "nn_p@10", "csls_p@1", "csls_p@5", "csls_p@10",
           "coverage", "selected_stage", "best_adversarial_epoch", "adversarial_criteria",
           "refinement_criteria")


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    d = tmp_path_factory.mktemp("grid_emb")
    _, _, dico = write_pair(d, N, DIM, seed=3, prefix="t", dico_rows=range(0, 600, 3))
    with open(dico, "a", encoding="utf-8") as handle:
        handle.write("zz t1\n")
    return d


def _configs(args):
    """The adversarial and refinement configs the grid of ``args`` trains with."""
    cfg = grid_config(args)
    return cfg.adversarial_config(), cfg.refinement_config()


def _args(emb, out):
    p = add_grid_arguments(argparse.ArgumentParser())
    return p.parse_args(["--src-emb", str(emb / "src.vec"), "--tgt-emb", str(emb / "tgt.vec"),
                         "--dico-eval", str(emb / "dico.txt"), "--out", str(out), *FLAGS])


@pytest.fixture(scope="module")
def grid_summary(emb, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "out"
    summary, md = run_args(_args(emb, out))
    return summary, md, out


# A separate run trains its seed next to this unrelated seed (see run_configuration): torch's CPU
# bmm over a batch of ONE can round differently from a batch of several (the discriminator's
# [B, h] x [h, 1] output layer takes another kernel), and the grid always runs S > 1.
COMPANION = 999


def _key(rec):
    return (rec["seed"], rec["epochs"], rec["refinement"])


def _numbers(rec):
    return {k: rec[k] for k in NUMBERS}


def test_grid_equals_one_by_one(emb, grid_summary):
    summary, md, out = grid_summary
    args = _args(emb, out)
    adv_cfg, ref_cfg = _configs(args)
    src, tgt = load_vec(args.src_emb), load_vec(args.tgt_emb)
    dico = load_dictionary(args.dico_eval)
    torch.set_num_threads(1)
    grid = {_key(r): r for r in summary["configurations"]}
    assert len(grid) == len(SEEDS) * len(EPOCHS) * len(REFS) == summary["n_computed_this_run"]
    alone = []
    for seed in SEEDS:
        for e in EPOCHS:
            for r in REFS:
                rec, _ = run_configuration(
                    torch.from_numpy(src.vectors), torch.from_numpy(tgt.vectors), seed, e, r,
                    adv_cfg, ref_cfg, src_w2i=src.word2id,
                    tgt_w2i=tgt.word2id, dico=dico, backend="torch", companion_seed=COMPANION)
                alone.append(rec)
                g = grid[(seed, e, r)]
                for k in NUMBERS:  # a separate run from scratch: the same numbers, bit for bit
                    assert g[k] == rec[k], (seed, e, r, k)
    sel_alone, orc_alone = select(alone)
    assert _key(summary["selected_record"]) == _key(sel_alone)
    assert _key(summary["oracle"]) == _key(orc_alone)
    # The selected configuration has the best criterion of all, and it is in the table.
    assert summary["criterion"] == max(r["criterion"] for r in alone) or summary[
        "criterion"] == pytest.approx(max(r["criterion"] for r in alone), abs=1e-6)
    assert "**selected**" in md and summary["kind"] == "ubli_grid" and summary["selected"] is True
    # The selected configuration is the grid's result (what xdomain-report reads).
    res = read_result(out / "result.json")
    assert (res.kind, res.method, res.criterion) == ("ubli", "muse", summary["criterion"])
    assert res.p_at_1 == summary["selected_record"]["csls_p@1"] == res.metrics["csls_p@1"]
    assert _key(res.selected) == _key(summary["selected_record"])
    # Coverage is reported: 200 of 201 source words covered ("zz" is not in the vocabulary).
    assert summary["selected_record"]["n_covered"] == 200
    assert summary["coverage"] == pytest.approx(200 / 201)
    # Refinement can only improve on the kept adversarial W: the criterion is monotone in R.
    for seed in SEEDS:
        for e in EPOCHS:
            assert grid[(seed, e, 2)]["criterion"] >= grid[(seed, e, 1)]["criterion"]


def _computed(stderr):
    return re.findall(r"configuration computed: seed=(\d+) epochs=(\d+) refinement=(\d+)", stderr)


# The grid of ``python -m fairseq_xdomain.ubli.commands.grid``, killed by SIGKILL right after the N-th
# configuration this run computes (argv[1] = N; the grid's flags follow): the test's own driver,
# through the grid's ``on_config`` callback.
KILL_DRIVER = """
import logging, os, signal, sys
from fairseq_xdomain.ubli.commands import grid

n_kill, computed = int(sys.argv[1]), []

def kill_after_n(seed, epochs, refinement, record):
    computed.append((seed, epochs, refinement))
    if len(computed) >= n_kill:
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

logging.basicConfig(level=logging.INFO)
grid.run_args(grid.build_parser().parse_args(sys.argv[2:]), on_config=kill_after_n)
"""


def test_grid_resume_after_kill(emb, grid_summary, tmp_path):
    summary, _, _ = grid_summary
    out = tmp_path / "resume"
    flags = ["--src-emb", emb / "src.vec", "--tgt-emb", emb / "tgt.vec", "--dico-eval",
             emb / "dico.txt", "--out", out, *FLAGS]
    cmd = ["python", "-m", "fairseq_xdomain.ubli.commands.grid", *flags]
    # Killed (SIGKILL) after the 4 configurations of epoch 1: the adversarial state of epoch 1
    # is on disk; the restart trains epochs 2-3 from it.
    p1 = run(["python", "-c", KILL_DRIVER, "4", *flags], check=False)
    assert p1.returncode == -9, p1.stderr[-2000:]
    assert not (out / "summary.json").exists()
    # Killed again after one configuration of epoch 3 (snapshot of epoch 3 on disk).
    p2 = run(["python", "-c", KILL_DRIVER, "1", *flags], check=False)
    assert p2.returncode == -9, p2.stderr[-2000:]
    assert "resuming: adversarial state after epoch 1" in p2.stderr
    p3 = run(cmd)
    assert "resuming: adversarial state after epoch 3" in p3.stderr
    done = _computed(p1.stderr) + _computed(p2.stderr) + _computed(p3.stderr)
    assert len(done) == 8 and len(set(done)) == 8, done  # every configuration exactly once
    assert "selected (best unsupervised criterion): seed" in p3.stdout
    resumed = {_key(r): r for r in (
        __import__("json").loads((out / "summary.json").read_text())["configurations"])}
    for rec in summary["configurations"]:
        got = resumed[_key(rec)]
        for k in NUMBERS:  # the same batched computation, resumed: equal bit for bit
            assert got[k] == rec[k], (_key(rec), k)
    # A fourth run finds everything on disk and computes nothing.
    p4 = run(cmd)
    assert not _computed(p4.stderr)
    # A different configuration in the same folder is refused with a one-line error.
    p5 = run([*cmd, "--map-lr", "0.2"], check=False)
    assert p5.returncode == 2 and "different configuration (adversarial)" in p5.stderr


def test_pair_report_and_test_dictionary(tmp_path, grid_summary):
    """A per-pair folder (grid result, copy baseline, STDM) gives that pair's Tables 2 and 3 in
    the report (what recipes/ubli.sh shows): the selected P@1, n/a for the missing joint grid,
    Δ against the copying baseline."""
    from fairseq_xdomain.report import build_report
    from fairseq_xdomain.ubli.eval_dictionary import frequent_dictionary

    summary, _, out = grid_summary
    grid = read_result(out / "result.json")
    grid.pair, grid.domains, grid.init = "t-t", "A-B", "separate"
    write_result(tmp_path / "r" / "grid_separate.json", grid)
    write_result(tmp_path / "r" / "copy" / "baseline_copy.json", UBLIResult(
        method="copy", pair="t-t", domains="A-B", init="separate", p_at_1=10.0,
        metrics={"copy_p@1": 10.0, "coverage": 0.5, "n_source_words": 201}))
    write_result(tmp_path / "r" / "stdm.json", STDMResult(stdm=0.25, corpus1="a", corpus2="b",
                                                          pair="t-t"))
    rep = build_report(tmp_path / "r", out=tmp_path / "r" / "report.md", plots=False)
    data = __import__("json").loads(rep["json"].read_text())
    sel = summary["selected_record"]["csls_p@1"]
    assert data["table2"] == [{"pair": "t-t", "domains": "A-B", "separate": sel, "joint": None,
                               "paper_separate": None, "paper_joint": None}]
    t3 = {r["method"]: r for r in data["table3"]}
    assert t3["separate"]["acc1"] == sel and t3["separate"]["stdm"] == 0.25
    assert t3["separate"]["acc1"] - t3["separate"]["copy_baseline"] == pytest.approx(sel - 10.0)
    md = rep["report"].read_text()
    assert f"| t-t | A-B | {sel:.1f} | – | – |" in md and "| 0.25 |" in md
    # Test dictionary: words frequent in both corpora first, rare/multi-word entries left out.
    (tmp_path / "a.txt").write_text("the cat the dog the cat\nrare\n")
    (tmp_path / "b.txt").write_text("die katze die katze der hund\n")
    (tmp_path / "p.tsv").write_text("the\tdie\nthe\tder\ncat\tkatze\ndog\thund\nrare\tselten\n"
                                    "hot dog\twurst\n")
    lines, stats = frequent_dictionary(tmp_path / "p.tsv", tmp_path / "a.txt", tmp_path / "b.txt",
                                       n=2, min_count=1)
    assert lines == ["the die", "the der", "cat katze"]
    assert stats["multiword_or_empty_skipped"] == 1 and stats["candidate_source_words"] == 3


def test_grid_saves_selected_mapping(emb, grid_summary):
    """selected_W.npy is the selected configuration's W: mapping with it reproduces its P@1."""
    import numpy as np
    import torch

    from fairseq_xdomain.embeddings.vecio import load_vec
    from fairseq_xdomain.ubli.evaluation import evaluate_translation, load_dictionary

    summary, _, out = grid_summary
    assert summary["selected_mapping"] == "selected_W.npy"
    W = np.load(out / "selected_W.npy")
    assert W.shape == (DIM, DIM)
    src, tgt = load_vec(emb / "src.vec"), load_vec(emb / "tgt.vec")
    result = evaluate_translation(torch.from_numpy(src.vectors) @ torch.from_numpy(W),
                                  torch.from_numpy(tgt.vectors), src.words, tgt.words,
                                  load_dictionary(emb / "dico.txt"), backend="torch")
    assert result["csls_p@1"] == pytest.approx(summary["selected_record"]["csls_p@1"], abs=1e-6)
