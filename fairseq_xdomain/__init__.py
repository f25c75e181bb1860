"""fairseq-xdomain: cross-lingual transfer from domain-mismatched monolingual corpora.

Used as a fairseq plugin: ``fairseq-train --user-dir fairseq_xdomain --task unmt_xdomain ...``.
When fairseq loads this package (``--user-dir``) its tasks, models and criteria are registered
and fairseq's checkpoint loading is fixed for torch >= 2.6 (see ``compat``).

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

    compat.patch_fairseq_checkpoint_loading()
    compat.patch_fairseq_distributed_and_precision()
    from . import criteria, models, tasks  # noqa: F401  (imports register them)


# fairseq is already imported when it loads us through --user-dir: register right away.
if "fairseq" in sys.modules:
    register()
