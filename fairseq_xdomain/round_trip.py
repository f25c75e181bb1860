"""Round-trip BLEU: model selection for unsupervised MT without parallel data.

Lample et al. (2018, "Unsupervised machine translation using monolingual corpora only", ICLR,
its "Model selection" section) select checkpoints by the BLEU of round-trip translation on
monolingual validation text: each sentence ``x`` of language ``l`` is translated into the other
language (``y = T(l -> o)(x)``), back (``x' = T(o -> l)(y)``), and ``x'`` is scored against ``x``
with corpus BLEU. They report that it correlates with test BLEU; docs/unmt.md measures it here.

This module is the computation, over plain translate callables, so that it can be checked on a
known translation function and reused outside fairseq:

- :func:`round_trip_bleu`: the metric of whole corpora (``{lang: sentences}``, a
  ``translate(sentences, src, tgt) -> sentences`` callable), per language and mean;
- :func:`add_round_trip_stats` / :func:`reduce_round_trip`: the same BLEU from sacrebleu's
  sufficient statistics summed over batches and DDP ranks (``bleu_meter``), what the
  ``unmt_xdomain`` task logs every validation: ``rt_bleu_{lang}`` (0-100),
  ``rt_bleu_sents_{lang}`` and their mean ``rt_bleu`` (``--best-checkpoint-metric rt_bleu
  --maximize-best-checkpoint-metric``). Batch keys ``_rt_bleu_{lang}_*``, zeros for a language
  a batch does not hold, so every rank logs the same keys.

BLEU is sacrebleu's (exp smoothing, one reference) with the tokenizer of the sentence's own
language (``bleu_meter.resolve_tokenize``: ``auto`` is sacrebleu's default for it). The other
language of ``l`` is :func:`pivot_language`: the other one of a pair; with more languages the
next one in ``--langs`` order (deterministic, so every validation scores the same round trip).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .bleu_meter import add_corpus_stats, reduce_bleu, resolve_tokenize
from .bleu_meter import signature as bleu_signature
from .common.errors import UserError

#: batch-statistics prefix and metric name of round-trip BLEU
RT_PREFIX = "_rt_bleu_"
RT_METRIC = "rt_bleu"

#: ``translate(sentences, src_lang, tgt_lang) -> translations``, one output per input, in order
Translate = Callable[[list[str], str, str], list[str]]


def pivot_language(langs: Sequence[str], lang: str) -> str:
    """The language ``lang`` is round-tripped through: the next one of ``langs`` (cyclic; for a
    pair, the other one). UserError when ``lang`` is not in ``langs`` or ``langs`` has one."""
    langs = list(langs)
    if lang not in langs or len(langs) < 2:
        raise UserError(f"round trip of {lang!r}: needs it among two or more languages ({langs})")
    return langs[(langs.index(lang) + 1) % len(langs)]


@dataclass(frozen=True)
class RoundTripBLEU:
    """Round-trip BLEU of one model: ``per_lang`` {lang: BLEU 0-100}, ``mean`` (0-100) over the
    languages, ``sentences`` {lang: number scored}, ``signatures`` {lang: sacrebleu signature}."""

    per_lang: dict
    mean: float
    sentences: dict
    signatures: dict


def round_trip(sentences: Sequence[str], translate: Translate, lang: str, pivot: str) -> list[str]:
    """``translate(translate(sentences, lang, pivot), pivot, lang)``: the round trip of each
    sentence, in order. UserError when ``translate`` returns another number of sentences."""
    forward = list(translate(list(sentences), lang, pivot))
    if len(forward) != len(sentences):
        raise UserError(f"round trip {lang}->{pivot}: {len(forward)} translations of "
                        f"{len(sentences)} sentences")
    back = list(translate(forward, pivot, lang))
    if len(back) != len(sentences):
        raise UserError(f"round trip {pivot}->{lang}: {len(back)} translations of "
                        f"{len(sentences)} sentences")
    return back


def round_trip_bleu(monolingual: dict[str, Sequence[str]], translate: Translate,
                    langs: Sequence[str] | None = None, tokenize: str = "auto") -> RoundTripBLEU:
    """Round-trip BLEU of ``translate`` on ``monolingual`` ({lang: sentences}, detokenized text).

    ``langs``: the model's languages in order (default: the keys of ``monolingual``); every
    language of ``monolingual`` is round-tripped through :func:`pivot_language`. ``tokenize``:
    ``auto`` (each language's sacrebleu default) or a sacrebleu tokenizer. Corpus BLEU per
    language (sacrebleu, exp smoothing), mean over the languages. UserError for an empty corpus.
    """
    import sacrebleu

    langs = list(langs or monolingual)
    per_lang, counts, sigs = {}, {}, {}
    for lang, sentences in monolingual.items():
        if not sentences:
            raise UserError(f"round-trip BLEU: no {lang} sentence")
        back = round_trip(sentences, translate, lang, pivot_language(langs, lang))
        tok = resolve_tokenize(tokenize, lang)
        per_lang[lang] = float(sacrebleu.corpus_bleu(back, [list(sentences)], tokenize=tok).score)
        counts[lang] = len(sentences)
        sigs[lang] = bleu_signature(tokenize, lang)
    mean = sum(per_lang.values()) / len(per_lang)
    return RoundTripBLEU(per_lang, mean, counts, sigs)


def add_round_trip_stats(log: dict, texts: dict, langs: Sequence[str],
                         tokenize: str = "auto") -> None:
    """Add one batch's round-trip statistics to the logging output ``log`` (in place).

    ``texts``: {lang: (round trips, originals)} (detokenized strings); ``langs``: every language
    of the task in one fixed order (zeros for one absent from ``texts``: the same keys on every
    rank and batch)."""
    for lang in langs:
        hyps, refs = texts.get(lang, ([], []))
        add_corpus_stats(log, f"{RT_PREFIX}{lang}", hyps, refs, resolve_tokenize(tokenize, lang))


def reduce_round_trip(logging_outputs) -> None:
    """Log ``rt_bleu_{lang}``, ``rt_bleu_sents_{lang}`` and ``rt_bleu`` (mean over languages)
    into fairseq's ``metrics`` from the summed statistics of all batches and ranks; a
    language whose round trips are all empty scores 0 (the metric exists at every validation)."""
    reduce_bleu(logging_outputs, prefix=RT_PREFIX, name=RT_METRIC)
