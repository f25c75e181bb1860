"""Issue 22, kind 4: failures of the machine are one line and leave nothing half-written.

A full disk is simulated with the file-size limit (``RLIMIT_FSIZE``, ``ulimit -f``): Python ignores
SIGXFSZ, so a write past the limit raises ``OSError(EFBIG)`` as a full disk raises ENOSPC. Every
console tool (``common.errors.cli_entry``) and fairseq-train (``compat`` section 7: checkpoint
saving) print ``error: PATH: CAUSE`` and exit 2, and no ``.tmp`` or partial file is left.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys

from conftest import BIN, run


def _limited(limit_bytes):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))
    return preexec


def _left(folder):
    return sorted(p.name for p in folder.iterdir())


def test_console_tool_output_over_the_size_limit(tmp_path):
    big = tmp_path / "in" / "big.txt"
    big.parent.mkdir()
    big.write_text("The quick brown fox, said he.\n" * 8000, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([str(BIN / "xdomain-prep"), "tokenize", "--lang", "en", "--workers", "1",
                           str(big), "-o", str(out / "a.tok")], capture_output=True, text=True,
                          preexec_fn=_limited(100_000), timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {out / 'a.tok'}: cannot write: file too large (the file-size limit, ulimit -f, "
        "or the file system's)")
    assert _left(out) == []  # neither the final file nor a .tmp


def test_output_below_a_regular_file(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("hello world\n", encoding="utf-8")
    proc = run(["xdomain-prep", "tokenize", "--lang", "en", "--workers", "1", src, "-o",
                src / "sub" / "x.tok"], check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {src / 'sub'}: cannot write: a part of the path is a file, not a folder")


CHILD = r"""
import json, os, resource, sys, torch
import fairseq_xdomain
fairseq_xdomain.register()
from fairseq import checkpoint_utils
from fairseq_xdomain.common.errors import UserError
target, src = sys.argv[1], sys.argv[2]
for op in sys.argv[3:]:  # one line each: the outcome, and what the folder holds after it
    if op == "unlimit":  # the soft limit back up to the hard one (no limit)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        continue
    try:
        if op == "save":
            checkpoint_utils.torch_persistent_save({"w": torch.zeros(200_000)}, target)
        else:
            checkpoint_utils.PathManager.copy(src, target, overwrite=True)
        outcome = "OK"
    except UserError as err:
        outcome = f"USERERROR {err}"
    print(json.dumps([op, outcome, sorted(os.listdir(os.path.dirname(target)))]), flush=True)
"""


def test_checkpoint_save_and_copy_over_the_size_limit(tmp_path):
    """fairseq's checkpoint writer and its checkpoint_last.pt copy (as patched by compat), in one
    fairseq process: both over the file-size limit, then the copy without a limit."""
    save = tmp_path / "ck"
    save.mkdir()
    target = save / "checkpoint_last.pt"
    src = tmp_path / "checkpoint1.pt"
    src.write_bytes(b"x" * 400_000)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(target), str(src), "save", "copy",
                           "unlimit", "copy"], capture_output=True, text=True,
                          preexec_fn=_limited(300_000), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]
    too_large = (f"USERERROR {target}: cannot save checkpoint: file too large (the file-size "
                 "limit, ulimit -f, or the file system's)")
    assert outcomes == [["save", too_large, []],  # nothing left: no .tmp, no partial file
                        ["copy", too_large, []],
                        ["copy", "OK", ["checkpoint_last.pt"]]], proc.stdout[-3000:]
    assert target.stat().st_size == 400_000
