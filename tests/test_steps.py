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
