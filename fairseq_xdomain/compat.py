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


# ---------------------------------------------------------------------------------------------
# Several processes and precision flags (issue 14). Kept apart from the fixes above.
# ---------------------------------------------------------------------------------------------


def _refuse(message: str) -> None:
    """One-line usage error from inside fairseq's own command line tools (exit status 2)."""
    import sys

    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _check_and_fix_run_config(cfg) -> None:
    """Precision and launch settings fairseq 0.12.3 gets wrong, fixed or refused before it runs.

    - ``--bf16``/``--memory-efficient-bf16``: fairseq's option parsing turns them into TPU mode
      (``--tpu``), which fails without torch_xla (``'NoneType' object has no attribute
      'xla_device'``). Without torch_xla, TPU mode is switched back off: bf16 then trains on
      the GPU or CPU (model, batches and criterion in bfloat16, fp32 master weights for
      ``--bf16``, no loss scaling).
    - ``--task muse_ubli`` with ``--memory-efficient-fp16/bf16``: fairseq's SGD has no
      memory-efficient path (``Unsupported optimizer: SGD``): refused.
    """
    import importlib.util

    common = cfg.common
    if common.bf16 and common.tpu and importlib.util.find_spec("torch_xla") is None:
        from omegaconf import open_dict

        with open_dict(cfg):
            common.tpu = False
            if "tpu" in cfg.distributed_training:
                cfg.distributed_training.tpu = False
    task = getattr(cfg.task, "_name", None) if cfg.get("task") is not None else None
    if task == "muse_ubli" and (common.memory_efficient_fp16 or common.memory_efficient_bf16):
        flag = "--memory-efficient-fp16" if common.memory_efficient_fp16 else "--memory-efficient-bf16"
        _refuse(f"--task muse_ubli: {flag} is not supported (fairseq's SGD has no memory-efficient "
                "path); use --fp16 on a GPU, --bf16, or no precision flag")


class _DeviceAwareDDP(torch.nn.parallel.DistributedDataParallel):
    """torch's DDP, minus the ``device_ids`` fairseq passes for a CPU module (torch refuses them)."""

    def __init__(self, module, device_ids=None, output_device=None, **kwargs):
        on_cpu = all(p.device.type == "cpu" for p in module.parameters())
        if on_cpu:
            device_ids = output_device = None
        super().__init__(module, device_ids=device_ids, output_device=output_device, **kwargs)


def patch_fairseq_distributed_and_precision() -> None:
    """``--ddp-backend pytorch_ddp`` on CPU (gloo) and bf16 without a TPU (idempotent).

    fairseq 0.12.3 builds ``DistributedDataParallel(module, device_ids=[device_id])`` also for a
    CPU module, which torch refuses: the name in ``fairseq.models.distributed_fairseq_model`` is
    replaced by a subclass that drops the device ids for CPU modules. ``call_main`` (every
    fairseq command line tool goes through it once its config is parsed) first runs
    ``_check_and_fix_run_config``.
    """
    import fairseq.distributed.utils as dist_utils
    import fairseq.models.distributed_fairseq_model as dfm

    dfm.DistributedDataParallel = _DeviceAwareDDP
    if not getattr(dist_utils.call_main, "_xdomain_checked", False):
        original = dist_utils.call_main

        def call_main(cfg, main, **kwargs):
            _check_and_fix_run_config(cfg)
            return original(cfg, main, **kwargs)

        call_main._xdomain_checked = True
        dist_utils.call_main = call_main
