"""Where the installed package keeps what users run: the plugin folder and the shell recipes.

``xdomain-user-dir`` prints the folder to pass to fairseq's ``--user-dir`` from anywhere
(``fairseq-train --user-dir "$(xdomain-user-dir)" --task xlm_mlm ...``): fairseq imports a user
dir by its folder, so a bare ``--user-dir fairseq_xdomain`` only works from the repository root.
``xdomain-recipe NAME ARGS...`` runs one of the recipes shipped with the package (``recipes/`` in
the repository, ``fairseq_xdomain/recipes/`` in a wheel), found through ``importlib.resources``:
short scripts that name the paper's data and call ``xdomain-run`` (the experiment drivers,
``fairseq_xdomain/experiments/``) with the paper's presets; ``xdomain-recipe NAME --help``
prints a recipe's usage (its header, with recipe names rather than paths), and a shipped config
(``prep_en_fr.yaml``) is printed by ``xdomain-recipe prep_en_fr.yaml``. ``xdomain-docs NAME``
prints a page of the documentation shipped in the package (``docs/NAME.md``).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from importlib import resources
from pathlib import Path

from .common.cli import ArgumentParser
from .common.errors import FAIRSEQ_MISSING, UserError, cli_entry


def user_dir() -> Path:
    """The plugin folder that fairseq's ``--user-dir`` imports (this package's folder)."""
    return Path(__file__).resolve().parent


def recipes_dir() -> Path:
    """The folder holding the shell recipes, in a checkout or an installed wheel."""
    return Path(str(resources.files("fairseq_xdomain.recipes")))


def recipe_names() -> list[str]:
    return sorted(p.name for p in recipes_dir().glob("*.sh"))


def config_names() -> list[str]:
    """The configs shipped beside the recipes (``prep_en_fr.yaml``: an ``xdomain-prep pipeline``
    config)."""
    return sorted(p.name for p in recipes_dir().glob("*.yaml"))


def recipe_path(name: str) -> Path:
    """The path of recipe ``name`` (``ubli`` or ``ubli.sh``) or shipped config (``prep_en_fr``
    or ``prep_en_fr.yaml``); UserError if there is none."""
    candidates = [name] if name.endswith((".sh", ".yaml")) else [f"{name}.sh", f"{name}.yaml"]
    for file in candidates:
        path = recipes_dir() / file
        if "/" not in name and path.is_file():
            return path
    raise UserError(f"no recipe '{name}' (recipes: {', '.join(recipe_names())}; configs: "
                    f"{', '.join(config_names())})")


def recipe_usage(path: Path) -> str:
    """The usage text of a recipe: its header comment (the lines after ``#!`` up to the first
    line that is not a comment), with ``recipes/X.sh`` written as ``xdomain-recipe X``."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    text = "\n".join(lines).strip("\n") + "\n"
    return re.sub(r"recipes/([A-Za-z0-9_]+)\.sh", r"xdomain-recipe \1", text)


def docs_dir() -> Path:
    """The folder of the Markdown documentation: ``fairseq_xdomain/docs/`` in an installed
    wheel (package data), ``docs/`` in a checkout."""
    installed = Path(__file__).resolve().parent / "docs"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "docs"


def doc_names() -> list[str]:
    return sorted(p.stem for p in docs_dir().glob("*.md"))


def doc_path(name: str) -> Path:
    """The page ``name`` (``install``, ``install.md`` or ``docs/install.md``); UserError if
    there is none."""
    stem = name.removeprefix("docs/").removesuffix(".md").split("#")[0]
    path = docs_dir() / f"{stem}.md"
    if "/" in stem or not path.is_file():
        raise UserError(f"no documentation page '{name}' (pages: {', '.join(doc_names())})")
    return path


def require_fairseq() -> None:
    """UserError in one line when fairseq is not importable (it is not an install_requires)."""
    if importlib.util.find_spec("fairseq") is None:
        raise UserError(FAIRSEQ_MISSING)


@cli_entry
def user_dir_main(argv=None) -> int:
    parser = ArgumentParser(
        prog="xdomain-user-dir",
        description="Print the folder to pass to fairseq's --user-dir, e.g. "
                    'fairseq-train --user-dir "$(xdomain-user-dir)" --task xlm_mlm ...')
    parser.parse_args(argv)
    require_fairseq()
    print(user_dir())
    return 0


@cli_entry
def docs_main(argv=None) -> int:
    parser = ArgumentParser(
        prog="xdomain-docs",
        description="Print a page of the documentation shipped with fairseq-xdomain (the "
                    "docs/X.md that errors and --help name: `xdomain-docs X`); without NAME, "
                    "list the pages.",
        epilog="example: xdomain-docs embeddings-ubli | less")
    parser.add_argument("name", nargs="?", help="page name, e.g. install, embeddings-ubli, api "
                        "(docs/NAME.md and NAME.md work too)")
    parser.add_argument("--path", action="store_true",
                        help="print the page's file path instead of its text")
    args = parser.parse_args(argv)
    if args.name is None:
        for name in doc_names():
            print(name)
        return 0
    path = doc_path(args.name)
    print(path if args.path else path.read_text(encoding="utf-8"), end="\n" if args.path else "")
    return 0


@cli_entry
def recipe_main(argv=None) -> int:
    parser = ArgumentParser(
        prog="xdomain-recipe",
        description="Run a shell recipe shipped with fairseq-xdomain (outputs go under the "
                    "current folder unless the recipe's options say otherwise); without NAME, "
                    "list the recipes. `xdomain-recipe NAME --help` prints the recipe's usage. "
                    "A shipped config (NAME.yaml, e.g. prep_en_fr.yaml) is printed, to copy and "
                    f"edit: xdomain-recipe prep_en_fr.yaml > my.yaml. Configs: "
                    f"{', '.join(config_names()) or 'none'}.",
        epilog="example: xdomain-recipe mlm_pretrain --preset cpu DATA en,fr out/mlm")
    parser.add_argument("name", nargs="?", help="recipe name, e.g. ubli, wordsim, paper_table2, "
                        "or a config name, e.g. prep_en_fr.yaml")
    parser.add_argument("--path", action="store_true",
                        help="print the recipe's (or config's) path, run nothing")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the recipe")
    args = parser.parse_args(argv)
    if args.name is None:
        for name in recipe_names():
            print(recipes_dir() / name)
        return 0
    path = recipe_path(args.name)
    if args.path:
        print(path)
        return 0
    if path.suffix == ".yaml":
        print(path.read_text(encoding="utf-8"), end="")
        return 0
    if args.args[:1] in (["-h"], ["--help"]):
        print(recipe_usage(path), end="")
        return 0
    # the recipes find fairseq-train and our tools on PATH when not run from a checkout's .venv
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    sys.stdout.flush()
    os.execvpe("bash", ["bash", str(path), *args.args], env)
    return 0  # not reached
