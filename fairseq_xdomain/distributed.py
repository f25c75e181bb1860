"""Helpers for fairseq's data-parallel training (several processes, one per GPU or CPU rank).

- ``unwrap_model``: the bare model under fairseq's DDP wrappers (``ModuleProxyWrapper`` around
  ``DistributedDataParallel`` or ``LegacyDistributedDataParallel``, maybe inside a
  ``DistributedTimeoutWrapper``). Generation (back-translation) runs on the bare model: no
  collective calls, no gradient hooks.
- ``param_digest``: a SHA-1 of every parameter's bytes; equal on every rank when the ranks hold
  the same model.
- ``rank_trace``: with ``XDOMAIN_RANK_TRACE=DIR`` in the environment, every rank appends one JSON
  line per event to ``DIR/rank{R}.jsonl`` (which sentences it trained on, the parameter digest
  before each update). fairseq lowers the log level of every rank but 0 to WARNING, so a trace
  file is the way to see what each rank did; tests/test_distributed.py compares them.
"""
from __future__ import annotations

import hashlib
import json
import os

import torch

TRACE_ENV = "XDOMAIN_RANK_TRACE"


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model under every wrapper that keeps it as ``.module`` (DDP, proxies, timeouts)."""
    inner = getattr(model, "module", None)
    while isinstance(inner, torch.nn.Module):
        model = inner
        inner = getattr(model, "module", None)
    return model


def rank() -> int:
    """This process's rank in the default process group (0 when not distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def param_digest(model: torch.nn.Module) -> str:
    """SHA-1 of the names and exact bytes of every parameter (in ``named_parameters`` order)."""
    h = hashlib.sha1()
    for name, p in unwrap_model(model).named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def tracing() -> bool:
    return bool(os.environ.get(TRACE_ENV))


def rank_trace(event: str, **fields) -> None:
    """Append ``{"event", "rank", **fields}`` to ``$XDOMAIN_RANK_TRACE/rank{R}.jsonl`` (if set)."""
    folder = os.environ.get(TRACE_ENV)
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    r = rank()
    with open(os.path.join(folder, f"rank{r}.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": event, "rank": r, **fields}) + "\n")


def trace_train_step(sample, model, update_num: int, ignore_grad: bool) -> None:
    """Trace one ``train_step``: the update, whether the batch is fairseq's dummy batch, the
    sample ids it holds, the digest of the parameters it starts from and their dtypes."""
    if not tracing():
        return
    ids = sample.get("id") if isinstance(sample, dict) else None
    rank_trace("train_step", update=int(update_num), dummy=bool(ignore_grad),
               ids=[] if ids is None else [int(i) for i in ids.tolist()],
               params=param_digest(model),
               dtypes=sorted({str(p.dtype) for p in unwrap_model(model).parameters()}))
