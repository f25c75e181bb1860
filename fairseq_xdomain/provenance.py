"""Provenance of a result: which code, libraries and machine computed it.

:func:`provenance` returns one JSON-able dict for a result's ``config`` block and a driver's
``run.json``: this package's version, the versions of the libraries that compute the numbers
(read from installed distribution metadata, nothing heavy imported), the Python version, the
device (CPU model; GPU name), the thread settings and, when the package runs from a git checkout,
the commit and whether the work tree has uncommitted changes. It costs a few milliseconds and is
computed once per process (per ``with_torch`` value).

:func:`portable_path` / :func:`portable_cell` rewrite absolute machine paths for a report table
(relative to a given root, else the file name), so that no table names a folder of the machine
that made it.
"""
from __future__ import annotations

import functools
import importlib.metadata as metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: library -> the distributions that provide it, first found wins
LIBRARIES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "fairseq": ("ve-fairseq", "fairseq"),
    "fasttext": ("fasttext-wheel", "fasttext"),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12", "faiss-gpu-cu11", "faiss"),
    "sacrebleu": ("sacrebleu",),
    "numpy": ("numpy",),
    "sentencepiece": ("sentencepiece",),
    "scipy": ("scipy",),
    "sklearn": ("scikit-learn",),
}

#: folder names that mean "installed", not "a checkout": no commit is reported from below them
_INSTALLED_DIRS = ("site-packages", "dist-packages")
#: seconds git may take to tell whether the work tree is dirty
GIT_TIMEOUT_S = 2.0


def _package_version() -> str:
    # the package is imported before any of its submodules; read its version without an import
    # statement (this module is in the lowest layer, the package root imports the plugin parts)
    return str(getattr(sys.modules.get(__package__ or "", None), "__version__", "unknown"))


def library_versions() -> tuple[dict[str, str | None], dict[str, str | None]]:
    """({library: version or None}, {library: the distribution found or None}) for
    :data:`LIBRARIES`, from installed metadata (``importlib.metadata``; no library imported)."""
    versions: dict[str, str | None] = {}
    dists: dict[str, str | None] = {}
    for lib, names in LIBRARIES.items():
        versions[lib] = dists[lib] = None
        for name in names:
            try:
                versions[lib] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
            dists[lib] = name
            break
    return versions, dists


def cpu_model() -> str:
    """The CPU model (``model name`` of /proc/cpuinfo; else ``platform.processor()`` or the
    machine architecture)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gpu_names(with_torch: bool = False) -> list[str]:
    """Names of the visible GPUs: from torch when CUDA is already initialised in this process
    (or ``with_torch``: import torch and ask it), else from the NVIDIA driver's
    /proc/driver/nvidia/gpus/*/information (no CUDA context made). [] when none."""
    torch = sys.modules.get("torch")
    if torch is None and with_torch:
        import torch
    if torch is not None:
        try:
            cuda = torch.cuda
            if cuda.is_initialized() or (with_torch and cuda.is_available()):
                return [cuda.get_device_name(i) for i in range(cuda.device_count())]
        except Exception:  # a broken driver is not a reason to lose a result
            pass
    names = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "Model":
                    names.append(value.strip())
                    break
        except OSError:
            continue
    return names


def thread_settings(with_torch: bool = False) -> dict:
    """``torch``: ``torch.get_num_threads()`` when torch is imported (or ``with_torch``), else
    None; ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``: the environment's (None when unset);
    ``cpu_count``: the host's logical CPUs; ``affinity``: the CPUs this process may use."""
    torch = sys.modules.get("torch")
    if torch is None and with_torch:
        import torch
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {"torch": int(torch.get_num_threads()) if torch is not None else None,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS"),
            "cpu_count": os.cpu_count(), "affinity": affinity}


def find_checkout(package_dir) -> Path | None:
    """The root of the git work tree ``package_dir`` is the top-level package folder of, or None
    (installed from a wheel: below ``site-packages``/``dist-packages``; or no ``.git`` in the
    package's parent folder)."""
    package_dir = Path(package_dir).resolve()
    if any(part in _INSTALLED_DIRS for part in package_dir.parts):
        return None
    root = package_dir.parent
    return root if (root / ".git").exists() else None


def _git_dir(root: Path) -> Path | None:
    """The git directory of work tree ``root`` (``.git``, or where a ``.git`` file points)."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    try:
        text = dot.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gd = Path(text[len("gitdir:"):].strip())
    return gd if gd.is_absolute() else (root / gd).resolve()


def _read_ref(git_dir: Path, ref: str) -> str | None:
    """The commit a ref names: its loose file, else its line in packed-refs (shared ones of a
    linked work tree included)."""
    dirs = [git_dir]
    common = git_dir / "commondir"
    if common.is_file():
        c = Path(common.read_text(encoding="utf-8").strip())
        dirs.append(c if c.is_absolute() else (git_dir / c).resolve())
    for d in dirs:
        loose = d / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip() or None
    for d in dirs:
        packed = d / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref and not line.startswith(("#", "^")):
                    return sha
    return None


_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def git_state(package_dir) -> dict:
    """``{"commit": sha or None, "dirty": bool or None, "branch": name or None}`` of the checkout
    ``package_dir`` runs from (:func:`find_checkout`). The commit is read from ``.git/HEAD`` and
    the refs (no git binary needed); ``dirty`` (tracked files changed, untracked ones ignored,
    as ``git describe --dirty``) needs git and is None without it, on a timeout or on a git
    error. All None when not run from a checkout (a wheel)."""
    state = {"commit": None, "dirty": None, "branch": None}
    root = find_checkout(package_dir)
    git_dir = _git_dir(root) if root is not None else None
    if git_dir is None:
        return state
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return state
    if head.startswith("ref:"):
        ref = head[4:].strip()
        state["branch"] = ref.removeprefix("refs/heads/")
        sha = _read_ref(git_dir, ref)
    else:
        sha = head
    state["commit"] = sha if sha and _SHA.fullmatch(sha) else None
    git = shutil.which("git")
    if git is not None and state["commit"] is not None:
        try:
            out = subprocess.run([git, "-C", os.fspath(root), "status", "--porcelain",
                                  "--untracked-files=no"], capture_output=True, text=True,
                                 timeout=GIT_TIMEOUT_S, check=False)
            if out.returncode == 0:
                state["dirty"] = bool(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return state


@functools.cache
def _provenance(with_torch: bool) -> dict:
    versions, dists = library_versions()
    return {
        "package": {"name": "fairseq-xdomain", "version": _package_version()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
        "distributions": dists,
        "device": {"cpu": cpu_model(), "gpus": gpu_names(with_torch),
                   "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")},
        "threads": thread_settings(with_torch),
        "git": git_state(Path(__file__).resolve().parent),
    }


def provenance(with_torch: bool = False) -> dict:
    """What computed a result, as a JSON-able dict (a fresh copy; computed once per process):

    ``package`` {name, version}; ``python`` (e.g. ``3.11.9``); ``platform``; ``libraries``
    {torch, fairseq, fasttext, faiss, sacrebleu, numpy, sentencepiece, scipy, sklearn: version
    or None when not installed} and ``distributions`` (the distribution each was read from,
    e.g. ``fasttext-wheel``, ``faiss-cpu``); ``device`` {cpu: model, gpus: [names],
    CUDA_VISIBLE_DEVICES}; ``threads`` {torch, OMP_NUM_THREADS, MKL_NUM_THREADS, cpu_count,
    affinity} (:func:`thread_settings`); ``git`` {commit, dirty, branch} (:func:`git_state`:
    all None when installed from a wheel).

    torch is not imported for this (it takes seconds): its thread count and GPU names come
    from it only when it is already imported, or when ``with_torch`` is True.
    """
    import copy

    return copy.deepcopy(_provenance(bool(with_torch or "torch" in sys.modules)))


# ----------------------------------------------------------------------------- report paths
#: an absolute POSIX path (two components at least, so "tokens /s" is not one) or a Windows one,
#: starting a cell or after white space, a bracket, a quote, "=", ":" or ","
_ABS_PATH = re.compile(r"""(?:(?<=^)|(?<=[\s(\[='":,]))(/[^\s/'"()\[\],;|]+(?:/[^\s/'"()\[\],;|]*)+"""
                       r"""|[A-Za-z]:\\[^\s'"()\[\],;|]+)""")


def portable_path(path, root=None) -> str:
    """``path`` for a report: relative to ``root`` (POSIX separators) when it lies inside it,
    else its file name; a relative path is returned as it is. ``root``: e.g. the results
    folder the report is built from (None: always the file name)."""
    text = os.fspath(path)
    is_windows = re.match(r"[A-Za-z]:\\", text) is not None
    if not (os.path.isabs(text) or is_windows):
        return text
    if root is not None and not is_windows:
        rel = os.path.relpath(os.path.normpath(text), os.path.normpath(os.path.abspath(root)))
        if rel != ".." and not rel.startswith(".." + os.sep):
            return Path(rel).as_posix()
    name = re.split(r"[\\/]", text.rstrip("/\\"))[-1]
    return name or text


def portable_cell(cell, root=None) -> str:
    """A table cell with every absolute path in it rewritten by :func:`portable_path`
    (e.g. ``"map /home/me/run/W.npy"`` -> ``"map W.npy"``, or ``"map run/W.npy"`` with
    ``root="/home/me"``). Non-strings are returned as ``str(cell)``."""
    return _ABS_PATH.sub(lambda m: portable_path(m.group(0), root), str(cell))
