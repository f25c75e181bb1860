"""``xdomain-ubli grid``: the paper's MUSE grid search (seeds x epochs x refinements, shared
prefixes; :mod:`..grid`), its flags generated from :class:`~..grid_config.GridConfig` (the
nested adversarial and refinement settings by ``common/dataclass_args.py``, the grid's own
fields with their defaults and help), so the flags, the presets' ``grid:`` section and
``xdomain-run`` read one declaration. Prints the selection and where it wrote.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from ...common.cli import ArgumentParser, setup_logging
from ...common.dataclass_args import add_dataclass_arguments
from ...common.errors import cli_entry
from ...results import add_label_arguments
from ..adversarial import AdversarialConfig
from ..grid import run_grid
from ..grid_config import GridConfig, flat_names
from ..refinement import RefinementConfig
from ..selection import add_selection_arguments
from .common import files_from_args, setup_device

DESCRIPTION = "MUSE grid search (seeds x epochs x refinements) with shared prefixes."
_FIELDS = {f.name: f for f in dataclasses.fields(GridConfig)}
_DEFAULTS = GridConfig()


def _int_list(text):
    try:
        vals = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not vals:
        raise argparse.ArgumentTypeError("empty list")
    return vals


def _own(p, name: str, **kw) -> None:
    """The flag of :class:`GridConfig` field ``name``: its default, help and choices."""
    f, default = _FIELDS[name], getattr(_DEFAULTS, name)
    kw.setdefault("default", default)
    for key in ("help", "choices"):
        if key in f.metadata:
            kw[key] = f.metadata[key]
    if isinstance(default, bool):
        kw["action"] = "store_true"
    elif isinstance(default, list):
        kw["type"] = _int_list
    elif isinstance(default, int):
        kw["type"] = int
    muse = ("--" + name,) if name in MUSE_NAMES else ()  # MUSE's spelling, same meaning
    p.add_argument("--" + name.replace("_", "-"), *muse, **kw)


#: the grid's own settings that MUSE has under the same name (``--max_vocab``, ...)
MUSE_NAMES = ("max_vocab", "normalize_embeddings")


def add_grid_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the grid's flags to ``parser`` (MUSE's defaults, the paper's grid); return it."""
    p = parser
    p.add_argument("--src-emb", "--src_emb", required=True, help="source .vec (frequency order)")
    p.add_argument("--tgt-emb", "--tgt_emb", required=True, help="target .vec (frequency order)")
    p.add_argument("--dico-eval", "--dico_eval",
                   help="MUSE-format test dictionary (src tgt per line)")
    p.add_argument("--out", required=True, help="output folder (resumes from what is there)")
    for name in ("max_vocab", "normalize_embeddings", "seeds", "epochs", "refinements"):
        _own(p, name)
    # the epoch and refinement counts are the grid's lists above
    g = p.add_argument_group("adversarial training (MUSE defaults)")
    add_dataclass_arguments(g, AdversarialConfig, exclude=("n_epochs",))
    g = p.add_argument_group("refinement and criterion")
    add_dataclass_arguments(g, RefinementConfig, exclude=("n_refinement",))
    _own(g, "knn_backend")
    add_label_arguments(p)  # --pair, --domains, --init (results.py)
    for name in ("threads", "cpu", "no_progress"):
        _own(p, name)
    add_selection_arguments(p)  # --selection, --identity-candidate (ubli/selection.py)
    return p


def grid_config(args: argparse.Namespace) -> GridConfig:
    """The :class:`GridConfig` of the parsed flags (not checked: :func:`run_grid` checks)."""
    return GridConfig.from_flat({k: getattr(args, k) for k in flat_names()})


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``xdomain-ubli grid`` (also ``python -m fairseq_xdomain.ubli.commands.grid``)."""
    p = ArgumentParser(prog="xdomain-ubli grid", description=DESCRIPTION)
    return add_grid_arguments(p)


def print_selection(summary: dict) -> None:
    """The selected configuration and the oracle, one line each."""
    sel, orc = summary["selected_record"], summary["oracle"]

    def desc(r):
        ev = (f" CSLS P@1 {r['csls_p@1']:.2f} NN P@1 {r['nn_p@1']:.2f} coverage "
              f"{100 * r['coverage']:.1f}%" if "csls_p@1" in r else "")
        who = ("identity" if r.get("candidate") == "identity"
               else f"seed {r['seed']} epochs {r['epochs']}")
        return (f"{who} refinement {r['refinement']}: "
                f"criterion {r['criterion']:.5f}{ev}")

    print(f"selected (best unsupervised criterion): {desc(sel)}")
    if orc is not None:
        print(f"oracle (best CSLS P@1, reference only): {desc(orc)}")


def run_args(args: argparse.Namespace, on_config=None) -> tuple[dict, str]:
    """:func:`~..grid.run_grid` of the parsed flags (checked first; threads and device from
    them); returns (summary, Markdown). ``on_config``: see :class:`~..grid.Grid`."""
    cfg = grid_config(args).check()
    return run_grid(cfg, files_from_args(args), setup_device(cfg.cpu, cfg.threads),
                    on_config=on_config)


def run(args: argparse.Namespace) -> dict:
    """Run (or resume) the grid of the parsed flags; print the selection; return the summary."""
    summary, _ = run_args(args)
    print_selection(summary)
    out = Path(args.out)
    print(f"wrote {out / 'result.json'}, {out / 'summary.json'} and {out / 'table.md'}")
    return summary


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    """``xdomain-ubli grid``: run, print the selection and where it wrote."""
    args = build_parser().parse_args(argv)
    setup_logging()
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["DESCRIPTION", "add_grid_arguments", "build_parser", "grid_config", "print_selection",
           "run_args", "run", "main"]
