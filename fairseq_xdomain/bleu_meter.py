"""Corpus BLEU per translation direction from sufficient statistics, summed over batches and ranks.

BLEU is not an average of per-batch scores: each validation batch logs sacrebleu's sufficient
statistics per direction (n-gram matches and totals for n = 1..4, hypothesis and reference
lengths, sentence count), fairseq sums the logging outputs of all batches and all ranks key by
key, and ``reduce_bleu`` computes corpus BLEU from the sums.

Logging keys of one batch (``add_bleu_stats``), for every direction ``{src}_{tgt}``, zeros when
the batch holds none of it (every rank must log the same keys in the same order):
``_bleu_{src}_{tgt}_{sents,sys_len,ref_len}``, ``_bleu_{src}_{tgt}_{counts,totals}_{n}``.
Metrics (``reduce_bleu``): ``bleu_{src}_{tgt}`` (sacrebleu, 13a tokenization, exp smoothing,
0-100), ``bleu_sents_{src}_{tgt}`` (sentences scored) and ``bleu``, the mean over directions.
"""
from __future__ import annotations

import numpy as np

BLEU_ORDER = 4
_PREFIX = "_bleu_"


def add_bleu_stats(log: dict, texts: dict, directions) -> None:
    """Add the BLEU statistics of one batch to the logging output ``log`` (in place).

    ``texts``: ``{(src, tgt): (hypotheses, references)}``, detokenized strings, one list entry
    per sentence; ``directions``: every ``(src, tgt)`` of the task, in one fixed order (the keys
    of a direction absent from ``texts`` are zeros).
    """
    import sacrebleu

    for src, tgt in directions:
        key = f"{_PREFIX}{src}_{tgt}"
        h, r = texts.get((src, tgt), ([], []))
        stats = sacrebleu.corpus_bleu(h, [r], tokenize="13a") if h else None
        log[f"{key}_sents"] = len(h)
        log[f"{key}_sys_len"] = stats.sys_len if stats else 0
        log[f"{key}_ref_len"] = stats.ref_len if stats else 0
        for n in range(BLEU_ORDER):
            log[f"{key}_counts_{n}"] = stats.counts[n] if stats else 0
            log[f"{key}_totals_{n}"] = stats.totals[n] if stats else 0


def reduce_bleu(logging_outputs) -> None:
    """Log ``bleu_{src}_{tgt}``, ``bleu_sents_{src}_{tgt}`` and ``bleu`` into fairseq's
    ``metrics`` from the summed statistics of ``logging_outputs`` (all batches, all ranks).
    A direction with no n-gram at all is left out."""
    from fairseq.logging import metrics

    def total(key):
        return sum(float(log.get(key, 0)) for log in logging_outputs)

    directions = sorted({k[len(_PREFIX):-len("_sys_len")] for log in logging_outputs
                         for k in log if k.startswith(_PREFIX) and k.endswith("_sys_len")})
    names = []
    for direction in directions:
        key = f"{_PREFIX}{direction}"
        counts = [total(f"{key}_counts_{n}") for n in range(BLEU_ORDER)]
        totals = [total(f"{key}_totals_{n}") for n in range(BLEU_ORDER)]
        if max(totals) <= 0:
            continue
        metrics.log_scalar(f"{key}_counts", np.array(counts))
        metrics.log_scalar(f"{key}_totals", np.array(totals))
        metrics.log_scalar(f"{key}_sys_len", total(f"{key}_sys_len"))
        metrics.log_scalar(f"{key}_ref_len", total(f"{key}_ref_len"))
        metrics.log_scalar_sum(f"bleu_sents_{direction}", total(f"{key}_sents"))
        metrics.log_derived(f"bleu_{direction}", _bleu_fn(key))
        names.append(key)
    if names:
        metrics.log_derived("bleu", lambda meters: round(
            float(np.mean([_bleu_fn(k)(meters) for k in names])), 2))


def _bleu_fn(key):
    """Derived-metric function: corpus BLEU (0-100, 2 decimals) from the meters of ``key``."""

    def compute(meters):
        from sacrebleu.metrics import BLEU

        bleu = BLEU.compute_bleu(
            correct=meters[f"{key}_counts"].sum, total=meters[f"{key}_totals"].sum,
            sys_len=int(meters[f"{key}_sys_len"].sum), ref_len=int(meters[f"{key}_ref_len"].sum),
            smooth_method="exp",
        )
        return round(bleu.score, 2)

    return compute
