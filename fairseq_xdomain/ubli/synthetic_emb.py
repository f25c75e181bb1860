"""Synthetic embedding pairs with real structure, for tests and benchmarks.

Source: an anisotropic Gaussian mixture (clusters with random centres, a decaying per-dimension
scale spectrum) whose norms depend on frequency rank, like real embeddings; target: the source
rotated by a random orthogonal matrix plus small noise, optionally with the word order locally
shuffled. Word i of the source translates to word ``perm[i]`` of the target.
"""
from __future__ import annotations

import numpy as np


def make_pair(n: int = 5000, dim: int = 64, n_clusters: int = 30, noise: float = 0.02,
              seed: int = 0, shuffle_window: int = 0, centre_scale: float = 2.0,
              spectrum_decay: float = 1.0,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (src [n, dim], tgt [n, dim], perm [n], Q [dim, dim]) as float32 / int arrays:
    ``tgt[perm[i]] ~ src[i] @ Q``.

    ``spectrum_decay``: per-dimension scales are ``exp(-spectrum_decay * i / dim)``. The default
    (1.0) is nearly isotropic (scales 1 .. 0.37): Procrustes with a dictionary recovers Q, but the
    distribution alone barely identifies it, and adversarial alignment fails on it (~0% P@1).
    A steep spectrum (e.g. 6.0, with ~100 clusters) is closer to real embeddings' decaying spectra.
    """
    rng = np.random.default_rng(seed)
    spectrum = np.exp(-spectrum_decay * np.arange(dim) / float(dim)).astype(np.float64)  # anisotropic
    centres = rng.standard_normal((n_clusters, dim)) * spectrum * centre_scale
    weights = rng.dirichlet(np.ones(n_clusters) * 2.0)
    assign = rng.choice(n_clusters, size=n, p=weights)
    x = centres[assign] + rng.standard_normal((n, dim)) * spectrum
    rank = np.arange(n)
    x *= (1.5 - 0.5 * np.log1p(rank) / np.log1p(n))[:, None]  # frequent words have larger norms
    x *= 3.0 / np.linalg.norm(x, axis=1).mean()  # fastText-like norms (mean 3)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q *= np.sign(np.diag(r))
    y = x @ q + rng.standard_normal((n, dim)) * noise * np.sqrt((x ** 2).mean())
    perm = np.arange(n)
    if shuffle_window > 1:
        for s in range(0, n, shuffle_window):
            block = perm[s:s + shuffle_window].copy()
            rng.shuffle(block)
            perm[s:s + shuffle_window] = block
    tgt = np.empty_like(y)
    tgt[perm] = y
    return x.astype(np.float32), tgt.astype(np.float32), perm, q.astype(np.float32)


def words_for(n: int, prefix: str) -> list[str]:
    """``[prefix0, prefix1, ...]``: ``n`` distinct words."""
    return [f"{prefix}{i}" for i in range(n)]


def write_pair(folder, n: int, dim: int, seed: int = 0, noise: float = 0.05, prefix: str = "w",
               dico_rows=range(1500)) -> tuple:
    """Write a :func:`make_pair` pair as ``src.vec``/``tgt.vec`` and its gold ``dico.txt``.

    Source word ``{prefix}i`` translates to the target word of the same name (the target's row
    order is permuted). ``dico_rows``: the indices listed in the dictionary (those < ``n``).
    Returns the paths (src, tgt, dico).
    """
    from pathlib import Path

    from ..embeddings.vecio import save_vec

    folder = Path(folder)
    src, tgt, perm, _ = make_pair(n=n, dim=dim, seed=seed, noise=noise)
    tgt_words = [None] * n
    for i in range(n):
        tgt_words[perm[i]] = f"{prefix}{i}"
    save_vec(folder / "src.vec", words_for(n, prefix), src)
    save_vec(folder / "tgt.vec", tgt_words, tgt)
    (folder / "dico.txt").write_text(
        "".join(f"{prefix}{i} {prefix}{i}\n" for i in dico_rows if i < n), encoding="utf-8")
    return folder / "src.vec", folder / "tgt.vec", folder / "dico.txt"
