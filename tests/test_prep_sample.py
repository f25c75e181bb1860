"""xdomain-prep sample: seeded uniform sampling, file order, dedup, memory bound, bad input."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

from conftest import BIN, run, write_lines

from fairseq_xdomain.preprocess.sample import sample_lines


def _prep(*args, check=True):
    return run(["xdomain-prep", *map(str, args)], check=check)


def test_same_seed_same_lines_in_file_order(tmp_path):
    src = write_lines(tmp_path / "in.txt", [f"line {i}" for i in range(500)])
    outs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        _prep("sample", "-n", 50, "--seed", seed, src, "-o", tmp_path / name)
        outs[name] = (tmp_path / name).read_text().splitlines()
    assert outs["a"] == outs["b"]
    assert outs["a"] != outs["c"]
    assert len(outs["a"]) == 50 and len(set(outs["a"])) == 50
    idx = [int(line.split()[1]) for line in outs["a"]]
    assert idx == sorted(idx)  # original file order
    dedup = [sample_lines(src, 50, seed=7, dedup=True, show_progress=False)[0] for _ in range(2)]
    assert dedup[0] == dedup[1] and len(set(dedup[0])) == 50


def test_sampling_is_uniform_and_dedup_samples_distinct_lines(tmp_path):
    src = write_lines(tmp_path / "in.txt", [f"w{i}" for i in range(40)])
    hits = Counter()
    trials = 1500
    for seed in range(trials):
        lines, _ = sample_lines(src, 8, seed=seed, show_progress=False)
        hits.update(lines)
    freqs = [hits[f"w{i}"] / trials for i in range(40)]
    assert all(abs(f - 0.2) < 0.05 for f in freqs), freqs  # 8/40 each
    # one line repeated 40 times among 40 distinct others: with --dedup it is one of 41
    # distinct lines (p = 8/41), without dedup it fills ~half of the sample
    dup = write_lines(tmp_path / "dup.txt", [f"w{i}" for i in range(40)] + ["REP"] * 40)
    with_dedup = sum("REP" in sample_lines(dup, 8, seed=s, dedup=True, show_progress=False)[0]
                     for s in range(trials)) / trials
    assert abs(with_dedup - 8 / 41) < 0.05, with_dedup
    plain, _ = sample_lines(dup, 8, seed=0, show_progress=False)
    assert plain.count("REP") >= 2


def test_drop_empty_dedup_and_n_larger_than_corpus(tmp_path):
    src = write_lines(tmp_path / "in.txt", ["b", "", "a", "b", "  ", "c", "a", "d"])
    out = tmp_path / "out.txt"
    proc = _prep("sample", "-n", 100, "--drop-empty", "--dedup", src, "-o", out)
    assert out.read_text().splitlines() == ["b", "a", "c", "d"]  # first occurrences, in order
    assert f"{src}: asked for 100 lines but the corpus has only 4" in proc.stderr
    assert "2 empty dropped, 2 duplicates dropped" in proc.stderr
    proc = _prep("sample", "-n", 100, src, "-o", out)
    assert out.read_text().splitlines() == ["b", "", "a", "b", "  ", "c", "a", "d"]
    assert "keeping all" in proc.stderr and proc.returncode == 0


def test_peak_memory_of_sampling_2m_lines_is_bounded(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "w", encoding="utf-8") as handle:
        block = "".join(f"sentence number {i} with a few more words in it\n" for i in range(10000))
        for _ in range(200):  # 2M lines, ~100 MB
            handle.write(block)
    out = tmp_path / "out.txt"
    # A small wrapper process starts the command and reports its children's peak RSS: the
    # child's ru_maxrss also counts the memory of the process it was forked from (before exec),
    # so forking it straight from this (possibly big) pytest process would measure pytest.
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", wrapper, str(BIN / "xdomain-prep"), "-q",
                           "sample", "-n", "1000", "--seed", "0", str(big), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.split()[-1]) / 1024  # kB on Linux
    print(f"peak RSS of sample -n 1000 over 2M lines: {peak_mb:.1f} MB")
    assert peak_mb < 200, peak_mb
    assert len(out.read_text().splitlines()) == 1000


def test_missing_and_empty_files_are_one_line_errors(tmp_path):
    missing = tmp_path / "nope.txt"
    proc = _prep("sample", "-n", 5, missing, "-o", tmp_path / "o", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {missing}: input file does not exist"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for cmd in (["sample", "-n", 5], ["tokenize", "--lang", "en"], ["lemmatize"],
                ["spm", "apply", "--model", empty]):
        proc = _prep(*cmd, empty, "-o", tmp_path / "o", check=False)
        assert proc.returncode == 2, cmd
        assert proc.stderr.strip() == f"error: {empty}: input file is empty", proc.stderr
    assert not (tmp_path / "o").exists()


def test_invalid_utf8_policies(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good one\nbad \xff\xfe line\nanother good\nalso \xc3 bad\n")
    out = tmp_path / "out.txt"
    proc = _prep("sample", "-n", 10, bad, "-o", out)
    assert out.read_text().splitlines() == ["good one", "another good"]
    assert f"{bad}: skipped 2 line(s) with invalid UTF-8" in proc.stderr
    proc = _prep("sample", "-n", 10, "--on-bad-utf8", "replace", bad, "-o", out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and lines[1] == "bad \ufffd\ufffd line"
    assert f"{bad}: replaced invalid bytes in 2 line(s)" in proc.stderr
    proc = _prep("sample", "-n", 10, "--on-bad-utf8", "fail", bad, "-o", tmp_path / "f.txt",
                 check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {bad}: invalid UTF-8 on line 2 (byte 4); use "
                                   "--on-bad-utf8 skip|replace to continue")
    assert not (tmp_path / "f.txt").exists()
    # the same policy and counts in tokenize
    proc = _prep("tokenize", "--lang", "en", "--workers", "1", bad, "-o", out)
    assert out.read_text().splitlines() == ["good one", "another good"]
    assert f"{bad}: skipped 2 line(s) with invalid UTF-8" in proc.stderr
