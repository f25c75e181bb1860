"""Significance and spread of the numbers in the report: BLEU and P@1 comparisons, seed variance.

Four tools, each for one question a reader of a comparison table asks:

- :func:`paired_bootstrap_bleu`: is system B's BLEU different from system A's on the same test
  set? Paired bootstrap resampling (Koehn 2004, "Statistical significance tests for machine
  translation evaluation"), computed by sacrebleu's own implementation
  (``sacrebleu.significance.PairedTest``, ``test_type="bs"``), with its signature.
- :func:`mcnemar_exact`: is method B's P@1 different from method A's on the same test words?
  The exact McNemar test (McNemar 1947): a two-sided binomial test (``scipy.stats.binomtest``,
  p = 0.5) on the discordant words.
- :func:`bootstrap_p_at_1`: a 95% percentile bootstrap interval for one P@1 (Efron & Tibshirani
  1993, "An Introduction to the Bootstrap", ch. 13), resampling the test source words.
- :func:`mean_sd` / :func:`format_mean_sd`: mean and sample standard deviation over seeds,
  ``"36.8 ± 1.2 (n=2)"``.

Units: BLEU 0-100 (sacrebleu), P@1 in % (0-100). Every result is a frozen dataclass with
``to_dict()`` (JSON-able) so a result file's ``details`` or the report can carry it as it is.
Bad input (sequences of different lengths, an empty test set, a non-binary correctness vector,
a non-positive number of resamples) is a ``UserError``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from .common.errors import UserError

#: sacrebleu's default number of paired-bootstrap resamples (``PairedTest._DEFAULT_SAMPLES["bs"]``)
BLEU_RESAMPLES = 1000
#: sacrebleu's default seed (``SACREBLEU_SEED``)
BLEU_SEED = 12345


# ----------------------------------------------------------------------------- BLEU (sacrebleu)
@dataclass(frozen=True)
class BleuBootstrap:
    """One system's corpus BLEU and its bootstrap estimate, as sacrebleu reports them.

    ``score``: the corpus BLEU of the whole test set; ``mean``: the mean BLEU over the
    resamples; ``ci``: sacrebleu's 95% half-width (half the distance between the 2.5% and
    97.5% order statistics of the resampled BLEU), so the interval is ``[lower, upper] =
    [mean - ci, mean + ci]``. All BLEU 0-100."""

    score: float
    mean: float
    ci: float

    @property
    def lower(self) -> float:
        return self.mean - self.ci

    @property
    def upper(self) -> float:
        return self.mean + self.ci

    def to_dict(self) -> dict:
        return {"score": self.score, "mean": self.mean, "ci": self.ci,
                "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class PairedBleuTest:
    """Paired bootstrap resampling of two systems on one test set (sacrebleu ``PairedTest``).

    ``p_value``: sacrebleu's p-value for "the two systems have the same BLEU" (the share of
    resamples whose centred absolute difference exceeds the observed one, (c + 1) / (n + 1)),
    except that an observed difference of exactly 0 gives 1.0: sacrebleu returns 1 / (n + 1)
    there (a system against itself would read as significant); ``p_value_sacrebleu`` keeps
    sacrebleu's own number;
    ``n_resamples``, ``seed``: the bootstrap's; ``signature``: sacrebleu's BLEU signature with
    ``bs`` and ``seed`` (e.g. ``nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|...``)."""

    baseline: BleuBootstrap
    system: BleuBootstrap
    p_value: float
    n_resamples: int
    seed: int
    signature: str
    n_segments: int
    p_value_sacrebleu: float

    @property
    def delta(self) -> float:
        """system - baseline corpus BLEU."""
        return self.system.score - self.baseline.score

    def to_dict(self) -> dict:
        return {"baseline": self.baseline.to_dict(), "system": self.system.to_dict(),
                "delta": self.delta, "p_value": self.p_value,
                "p_value_sacrebleu": self.p_value_sacrebleu, "n_resamples": self.n_resamples,
                "seed": self.seed, "signature": self.signature, "n_segments": self.n_segments,
                "test": "paired bootstrap resampling (Koehn 2004; sacrebleu PairedTest bs)"}


@contextmanager
def _sacrebleu_seed(seed: int):
    """sacrebleu reads its bootstrap seed from ``SACREBLEU_SEED`` when ``PairedTest`` is built;
    set it for that moment only and restore the caller's environment."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = old


def _check_resamples(n_resamples: int) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise UserError(f"number of bootstrap resamples: {n_resamples!r}: expected an integer >= 1")


def paired_bootstrap_bleu(baseline: Sequence[str], system: Sequence[str],
                          references: Sequence[str], *, tokenize: str | None = None,
                          trg_lang: str = "", n_resamples: int = BLEU_RESAMPLES,
                          seed: int = BLEU_SEED) -> PairedBleuTest:
    """Paired bootstrap resampling test of two systems' BLEU on the same test set.

    ``baseline``, ``system``: detokenized hypotheses, one string per test segment, in the order
    of ``references`` (one reference per segment; all three of the same length N >= 1).
    ``tokenize``/``trg_lang``: as sacrebleu's ``BLEU(tokenize=, trg_lang=)`` (None: sacrebleu's
    default for ``trg_lang``; pass ``bleu_meter.resolve_tokenize(...)`` to score as validation
    does). ``n_resamples``: bootstrap resamples (sacrebleu's default 1000); ``seed``: an integer
    >= 1 (sacrebleu treats 0 as "no seed" for the system's resamples, so 0 is refused).

    The resampling, BLEU of each resample, the 95% interval and the p-value are sacrebleu's own
    (``sacrebleu.significance.PairedTest(test_type="bs")``, which follows Moses'
    ``bootstrap-hypothesis-difference-significance.pl``; Koehn 2004). Both systems are scored on
    the same resampled segment indices; equal corpus BLEU gives p = 1.0 (sacrebleu's own
    p-value is kept as ``p_value_sacrebleu``). Returns a :class:`PairedBleuTest` (BLEU 0-100).
    Raises ``UserError`` on empty input, different lengths or a bad ``n_resamples``/``seed``.
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    baseline, system, references = list(baseline), list(system), list(references)
    if not references:
        raise UserError("paired bootstrap BLEU: the test set is empty")
    if not (len(baseline) == len(system) == len(references)):
        raise UserError(f"paired bootstrap BLEU: {len(baseline)} baseline and {len(system)} system "
                        f"hypotheses for {len(references)} references: expected one per reference")
    for name, seq in (("baseline", baseline), ("system", system), ("references", references)):
        if not all(isinstance(s, str) for s in seq):
            raise UserError(f"paired bootstrap BLEU: {name}: expected strings (one per segment)")
    _check_resamples(n_resamples)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 1:
        raise UserError(f"paired bootstrap BLEU: seed {seed!r}: expected an integer >= 1 "
                        "(sacrebleu reads 0 as 'no seed')")

    metric = BLEU(tokenize=tokenize, trg_lang=trg_lang)
    with _sacrebleu_seed(seed):
        test = PairedTest([("baseline", baseline), ("system", system)], {"BLEU": metric},
                          references=[references], test_type="bs", n_samples=n_resamples)
        signatures, scores = test()
    (name,) = signatures  # the one metric, under its score name ("BLEU")
    bl, sy = scores[name]
    p_sacrebleu = float(sy.p_value)
    # no observed difference is no evidence of one (sacrebleu's strict ">" gives 1 / (n + 1))
    p = 1.0 if float(sy.score) == float(bl.score) else p_sacrebleu
    return PairedBleuTest(
        baseline=BleuBootstrap(float(bl.score), float(bl.mean), float(bl.ci)),
        system=BleuBootstrap(float(sy.score), float(sy.mean), float(sy.ci)),
        p_value=p, n_resamples=n_resamples, seed=seed, signature=signatures[name].format(),
        n_segments=len(references), p_value_sacrebleu=p_sacrebleu)


# ----------------------------------------------------------------------------- P@1
def _correct_vector(values, name: str) -> np.ndarray:
    """A 1-D boolean vector from 0/1/bool values (one per test source word)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise UserError(f"{name}: expected one correct/incorrect value per test word "
                        f"(a 1-D sequence), got shape {arr.shape}")
    if arr.size == 0:
        raise UserError(f"{name}: no test words")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or not np.isin(arr, (0, 1)).all():
            raise UserError(f"{name}: expected 0/1 or True/False per test word")
        arr = arr.astype(bool)
    return arr


@dataclass(frozen=True)
class McNemarTest:
    """Exact McNemar test of two methods on the same N test words.

    ``b``: words A gets right and B wrong; ``c``: words A gets wrong and B right; ``p_value``:
    two-sided exact binomial p of ``b`` in ``b + c`` trials at 0.5 (1.0 when b + c = 0);
    ``p_at_1_a``, ``p_at_1_b``: the two P@1 in %; ``n``: test words."""

    b: int
    c: int
    p_value: float
    n: int
    p_at_1_a: float
    p_at_1_b: float

    def to_dict(self) -> dict:
        return {**asdict(self), "test": "exact McNemar (McNemar 1947; scipy binomtest, two-sided)"}


def mcnemar_exact(correct_a, correct_b) -> McNemarTest:
    """Exact McNemar test for the P@1 of two methods on the same test words.

    ``correct_a``, ``correct_b``: one value per test source word, in the same word order, True/1
    where the method's top-1 translation is correct (shape [N], N >= 1). Only the discordant
    words count: ``b`` (A right, B wrong) and ``c`` (A wrong, B right); under the null
    hypothesis each discordant word goes either way with probability 1/2, so
    ``p = scipy.stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue`` (McNemar 1947,
    exact form; e.g. b = 1, c = 3 gives p = 0.625). Words uncovered by either method must be
    dropped or counted as wrong by the caller, the same way for both vectors.
    Raises ``UserError`` on different lengths, empty input or non-binary values.
    """
    from scipy.stats import binomtest

    a = _correct_vector(correct_a, "McNemar: method A")
    b_vec = _correct_vector(correct_b, "McNemar: method B")
    if a.shape != b_vec.shape:
        raise UserError(f"McNemar: {a.size} words for method A, {b_vec.size} for method B: "
                        "expected the same test words")
    b = int(np.sum(a & ~b_vec))
    c = int(np.sum(~a & b_vec))
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return McNemarTest(b=b, c=c, p_value=p, n=int(a.size),
                       p_at_1_a=100.0 * float(a.mean()), p_at_1_b=100.0 * float(b_vec.mean()))


@dataclass(frozen=True)
class PAt1Interval:
    """A P@1 (in %) with its bootstrap percentile interval ``[lower, upper]`` (in %)."""

    p_at_1: float
    lower: float
    upper: float
    confidence: float
    n: int
    n_resamples: int
    seed: int

    def to_dict(self) -> dict:
        return {**asdict(self), "method": "percentile bootstrap over test words (Efron & Tibshirani)"}


#: resampled indices drawn per chunk (bounds the memory of a large test set x many resamples)
_CHUNK_ELEMENTS = 4_000_000


def bootstrap_p_at_1(correct, *, n_resamples: int = 1000, seed: int = 0,
                     confidence: float = 0.95) -> PAt1Interval:
    """Percentile bootstrap interval of a P@1 (Efron & Tibshirani 1993, ch. 13).

    ``correct``: one 0/1 (or bool) per test source word, shape [N], N >= 1. Draws
    ``n_resamples`` samples of N source words with replacement (numpy ``default_rng(seed)``,
    so a seed gives the same interval every time), computes P@1 = 100 * mean of each, and
    returns the (1 - confidence)/2 and (1 + confidence)/2 quantiles (numpy's linear
    interpolation) with the P@1 of the full set, all in %. Raises ``UserError`` on empty or
    non-binary input, ``n_resamples`` < 1 or ``confidence`` outside (0, 1).
    """
    vec = _correct_vector(correct, "bootstrap P@1").astype(np.float64)
    _check_resamples(n_resamples)
    if not 0.0 < confidence < 1.0:
        raise UserError(f"bootstrap P@1: confidence {confidence!r}: expected a value in (0, 1)")
    n = vec.size
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    per_chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, per_chunk):
        stop = min(start + per_chunk, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = vec[idx].mean(axis=1)
    alpha = 1.0 - confidence
    lower, upper = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return PAt1Interval(p_at_1=100.0 * float(vec.mean()), lower=100.0 * float(lower),
                        upper=100.0 * float(upper), confidence=confidence, n=int(n),
                        n_resamples=n_resamples, seed=seed)


# ----------------------------------------------------------------------------- seeds
@dataclass(frozen=True)
class SeedSummary:
    """Mean and sample standard deviation (ddof = 1) of one number over seeds.

    ``sd`` is None for a single seed; ``values`` keeps each seed's value, in the given order."""

    mean: float
    sd: float | None
    n: int
    values: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "n": self.n, "values": list(self.values)}

    def format(self, digits: int = 1) -> str:
        return format_mean_sd(self, digits)


def mean_sd(values: Sequence[float]) -> SeedSummary:
    """Mean and sample standard deviation (``ddof=1``) of a number over seeds, in its own unit.

    ``values``: one finite number per seed (N >= 1). With N = 1 the standard deviation is
    undefined and ``sd`` is None. Raises ``UserError`` on no value or a non-finite one.
    """
    vals = tuple(float(v) for v in values)
    if not vals:
        raise UserError("mean ± sd over seeds: no value")
    if not all(math.isfinite(v) for v in vals):
        raise UserError(f"mean ± sd over seeds: non-finite value in {list(vals)}")
    arr = np.asarray(vals)
    sd = float(np.std(arr, ddof=1)) if arr.size > 1 else None
    return SeedSummary(mean=float(arr.mean()), sd=sd, n=arr.size, values=vals)


def format_mean_sd(summary: SeedSummary | Sequence[float], digits: int = 1) -> str:
    """``"36.8 ± 1.2 (n=2)"``; one seed: ``"36.8 (n=1)"``. ``summary``: a :class:`SeedSummary`
    or the per-seed values themselves; ``digits``: decimals of mean and sd."""
    if not isinstance(summary, SeedSummary):
        summary = mean_sd(summary)
    if summary.sd is None:
        return f"{summary.mean:.{digits}f} (n={summary.n})"
    return f"{summary.mean:.{digits}f} ± {summary.sd:.{digits}f} (n={summary.n})"
