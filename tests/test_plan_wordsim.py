"""``xdomain-run wordsim --plan`` (issue 23, point 1): the plan's shape on tiny generated data,
and that it trains nothing (no ``.vec``, no checkpoint, no mapping, no work folder)."""
from __future__ import annotations

import json

import pytest
from conftest import run

TINY = ["--preset", "tiny", "--dim", "16", "--ft-epoch", "2", "--min-count", "3",
        "--set", "fasttext.bucket=20000", "--max-vocab", "500", "--epoch-size", "640",
        "--grid-seeds", "123", "--epochs", "1", "--refinements", "1", "--set", "grid.threads=1",
        "--set", "grid.dis_hid_dim=32", "--set", "grid.dis_most_frequent=300",
        "--set", "grid.dico_max_rank=300", "--set", "grid.criterion_max_rank=300",
        "--set", "grid.knn_backend=torch"]
ROWS = ("wiki-wiki", "un-wiki", "un-wiki-joint")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan_wsdata")
    run(["xdomain-synth", "mismatched", "--out", d, "--n-lines", 3000, "--vocab-size", 400,
         "--n-wordsim", 100, "--n-dict-test", 60, "--n-dict-train", 60, "--min-count", 5])
    return d


def test_wordsim_plan_shape_and_trains_nothing(data, tmp_path):
    proc = run(["xdomain-run", "wordsim", "--corpora", data, "--semeval", data, "--src-lang",
                "aa", "--langs", "bb", "--no-tokenize", "--results", tmp_path / "results",
                "--work", tmp_path / "work", *TINY, "--plan"], env={"OMP_NUM_THREADS": "1"})
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
    assert "x 2 epochs" in ft and int(ft.split(" tokens")[0].replace(",", "")) > 30_000
    assert "Total ETA" in proc.stdout
    # nothing trained, nothing written but the plan
    assert not list(tmp_path.rglob("*.vec")) and not list(tmp_path.rglob("*.bin"))
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.npy"))
    assert not (tmp_path / "work").exists()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["plan.json", "plan.md"]
