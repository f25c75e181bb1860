"""The command-line conventions every console tool follows (docs/design.md, "CLI conventions").

- :class:`ArgumentParser` (a drop-in for ``argparse.ArgumentParser``): ``--version`` on every
  tool and subcommand (``PROG 0.1.0``), every option's help ending with its default
  (:class:`HelpFormatter`: ``(default: X)`` unless the help already says its default, nothing
  for a required option or one whose default is ``None``), descriptions kept as written.
  Subcommands made with ``add_subparsers().add_parser`` are of the same class, so they follow
  the same rules.
- :func:`setup_logging`: the one log line format, fairseq's own
  (``2026-01-01 12:00:00 | INFO | name | message``), on stderr.
- :func:`split_list`: the one reader of comma-separated lists (languages ``en,fr``), which also
  takes the items as separate words (``en fr`` from ``nargs="+"``).
- Option names: ``--out DIR`` for an output folder, ``-o/--output FILE`` for an output file
  (older names stay as aliases); MUSE's underscore spellings (``--src_emb``) are aliases where
  our option means the same.
"""
from __future__ import annotations

import argparse
import logging
import sys

#: the one log line format (fairseq's, so our lines and fairseq-train's read alike)
LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"
LOG_DATEFMT = "%Y-%m-%d %H:%M:%S"


def package_version() -> str:
    """This package's version (``fairseq_xdomain.__version__``; the root package is always
    imported before any of its modules)."""
    return sys.modules["fairseq_xdomain"].__version__


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; every option's help ends with ``(default: X)``
    unless the help already names its default (contains ``default``), the option is required,
    or its default is ``None``/suppressed."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or action.required or action.default is None
                or action.default is argparse.SUPPRESS or not action.option_strings
                or isinstance(action, argparse._VersionAction | argparse._HelpAction)):
            return text
        return text + " (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the package's conventions (module docstring):
    ``--version``, :class:`HelpFormatter` as the default ``formatter_class``."""

    def __init__(self, *args, version: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        if version and self.add_help:
            self.add_argument("--version", action="version",
                              version=f"%(prog)s {package_version()}",
                              help="print the program's version and exit")


def setup_logging(level: int = logging.INFO) -> None:
    """The one log format (:data:`LOG_FORMAT`) on stderr at ``level`` (``logging.basicConfig``:
    a no-op when the root logger already has a handler)."""
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt=LOG_DATEFMT, stream=sys.stderr)


def split_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Items of a comma-separated list (``"en,fr"``), also given as several words
    (``["en", "fr"]`` or ``["en,fr"]``): stripped, empty items dropped, order kept."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    return [item.strip() for part in parts for item in part.split(",") if item.strip()]


__all__ = ["LOG_FORMAT", "LOG_DATEFMT", "package_version", "HelpFormatter", "ArgumentParser",
           "setup_logging", "split_list"]
