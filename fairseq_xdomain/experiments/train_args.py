"""fairseq-train's arguments as a driver is about to give them, parsed by fairseq's own parser and
checked by :func:`fairseq_xdomain.training_checks.check_training_config` before the driver's first
step (so a wrong budget stops ``xdomain-run mlm|unmt`` before fastText or pre-training).

Driver-level (it registers the plugin and finds its folder); the checks themselves sit in
``training_checks.py``, which ``compat`` also runs inside every fairseq-train.
"""
from __future__ import annotations

import threading
import warnings

from ..common.errors import UserError
from ..training_checks import check_training_config

#: fairseq's option parsing goes through Hydra's global state: one parse at a time (drivers run
#: pairs on threads, --jobs)
_PARSE_LOCK = threading.Lock()


def parse_train_arguments(argv: list[str]):
    """fairseq's complete config (``FairseqConfig``) for the ``fairseq-train`` arguments ``argv``
    (without the program name), parsed by fairseq's own parser (user dir, task, architecture
    defaults), without reading any data."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    from .. import register

    register()  # our tasks, models and criteria: fairseq skips a user dir already imported
    with _PARSE_LOCK, warnings.catch_warnings():  # hydra's deprecation notes: fairseq-train shows them
        warnings.simplefilter("ignore")
        parser = options.get_training_parser()
        try:
            args = options.parse_args_and_arch(parser, input_args=[str(a) for a in argv])
        except SystemExit as err:  # argparse already printed why
            raise UserError(f"fairseq-train refused its arguments (exit {err.code}): "
                            f"{' '.join(map(str, argv))}") from None
        return convert_namespace_to_omegaconf(args)


def check_train_arguments(argv: list[str]) -> None:
    """:func:`~fairseq_xdomain.training_checks.check_training_config` on the config of the fairseq-train arguments ``argv``: for
    drivers, before their first step. UserError on the first problem."""
    check_training_config(parse_train_arguments(argv))


def check_driver_arguments(task: str, data, langs, fairseq_args) -> None:
    """:func:`check_train_arguments` for a driver's run of ``--task task`` on ``data`` and
    ``langs`` (list or comma-separated) with the preset's and user's fairseq arguments
    ``fairseq_args`` (``presets.fairseq_arguments(...)`` plus what came after ``--``)."""
    from ..paths import user_dir

    langs = langs if isinstance(langs, str) else ",".join(langs)
    check_train_arguments([str(data), "--user-dir", str(user_dir()), "--task", task,
                           "--langs", langs, *map(str, fairseq_args)])


__all__ = ["parse_train_arguments", "check_train_arguments", "check_driver_arguments"]
