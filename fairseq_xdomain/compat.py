"""Compatibility fixes for running fairseq 0.12.3 on torch >= 2.6. Applied once, on plugin load.

Why: torch 2.6 changed ``torch.load`` to default to ``weights_only=True``. fairseq 0.12.3 saves
whole argparse/omegaconf configs inside checkpoints and reloads them with a plain
``torch.load(f, map_location=...)``, so ``--restore-file``, ``fairseq-generate`` and
``fairseq-interactive`` fail with ``UnpicklingError: Weights only load failed``. Checkpoints
are files the user trained themselves, so fairseq's own loaders get ``weights_only=False``.

The fix is targeted: only the ``torch`` name inside the fairseq modules that load checkpoints
(and the distributed object broadcast, which pickles) is replaced by a view of ``torch`` whose
``load`` defaults to ``weights_only=False``. ``torch.load`` elsewhere keeps its safe default.
"""
from __future__ import annotations

import types

import torch

_PATCHED_MODULES = ("fairseq.checkpoint_utils", "fairseq.distributed.utils")


class _TorchTrustedLoad(types.ModuleType):
    """Looks like the ``torch`` module; ``load`` defaults to ``weights_only=False``."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return torch.load(*args, **kwargs)


def load_trusted_checkpoint(path, map_location="cpu"):
    """Load a checkpoint file we or the user wrote (full pickle, not weights only)."""
    return torch.load(path, map_location=map_location, weights_only=False)


def patch_fairseq_checkpoint_loading() -> None:
    """Make fairseq's checkpoint loaders work on torch >= 2.6 (idempotent)."""
    import importlib

    shim = _TorchTrustedLoad()
    for name in _PATCHED_MODULES:
        module = importlib.import_module(name)
        if not isinstance(getattr(module, "torch", None), _TorchTrustedLoad):
            module.torch = shim
