"""The package a user installs: the built wheel, installed into a fresh venv, used outside the repo.

How the fresh venv gets its dependencies, and why. `make install` takes the pinned set from the
package registry (network); a test must not need the network, and pip's cache here holds no
wheelhouse of that set to install from with ``--no-index``. So the wheel is installed with
``--no-deps`` into a fresh ``python -m venv`` (no ``--system-site-packages``), which sees the
project's ``.venv`` site-packages -- the very set `make install` installed from
``requirements.txt`` and ``requirements-fairseq.txt`` (and, for a ``TORCH=system`` venv, the
system's site-packages with its torch) -- through a ``.pth`` file. A ``.pth`` line only appends a
folder to ``sys.path`` after the venv's own site-packages and runs none of the ``.pth`` files in
it, so the checkout's editable install is not active there: everything of ``fairseq_xdomain`` is
imported from the wheel (the tests assert the paths). fairseq's console
scripts are written into the fresh venv's ``bin`` the way pip writes them (from ve-fairseq's
``entry_points.txt``), so that ``fairseq-train`` runs the fresh venv's Python.

That the wheel *brings* its dependencies is checked on its METADATA instead: ``Requires-Dist``
must cover every third-party module the installed package imports (scanned with ``ast``; optional
imports, guarded by ``except ImportError``, may come from an extra) and fairseq's own run-time
requirements (fairseq is installed ``--no-deps``), with torch as a range and neither ve-fairseq nor
torchaudio (which would pull a CUDA torch). A second venv with the wheel alone shows the one-line
error for the missing fairseq.
"""
from __future__ import annotations

import ast
import importlib.metadata as md
import os
import random
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import BIN, REPO, run, write_lines
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow  # 21 s idle, ~70 s on a busy 2-core machine: a wheel, 2 venvs, 2 trainings

SOURCES = ["setup.py", "pyproject.toml", "README.md", "LICENSE", "CITATION.cff", "fairseq_xdomain",
           "recipes", "docs"]
RECIPES = {"mlm_pretrain.sh", "paper_table2.sh", "ubli.sh", "unmt.sh", "wordsim.sh"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the sources (the checkout gets no build/ folder)."""
    root = tmp_path_factory.mktemp("wheel")
    (root / "src").mkdir()
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / "src" / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, root / "src" / name)
    run([BIN / "python", "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", root / "dist", root / "src"], cwd=root)
    wheels = list((root / "dist").glob("fairseq_xdomain-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _venv(root: Path, wheel: Path, see_project_deps: bool) -> Path:
    """A fresh venv with the wheel installed --no-deps; optionally seeing .venv's packages."""
    run([sys.executable, "-m", "venv", "--without-pip", root])
    py = root / "bin" / "python"
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                    ).stdout.strip())
    if see_project_deps:  # .venv's site-packages (+ the system's, for a TORCH=system .venv)
        dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        assert sysconfig.get_paths()["purelib"] in dirs
        (site / "_project_deps.pth").write_text("".join(f"{p}\n" for p in dirs))
    # pip of the project's venv, run for the fresh interpreter; --ignore-installed: the checkout's
    # editable fairseq-xdomain of the same version must not count as "already installed"
    run([BIN / "python", "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
         "--ignore-installed", "--quiet", wheel])
    return root


def _fairseq_scripts(venv: Path) -> None:
    """fairseq's console scripts for the fresh venv's Python, as pip writes them."""
    for ep in md.distribution("ve-fairseq").entry_points.select(group="console_scripts"):
        script = venv / "bin" / ep.name
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                          f"from {ep.module} import {ep.attr}\n"
                          f"if __name__ == '__main__':\n    sys.exit({ep.attr}())\n")
        script.chmod(0o755)


def _env(venv: Path) -> dict:
    """PATH with the fresh venv first and without the project's .venv; no PYTHONPATH."""
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and Path(p).resolve() != BIN.resolve()]
    env = {"PATH": os.pathsep.join([str(venv / "bin"), *keep]), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": ""}
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel):
    root = tmp_path_factory.mktemp("installed")
    venv = _venv(root / "venv", wheel, see_project_deps=True)
    _fairseq_scripts(venv)
    return venv


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    """Where the user works: outside the repository, holding tiny binarized MLM data."""
    work = tmp_path_factory.mktemp("user")
    assert REPO not in work.resolve().parents
    return work


def _third_party_imports(files: dict[str, str]) -> tuple[set[str], set[str]]:
    """(required, optional) top-level modules imported by the package's sources (not stdlib)."""
    required, optional = set(), set()

    def visit(node, guarded):
        if isinstance(node, ast.Try):
            catches = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            inner = guarded or bool(catches & {"ImportError", "ModuleNotFoundError"})
            for child in node.body:
                visit(child, inner)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, guarded)
            return
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "fairseq_xdomain":
                (optional if guarded else required).add(top)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    for text in files.values():
        visit(ast.parse(text), False)
    return required, optional - required


def test_wheel_layout_and_declared_dependencies(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta_name).decode()
        sources = {n: zf.read(n).decode() for n in names if n.endswith(".py")}
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"fairseq_xdomain"}, tops  # nothing under a generic top-level name
    assert "fairseq_xdomain/preprocess/cli.py" in names
    # the docs every error and --help cite, the licence and the citation's metadata ship too
    docs = {p.name for p in (REPO / "docs").glob("*.md")}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("fairseq_xdomain/docs/")} >= docs
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
               for n in names), [n for n in names if "dist-info" in n]
    assert "License: MIT" in metadata or "License-Expression: MIT" in metadata
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("fairseq_xdomain/recipes/")
            and n.endswith(".sh")} == RECIPES
    # the presets (fairseq_xdomain/presets.py) travel as package data
    assert {f"fairseq_xdomain/configs/{k}/{n}.yaml" for k in ("mlm", "unmt", "ubli")
            for n in ("tiny", "cpu", "paper")} <= set(names)

    reqs = [Requirement(line.split(":", 1)[1].strip()) for line in metadata.splitlines()
            if line.startswith("Requires-Dist:")]
    unconditional = {canonicalize_name(r.name): r for r in reqs if r.marker is None}
    with_extras = {canonicalize_name(r.name) for r in reqs}
    # torch as a range (an installed CUDA torch is kept), never an exact pin
    torch = unconditional["torch"].specifier
    assert {s.operator for s in torch} == {">=", "<"}, torch
    assert torch.contains("2.13.0") and torch.contains("2.13.0+cu126") and not torch.contains("3.0")
    # fairseq is installed --no-deps (its torchaudio requirement pulls a CUDA torch)
    assert not {"ve-fairseq", "fairseq", "torchaudio"} & with_extras

    # every third-party module the package imports is declared (optional ones may be an extra)
    required, optional = _third_party_imports(sources)
    dist_of = md.packages_distributions()
    fairseq_modules = {"fairseq", "fairseq_cli"}  # checked at run time, see test_missing_fairseq
    assert fairseq_modules <= required  # the scan sees them
    for module in sorted(required - fairseq_modules):
        dists = {canonicalize_name(d) for d in dist_of.get(module, [])}
        assert dists & set(unconditional), f"import {module}: none of {dists} in Requires-Dist"
    for module in sorted(optional):
        dists = {canonicalize_name(d) for d in dist_of.get(module, [])}
        assert dists & with_extras, f"optional import {module}: none of {dists} in an extra"
    # fairseq's own run-time requirements, less torchaudio, are ours to declare
    for line in md.requires("ve-fairseq"):
        req = Requirement(line)
        if req.marker is None and canonicalize_name(req.name) != "torchaudio":
            assert canonicalize_name(req.name) in unconditional, f"fairseq needs {req.name}"


def test_missing_fairseq_is_one_line(tmp_path, wheel):
    """The wheel alone (no dependencies at all): the user-dir command says what to install."""
    bare = _venv(tmp_path / "bare", wheel, see_project_deps=False)
    out = run([bare / "bin" / "xdomain-user-dir"], cwd=tmp_path, env=_env(bare), check=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: fairseq is not installed")
    assert "pip install --no-deps ve-fairseq==0.12.3" in out.stderr


def _site(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def test_installed_package_from_outside_the_repo(venv, user_folder):
    """Imports, the user-dir command, a tool and the recipes all come from the wheel."""
    env, work, site = _env(venv), user_folder, _site(venv)
    b = venv / "bin"  # absolute: conftest.run would take a bare name from the project's .venv

    # the package and its preprocess sub-package come from the wheel
    out = run([b / "python", "-c", "import fairseq_xdomain.preprocess.cli as c; print(c.__file__)"],
              cwd=work, env=env)
    assert Path(out.stdout.strip()) == site / "fairseq_xdomain" / "preprocess" / "cli.py"

    # the plugin folder for --user-dir, printed from anywhere
    user_dir = Path(run([b / "xdomain-user-dir"], cwd=work, env=env).stdout.strip())
    assert user_dir == site / "fairseq_xdomain" and (user_dir / "__init__.py").is_file()

    # a tool, the recipes, and the experiment drivers the demo runs, inside the installed package
    assert "pipeline" in run([b / "xdomain-prep", "--help"], cwd=work, env=env).stdout
    listed = run([b / "xdomain-recipe"], cwd=work, env=env).stdout.split()
    assert {Path(p).name for p in listed} == RECIPES
    assert all(Path(p).parent == site / "fairseq_xdomain" / "recipes" for p in listed)
    assert "{ubli,wordsim,mlm,unmt,demo}" in run([b / "xdomain-run", "--help"], cwd=work,
                                                  env=env).stdout
    out = run([b / "python", "-c", "from fairseq_xdomain.experiments import demo, ubli, unmt; "
               "print(demo.__file__, ubli.__file__, unmt.__file__)"], cwd=work, env=env)
    assert all(site / "fairseq_xdomain" / "experiments" == Path(p).parent
               for p in out.stdout.split())
    # a preset, read from the wheel's package data
    out = run([b / "python", "-c", "from fairseq_xdomain.presets import preset_path, load_preset; "
               "print(preset_path('unmt', 'tiny')); print(load_preset('unmt', 'tiny')['mlm'])"],
              cwd=work, env=env)
    preset_file, mlm_name = out.stdout.split()
    assert Path(preset_file) == site / "fairseq_xdomain" / "configs" / "unmt" / "tiny.yaml"
    assert mlm_name == "tiny"


@pytest.fixture(scope="module")
def user_data(user_folder):
    """Two tiny 'languages' binarized (``binarize``, fairseq's preprocessing in this process), in
    the user's folder as `data/` (the layout of docs/design.md)."""
    from fairseq_xdomain.preprocess.binarize import binarize

    work = user_folder
    rng = random.Random(0)
    words = {lang: [f"{lang}{i}" for i in range(30)] for lang in ("aa", "bb")}
    lines = {lang: [" ".join(rng.choices(w, k=rng.randint(4, 9))) for _ in range(240)]
             for lang, w in words.items()}
    raw = work / "raw"
    for lang in lines:
        write_lines(raw / f"{lang}.train", lines[lang][:200])
        write_lines(raw / f"{lang}.valid", lines[lang][200:])
    binarize(work / "data", None, {lang: raw / f"{lang}.train" for lang in lines},
             valid={lang: raw / f"{lang}.valid" for lang in lines})
    return work / "data"


def test_fairseq_train_with_the_printed_user_dir(venv, user_data):
    """A two-update xlm_mlm run, as a user types it: --user-dir "$(xdomain-user-dir)"."""
    work = user_data.parent
    train = run(["bash", "-c",
                 'fairseq-train data --user-dir "$(xdomain-user-dir)" --task xlm_mlm --langs aa,bb '
                 "--arch xlm_encoder_tiny --criterion xlm_mlm_loss --tokens-per-sample 16 "
                 "--max-positions 16 --batch-size 8 --optimizer adam --lr 1e-3 --max-update 2 "
                 "--save-dir ckpt --no-epoch-checkpoints --log-format simple --log-interval 1 "
                 "--num-workers 0 --cpu --seed 1"], cwd=work, env=_env(venv))
    log = train.stdout + train.stderr
    # fairseq loaded the plugin from the wheel, and trained two updates
    assert f"'user_dir': '{_site(venv) / 'fairseq_xdomain'}'" in log
    assert "num_updates 2" in log, log[-2000:]
    assert (work / "ckpt" / "checkpoint_last.pt").is_file()


def test_mlm_recipe_from_the_wheel(venv, user_data):
    """recipes/mlm_pretrain.sh as shipped in the wheel, writing under the current folder."""
    work = user_data.parent
    run([venv / "bin" / "xdomain-recipe", "mlm_pretrain", "--preset", "cpu", "data", "aa,bb",
         "mlm_out", "--", "--max-update", "2", "--tokens-per-sample", "16", "--max-positions", "16",
         "--batch-size", "8"], cwd=work, env=_env(venv))
    assert (work / "mlm_out" / "checkpoints" / "checkpoint_last.pt").is_file()
    assert (work / "mlm_out" / "results.json").is_file()
