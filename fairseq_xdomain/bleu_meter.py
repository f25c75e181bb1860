"""Corpus BLEU per translation direction from sufficient statistics, summed over batches and ranks.

BLEU is not an average of per-batch scores: each validation batch logs sacrebleu's sufficient
statistics per direction (n-gram matches and totals for n = 1..4, hypothesis and reference
lengths, sentence count), fairseq sums the logging outputs of all batches and all ranks key by
key, and ``reduce_bleu`` computes corpus BLEU from the sums.

Logging keys of one batch (``add_bleu_stats``), for every direction ``{src}_{tgt}``, zeros when
the batch holds none of it (every rank must log the same keys in the same order):
``_bleu_{src}_{tgt}_{sents,sys_len,ref_len}``, ``_bleu_{src}_{tgt}_{counts,totals}_{n}``.
Metrics (``reduce_bleu``): ``bleu_{src}_{tgt}`` (sacrebleu, exp smoothing, 0-100),
``bleu_sents_{src}_{tgt}`` (sentences scored) and ``bleu``, the mean over directions.

Tokenization follows the target language as sacrebleu's own defaults do (``BLEU(trg_lang=...)``:
``zh`` for Chinese, ``ja-mecab`` for Japanese, ``ko-mecab`` for Korean, ``13a`` otherwise), on
the base language of the code (``zh_Hans`` -> ``zh``, ``common/langcodes.py``), unless a tokenizer
is named (``--bleu-tokenize`` of the task, ``--tokenize`` of ``xdomain-eval-bleu``). The same
:func:`resolve_tokenize` serves validation, ``xdomain-eval-bleu`` and the drivers (which read the
validation BLEU), and the tokenizer is in the signature (:func:`signature`).
"""
from __future__ import annotations

import functools

import numpy as np

from .common.errors import UserError
from .common.langcodes import base_language

BLEU_ORDER = 4
_PREFIX = "_bleu_"
#: ``auto`` (the target language's sacrebleu default) or one of sacrebleu's tokenizers
TOKENIZE_CHOICES = ("auto", "13a", "zh", "intl", "char", "ja-mecab", "ko-mecab", "none",
                    "flores101", "flores200")


def resolve_tokenize(tokenize: str, tgt_lang: str) -> str:
    """The sacrebleu tokenizer for target ``tgt_lang``: ``tokenize`` itself unless ``auto``;
    for ``auto`` sacrebleu's default for the base language (``zh`` -> ``zh``, ``ja`` ->
    ``ja-mecab``, ``ko`` -> ``ko-mecab``, else ``13a``). UserError for an unknown name, or a
    tokenizer whose extra dependencies are missing (``pip install sacrebleu[ja]``/``[ko]``)."""
    from sacrebleu.metrics import BLEU

    if tokenize == "auto":
        name = BLEU._TOKENIZER_MAP.get(base_language(tgt_lang), BLEU.TOKENIZER_DEFAULT)
    elif tokenize in TOKENIZE_CHOICES:
        name = tokenize
    else:
        raise UserError(f"BLEU tokenizer {tokenize!r}: expected one of "
                        f"{', '.join(TOKENIZE_CHOICES)}")
    _bleu(name)  # its dependencies are checked before any work
    return name


@functools.cache
def _bleu(name: str):
    """A sacrebleu ``BLEU`` with tokenizer ``name`` (exp smoothing), built once."""
    from sacrebleu.metrics import BLEU

    try:
        return BLEU(tokenize=name)
    except (ImportError, RuntimeError, OSError) as err:
        extra = {"ja-mecab": "ja", "ko-mecab": "ko"}.get(name)
        hint = f"pip install 'sacrebleu[{extra}]', or " if extra else ""
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"BLEU tokenizer {name!r} cannot be used here ({first}): {hint}"
                        "name another tokenizer (--bleu-tokenize / --tokenize)") from None


def signature(tokenize: str, tgt_lang: str) -> str:
    """sacrebleu's signature of the BLEU used for target ``tgt_lang`` (one reference, exp
    smoothing, mixed case), e.g. ``nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0``."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize=resolve_tokenize(tokenize, tgt_lang))
    bleu.corpus_score(["a"], [["a"]])  # sacrebleu knows the number of references only then
    return str(bleu.get_signature())


def add_bleu_stats(log: dict, texts: dict, directions, tokenize: str = "auto") -> None:
    """Add the BLEU statistics of one batch to the logging output ``log`` (in place).

    ``texts``: ``{(src, tgt): (hypotheses, references)}``, detokenized strings, one list entry
    per sentence; ``directions``: every ``(src, tgt)`` of the task, in one fixed order (the keys
    of a direction absent from ``texts`` are zeros); ``tokenize``: ``auto`` (the target
    language's sacrebleu default, :func:`resolve_tokenize`) or a sacrebleu tokenizer.
    """
    for src, tgt in directions:
        h, r = texts.get((src, tgt), ([], []))
        add_corpus_stats(log, f"{_PREFIX}{src}_{tgt}", h, r, resolve_tokenize(tokenize, tgt))


def add_corpus_stats(log: dict, key: str, hypotheses, references, tokenize: str) -> None:
    """Add sacrebleu's sufficient statistics of one batch under ``{key}_*`` to ``log`` (zeros
    for an empty batch); ``tokenize``: a resolved sacrebleu tokenizer (:func:`resolve_tokenize`).
    Shared by :func:`add_bleu_stats` and the round-trip BLEU (``round_trip.py``)."""
    import sacrebleu

    h, r = list(hypotheses), list(references)
    stats = sacrebleu.corpus_bleu(h, [r], tokenize=tokenize) if h else None
    log[f"{key}_sents"] = len(h)
    log[f"{key}_sys_len"] = stats.sys_len if stats else 0
    log[f"{key}_ref_len"] = stats.ref_len if stats else 0
    for n in range(BLEU_ORDER):
        log[f"{key}_counts_{n}"] = stats.counts[n] if stats else 0
        log[f"{key}_totals_{n}"] = stats.totals[n] if stats else 0


def reduce_bleu(logging_outputs, prefix: str = _PREFIX, name: str = "bleu") -> None:
    """Log ``bleu_{src}_{tgt}``, ``bleu_sents_{src}_{tgt}`` and ``bleu`` into fairseq's
    ``metrics`` from the summed statistics of ``logging_outputs`` (all ranks of one batch:
    fairseq's validation reduces batch by batch and the meters sum over batches).
    A direction is left out only where it has no sentence: a batch whose hypotheses are all
    empty still counts its sentences and reference length (leaving it out, as an earlier
    version did, dropped those sentences from the score and its brevity penalty).
    ``prefix``/``name``: another family of keys (round-trip BLEU: ``_rt_bleu_{lang}_*`` ->
    ``rt_bleu_{lang}``, ``rt_bleu``)."""
    from fairseq.logging import metrics

    def total(key):
        return sum(float(log.get(key, 0)) for log in logging_outputs)

    directions = sorted({k[len(prefix):-len("_sys_len")] for log in logging_outputs
                         for k in log if k.startswith(prefix) and k.endswith("_sys_len")})
    names = []
    for direction in directions:
        key = f"{prefix}{direction}"
        counts = [total(f"{key}_counts_{n}") for n in range(BLEU_ORDER)]
        totals = [total(f"{key}_totals_{n}") for n in range(BLEU_ORDER)]
        if total(f"{key}_sents") <= 0:
            continue
        metrics.log_scalar(f"{key}_counts", np.array(counts))
        metrics.log_scalar(f"{key}_totals", np.array(totals))
        metrics.log_scalar(f"{key}_sys_len", total(f"{key}_sys_len"))
        metrics.log_scalar(f"{key}_ref_len", total(f"{key}_ref_len"))
        metrics.log_scalar_sum(f"{name}_sents_{direction}", total(f"{key}_sents"))
        metrics.log_derived(f"{name}_{direction}", _bleu_fn(key))
        names.append(key)
    if names:
        metrics.log_derived(name, lambda meters: round(
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
