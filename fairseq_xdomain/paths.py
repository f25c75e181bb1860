"""Where the installed package keeps what users run: the plugin folder and the shell recipes.

``xdomain-user-dir`` prints the folder to pass to fairseq's ``--user-dir`` from anywhere
(``fairseq-train --user-dir "$(xdomain-user-dir)" --task xlm_mlm ...``): fairseq imports a user
dir by its folder, so a bare ``--user-dir fairseq_xdomain`` only works from the repository root.
``xdomain-recipe NAME ARGS...`` runs one of the recipes shipped with the package (``recipes/`` in
the repository, ``fairseq_xdomain/recipes/`` in a wheel), found through ``importlib.resources``:
short scripts that name the paper's data and call ``xdomain-run`` (the experiment drivers,
``fairseq_xdomain/experiments/``) with the paper's presets.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from importlib import resources
from pathlib import Path

from .common.errors import FAIRSEQ_MISSING, UserError, cli_entry


def user_dir() -> Path:
    """The plugin folder that fairseq's ``--user-dir`` imports (this package's folder)."""
    return Path(__file__).resolve().parent


def recipes_dir() -> Path:
    """The folder holding the shell recipes, in a checkout or an installed wheel."""
    return Path(str(resources.files("fairseq_xdomain.recipes")))


def recipe_names() -> list[str]:
    return sorted(p.name for p in recipes_dir().glob("*.sh"))


def recipe_path(name: str) -> Path:
    """The path of recipe ``name`` (``ubli`` or ``ubli.sh``); UserError if there is none."""
    file = name if name.endswith(".sh") else f"{name}.sh"
    path = recipes_dir() / file
    if "/" in name or not path.is_file():
        raise UserError(f"no recipe '{name}' (recipes: {', '.join(recipe_names())})")
    return path


def require_fairseq() -> None:
    """UserError in one line when fairseq is not importable (it is not an install_requires)."""
    if importlib.util.find_spec("fairseq") is None:
        raise UserError(FAIRSEQ_MISSING)


@cli_entry
def user_dir_main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="xdomain-user-dir",
        description="Print the folder to pass to fairseq's --user-dir, e.g. "
                    'fairseq-train --user-dir "$(xdomain-user-dir)" --task xlm_mlm ...')
    parser.parse_args(argv)
    require_fairseq()
    print(user_dir())
    return 0


@cli_entry
def recipe_main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="xdomain-recipe",
        description="Run a shell recipe shipped with fairseq-xdomain (outputs go under the "
                    "current folder unless the recipe's options say otherwise); without NAME, "
                    "list the recipes.",
        epilog="example: xdomain-recipe mlm_pretrain --preset cpu DATA en,fr out/mlm")
    parser.add_argument("name", nargs="?", help="recipe name, e.g. ubli, wordsim, paper_table2")
    parser.add_argument("--path", action="store_true", help="print the recipe's path, run nothing")
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
    # the recipes find fairseq-train and our tools on PATH when not run from a checkout's .venv
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    sys.stdout.flush()
    os.execvpe("bash", ["bash", str(path), *args.args], env)
    return 0  # not reached
