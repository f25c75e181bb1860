"""The one loader of a linear cross-lingual mapping ``W [d, d]`` (every tool that reads a mapping).

Two conventions exist for the same square matrix, and a ``d x d`` file cannot say which it uses:

- ``ours``: row vectors, ``mapped = x @ W``. What ``xdomain-ubli align``/``grid``/``reallocate``
  write (``W.npy``, ``selected_W.npy`` with ``numpy.save``; ``W.pt`` with ``torch.save`` of a
  tensor).
- ``muse``: MUSE's ``best_mapping.pth`` (Conneau et al. 2018, ``facebookresearch/MUSE``): the
  weight of its ``nn.Linear`` mapping saved as a numpy array with ``torch.save``, applied to
  column vectors as ``W x``, i.e. ``mapped = x @ W.T`` on our row vectors.

The rule (``format``): ``"ours"`` or ``"muse"`` say it; ``"auto"`` (the default) takes what only
our writers produce as ``ours`` (a ``.npy`` file from ``numpy.save``, a torch file holding a
torch tensor: MUSE writes neither) and refuses a torch file holding a numpy array (how MUSE saves
``best_mapping.pth``; a user could save ours that way too) with a one-line ``UserError`` asking
for ``--mapping-format muse|ours``. A MUSE file is read
with ``torch.load(weights_only=True)`` allowing only numpy's array globals (no arbitrary pickle);
a dict holding exactly one 2-D matrix (e.g. ``{"W": ...}``) is accepted too.

:func:`load_mapping` returns the matrix in our convention (``x @ W``), float32, checked to be
``[dim, dim]`` and finite; errors are one-line ``UserError`` naming the file.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from ..common.errors import UserError

#: ``--mapping-format`` values; ``auto`` is the rule of the module docstring
MAPPING_FORMATS = ("auto", "ours", "muse")
MAPPING_FORMAT_HELP = ("convention of --mapping: 'ours' = row vectors, mapped = x @ W (W.npy/W.pt "
                       "of xdomain-ubli), 'muse' = MUSE's best_mapping.pth (W x, i.e. x @ W.T); "
                       "'auto' takes a .npy or a torch tensor file as ours and asks for the format "
                       "of a torch file holding a numpy array (MUSE's way)")


def add_mapping_format_argument(parser, *aliases: str) -> None:
    """``--mapping-format auto|ours|muse`` (default ``auto``), with extra option names
    ``aliases``."""
    parser.add_argument("--mapping-format", *aliases, default="auto", choices=MAPPING_FORMATS,
                        help=MAPPING_FORMAT_HELP)


def _read_torch(path: str):
    import torch

    allowed = [np.ndarray, np.dtype, np._core.multiarray._reconstruct,
               *[type(np.dtype(t)) for t in ("float32", "float64", "float16")]]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise UserError(f"{path}: not a torch file holding one matrix (a tensor or a numpy "
                        f"array saved with torch.save): {type(err).__name__}") from None


def _matrix_of(obj, path: str) -> tuple[np.ndarray, str]:
    """(matrix, ``"torch-tensor"`` | ``"torch-numpy"``) of a loaded torch file."""
    if isinstance(obj, dict):
        found = [v for v in obj.values() if hasattr(v, "shape") and len(v.shape) == 2]
        if len(found) != 1:
            raise UserError(f"{path}: expected one 2-D matrix in the file, found {len(found)}")
        obj = found[0]
    if hasattr(obj, "detach"):
        return obj.detach().cpu().float().numpy(), "torch-tensor"
    if not isinstance(obj, np.ndarray):
        raise UserError(f"{path}: holds a {type(obj).__name__}, expected a matrix")
    return obj, "torch-numpy"


def read_matrix(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """The matrix stored in ``path`` as it is, and how it was stored: ``"npy"`` (numpy.save),
    ``"torch-tensor"`` / ``"torch-numpy"`` (torch.save of a tensor / of a numpy array).
    ``UserError`` if missing or unreadable."""
    p = os.fspath(path)
    if os.path.isdir(p):
        raise UserError(f"{p}: is a folder, expected a mapping file (W.npy, best_mapping.pth)")
    if not os.path.isfile(p):
        raise UserError(f"{p}: mapping file not found")
    if zipfile.is_zipfile(p) or not p.endswith(".npy"):
        if p.endswith(".npy"):
            raise UserError(f"{p}: a torch/zip file named .npy: rename it .pth and pass "
                            f"--mapping-format muse|ours")
        return _matrix_of(_read_torch(p), p)
    try:
        return np.load(p, allow_pickle=False), "npy"
    except (OSError, ValueError, EOFError):
        raise UserError(f"{p}: not a .npy array file (as numpy.save writes, e.g. the W.npy of "
                        f"xdomain-ubli align or grid)") from None


def load_mapping(path: str | os.PathLike, dim: int, fmt: str = "auto") -> np.ndarray:
    """The mapping in ``path`` as a float32 ``[dim, dim]`` matrix ``W`` applied as ``x @ W``.

    ``fmt``: ``ours`` | ``muse`` | ``auto`` (module docstring: ``auto`` takes ``.npy`` and torch
    tensor files as ours and refuses a torch file holding a numpy array). Raises ``UserError`` (one line, naming the file) when the file is
    missing or unreadable, the convention cannot be told, the matrix is not numeric
    ``[dim, dim]``, or has non-finite values."""
    if fmt not in MAPPING_FORMATS:
        raise UserError(f"--mapping-format: {fmt!r}, expected one of {', '.join(MAPPING_FORMATS)}")
    p = os.fspath(path)
    W, stored = read_matrix(p)
    if W.ndim != 2 or not np.issubdtype(W.dtype, np.number):
        raise UserError(f"{p}: mapping of shape {tuple(W.shape)} ({W.dtype}), expected a 2-D "
                        f"numeric ({dim}, {dim}) matrix")
    if W.shape != (dim, dim):
        raise UserError(f"{p}: mapping of shape {tuple(W.shape)}, expected ({dim}, {dim}) for "
                        f"embeddings of dimension {dim}")
    if fmt == "auto" and stored == "torch-numpy":
        raise UserError(f"{p}: a square {dim}x{dim} numpy matrix saved with torch.save can be "
                        f"MUSE's best_mapping.pth (W x) or ours (x @ W): pass --mapping-format "
                        f"muse or --mapping-format ours")
    if not np.isfinite(W).all():
        raise UserError(f"{p}: the mapping has non-finite values")
    W = W.astype(np.float32)
    return np.ascontiguousarray(W.T) if fmt == "muse" else W


def applied_as(fmt: str) -> str:
    """How a mapping of format ``fmt`` is applied to row vectors ``x`` (for result records)."""
    return "x @ W.T" if fmt == "muse" else "x @ W"


__all__ = ["MAPPING_FORMATS", "MAPPING_FORMAT_HELP", "add_mapping_format_argument",
           "read_matrix", "load_mapping", "applied_as"]
