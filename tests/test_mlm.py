"""xlm_mlm task + xlm_encoder model + xlm_mlm_loss criterion, through the real fairseq-train.

Data: a generated bilingual corpus with structure a context model can exploit (gender agreement
between determiner and noun, a preferred verb per subject noun, fixed punctuation), two
"languages" with disjoint vocabularies and unequal sizes, binarized (``binarize``: fairseq's
preprocessing, in the test process) into the layout of docs/design.md.
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter

import numpy as np
import pytest
from conftest import USER_DIR, run, write_lines

from fairseq_xdomain.preprocess.binarize import binarize

LANGS = ("en", "fr")
N_SENT = {"en": 3000, "fr": 1000}
TPS = 32  # tokens per sample in the tests


def generate_language(lang, n, seed):
    """Sentences 'DET NOUN VERB DET NOUN .' with agreement and preferred verbs (Zipfian nouns)."""
    rng = random.Random(seed)
    nouns = [f"{lang}n{i}" for i in range(16)]
    gender = {w: i % 2 for i, w in enumerate(nouns)}
    dets = [f"{lang}d0", f"{lang}d1"]
    verbs = [f"{lang}v{i}" for i in range(8)]
    favourite = {w: verbs[i % len(verbs)] for i, w in enumerate(nouns)}
    weights = [1.0 / (i + 1) for i in range(len(nouns))]
    stop = f"{lang}."
    lines = []
    for _ in range(n):
        subj, obj = rng.choices(nouns, weights, k=2)
        verb = favourite[subj] if rng.random() < 0.8 else rng.choice(verbs)
        words = [dets[gender[subj]], subj, verb, dets[gender[obj]], obj, stop]
        if lang == "fr":  # another word order: verb last
            words = [dets[gender[subj]], subj, dets[gender[obj]], obj, verb, stop]
        lines.append(" ".join(words))
    return lines


@pytest.fixture(scope="module")
def mlm_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlm")
    raw = root / "raw"
    corpora = {}
    for k, lang in enumerate(LANGS):
        lines = generate_language(lang, N_SENT[lang] + 200, seed=k)
        corpora[lang] = lines
        write_lines(raw / f"{lang}.train", lines[:N_SENT[lang]])
        write_lines(raw / f"{lang}.valid", lines[N_SENT[lang]:])
    data = root / "DATA"
    binarize(data, None, {lang: raw / f"{lang}.train" for lang in LANGS},
             valid={lang: raw / f"{lang}.valid" for lang in LANGS})
    return {"root": root, "data": data, "corpora": corpora}


def unigram_stats(corpora):
    """Unigram entropy (bits) and most-frequent-token rate of the validation token stream.

    The stream is what the model sees: every sentence followed by </s>, each block starting
    with <s>; the unigram model is the empirical distribution of the validation data itself
    (a lower bound on any unigram model's cross-entropy on it).
    """
    counts = Counter()
    n_blocks = 0
    for lang in LANGS:
        valid = corpora[lang][N_SENT[lang]:]
        n_tok = 0
        for line in valid:
            words = line.split() + ["</s>"]
            counts.update(words)
            n_tok += len(words)
        n_blocks += math.ceil(n_tok / (TPS - 1))
    counts["<s>"] += n_blocks
    total = sum(counts.values())
    p = np.array(list(counts.values()), dtype=np.float64) / total
    entropy = float(-(p * np.log2(p)).sum())
    return entropy, counts.most_common(1)[0][1] / total


def mlm_args(data, save_dir, max_update, extra=()):
    return [
        "fairseq-train", data, "--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "en,fr",
        "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss",
        "--tokens-per-sample", str(TPS), "--max-positions", str(TPS),
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "2e-3",
        "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "30",
        "--batch-size", "32", "--max-update", str(max_update),
        "--save-dir", save_dir, "--no-epoch-checkpoints", "--seed", "3",
        "--log-format", "simple", "--log-interval", "50", "--num-workers", "0", "--cpu",
        "--validate-interval", "1000", "--save-interval", "1000", *extra,
    ]


def last_valid_stats(log):
    lines = [ln for ln in log.splitlines() if "| valid on 'valid' subset" in ln]
    assert lines, log[-3000:]
    stats = dict(re.findall(r"\| (\S+) ([-\d.]+)", lines[-1]))
    return {k: float(v) for k, v in stats.items()}


@pytest.fixture(scope="module")
def trained(mlm_data):
    save = mlm_data["root"] / "ckpt"
    out = run(mlm_args(mlm_data["data"], save, 300), env={"OMP_NUM_THREADS": "1"})
    return {"save": save, "log": out.stdout + out.stderr}


def test_mlm_beats_unigram_and_majority(mlm_data, trained):
    log = trained["log"]
    stats = last_valid_stats(log)
    entropy, majority = unigram_stats(mlm_data["corpora"])
    unigram_ppl = 2**entropy
    # model ppl on masked positions vs the unigram ppl of the data
    assert stats["ppl"] < 0.5 * unigram_ppl, (stats, unigram_ppl)
    assert stats["accuracy"] > 100 * majority + 25, (stats, majority)
    for lang in LANGS:  # per-language validation metrics are logged
        assert stats[f"ppl_{lang}"] < 0.6 * unigram_ppl, stats
        assert stats[f"accuracy_{lang}"] > 100 * majority, stats
    # language sampling with alpha 0.5 was applied to the 3:1 corpus sizes
    probs = dict(re.findall(r"sampling '(\w+)' \(alpha=0.5\): \d+ blocks, natural p=[\d.]+ -> p=([\d.]+)", log))
    assert abs(float(probs["en"]) - math.sqrt(3) / (1 + math.sqrt(3))) < 0.02, probs


def test_restore_resumes_at_same_update(mlm_data, trained):
    save = trained["save"]
    out = run(mlm_args(mlm_data["data"], save, 310, ["--restore-file", save / "checkpoint_last.pt"]),
              env={"OMP_NUM_THREADS": "1"})
    log = out.stdout + out.stderr
    assert re.search(r"Loaded checkpoint \S*checkpoint_last\.pt \(epoch \d+ @ 300 updates\)", log), log[-3000:]
    assert re.search(r"num_updates 310\b", log), log[-3000:]
