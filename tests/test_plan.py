"""``--plan`` (issue 23): the plan's shape, that it trains nothing, that it knows which steps are
done, the default preset by hardware, and the live progress line of a step."""
from __future__ import annotations

import io
import json
import time

import pytest
from conftest import run

from fairseq_xdomain.common.step_progress import LiveLine, enabled, parse_log
from fairseq_xdomain.experiments.plan import PlanRunner, StepPlan, check_fit
from fairseq_xdomain.synthetic import write_cipher_data

SMALL = ["--preset", "tiny", "--ft-epoch", "2", "--min-count", "3",
         "--set", "fasttext.bucket=20000", "--max-vocab", "500", "--epoch-size", "640",
         "--seeds", "123", "--epochs", "1", "--refinements", "1", "--set", "grid.threads=1",
         "--set", "grid.dis_hid_dim=32", "--set", "grid.dis_most_frequent=300",
         "--set", "grid.dico_max_rank=300", "--set", "grid.criterion_max_rank=300",
         "--set", "grid.knn_backend=torch", "--set", "stdm.docs_per_corpus=100",
         "--set", "stdm.svd_dim=10", "--set", "tokenize.workers=1",
         "--set", "beyond.methods=[identity]"]
THREADS = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan_pair")
    run(["xdomain-synth", "mismatched", "--out", d, "--n-lines", 3000, "--vocab-size", 400,
         "--n-dict-test", 60, "--n-dict-train", 60, "--min-count", 5])
    return d


def _ubli(data, tmp, *extra):
    return run(["xdomain-run", "ubli", "--src-lang", "aa", "--tgt-lang", "bb",
                "--src-corpus", data / "aa.wiki.txt", "--tgt-corpus", data / "bb.un.txt",
                "--stdm-corpus", data / "bb.wiki.txt", "--dico", data / "dict.aa-bb.test.txt",
                "--results", tmp / "results", "--work", tmp / "work", *SMALL, *extra],
               env=THREADS)


def test_ubli_plan_shape_and_trains_nothing(pair, tmp_path):
    proc = _ubli(pair, tmp_path, "--plan")
    plan_path = tmp_path / "results" / "aa-bb" / "plan.json"
    plan = json.loads(plan_path.read_text())
    assert plan["kind"] == "plan" and plan["total_est_s"] > 0
    names = [s["name"] for s in plan["steps"]]
    assert names[:3] == ["tokenize.aa.src", "tokenize.bb.tgt", "tokenize.bb.stdm"]
    assert {"fasttext.separate.aa", "fasttext.separate.bb", "fasttext.joint", "grid.separate",
            "grid.joint", "stdm", "beyond.identity.joint", "report"} <= set(names)
    for s in plan["steps"]:
        assert set(s) >= {"name", "est_s", "est_peak_ram_mb", "est_peak_gpu_mb", "done"}
        assert s["done"] is False and s["est_s"] > 0 and s["est_peak_ram_mb"] > 0
        assert s["est_peak_gpu_mb"] is None  # no device used by these steps on a CPU
    assert plan["total_est_s"] == pytest.approx(sum(s["est_s"] for s in plan["steps"]), abs=1)
    assert plan["peak_ram_mb"] == max(round(s["est_peak_ram_mb"]) for s in plan["steps"])
    # the grid's estimate counts its seeds x epochs: the probe measured the real shapes
    grid = next(s for s in plan["steps"] if s["name"] == "grid.separate")
    assert "1 seeds x 1 epochs x 640 samples" in grid["how"]
    # diagnostics of the corpora (engineer 5's module) are in the plan
    assert plan["diagnostics"]["risk"] in ("low", "medium", "high")
    assert "Total ETA" in proc.stdout and (tmp_path / "results" / "aa-bb" / "plan.md").is_file()
    # nothing trained, nothing written but the plan
    assert not list(tmp_path.rglob("*.vec")) and not list(tmp_path.rglob("*.pt"))
    assert not list(tmp_path.rglob("*.npy")) and not (tmp_path / "work" / "aa-bb" / "corpus").exists()
    assert not (tmp_path / "results" / "aa-bb" / "run.json").exists()
    assert sorted(p.name for p in (tmp_path / "results" / "aa-bb").iterdir()) == \
        ["plan.json", "plan.md"]


def test_plan_marks_done_steps(tmp_path):
    """A step whose stamp matches is ``done`` in the plan, as the runner would skip it."""
    from fairseq_xdomain.steps import Runner

    src = tmp_path / "in.txt"
    src.write_text("a b c\n")
    out = tmp_path / "out.txt"
    runner = Runner(tmp_path / "work")
    runner.step("copy", [str(src)], {"x": 1}, lambda: (out.write_text("x"), ([str(out)], {}))[1])
    plan = PlanRunner(tmp_path / "work")
    assert plan.step("copy", [str(src)], {"x": 1}, None)["status"] == "skipped"
    assert plan.step("copy", [str(src)], {"x": 2}, None)["status"] == "planned"
    assert plan.step("next", [str(tmp_path / "missing")], {}, None)["status"] == "planned"


def test_memory_that_does_not_fit_is_flagged():
    steps = [StepPlan("small", False, 1.0, 100.0), StepPlan("big", False, 1.0, 10**7),
             StepPlan("gpu", False, 1.0, 10.0, 90_000.0)]
    warnings = check_fit(steps, {"ram_available_mb": 20_000, "gpu_mem_mb": 80_000})
    assert [s.fits for s in steps] == [True, False, False] and len(warnings) == 2


@pytest.fixture(scope="module")
def cipher(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan_cipher")
    return write_cipher_data(root / "cipher", n_train=1000, n_valid=40, vocab_size=60, seed=1)


def test_mlm_plan_probes_fairseq_and_trains_nothing(cipher, tmp_path):
    out = tmp_path / "mlm"
    proc = run(["xdomain-run", "mlm", cipher, "aa,bb", out, "--preset", "tiny", "--plan",
                "--set", "fasttext.epoch=1", "--set", "fasttext.min_count=1",
                "--set", "fairseq.max_update=200"], env=THREADS)
    plan = json.loads((out / "plan.json").read_text())
    assert [s["name"] for s in plan["steps"]] == ["mlm.fasttext", "mlm.train"]
    train = plan["steps"][1]
    assert "200 updates" in train["how"] and train["est_s"] > 0
    assert train["est_peak_ram_mb"] > 100  # the fairseq process tree, measured
    assert not list(out.rglob("checkpoint*.pt")) and not list(out.rglob("*.vec"))
    assert not (out / "run.json").exists()
    assert proc.stdout.splitlines()[0].startswith("xdomain-run mlm: preset tiny")


def test_default_preset_follows_the_hardware(monkeypatch):
    """Without --preset: ``paper`` where a GPU is present, ``cpu`` where not, said in the line
    the driver prints first; an explicit preset is kept."""
    import argparse

    from fairseq_xdomain.experiments import plan
    from fairseq_xdomain.experiments.common import resolve_preset
    from fairseq_xdomain.experiments.ubli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--src-lang", "a", "--tgt-lang", "b", "--src-corpus", "x",
                              "--tgt-corpus", "y", "--dico", "z"])
    assert args.preset is None
    monkeypatch.setattr(plan, "has_gpu", lambda: False)
    assert resolve_preset(args) == "preset cpu (default: no GPU found)" and args.preset == "cpu"
    args.preset = None
    monkeypatch.setattr(plan, "has_gpu", lambda: True)
    assert resolve_preset(args) == "preset paper (default: a GPU is present)"
    assert resolve_preset(args) == "preset paper"  # given: kept as is


def test_parse_log_reads_fairseq_grid_and_fasttext():
    frac, what = parse_log("epoch 002:  10 / 50 loss=3 num_updates=60 wall=12\n", 240)
    assert frac == pytest.approx(0.25) and what == "epoch 2, 60 updates"
    text = ("grid: 4 seeds x epochs [1, 3] x refinements [1] = 8 configurations on cpu\n"
            + "configuration computed: seed=1\n" * 2)
    assert parse_log(text) == (pytest.approx(0.25), "2 of 8 configurations")
    assert parse_log("Progress:  42.5% words/sec/thread: 100")[0] == pytest.approx(0.425)
    assert parse_log("nothing here") == (None, "")


def test_live_line_plain_output_and_switches(tmp_path, monkeypatch):
    monkeypatch.setenv("TQDM_MININTERVAL", "0.1")
    log = tmp_path / "x.log"
    log.write_text("epoch 001: num_updates=5 wall=1\n")
    stream = io.StringIO()  # not a terminal: plain lines, none before the interval (60 s)
    with LiveLine("[1/2] mlm.train", est_s=100.0, log=log, total_updates=10, stream=stream) as live:
        time.sleep(0.3)
        line = live.line()
    assert stream.getvalue() == f"[1/2] mlm.train: log {log}\n"
    assert line.startswith("[1/2] mlm.train: 50% (epoch 1, 5 updates)") and str(log) in line
    assert enabled() and not enabled(no_progress=True)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not enabled()


def test_pipeline_plan_writes_only_the_plan(tmp_path):
    """``xdomain-prep pipeline --plan``: every step estimated, WORK/plan.json written, no output
    folder and no step's file."""
    words = "the a house tree river stone light water fire green".split()
    for lang in ("en", "fr"):
        lines = [" ".join(words[(i * k) % len(words)] for k in range(1, 8)) + f" {lang}{i % 50}"
                 for i in range(600)]
        (tmp_path / f"{lang}.txt").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"output: {tmp_path / 'data'}\nseed: 1\ncorpora:\n"
                   f"  - {{lang: en, domain: wiki, train: {tmp_path / 'en.txt'}}}\n"
                   f"  - {{lang: fr, domain: un, train: {tmp_path / 'fr.txt'}}}\n"
                   "sample: {n: 500, drop_empty: true}\ntokenize: {lowercase: true, workers: 1}\n"
                   "spm: {model_type: unigram, vocab_size: 40, max_sentences: 1000}\n")
    run(["xdomain-prep", "pipeline", "--config", cfg, "--plan"], env=THREADS)
    plan = json.loads((tmp_path / "data.work" / "plan.json").read_text())
    assert [s["name"] for s in plan["steps"]] == [
        "sample.en", "tokenize.en", "sample.fr", "tokenize.fr", "concat", "spm.train",
        "spm.apply.en", "spm.apply.fr", "binarize"]
    assert all(s["est_s"] > 0 and not s["done"] for s in plan["steps"])
    assert "500 lines" in plan["steps"][1]["how"]  # the sample's size, not the corpus's
    assert not (tmp_path / "data").exists()
    assert sorted(p.name for p in (tmp_path / "data.work").iterdir()) == ["plan.json", "plan.md"]
