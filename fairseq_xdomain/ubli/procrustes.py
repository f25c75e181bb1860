"""Orthogonal Procrustes: the orthogonal W minimising ||A W - B||_F is U V^T, U S V^T = svd(A^T B)."""
from __future__ import annotations

import torch


def procrustes(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a``/``b`` are paired rows ``[n, d]``; returns W ``[d, d]`` with ``a @ W ~ b``.

    Works batched too: ``a``/``b`` of shape ``[S, n, d]`` give ``W [S, d, d]``.
    """
    m = a.transpose(-2, -1).double() @ b.double()
    u, _, vh = torch.linalg.svd(m)
    return (u @ vh).float()
