"""``xdomain-run``: the experiments of the paper as one command with a subcommand each.

    xdomain-run ubli --src-lang en --src-corpus en.wiki.txt --tgt-lang es --tgt-corpus es.un.txt \\
                     --dico en-es.5000-6500.txt [--preset paper|cpu|tiny] ...   (Tables 2-3)
    xdomain-run wordsim --corpora DIR --semeval DIR [--langs de,es,fa,it] ... (Table 6)
    xdomain-run mlm ...        MLM pre-training (XLM), baseline vs joint data
    xdomain-run unmt ...       UNMT from both MLMs, BLEU per epoch (Tables 4-5)
    xdomain-run demo           the paper in miniature on generated data (``make demo``)

Every subcommand resumes: a finished step whose settings and inputs did not change is skipped
(``fairseq_xdomain/steps.py``); see ``xdomain-run SUBCOMMAND --help``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..common.cli import ArgumentParser, setup_logging
from ..common.errors import cli_entry

#: subcommand -> driver module (each has DESCRIPTION, add_arguments(parser), run(args) -> int)
DRIVERS = {
    "ubli": "fairseq_xdomain.experiments.ubli",
    "wordsim": "fairseq_xdomain.experiments.wordsim",
    "mlm": "fairseq_xdomain.experiments.mlm",
    "unmt": "fairseq_xdomain.experiments.unmt",
    "demo": "fairseq_xdomain.experiments.demo",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``xdomain-run`` with one subparser per driver of :data:`DRIVERS`."""
    parser = ArgumentParser(prog="xdomain-run", description=__doc__)
    sub = parser.add_subparsers(dest="experiment", required=True)
    for name, module_name in DRIVERS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        module.add_arguments(p)
        p.set_defaults(_driver=module)
    return parser


@cli_entry
def main(argv=None) -> int:
    """``xdomain-run SUBCOMMAND ...``: parse, then run the driver; its exit status."""
    args = build_parser().parse_args(argv)
    setup_logging(logging.WARNING)
    return args._driver.run(args)


if __name__ == "__main__":
    sys.exit(main())
