"""The one step runner (fairseq_xdomain/steps.py): what reruns, what is skipped, and why.

Steps here are small real functions writing real files: a chain ``upper`` -> ``count`` ->
``report`` (``report`` reads only ``count``'s output) and an independent ``copy`` step, so "a
change recomputes that step and its dependants only, through the input checksums" can be
checked step by step.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from fairseq_xdomain.common.atomic import write_text
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.steps import Runner, package_version, run_logged, write_run_record


def pipeline(work, src, other, suffix="!", version=None):
    """Run the four steps; return {step: status} and the progress lines."""
    lines = []
    runner = Runner(work, total=4, progress=lines.append, version=version)
    up, cnt, rep, cp = (str(work / n) for n in ("upper.txt", "count.txt", "report.txt", "copy.txt"))

    def upper():
        write_text(up, src.read_text().upper() + suffix)
        return [up], {}

    def count():
        write_text(cnt, str(len(open(up).read())))
        return [cnt], {}

    def report():
        write_text(rep, f"{open(cnt).read()} characters")
        return [rep], {}

    def copy():
        write_text(cp, other.read_text())
        return [cp], {}

    runner.step("upper", [str(src)], {"suffix": suffix}, upper)
    runner.step("count", [up], {}, count)
    runner.step("report", [cnt], {}, report)
    runner.step("copy", [str(other)], {"workers": 3}, copy)
    return {r["step"]: r["status"] for r in runner.records}, lines


@pytest.fixture
def inputs(tmp_path):
    src, other = tmp_path / "src.txt", tmp_path / "other.txt"
    src.write_text("hello")
    other.write_text("world")
    return tmp_path / "work", src, other


def test_nothing_changed_skips_everything(inputs):
    work, src, other = inputs
    status, lines = pipeline(work, src, other)
    assert set(status.values()) == {"ran"}
    assert lines[:2] == ["[1/4] upper: running", lines[1]] and lines[1].startswith("[1/4] upper: finished in ")
    assert (work / "report.txt").read_text() == "6 characters"
    status, lines = pipeline(work, src, other)
    assert set(status.values()) == {"skipped"}
    assert lines == [f"[{i}/4] {n}: up to date" for i, n in enumerate(status, 1)]


def test_changed_param_reruns_that_step_and_its_dependants_only(inputs):
    work, src, other = inputs
    pipeline(work, src, other)
    status, _ = pipeline(work, src, other, suffix="?")
    # count's input changed, so count reran; its output is the same (6), so report did not
    assert status == {"upper": "ran", "count": "ran", "report": "skipped", "copy": "skipped"}
    assert (work / "upper.txt").read_text() == "HELLO?"
    status, _ = pipeline(work, src, other, suffix="??")
    assert status == {"upper": "ran", "count": "ran", "report": "ran", "copy": "skipped"}
    assert (work / "report.txt").read_text() == "7 characters"


def test_changed_input_or_output_reruns(inputs):
    work, src, other = inputs
    pipeline(work, src, other)
    other.write_text("there")
    status, _ = pipeline(work, src, other)
    assert status == {"upper": "skipped", "count": "skipped", "report": "skipped", "copy": "ran"}
    assert (work / "copy.txt").read_text() == "there"
    (work / "count.txt").write_text("99")  # an output changed behind the runner's back
    status, _ = pipeline(work, src, other)
    assert status == {"upper": "skipped", "count": "ran", "report": "skipped", "copy": "skipped"}
    assert (work / "count.txt").read_text() == "6"  # restored: report's input is as before


def test_params_that_do_not_change_results_are_not_in_the_key(inputs):
    work, src, other = inputs
    runner = Runner(work)
    assert runner.key("x", {"workers": 1, "n": 2}, [str(src)]) == runner.key(
        "x", {"workers": 8, "n": 2}, [str(src)])
    assert runner.key("x", {"n": 2}, [str(src)]) != runner.key("x", {"n": 3}, [str(src)])


def test_stamp_of_another_package_version_is_not_reused(inputs):
    work, src, other = inputs
    pipeline(work, src, other)
    stamp = json.loads((work / ".stamps" / "upper.json").read_text())
    assert stamp["version"] == package_version()
    status, _ = pipeline(work, src, other, version="0.0.0-other")
    assert set(status.values()) == {"ran"}
    assert json.loads((work / ".stamps" / "upper.json").read_text())["version"] == "0.0.0-other"


def test_killed_step_leaves_no_stamp_and_reruns(tmp_path):
    """A process killed (SIGKILL) inside step 2 after writing half its output: no stamp for
    step 2, step 1 is kept; the next run skips step 1 and runs step 2 to the end."""
    script = tmp_path / "steps_run.py"
    script.write_text(textwrap.dedent('''
        import os, signal, sys
        from fairseq_xdomain.steps import Runner
        work, kill = sys.argv[1], sys.argv[2] == "kill"
        runner = Runner(work, total=2)
        a, b = os.path.join(work, "a.txt"), os.path.join(work, "b.txt")
        def first():
            open(a, "w").write("a" * 100)
            return [a], {}
        def second():
            with open(b, "w") as out:
                out.write("half")
                out.flush()
                if kill:
                    os.kill(os.getpid(), signal.SIGKILL)
                out.write(" and the rest")
            return [b], {}
        runner.step("first", [], {}, first)
        runner.step("second", [a], {}, second)
    '''))
    work = tmp_path / "work"
    proc = subprocess.run([sys.executable, script, work, "kill"], capture_output=True, text=True)
    assert proc.returncode == -9
    assert (work / ".stamps" / "first.json").exists()
    assert not (work / ".stamps" / "second.json").exists()
    assert (work / "b.txt").read_text() == "half"
    proc = subprocess.run([sys.executable, script, work, "go"], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.splitlines() == ["[1/2] first: up to date", "[2/2] second: running",
                                        proc.stdout.splitlines()[2]]
    assert (work / "b.txt").read_text() == "half and the rest"
    assert (work / ".stamps" / "second.json").exists()


def test_missing_output_and_input_are_user_errors(tmp_path):
    runner = Runner(tmp_path / "work", progress=lambda line: None)
    with pytest.raises(UserError, match="did not write this output"):
        runner.step("liar", [], {}, lambda: ([str(tmp_path / "never.txt")], {}))
    assert not (tmp_path / "work" / ".stamps" / "liar.json").exists()
    with pytest.raises(UserError, match="does not exist"):
        runner.step("x", [str(tmp_path / "nope.txt")], {}, lambda: ([], {}))


def test_folder_outputs_are_checked_by_content(tmp_path):
    folder = tmp_path / "out"
    calls = []

    def fn():
        calls.append(1)
        write_text(folder / "a" / "x.txt", "1")
        return [str(folder)], {}

    for _ in range(2):
        Runner(tmp_path / "work", progress=lambda line: None).step("dir", [], {}, fn)
    assert len(calls) == 1
    (folder / "a" / "x.txt").write_text("2")
    Runner(tmp_path / "work", progress=lambda line: None).step("dir", [], {}, fn)
    assert len(calls) == 2


def test_run_logged(tmp_path, capsys):
    log = tmp_path / "logs" / "ok.log"
    # the console tools of this interpreter are found by bare name and are first on PATH
    run_logged(["xdomain-user-dir", "--help"], log)
    assert log.read_text().startswith("$ " + str(sys.executable).rsplit("/", 1)[0])
    assert "usage: xdomain-user-dir" in log.read_text()
    code = "import os, sys; print(os.environ['PATH'].split(os.pathsep)[0]); print('line', " \
           "os.environ['X_TEST']); sys.exit(3)"
    bad = tmp_path / "logs" / "bad.log"
    with pytest.raises(UserError) as err:
        run_logged([sys.executable, "-c", code], bad, env={"X_TEST": 7})
    assert str(bad) in str(err.value) and "exit 3" in str(err.value)
    stderr = capsys.readouterr().err
    assert "line 7" in stderr and str(sys.executable).rsplit("/", 1)[0] in stderr


def test_write_run_record(tmp_path):
    runner = Runner(tmp_path / "work", progress=lambda line: None)
    out = tmp_path / "x.txt"
    runner.step("x", [], {}, lambda: (write_text(out, "x"), ([str(out)], {}))[1])
    rec = write_run_record(tmp_path / "run.json", {"a": "it's \"quoted\""}, seed=[1, 2],
                           started=0.0, runner=runner)
    back = json.loads((tmp_path / "run.json").read_text())
    assert back == rec and back["config"]["a"] == "it's \"quoted\"" and back["seed"] == [1, 2]
    assert back["version"] == package_version() and back["steps"][0]["status"] == "ran"


def test_a_step_asked_to_write_elsewhere_runs_again(tmp_path):
    """A step whose declared outputs move (another --results folder) is not "up to date" with
    its files in the old place: it runs again and writes the new ones (the old ones stay)."""
    src = tmp_path / "src.txt"
    src.write_text("hello")

    def run(dest):
        runner = Runner(tmp_path / "work", progress=lambda line: None)
        cmd = [sys.executable, "-c", f"import shutil; shutil.copy({str(src)!r}, {str(dest)!r})"]
        return runner.command("copy", [str(src)], {}, cmd, [dest])["status"]

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    assert (run(a), run(a)) == ("ran", "skipped")
    assert run(b) == "ran" and b.read_text() == "hello" and a.exists()
    assert run(b) == "skipped"


# ----------------------------------------------------------------------------- progress (issue 23)

GRID_FLAGS = ["--seeds", "123,456", "--epochs", "1,2", "--refinements", "1,2",
              "--epoch-size", "320", "--dis-hid-dim", "16", "--dis-most-frequent", "200",
              "--dico-max-rank", "200", "--criterion-max-rank", "200", "--knn-backend", "torch",
              "--threads", "1"]


def _grid_args(folder, out, *extra):
    import argparse

    from fairseq_xdomain.ubli.commands.grid import add_grid_arguments

    p = add_grid_arguments(argparse.ArgumentParser())
    return p.parse_args(["--src-emb", str(folder / "src.vec"), "--tgt-emb", str(folder / "tgt.vec"),
                         "--dico-eval", str(folder / "dico.txt"), "--out", str(out),
                         *GRID_FLAGS, *extra])


def test_grid_progress_reaches_the_step_runners_live_line(tmp_path):
    """A grid run as a step (in process, its log in a file, the live line on): the grid's bar
    writes one line per configuration into the step's log, none onto the terminal, and the live
    line reads percent, rate and time left from it; a resumed grid counts the configurations on
    disk as done (8 in all: 2 seeds x epochs {1, 2} x refinements {1, 2})."""
    import io
    import logging

    from fairseq_xdomain.common.progress import parse_lines
    from fairseq_xdomain.common.step_progress import LiveLine, live_factory
    from fairseq_xdomain.experiments.common import logged_to
    from fairseq_xdomain.ubli.commands.grid import run_args
    from fairseq_xdomain.ubli.synthetic_emb import write_pair

    write_pair(tmp_path, 300, 16, seed=3, prefix="t", dico_rows=range(0, 200, 3))
    log, out, terminal = tmp_path / "grid.log", tmp_path / "grid", io.StringIO()
    root = logging.getLogger()
    console = logging.StreamHandler(terminal)
    console.setLevel(logging.NOTSET)  # as logging.basicConfig leaves it
    root.addHandler(console)
    old_level = root.level
    root.setLevel(logging.WARNING)
    try:
        runner = Runner(tmp_path / "work", total=1, progress=lambda line: None)
        runner.live = live_factory({}, lambda name: log, stream=io.StringIO())

        def fn():
            with logged_to(log):
                run_args(_grid_args(tmp_path, out))
            return [str(out / "summary.json")], {}

        runner.step("grid", [], {}, fn)
    finally:
        root.removeHandler(console)
        root.setLevel(old_level)
    assert "progress" not in terminal.getvalue()  # INFO stays in the step's log
    lines = [x for x in parse_lines(log.read_text()) if x["depth"] == 0]
    assert [x["percent"] for x in lines] == [12, 25, 38, 50, 62, 75, 88, 100]
    assert lines[-1]["desc"] == "grid" and lines[-1]["counts"].startswith("8 of 8 configurations, ")
    assert lines[-1]["left_s"] == 0
    live = LiveLine("[1/1] grid", est_s=1000.0, log=log).line()
    assert live.startswith("[1/1] grid: 100% (grid: 8 of 8 configurations, ") and str(log) in live
    assert "(plan)" not in live  # the log's numbers, not the plan's

    # resume: two configurations gone -> the bar starts at 6 of 8, its rate counts the 2 new ones
    for name in ("seed456_e2_r1", "seed456_e2_r2"):
        (out / "configs" / f"{name}.json").unlink()
    with logged_to(log):
        run_args(_grid_args(tmp_path, out))
    lines = [x for x in parse_lines(log.read_text()) if x["depth"] == 0]
    assert [x["percent"] for x in lines] == [88, 100]
    assert lines[0]["counts"].startswith("7 of 8 configurations")


def test_plain_progress_lines(tmp_path, monkeypatch, caplog):
    """Off a terminal a bar writes plain log lines in the one format ``parse_lines`` reads,
    none for a short loop; ``quiet()``, ``TQDM_DISABLE`` and ``disable`` silence it; while a
    live line is shown, a bar writes log lines even where stderr is a terminal."""
    import io
    import logging

    from fairseq_xdomain.common import progress as P
    from fairseq_xdomain.common.step_progress import LiveLine

    caplog.set_level(logging.INFO, logger="fairseq_xdomain.progress")
    bar = P.progress(total=40, desc="kNN", unit=" queries", unit_scale=False, mininterval=0)
    for _ in range(4):
        bar.update(10)
    bar.close()
    got = P.parse_lines(caplog.text)
    assert [(x["depth"], x["desc"], x["percent"]) for x in got] == [
        (0, "kNN", 25), (0, "kNN", 50), (0, "kNN", 75), (0, "kNN", 100)]
    assert got[-1]["counts"].startswith("40 of 40 queries, ") and got[-1]["left_s"] == 0
    assert got[0]["left_s"] is not None and got[0]["elapsed_s"] is not None
    caplog.clear()
    short = P.progress(total=5, desc="short")  # default interval (30 s): a short loop is silent
    short.update(5)
    short.close()
    with P.quiet():
        q = P.progress(total=5, desc="quiet", mininterval=0)
        q.update(5)
        q.close()
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert P.progress(total=5, desc="off").disable and not P.enabled()
    monkeypatch.delenv("TQDM_DISABLE")
    assert P.progress(total=5, desc="off", disable=True).disable
    assert caplog.text == ""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.delenv("XDOMAIN_PROGRESS", raising=False)
    tty = P.progress(total=3, desc="tty")
    assert type(tty) is not P.PlainBar  # tqdm's own bar on a terminal
    tty.close()
    before = sys.stderr.getvalue()
    with LiveLine("[1/1] step", stream=io.StringIO()):
        inner = P.progress(total=3, desc="inside", mininterval=0)
        assert isinstance(inner, P.PlainBar)
        inner.update(3)
        inner.close()
    assert P.parse_lines(caplog.text)[-1]["counts"].startswith("3 of 3 lines, ")
    assert sys.stderr.getvalue() == before  # nothing onto the terminal
    assert P.parse_duration("2h05m") == 7500 and P.parse_duration("6m10s") == 370


def test_live_line_reads_nested_bars_fairseq_epochs_and_back_translation():
    from fairseq_xdomain.common.step_progress import parse_bars, parse_log

    text = ("x | progress 0: grid: 50% (4 of 8 configurations, 2 configurations/min) 2m00s, "
            "~2m00s left\n"
            "x | progress 1: adversarial epoch 2/2: 45% (9 of 20 it, 3 it/s) 3s, ~3s left\n")
    outer, what = parse_bars(text)
    assert outer["percent"] == 50 and outer["left_s"] == 120
    assert what == "grid: 4 of 8 configurations, 2 configurations/min; adversarial epoch 2/2 45%"
    # a tail without the outermost line keeps the one seen before
    assert parse_bars(text.splitlines()[1], outer)[0] is outer
    assert parse_log(text) == (0.5, what)
    # UNMT (epochs, online back-translation): percent of --max-epoch, BT's share of the time
    bt = "epoch 003:     25 / 50 loss=3.1, bt_sec=3.0, step_sec=5.0, num_updates=125, wall=30\n"
    assert parse_log(bt, total_epochs=10) == (
        pytest.approx(0.25), "epoch 3, 125 updates, back-translation 60% of the time")
    assert parse_log(bt + "end of epoch 3 (average epoch stats below)\n", total_epochs=10)[0] \
        == pytest.approx(0.3)
    assert parse_log(bt, total_updates=500)[0] == pytest.approx(0.25)


def test_knn_search_reports_its_query_blocks(monkeypatch, caplog):
    """A kNN search of CSLS over more than one block of queries and ``BAR_MIN_PRODUCTS``
    products (10^8; lowered here) reports the queries done (here every block: interval 0);
    the result is the plain top-k's."""
    import logging

    import torch

    from fairseq_xdomain.common import progress as P
    from fairseq_xdomain.ubli import csls

    monkeypatch.setattr(P, "PLAIN_INTERVAL_S", 0.0)
    monkeypatch.setenv("TQDM_MININTERVAL", "0")
    caplog.set_level(logging.INFO, logger="fairseq_xdomain.progress")
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(1000, 4, generator=gen), torch.randn(2000, 4, generator=gen)
    csls.topk_torch(q, k, 3, q_block=400)  # 2 x 10^6 products: under the default, no bar
    assert caplog.text == ""
    monkeypatch.setattr(csls, "BAR_MIN_PRODUCTS", 10**6)
    vals, idx = csls.topk_torch(q, k, 3, q_block=400, k_block=1500)
    ref_vals, ref_idx = (q @ k.T).topk(3, dim=1)
    assert torch.equal(idx, ref_idx) and torch.allclose(vals, ref_vals)
    lines = P.parse_lines(caplog.text)
    assert [x["percent"] for x in lines] == [40, 80, 100]
    assert lines[-1]["desc"] == "kNN 1,000 x 2,000"
    assert lines[-1]["counts"].startswith("1,000 of 1,000 queries")
    caplog.clear()
    csls.topk_torch(q[:400], k, 3, q_block=400)  # one block: no bar
    assert caplog.text == ""
