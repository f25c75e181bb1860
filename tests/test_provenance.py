"""fairseq_xdomain.provenance: the record of what computed a result, and portable report paths."""
from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import fairseq_xdomain
from fairseq_xdomain import provenance as prov
from fairseq_xdomain.provenance import (
    LIBRARIES,
    find_checkout,
    git_state,
    portable_cell,
    portable_path,
    provenance,
)

ROOT = Path(__file__).resolve().parents[1]
HAS_GIT = shutil.which("git") is not None and (ROOT / ".git").exists()


def test_keys_types_and_versions():
    p = provenance()
    json.dumps(p)  # JSON-able as it is
    assert set(p) == {"package", "python", "platform", "libraries", "distributions", "device",
                      "threads", "git"}
    assert p["package"] == {"name": "fairseq-xdomain", "version": fairseq_xdomain.__version__}
    assert p["python"] == platform.python_version()
    assert set(p["libraries"]) == set(LIBRARIES) == set(p["distributions"])
    # the venv has them all; each is the installed distribution's version
    for lib, version in p["libraries"].items():
        assert version == importlib.metadata.version(p["distributions"][lib]), lib
    assert p["distributions"]["fasttext"] == "fasttext-wheel"
    assert p["distributions"]["sklearn"] == "scikit-learn"
    assert isinstance(p["device"]["cpu"], str) and p["device"]["cpu"]
    assert isinstance(p["device"]["gpus"], list)
    t = p["threads"]
    assert t["cpu_count"] >= 1 and isinstance(t["cpu_count"], int)
    assert t["torch"] is None or isinstance(t["torch"], int)
    assert set(p["git"]) == {"commit", "dirty", "branch"}


def test_cached_and_a_fresh_copy(monkeypatch):
    first = provenance()
    first["python"] = "changed"
    t0 = time.perf_counter()
    again = provenance()
    assert time.perf_counter() - t0 < 0.05  # computed once per process
    assert again["python"] == platform.python_version()  # callers cannot change the cache


def test_torch_threads_when_torch_is_imported():
    import torch

    p = provenance()
    assert p["threads"]["torch"] == torch.get_num_threads()
    assert p["libraries"]["torch"] == importlib.metadata.version("torch")


@pytest.mark.skipif(not HAS_GIT, reason="needs git and a checkout")
def test_commit_and_dirty_flag_of_this_checkout():
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                             "--untracked-files=no"], capture_output=True, text=True,
                            check=True).stdout
    g = provenance()["git"]
    assert g["commit"] == head
    assert g["dirty"] is bool(status.strip())
    assert find_checkout(Path(fairseq_xdomain.__file__).parent) == ROOT


def _fake_repo(root: Path, head: str, refs: dict[str, str] | None = None,
               packed: str | None = None) -> Path:
    (root / ".git" / "refs" / "heads").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text(head + "\n")
    for name, sha in (refs or {}).items():
        (root / ".git" / name).write_text(sha + "\n")
    if packed is not None:
        (root / ".git" / "packed-refs").write_text(packed)
    pkg = root / "fairseq_xdomain"
    pkg.mkdir()
    return pkg


SHA = "0123456789abcdef0123456789abcdef01234567"


def test_commit_read_without_git(tmp_path, monkeypatch):
    monkeypatch.setattr(prov.shutil, "which", lambda name: None)  # no git binary
    pkg = _fake_repo(tmp_path / "loose", "ref: refs/heads/main", {"refs/heads/main": SHA})
    assert git_state(pkg) == {"commit": SHA, "dirty": None, "branch": "main"}
    pkg = _fake_repo(tmp_path / "packed", "ref: refs/heads/dev",
                     packed=f"# pack-refs with: peeled\n{'f' * 40} refs/heads/main\n{SHA} refs/heads/dev\n")
    assert git_state(pkg)["commit"] == SHA
    pkg = _fake_repo(tmp_path / "detached", SHA)
    assert git_state(pkg) == {"commit": SHA, "dirty": None, "branch": None}
    pkg = _fake_repo(tmp_path / "unborn", "ref: refs/heads/main")  # no commit yet
    assert git_state(pkg)["commit"] is None


def test_wheel_location_gives_none(tmp_path):
    # a package installed into a venv that lies inside a git checkout is not that checkout's code
    root = tmp_path / "proj"
    _fake_repo(root, SHA)
    site = root / ".venv" / "lib" / "python3.11" / "site-packages" / "fairseq_xdomain"
    site.mkdir(parents=True)
    assert find_checkout(site) is None
    assert git_state(site) == {"commit": None, "dirty": None, "branch": None}
    # nor is a package folder without .git beside it
    plain = tmp_path / "unpacked" / "fairseq_xdomain"
    plain.mkdir(parents=True)
    assert git_state(plain)["commit"] is None


def test_portable_paths():
    assert portable_path("/home/me/results/ubli/W.npy") == "W.npy"
    assert portable_path("/home/me/results/ubli/W.npy", "/home/me/results") == "ubli/W.npy"
    assert portable_path("/elsewhere/x/corpus.en", "/home/me/results") == "corpus.en"
    assert portable_path("/home/me/resultsX/a.txt", "/home/me/results") == "a.txt"
    assert portable_path("data/corpus.en", "/home/me") == "data/corpus.en"  # already portable
    assert portable_path("C:\\Users\\me\\corpus.en") == "corpus.en"
    cell = "map /home/me/results/run1/W.npy (from /data/corpora/en.wiki.txt)"
    assert portable_cell(cell, "/home/me/results") == "map run1/W.npy (from en.wiki.txt)"
    for keep in ("en-de", "P@1 / P@5", "tokens /s", "en/fr", "36.8 ± 1.2 (n=2)", "a/b/c"):
        assert portable_cell(keep, "/home/me") == keep
    assert portable_cell(12.5) == "12.5"
    assert "/" not in portable_cell("/tmp/pytest-of-me/x/corpus.en | /a/b")
