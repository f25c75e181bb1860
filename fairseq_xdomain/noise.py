"""Word-level denoising noise for UNMT (shuffle, drop, blank), sentencepiece-aware.

Plain numpy/PyTorch, no fairseq. A *word* is a run of sentencepiece pieces: a piece whose text
starts with U+2581 ("▁") begins a new word, any other piece continues the current word (so
"▁inter" "national" is one word and is shuffled, dropped or blanked as a whole). For word-level
data (no sentencepiece), every token is a word.

The three noises follow Lample et al. (2018), applied in this order:
- shuffle: each word moves at most ``shuffle_distance`` positions (sort by i + U(0, k));
- dropout: each word is removed with probability ``dropout_p`` (at least one word is kept);
- blank: each word's pieces are replaced by ``mask_idx`` with probability ``blank_p``.

The noise of sentence ``index`` in epoch ``epoch`` comes from ``numpy.random.default_rng((seed,
epoch, index))``: the same run gives the same noise, and every epoch gives fresh noise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SPM_WORD_START = "\u2581"


def word_start_table(symbols, special_count: int = 4, sentencepiece: bool | None = None) -> torch.Tensor:
    """Bool tensor [V]: does token id v begin a new word?

    ``symbols`` is the dictionary's symbol list (fairseq ``Dictionary.symbols``); the first
    ``special_count`` entries (bos, pad, eos, unk) and ``<...>`` symbols always begin a word.
    ``sentencepiece=None`` decides automatically: sentencepiece mode when any symbol starts with
    "▁", otherwise every token is a word.
    """
    if sentencepiece is None:
        sentencepiece = any(s.startswith(SPM_WORD_START) for s in symbols)
    starts = torch.ones(len(symbols), dtype=torch.bool)
    if sentencepiece:
        for i, sym in enumerate(symbols):
            special = i < special_count or (sym.startswith("<") and sym.endswith(">"))
            starts[i] = special or sym.startswith(SPM_WORD_START)
    return starts


def word_ids(tokens: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """Word index of every token (0-based); the first token always starts word 0."""
    starts = word_start[tokens].clone()
    if len(starts):
        starts[0] = True
    return torch.cumsum(starts.long(), 0) - 1


@dataclass(frozen=True)
class NoiseConfig:
    shuffle_distance: float = 3.0
    dropout_p: float = 0.1
    blank_p: float = 0.1


def add_noise(
    tokens: torch.Tensor,
    word_start: torch.Tensor,
    mask_idx: int,
    rng: np.random.Generator,
    cfg: NoiseConfig = NoiseConfig(),
) -> torch.Tensor:
    """Return a noisy copy of ``tokens`` (1-D, *without* the final eos) at the word level."""
    if len(tokens) == 0:
        return tokens.clone()
    wid = word_ids(tokens, word_start).numpy()
    n_words = int(wid[-1]) + 1
    # group pieces by word
    bounds = np.flatnonzero(np.diff(wid)) + 1
    pieces = np.split(tokens.numpy(), bounds)
    order = np.arange(n_words)
    if cfg.shuffle_distance > 0 and n_words > 1:
        scores = order + rng.uniform(0, cfg.shuffle_distance, size=n_words)
        order = np.argsort(scores, kind="stable")
    keep = np.ones(n_words, dtype=bool)
    if cfg.dropout_p > 0 and n_words > 1:
        keep = rng.random(n_words) >= cfg.dropout_p
        if not keep.any():
            keep[rng.integers(n_words)] = True
    blank = rng.random(n_words) < cfg.blank_p if cfg.blank_p > 0 else np.zeros(n_words, bool)
    out = []
    for w in order:  # keep/blank are decided per original word
        if not keep[w]:
            continue
        out.append(np.full_like(pieces[w], mask_idx) if blank[w] else pieces[w])
    return torch.from_numpy(np.concatenate(out)).to(tokens.dtype)


def noise_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random generator for one sentence in one epoch (fresh noise every epoch)."""
    return np.random.default_rng((int(seed) & 0xFFFFFFFF, int(epoch), int(index)))
