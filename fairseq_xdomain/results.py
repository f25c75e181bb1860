"""Typed experiment results: the one schema between the producers and ``xdomain-report``.

Every command that produces a number for the paper's tables writes it through
:func:`write_result`; ``xdomain-report`` reads results only through :func:`read_result`.

Interface (stable; the experiment drivers code against it)::

    write_result(path, result) -> Path          # path.json (atomic) + path.md (same stem)
    read_result(path) -> UBLIResult | STDMResult | WordsimResult | UNMTCurve   # or UserError
    result_from_dict(obj, source="<dict>") -> result                           # or UserError
    result_to_dict(result) -> dict              # {"kind", "schema": 1, **fields}
    unmt_curves(valid_rows, *, langs, init, data, mlm_data, config, wall_s) -> list[UNMTCurve]
    unmt_file_name(curve) -> str                # "bleu.{init}.{direction}.json"

One result per file. A UNMT run writes one :class:`UNMTCurve` per (init, direction), each in its
own file named by :func:`unmt_file_name` (``bleu.baseline.en-fr.json``, ...).

File format: a JSON object ``{"kind": K, "schema": 1, FIELD: value, ...}`` with exactly the
fields of the kind's dataclass (below; units in each field's ``metadata["doc"]``); the
``config`` block also records the provenance (``provenance.py``: library versions, device,
threads, commit) of the process that wrote it. A field left
out takes its default (only fields that have one); an unknown field, a wrong type, a value out of
its range or choices, or another ``schema`` is a :class:`NotAResult` (a ``UserError``) naming the
file and the field. Next to ``X.json`` goes ``X.md``, a Markdown page of the same result
(``common/markdown.py``), for people; programs read the JSON.

Units, everywhere: P@k / Acc@1 in percent (0-100), ``coverage`` a fraction in [0, 1], BLEU as
sacrebleu's 0-100, wall times in seconds, STDM and correlations unitless.

Kinds: ``ubli`` (:class:`UBLIResult`), ``stdm`` (:class:`STDMResult`), ``wordsim``
(:class:`WordsimResult`), ``unmt`` (:class:`UNMTCurve`). Files of kinds in
:data:`INTERMEDIATE_KINDS` (one grid configuration, a grid's own summary, a generator's manifest,
a report, a driver's ``run.json``) are JSON that programs of this package write too, but not results.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .common.atomic import write_json, write_text
from .common.errors import UserError
from .common.markdown import table
from .provenance import provenance
from .ubli_methods import METHODS

SCHEMA = 1
#: records that are not results: one grid configuration, a grid's summary, data generators, reports
INTERMEDIATE_KINDS = ("ubli_config", "ubli_grid", "synthetic", "report", "run")
_PAIR = re.compile(r"^[^-\s]+-[^-\s]+$")


class NotAResult(UserError):
    """A JSON file that is not a valid result; ``reason`` is a short text to count it by."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _f(doc: str, *, choices: tuple | None = None, check: str | None = None, **kw):
    """A dataclass field with its documentation (units) and value checks in ``metadata``."""
    return field(metadata={"doc": doc, "choices": choices, "check": check}, **kw)


@dataclass
class UBLIResult:
    """One bilingual lexicon induction result: a selected map (grid, align), a baseline, or an
    evaluation of a given map (kind ``ubli``)."""

    method: str = _f("the method, a name of the one table ``ubli_methods.METHODS`` (written by "
                     "its producer: muse, copy, ortho, identical, identity, identity+ortho, "
                     "evaluate, evaluate+ortho, reallocate, self-learning)",
                     choices=tuple(METHODS))
    p_at_1: float | None = _f("headline P@1 in % (0-100): CSLS P@1 of the map; for copy/ortho "
                              "their own P@1; None without a test dictionary", default=None)
    pair: str | None = _f('"en-de" (source-target); None when not labelled', default=None,
                          check="pair")
    domains: str | None = _f('"Wiki-UN" (source domain-target domain); None when not labelled',
                             default=None)
    init: str | None = _f('how the vectors were trained: "separate" | "joint"; None when not '
                          'labelled', choices=("separate", "joint", None), default=None)
    metrics: dict = _f("the evaluation: nn_p@1, csls_p@1 (and @5, @10), nn_p@1_nonident, "
                       "csls_p@1_nonident (% over non-identical gold pairs), n_nonident, "
                       "nn_self_top1, csls_self_top1 (fractions), coverage (fraction in [0, 1]), "
                       "n_covered, n_source_words; copy_p@1, ortho_p@k for those baselines",
                       default_factory=dict, check="metrics")
    criterion: float | None = _f("the unsupervised criterion (mean CSLS cosine) of the selected "
                                 "map; None where there is none (copy, ortho)", default=None)
    selected: dict = _f("what was selected: grid seed/epochs/refinement/stage, align epoch and "
                        "refinement, selection_rule, candidate, orthogonality "
                        "{fro_dev, sv_min, sv_max}, flagged_nonorthogonal, mapping file",
                        default_factory=dict)
    details: dict = _f("producer-specific diagnostics (per-epoch criteria, refinement steps, "
                       "word counts, output files); the report reads only reallocation's split counts "
                       "and self-learning's iteration count from it, for its notes column",
                       default_factory=dict)
    config: dict = _f("the full configuration, seed included (None where none)",
                      default_factory=dict)
    wall_s: float | None = _f("wall time in s", default=None, check="nonneg")
    kind: typing.ClassVar[str] = "ubli"


@dataclass
class STDMResult:
    """Shared-topic domain mismatch between two corpora (Shen et al. 2021; kind ``stdm``)."""

    stdm: float = _f("STDM = (s12 + s21) / (s11 + s22), unitless")
    corpus1: str = _f("first corpus (path)")
    corpus2: str = _f("second corpus (path)")
    pair: str | None = _f('"en-es": the pair whose Table 3 row this fills', default=None,
                          check="pair")
    domains: str | None = _f('"Wiki/UN" label', default=None)
    s11: float | None = _f("mean topic vector products", default=None)
    s22: float | None = _f("", default=None)
    s12: float | None = _f("(= s21)", default=None)
    svd_dim_used: int | None = _f("SVD dimension used", default=None)
    details: dict = _f("sampling counts (documents, lines read, invalid UTF-8, empty documents), "
                       "feature count, explained variance", default_factory=dict)
    config: dict = _f("the full configuration, seed included", default_factory=dict)
    wall_s: float | None = _f("wall time in s", default=None, check="nonneg")
    kind: typing.ClassVar[str] = "stdm"


@dataclass
class WordsimResult:
    """Cross-lingual word similarity (SemEval-2017 Task 2 subtask 2; kind ``wordsim``)."""

    space: str = _f('"joint" | "aligned" | "as-given": where the cosine is taken',
                    choices=("joint", "aligned", "as-given"))
    harmonic_mean: float | None = _f("2 r rho / (r + rho) over every pair (OOV ones at the "
                                     "fallback score); None without gold scores")
    pearson: float | None = _f("Pearson r", default=None)
    spearman: float | None = _f("Spearman rho", default=None)
    coverage: float = _f("fraction of pairs with both terms in the vectors, in [0, 1]",
                         default=0.0, check="fraction")
    pair: str | None = _f('"en-de"', default=None, check="pair")
    domains: str | None = _f('"UN-Wiki" (source-target corpus domains); None when not labelled',
                             default=None)
    init: str | None = _f('"separate" (separately trained, aligned) | "joint" (jointly '
                          'pre-trained)', choices=("separate", "joint", None), default=None)
    n_pairs: int = _f("pairs in the file", default=0)
    n_covered: int = _f("pairs covered", default=0)
    covered_only: dict | None = _f("{pearson, spearman, harmonic_mean, n} over covered pairs "
                                   "(--skip-oov)", default=None)
    details: dict = _f("files, term lookup counts, mapping convention", default_factory=dict)
    config: dict = _f("the full configuration", default_factory=dict)
    wall_s: float | None = _f("wall time in s", default=None, check="nonneg")
    kind: typing.ClassVar[str] = "wordsim"


#: how a UNMT checkpoint was selected: the validation metric it maximises
SELECTORS = {"bleu": "dev BLEU", "rt_bleu": "round-trip BLEU"}


@dataclass
class UNMTCurve:
    """BLEU per epoch of one UNMT direction of one run, and the test BLEU of the checkpoint
    selected without the test set (kind ``unmt``)."""

    direction: str = _f('"en-fr": source-target of the BLEU', check="pair")
    init: str = _f('"baseline" (MLM on the UNMT data only) | "joint" (joint pre-training)',
                   choices=("baseline", "joint"))
    epochs: list[int] = _f("epoch numbers (1-based), increasing")
    bleu: list[float] = _f("sacrebleu BLEU (0-100) of the parallel dev set after each epoch; "
                           "empty when the run has no parallel dev set")
    pair: str | None = _f('"en-fr": the run\'s two languages', default=None, check="pair")
    data: str = _f('label of the UNMT monolingual data, e.g. "En Wiki, Fr UN"', default="-")
    mlm_data: str | None = _f("label of what the MLM saw", default=None)
    seed: int | None = _f("the run's seed (MLM and UNMT)", default=None)
    rt_bleu: list[float] = _f("round-trip BLEU (0-100, mean over the two languages, "
                              "``round_trip.py``) after each epoch; empty when not logged",
                              default_factory=list)
    selector: str | None = _f('the validation metric that selected the checkpoint: "bleu" (dev '
                              'BLEU, mean of both directions) | "rt_bleu" (round-trip BLEU, no '
                              'parallel data); None for a curve without selection',
                              choices=(*SELECTORS, None), default=None)
    selected_epoch: int | None = _f("epoch of the selected checkpoint (the selector's maximum)",
                                    default=None)
    test_bleu: float | None = _f("sacrebleu BLEU (0-100) of the selected checkpoint on the "
                                 "parallel test set; None without a test set", default=None)
    signature: str | None = _f("sacrebleu signature of the BLEU numbers", default=None)
    details: dict = _f("run name, MLM folder and corpora; ``test``: {hypotheses, references, "
                       "sentences} of the selected checkpoint (paired bootstrap in the report)",
                       default_factory=dict)
    config: dict = _f("the full configuration of the run", default_factory=dict)
    wall_s: float | None = _f("wall time in s", default=None, check="nonneg")
    kind: typing.ClassVar[str] = "unmt"


Result = UBLIResult | STDMResult | WordsimResult | UNMTCurve
RESULT_TYPES: dict[str, type] = {c.kind: c for c in (UBLIResult, STDMResult, WordsimResult,
                                                     UNMTCurve)}


# --------------------------------------------------------------------------- checking


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _type_ok(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if tp is float:
        return _is_number(value) and math.isfinite(value)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is dict:
        return isinstance(value, dict)
    return isinstance(value, tp)


def _type_name(tp) -> str:
    return str(tp).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _check_field(cls, f, value, where: str) -> None:
    hints = typing.get_type_hints(cls)
    if not _type_ok(value, hints[f.name]):
        raise NotAResult(f"{where}: field {f.name!r}: expected {_type_name(hints[f.name])}, "
                         f"got {value!r:.80}", f"bad field in a {cls.kind} result")
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        raise NotAResult(f"{where}: field {f.name!r}: {value!r} is not one of "
                         f"{', '.join(repr(c) for c in choices)}", f"bad field in a {cls.kind} result")
    check = f.metadata.get("check")
    bad = None
    if check == "pair" and value is not None and not _PAIR.match(value):
        bad = f"{value!r} is not src-tgt (e.g. en-de)"
    elif check == "fraction" and not 0.0 <= value <= 1.0:
        bad = f"{value!r} is not a fraction in [0, 1]"
    elif check == "nonneg" and value is not None and value < 0:
        bad = f"{value!r} is negative"
    elif check == "metrics":
        cov = value.get("coverage")
        if cov is not None and not (_is_number(cov) and 0.0 <= cov <= 1.0):
            bad = f"coverage {cov!r} is not a fraction in [0, 1]"
        for k, v in value.items():
            if "p@" in k and v is not None and not (_is_number(v) and 0.0 <= v <= 100.0):
                bad = f"{k} {v!r} is not a percentage in [0, 100]"
    if bad:
        raise NotAResult(f"{where}: field {f.name!r}: {bad}", f"bad field in a {cls.kind} result")


def check_result(result: Result, where: str = "<result>") -> Result:
    """Check every field of ``result`` (types, choices, ranges); return it. Raises
    :class:`NotAResult` naming ``where`` and the field."""
    cls = type(result)
    if cls not in RESULT_TYPES.values():
        raise NotAResult(f"{where}: {cls.__name__} is not a result type", "not a result type")
    for f in dataclasses.fields(cls):
        _check_field(cls, f, getattr(result, f.name), where)
    if isinstance(result, UNMTCurve):
        for name in ("bleu", "rt_bleu"):
            values = getattr(result, name)
            if values and len(result.epochs) != len(values):
                raise NotAResult(f"{where}: fields 'epochs' and '{name}' differ in length "
                                 f"({len(result.epochs)} vs {len(values)})", "bad unmt result")
        if not result.bleu and not result.rt_bleu:
            raise NotAResult(f"{where}: neither 'bleu' nor 'rt_bleu' has a value",
                             "bad unmt result")
        if result.selected_epoch is not None and result.selected_epoch not in result.epochs:
            raise NotAResult(f"{where}: field 'selected_epoch': {result.selected_epoch} is not "
                             "one of 'epochs'", "bad unmt result")
        if any(b <= a for a, b in zip(result.epochs, result.epochs[1:])):
            raise NotAResult(f"{where}: field 'epochs': not increasing", "bad unmt result")
    return result


def result_to_dict(result: Result) -> dict:
    """``{"kind", "schema", **fields}`` of a (checked) result: what :func:`write_result` writes."""
    check_result(result)
    return {"kind": result.kind, "schema": SCHEMA,
            **{f.name: getattr(result, f.name) for f in dataclasses.fields(result)}}


def result_from_dict(obj, source: str = "<dict>") -> Result:
    """The result of a parsed JSON object. Raises :class:`NotAResult` (a ``UserError`` naming
    ``source`` and the field) for anything that is not a valid result of schema 1."""
    if not isinstance(obj, dict):
        raise NotAResult(f"{source}: not a JSON object", "not a JSON object")
    if "kind" not in obj:
        raise NotAResult(f"{source}: no 'kind' field (not a result file)", "no 'kind' field")
    kind = obj["kind"]
    if kind in INTERMEDIATE_KINDS:
        raise NotAResult(f"{source}: kind {kind!r} is an intermediate record, not a result",
                         f"intermediate record (kind {kind!r})")
    if kind not in RESULT_TYPES:
        raise NotAResult(f"{source}: kind {kind!r} is not a result kind "
                         f"({', '.join(RESULT_TYPES)})", f"kind {kind!r}")
    if obj.get("schema") != SCHEMA:
        raise NotAResult(f"{source}: field 'schema': {obj.get('schema')!r}, expected {SCHEMA} "
                         "(rewrite it with this version)", "no or another 'schema'")
    cls = RESULT_TYPES[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(obj) - names - {"kind", "schema"})
    if extra:
        raise NotAResult(f"{source}: unknown field {extra[0]!r} in a {kind} result "
                         f"(fields: {', '.join(sorted(names))})", f"unknown field in a {kind} result")
    for f in dataclasses.fields(cls):
        if f.name not in obj and f.default is dataclasses.MISSING and \
                f.default_factory is dataclasses.MISSING:
            raise NotAResult(f"{source}: missing field {f.name!r} in a {kind} result",
                             f"missing field in a {kind} result")
    result = cls(**{k: v for k, v in obj.items() if k in names})
    return check_result(result, source)


def read_result(path) -> Result:
    """Read one result file (``*.json`` written by :func:`write_result`). Raises
    :class:`NotAResult` (a ``UserError``: ``error: FILE: field ...: what is wrong``) for a file
    that is not readable JSON or not a valid result."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            obj = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise NotAResult(f"{path}: not readable JSON ({err})", "unreadable JSON") from None
    return result_from_dict(obj, os.fspath(path))


# --------------------------------------------------------------------------- writing


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return "-" if v is None else str(v)


def result_markdown(result: Result) -> str:
    """A Markdown page of one result: its scalar fields, then its ``metrics``/``selected``
    entries (``metrics.csls_p@1``...), as a field/value table; UNMT curves as epoch/BLEU."""
    rows = []
    for f in dataclasses.fields(result):
        v = getattr(result, f.name)
        if f.name in ("metrics", "selected", "covered_only") and isinstance(v, dict):
            rows += [[f"{f.name}.{k}", _cell(x)] for k, x in v.items() if not isinstance(x, dict)]
        elif f.name not in ("config", "details", "epochs", "bleu", "rt_bleu"):
            rows.append([f.name, _cell(v)])
    lines = [f"# {result.kind} result", "", *table(["field", "value"], rows, "lr")]
    if isinstance(result, UNMTCurve):
        cols = [(n, h) for n, h in (("bleu", "dev BLEU"), ("rt_bleu", "round-trip BLEU"))
                if getattr(result, n)]
        lines += ["", *table(["epoch", *(h for _, h in cols)],
                             [[e, *(f"{getattr(result, n)[i]:.2f}" for n, _ in cols)]
                              for i, e in enumerate(result.epochs)], "r" * (1 + len(cols)))]
    return "\n".join(lines) + "\n"


def write_result(path, result: Result) -> Path:
    """Write ``result`` to ``path`` (JSON, atomic, ``"kind"`` and ``"schema": 1`` first) and its
    Markdown page next to it (same stem, ``.md``); return the JSON path. The written config
    block gets ``provenance`` (libraries, device, threads, commit: ``provenance.provenance()``)
    unless it has one; ``result`` itself is not changed. Raises :class:`NotAResult` when a
    field is invalid (nothing is written then)."""
    path = Path(path)
    if "provenance" not in result.config:
        result = dataclasses.replace(result, config={**result.config,
                                                     "provenance": provenance()})
    write_json(path, result_to_dict(result))
    write_text(path.with_suffix(".md"), result_markdown(result))
    return path


# --------------------------------------------------------------------------- UNMT


def unmt_file_name(curve: UNMTCurve) -> str:
    """``bleu.{init}.{direction}.json``: the file of one curve inside a run's folder."""
    return f"bleu.{curve.init}.{curve.direction}.json"


def selected_epoch(epochs: list[int], values: list[float]) -> int:
    """The epoch fairseq's ``checkpoint_best.pt`` holds for a maximised metric: the last epoch
    reaching the maximum of ``values`` (fairseq keeps a later equal value)."""
    best = max(values)
    return max(e for e, v in zip(epochs, values) if v == best)


def unmt_curves(valid_rows: list[dict], *, langs: tuple[str, str], init: str, data: str,
                mlm_data: str | None = None, config: dict | None = None,
                wall_s: float | None = None, details: dict | None = None,
                selector: str | None = None, seed: int | None = None) -> list[UNMTCurve]:
    """The two curves (src-tgt, tgt-src) of one UNMT training from its validation rows.

    ``valid_rows``: ``[{"epoch": e, "bleu_src_tgt": b, "bleu_tgt_src": b, "rt_bleu": r, ...}]``
    (one per validation, e.g. from :func:`fairseq_xdomain.fairseq_log.parse_valid` or fairseq's
    json log; BLEU 0-100); the last row of an epoch wins. ``langs``: (src, tgt). Without any
    dev BLEU (no parallel dev set) both directions get the round-trip curve only. A direction
    with a value missing at some epoch is a ``UserError``. ``selector`` ("bleu" | "rt_bleu"):
    the metric ``--best-checkpoint-metric`` maximised; ``selected_epoch`` is its last maximum
    (:func:`selected_epoch`). Pure: reads and writes nothing.
    """
    src, tgt = langs
    by_epoch = {int(r["epoch"]): r for r in valid_rows}
    all_epochs = sorted(by_epoch)

    def series(key, name):
        have = [e for e in all_epochs if key in by_epoch[e]]
        if not have:
            return []
        if len(have) != len(all_epochs):
            missing = sorted(set(all_epochs) - set(have))
            raise UserError(f"UNMT {init} {name}: no {key} at epoch(s) {missing}")
        return [float(by_epoch[e][key]) for e in all_epochs]

    rt = series("rt_bleu", "round trip")
    chosen = None
    if selector is not None:
        values = series(selector, selector)
        if not values:
            raise UserError(f"UNMT {init}: the selector {selector} was never logged")
        chosen = selected_epoch(all_epochs, values)
    out = []
    for a, b in ((src, tgt), (tgt, src)):
        bleu = series(f"bleu_{a}_{b}", f"{a}-{b}")
        if not bleu and not rt:
            continue
        out.append(UNMTCurve(direction=f"{a}-{b}", init=init, epochs=all_epochs, bleu=bleu,
                             pair=f"{src}-{tgt}", data=data, mlm_data=mlm_data, seed=seed,
                             rt_bleu=rt, selector=selector, selected_epoch=chosen,
                             config=dict(config or {}), wall_s=wall_s,
                             details=dict(details or {})))
    return out


def field_docs(cls) -> list[tuple[str, str, str]]:
    """(field, type, documentation) of a result dataclass, for the docs and ``--help``."""
    hints = typing.get_type_hints(cls)
    return [(f.name, _type_name(hints[f.name]), f.metadata.get("doc", ""))
            for f in dataclasses.fields(cls)]


__all__ = ["SCHEMA", "INTERMEDIATE_KINDS", "NotAResult", "UBLIResult", "STDMResult",
           "WordsimResult", "UNMTCurve", "Result", "RESULT_TYPES", "check_result",
           "result_to_dict", "result_from_dict", "read_result", "write_result",
           "result_markdown", "unmt_file_name", "unmt_curves", "selected_epoch", "SELECTORS",
           "field_docs"]


# ----------------------------------------------------------------------------- labels

#: how the vectors of a UBLI / word-similarity result were trained
INITS = ("separate", "joint")


def add_label_arguments(parser, init: bool = True) -> None:
    """``--pair``, ``--domains`` (and ``--init``): the labels a result carries so that
    ``xdomain-report`` can place it in the paper's tables; one declaration for every tool."""
    g = parser.add_argument_group("labels (copied into the result for xdomain-report)")
    g.add_argument("--pair", default=None, help='"src-tgt", e.g. "en-es"')
    g.add_argument("--domains", default=None, help='source-target corpus domains, e.g. "Wiki-UN"')
    if init:
        g.add_argument("--init", default=None,
                       help='"separate" | "joint" (how the vectors were trained)')


def labels_from_args(args) -> dict:
    """{pair, domains, init} from :func:`add_label_arguments`'s flags; unknown ones are None
    (never guessed). Raises UserError for a pair that is not ``src-tgt`` or an unknown init."""
    pair, init = getattr(args, "pair", None), getattr(args, "init", None)
    if pair is not None and len([x for x in pair.split("-") if x]) != 2:
        raise UserError(f"--pair {pair!r}: expected src-tgt, e.g. en-es")
    if init not in (None, *INITS):
        raise UserError(f"--init {init!r}: expected separate or joint")
    return {"pair": pair, "domains": getattr(args, "domains", None), "init": init}
