"""Issue 22, kind 6: input that is not what it seems is refused for what it is, at the first step.

- a pipe (``/dev/stdin``), a FIFO or a device is "not a regular file", never "empty" (case 36):
  ``common/textio.require_file``, used by every text reader;
- a compressed corpus says how to decompress it (``common/textio.check_is_text``);
- ``xdomain-train`` checks ``--user-dir`` once, before any rank starts (case 33).
"""
from __future__ import annotations

import gzip
import os
import subprocess

import pytest
from conftest import BIN, run

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.textio import iter_lines, require_file


def test_pipe_is_refused_as_a_pipe_not_as_empty(tmp_path):
    proc = subprocess.run([str(BIN / "xdomain-prep"), "tokenize", "--lang", "en", "--workers", "1",
                           "/dev/stdin", "-o", str(tmp_path / "c.tok")], input="Hello world.\n" * 5,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: /dev/stdin: input file is not a regular file (a pipe or FIFO); save the data to "
        "a file first (e.g. cat ... > corpus.txt)")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="fifo: corpus is not a regular file \\(a pipe or FIFO\\)"):
        require_file(fifo, "corpus")
    with pytest.raises(UserError, match="is not a regular file \\(a character device\\)"):
        list(iter_lines("/dev/null"))


def test_compressed_corpus_says_how_to_decompress(tmp_path):
    gz = tmp_path / "corpus.en.gz"
    gz.write_bytes(gzip.compress(b"hello world\n" * 10))
    with pytest.raises(UserError) as err:
        list(iter_lines(gz, what="corpus"))
    assert str(err.value) == (f"{gz}: corpus is gzip-compressed, not text; decompress it first "
                              "(zcat corpus.en.gz > FILE.txt)")
    text = tmp_path / "t.txt"
    text.write_text("BZh is a word here\n", encoding="utf-8")  # not the bzip2 magic
    assert list(iter_lines(text)) == ["BZh is a word here"]


def test_xdomain_train_checks_user_dir_before_any_rank(tmp_path):
    (tmp_path / "notpkg").mkdir()
    for value, needle in (("fairseq_xdomain", f"no such folder (looked in {tmp_path})"),
                          ("notpkg/", "is not a Python package (no __init__.py)")):
        proc = run(["xdomain-train", "--nproc", "2", "--cpu", "--", "DATA", "--user-dir", value,
                    "--task", "unmt_xdomain"], cwd=tmp_path, check=False, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
        assert lines[0].startswith(f"error: --user-dir {value}: ") and needle in lines[0]
        assert 'xdomain-user-dir' in lines[0] and "[rank" not in proc.stdout


def test_input_without_data_is_refused_naming_the_users_file(tmp_path):
    """A corpus of blank lines: the first step that sees it (sample, tokenize) names it, and no
    work file or output is left to fail on later."""
    blank = tmp_path / "blank.txt"
    blank.write_text("   \n\n \t \n", encoding="utf-8")
    proc = run(["xdomain-prep", "sample", "-n", "5", "--drop-empty", blank, "-o",
                tmp_path / "s.txt"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {blank}: no line to sample (3 read, 3 empty, 0 with invalid UTF-8)")
    proc = run(["xdomain-prep", "tokenize", "--lang", "en", "--workers", "1", blank, "-o",
                tmp_path / "t.txt"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {blank}: no token in its 3 readable line(s) (every line is empty or blank)")
    assert not (tmp_path / "t.txt").exists() and not (tmp_path / "s.txt").exists()
