"""All diagnostics whose inputs are given, in one call: :func:`diagnose`."""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

from .corpus_size import PAPER_LINES, corpus_size, size_finding
from .finding import RISKS, Finding
from .lexical import lexical_finding, lexical_overlap


@dataclass
class DiagnosticsConfig:
    """Sizes of the diagnostics. ``top_n``: most frequent word types per side for the lexical
    overlap (default: the ``cpu`` preset's ``max_vocab``); ``max_lines``: count words on the
    first lines only (None: all); ``stdm_*``: as ``xdomain-stdm`` (defaults: the ``ubli``
    presets'); ``iso_words``/``iso_k``: words and neighbours of the eigenvector similarity."""

    top_n: int = 20000
    max_lines: int | None = None
    paper_lines: int = PAPER_LINES
    stdm_docs_per_corpus: int = 10000
    stdm_lines_per_doc: int = 10
    stdm_svd_dim: int = 100
    iso_words: int = 1000
    iso_k: int = 10
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DiagnosticsReport:
    """The findings in order (sizes, lexical overlap, STDM, isomorphism: those computed),
    ``risk``: the highest of their risks, ``seconds``: per finding."""

    findings: list[Finding] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    @property
    def risk(self) -> str:
        return max((f.risk for f in self.findings), key=RISKS.index, default="low")

    def sentences(self) -> list[str]:
        return [f.sentence for f in self.findings]

    def to_dict(self) -> dict:
        out = {f.name: f.numbers for f in self.findings}
        out["findings"] = [f.to_dict() for f in self.findings]
        out["risk"] = self.risk
        out["seconds"] = self.seconds
        out["config"] = self.config
        return out


def diagnose(src_corpus, tgt_corpus, *, stdm_corpus=None, src_vectors=None, tgt_vectors=None,
             cfg: DiagnosticsConfig | None = None, labels: tuple[str, str] | None = None,
             ) -> DiagnosticsReport:
    """Diagnose a language pair before a run.

    ``src_corpus``/``tgt_corpus``: the tokenized training corpora (one per language); sizes
    and lexical overlap are always computed. ``stdm_corpus``: target-language text of the
    source domain: STDM(``tgt_corpus``, ``stdm_corpus``). ``src_vectors``/``tgt_vectors``:
    ``.vec`` files (or ``WordVectors``/arrays ``[n, d]`` in frequency order) of separately
    trained spaces: eigenvector similarity. A missing or unreadable file is a ``UserError``."""
    cfg = cfg or DiagnosticsConfig()
    labels = labels or (os.path.basename(os.fspath(src_corpus)),
                        os.path.basename(os.fspath(tgt_corpus)))
    report = DiagnosticsReport(config=cfg.to_dict())

    t0 = time.perf_counter()
    sizes = {labels[0]: corpus_size(src_corpus, cfg.max_lines),
             labels[1]: corpus_size(tgt_corpus, cfg.max_lines)}
    report.findings.append(size_finding(sizes, cfg.paper_lines))
    report.seconds["corpus_size"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    overlap = lexical_overlap(sizes[labels[0]].counts, sizes[labels[1]].counts, cfg.top_n)
    report.findings.append(lexical_finding(overlap))
    report.seconds["lexical_overlap"] = time.perf_counter() - t0

    if stdm_corpus is not None:
        from .domain import stdm_finding

        t0 = time.perf_counter()
        report.findings.append(stdm_finding(tgt_corpus, stdm_corpus, cfg.stdm_docs_per_corpus,
                                            cfg.stdm_lines_per_doc, cfg.stdm_svd_dim, cfg.seed))
        report.seconds["stdm"] = time.perf_counter() - t0

    if src_vectors is not None and tgt_vectors is not None:
        from .isomorphism import isomorphism_finding

        t0 = time.perf_counter()
        x, y = _matrix(src_vectors, cfg.iso_words), _matrix(tgt_vectors, cfg.iso_words)
        report.findings.append(isomorphism_finding(x, y, cfg.iso_words, cfg.iso_k, cfg.seed,
                                                   labels))
        report.seconds["isomorphism"] = time.perf_counter() - t0
    return report


def _matrix(vectors, n: int):
    import numpy as np

    if isinstance(vectors, (str, os.PathLike)):
        from ..embeddings.vecio import load_vec

        vectors = load_vec(vectors, max_vocab=n)
    if hasattr(vectors, "vectors"):
        vectors = vectors.vectors
    return np.asarray(vectors)[:n]
