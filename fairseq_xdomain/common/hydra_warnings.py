"""Silence the Hydra warnings that fairseq 0.12.3 triggers on every run and that say nothing
about the user's run (the plugin's ``register()`` installs the filter).

fairseq 0.12.3 builds its config with Hydra 1.3 through APIs Hydra deprecated, so every
``fairseq-train``/``-generate`` prints these before its first useful line (13 lines), whatever
the options: ``hydra.experimental.initialize()``/``compose()`` "no longer experimental", the
``version_base`` migration note (``Hydra14MigrationWarning``), the ``# @package _group_`` header
of fairseq's own config files, the ``'config' is validated against ConfigStore schema`` note and
the ``strict`` flag of the compose API. They are fairseq's to fix, not the user's. Each is
filtered by its exact message start (and category), so any other Hydra warning, e.g. one about a
user's override or config, is still shown.
"""
from __future__ import annotations

import warnings

#: (message regex, matched at the start of the warning text) of the known-harmless warnings
HARMLESS_HYDRA_WARNINGS = (
    r"hydra\.experimental\.initialize\(\) is no longer experimental",
    r"hydra\.experimental\.compose\(\) is no longer experimental",
    r"\s*The version_base parameter is not specified",
    r"In '[^']*': Usage of deprecated keyword in package header '# @package _group_'",
    r"\s*'config' is validated against ConfigStore schema with the same name",
    r"\s*The strict flag in the compose API is deprecated",
)


def silence_harmless_hydra_warnings() -> None:
    """Add one ``ignore`` filter per message of :data:`HARMLESS_HYDRA_WARNINGS` (all
    ``UserWarning`` subclasses, which ``Hydra14MigrationWarning`` is); idempotent."""
    for message in HARMLESS_HYDRA_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)


__all__ = ["HARMLESS_HYDRA_WARNINGS", "silence_harmless_hydra_warnings"]
