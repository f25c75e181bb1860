"""fairseq-xdomain: cross-lingual transfer from domain-mismatched monolingual corpora.

Used as a fairseq plugin: ``fairseq-train --user-dir "$(xdomain-user-dir)" --task unmt_xdomain ...``.
When fairseq loads this package (``--user-dir``) its tasks, models and criteria are registered
and the fixes of ``compat`` are applied once: fairseq 0.12.3's checkpoint loading on torch >= 2.6,
the NumPy 2 aliases it still uses, ``--log-file`` lines written once, and a ``UserError`` raised
inside ``fairseq-train``/``-generate``/``-interactive`` printed as one ``error: ...`` line, exit 2;
the Hydra deprecation warnings fairseq itself triggers on every run are silenced
(``common/hydra_warnings.py``; any other warning is kept).

The core algorithms (UBLI mapping, CSLS, Procrustes, STDM, word similarity, preprocessing)
are plain PyTorch/numpy modules of this package and do not need fairseq: importing
``fairseq_xdomain.ubli`` from a script does not import fairseq (it takes seconds). A script
that imports fairseq itself and wants our tasks calls ``fairseq_xdomain.register()``.
"""
import sys

__version__ = "0.1.0"


def register() -> None:
    """Register the plugin's fairseq tasks, models and criteria and apply the compat fixes."""
    from . import compat
    from .common.hydra_warnings import silence_harmless_hydra_warnings

    silence_harmless_hydra_warnings()  # fairseq's known-harmless Hydra deprecation notes
    compat.apply_all()
    from . import criteria, models, tasks  # noqa: F401  (imports register them)


# fairseq is already imported when it loads us through --user-dir: register right away.
if "fairseq" in sys.modules:
    register()
