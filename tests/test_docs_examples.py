"""Every *runnable* command block of README.md and docs/*.md runs as written (issue 15, point 10).

The convention (docs/design.md, "Documentation examples"): a fenced block whose info string is
``bash example`` (or ``python example``), or any fenced block right after a line
``<!-- example -->``, runs top to bottom in a fresh temporary folder. Before it runs, the folder
gets tiny generated data (``xdomain-synth mismatched``) under the input file names the block uses
(``INPUTS`` below: ``corpus.en``, ``en-fr.txt``, ...). A bash block runs under
``bash -euo pipefail`` with this venv's ``bin`` first on ``PATH`` and ``OMP_NUM_THREADS=1``; a
python block under this interpreter. A line ``# writes: PATH ...`` in the block names files the
block must leave behind; they are checked after a zero exit. Blocks that need paper-scale data or a
GPU stay plain and are only option-checked (``tests/test_docs_commands.py``).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
OPEN = re.compile(r"^( *)```(\S*)(.*)$")
MARK = "<!-- example -->"

# input file name used in the docs -> file of the generated data set (``xdomain-synth mismatched``:
# ``aa`` plays the source language, ``bb`` the target; Wiki and UN the two domains)
INPUTS = {
    "corpus.en": "aa.wiki.txt", "corpus.fr": "bb.un.txt", "corpus.de": "bb.un.txt",
    "en.wiki.txt": "aa.wiki.txt", "es.un.txt": "bb.un.txt", "es.wiki.txt": "bb.wiki.txt",
    "en.txt": "aa.wiki.txt", "fr.txt": "bb.un.txt",
    "raw/en.wiki.txt": "aa.wiki.txt", "raw/fr.un.txt": "bb.un.txt", "raw/fr.wiki.txt": "bb.wiki.txt",
    "raw/dev.en": "valid.aa-bb.aa", "raw/dev.fr": "valid.aa-bb.bb",
    "raw/test.en": "test.aa-bb.aa", "raw/test.fr": "test.aa-bb.bb",
    "en-fr.txt": "dict.aa-bb.test.txt", "en-es.5000-6500.txt": "dict.aa-bb.test.txt",
    "en-de.txt": "dict.aa-bb.test.txt",
    "en-de.test.data.txt": "aa-bb.test.data.txt", "en-de.test.gold.txt": "aa-bb.test.gold.txt",
}
# files that come with an input, as they would for a user (the gold scores next to the pairs)
ALSO = {"en-de.test.data.txt": ["en-de.test.gold.txt"]}
SYNTH = ["mismatched", "--n-lines", "3000", "--vocab-size", "300", "--n-parallel", "200",
         "--seed", "0"]


def runnable_blocks():
    """``(doc name, first line number, language, block text)`` of every runnable block."""
    found = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = OPEN.match(lines[i])
            if not m:
                i += 1
                continue
            indent, lang, rest = len(m.group(1)), m.group(2), m.group(3).split()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("```")),
                       len(lines))
            prev = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
            if "example" in rest or prev == MARK:
                body = "".join(ln[indent:] + "\n" for ln in lines[i + 1:end])  # a list item's
                found.append((doc.name, i + 2, lang or "bash", body))
            i = end + 1
    return found


def writes_of(text: str) -> list[str]:
    """The paths named on the block's ``# writes:`` lines."""
    return [p for ln in text.splitlines() if ln.strip().startswith("# writes:")
            for p in ln.split(":", 1)[1].split()]


BLOCKS = runnable_blocks()


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """A tiny generated data set (4 corpora of 3000 lines, dictionaries, word similarity,
    parallel dev/test), made once by the real ``xdomain-synth``."""
    out = tmp_path_factory.mktemp("docs-synth") / "mm"
    subprocess.run([str(Path(sys.executable).parent / "xdomain-synth"), *SYNTH, "--out", str(out)],
                   check=True, capture_output=True, text=True)
    return out


def test_main_user_paths_are_runnable():
    """The pages of the main user paths keep at least one runnable block (un-marking one fails),
    and every runnable block says what it writes."""
    docs = {doc for doc, *_ in BLOCKS}
    assert {"embeddings-ubli.md", "wordsim-report.md", "preprocessing.md", "presets.md",
            "synthetic-data.md", "errors.md"} <= docs, docs
    for doc, line, lang, text in BLOCKS:
        assert lang in ("bash", "python"), f"{doc}:{line}: runnable block in {lang!r}"
        assert writes_of(text), f"{doc}:{line}: runnable block without a '# writes:' line"


@pytest.mark.parametrize("doc,line,lang,text", BLOCKS, ids=[f"{d}:{n}" for d, n, *_ in BLOCKS])
def test_documented_block_runs(doc, line, lang, text, synth_data, tmp_path):
    for name in INPUTS:
        if re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/.-])", text):
            for each in (name, *ALSO.get(name, ())):
                (tmp_path / each).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(synth_data / INPUTS[each], tmp_path / each)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("XDOMAIN_PROGRESS", None)
    script = tmp_path / ("example.sh" if lang == "bash" else "example.py")
    script.write_text(text, encoding="utf-8")
    cmd = ["bash", "-euo", "pipefail", script.name] if lang == "bash" else [sys.executable,
                                                                           script.name]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"{doc}:{line}: exit {proc.returncode}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    missing = [p for p in writes_of(text)
               if not (tmp_path / p).exists() or (tmp_path / p).stat().st_size == 0]
    assert not missing, f"{doc}:{line}: the block says it writes {missing}: missing or empty"
