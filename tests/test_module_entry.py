"""Every module with a console ``main`` also runs as ``python -m MODULE`` (the docs use that form
for some tools, and a user may): ``--help`` prints its usage and exits 0, instead of importing the
module and silently doing nothing. Modules are found by walking the package, so a new tool is
covered without a new case."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> list[str]:
    mods = []
    for path in sorted(ROOT.glob("fairseq_xdomain/**/*.py")):
        if re.search(r"^def main\(", path.read_text(encoding="utf-8"), re.M):
            mods.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return mods


MODULES = _modules()


def test_modules_found():
    assert {"fairseq_xdomain.ubli.commands.cli", "fairseq_xdomain.embeddings.cli",
            "fairseq_xdomain.preprocess.cli"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_python_m_help(module):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.lstrip().startswith("usage:"), proc.stdout[:200]
