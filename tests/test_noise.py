"""Word-level denoising noise (fairseq_xdomain.noise) and lambda schedules: plain numpy/torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.lambda_schedule import PiecewiseLinear
from fairseq_xdomain.noise import NoiseConfig, add_noise, noise_rng, word_ids, word_start_table

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
MASK = 99


def spm_sentence(n_words, rng):
    """Symbols + token ids of a sentencepiece sentence: word w = '▁w{w}' + 0..2 pieces 'p{w}_{k}'."""
    symbols = list(SPECIALS)
    tokens, words = [], []
    for w in range(n_words):
        pieces = [f"\u2581w{w}"] + [f"p{w}_{k}" for k in range(rng.integers(0, 3))]
        for p in pieces:
            symbols.append(p)
            tokens.append(len(symbols) - 1)
            words.append(w)
    return symbols, torch.tensor(tokens), np.array(words)


def split_words(tokens, word_start):
    out, cur = [], []
    for t in tokens.tolist():
        if word_start[t] and cur:
            out.append(cur)
            cur = []
        cur.append(t)
    return out + ([cur] if cur else [])


def test_word_ids_follow_sentencepiece_word_starts():
    rng = np.random.default_rng(0)
    symbols, tokens, words = spm_sentence(12, rng)
    table = word_start_table(symbols, special_count=4)
    assert word_ids(tokens, table).tolist() == words.tolist()
    # word-level data (no '▁' anywhere): every token is a word
    plain = word_start_table(SPECIALS + ["a", "b", "c"], special_count=4)
    assert plain.all()


def test_shuffle_keeps_words_whole_and_moves_at_most_k():
    rng = np.random.default_rng(1)
    symbols, tokens, _ = spm_sentence(30, rng)
    table = word_start_table(symbols, special_count=4)
    original = split_words(tokens, table)
    max_shift = 0
    for index in range(200):
        out = add_noise(tokens, table, MASK, noise_rng(0, 1, index), NoiseConfig(3, 0.0, 0.0))
        noisy = split_words(out, table)
        assert sorted(map(tuple, noisy)) == sorted(map(tuple, original))  # whole words, none lost
        pos = {tuple(w): i for i, w in enumerate(original)}
        shifts = [abs(pos[tuple(w)] - i) for i, w in enumerate(noisy)]
        max_shift = max(max_shift, *shifts)
    assert 1 <= max_shift <= 3


def test_dropout_and_blank_rates_and_whole_word_blanking():
    rng = np.random.default_rng(2)
    symbols, tokens, _ = spm_sentence(50, rng)
    table = word_start_table(symbols, special_count=4)
    n_words = len(split_words(tokens, table))
    kept, blanked = 0, 0
    trials = 200
    for index in range(trials):
        out = add_noise(tokens, table, MASK, noise_rng(3, 1, index), NoiseConfig(0, 0.1, 0.0))
        kept += len(split_words(out, table))
        out = add_noise(tokens, table, MASK, noise_rng(3, 1, index), NoiseConfig(0, 0.0, 0.1))
        assert len(out) == len(tokens)
        for orig, new in zip(split_words(tokens, table), _align(out, tokens, table)):
            assert new == orig or set(new) == {MASK}  # a word is blanked as a whole
        blanked += sum(1 for w in _align(out, tokens, table) if set(w) == {MASK})
    assert abs(1 - kept / (trials * n_words) - 0.1) < 0.02
    assert abs(blanked / (trials * n_words) - 0.1) < 0.02


def _align(out, tokens, table):
    """Without shuffle/dropout, blanking keeps lengths: cut ``out`` like the original words."""
    res, i = [], 0
    for word in split_words(tokens, table):
        res.append(out[i:i + len(word)].tolist())
        i += len(word)
    return res


def test_noise_is_reproducible_and_fresh_every_epoch():
    tokens = torch.arange(4, 40)
    table = torch.ones(64, dtype=torch.bool)
    a = add_noise(tokens, table, MASK, noise_rng(7, 1, 5))
    b = add_noise(tokens, table, MASK, noise_rng(7, 1, 5))
    c = add_noise(tokens, table, MASK, noise_rng(7, 2, 5))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, tokens)


def test_lambda_schedule():
    f = PiecewiseLinear.parse("0:1,100000:0.1,300000:0")
    assert f(0) == 1.0
    assert f(50000) == pytest.approx(0.55)
    assert f(200000) == pytest.approx(0.05)
    assert f(10 ** 7) == 0.0
    assert PiecewiseLinear.parse("0.5")(123) == 0.5
    with pytest.raises(UserError):
        PiecewiseLinear.parse("10:1,5:0", "--lambda-dae")
    with pytest.raises(UserError):
        PiecewiseLinear.parse("zero", "--lambda-bt")
