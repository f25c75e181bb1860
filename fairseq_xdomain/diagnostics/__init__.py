"""Data diagnostics: before a long run, how likely is the method to work on these corpora?

Each diagnostic returns a :class:`~.finding.Finding`: the numbers (evidence), one sentence that
states them and what they mean, and a risk level (``low``/``medium``/``high``) whose cut points
and their basis are named where they are defined. Modules, one measure each:

* :mod:`.corpus_size`: lines, tokens and word types of each corpus against the paper's 5M lines
  per corpus;
* :mod:`.lexical`: vocabulary overlap and the share of identical strings between the languages;
* :mod:`.domain`: STDM (``fairseq_xdomain.stdm``) between the two domains, in one language;
* :mod:`.isomorphism`: eigenvector similarity of the nearest-neighbour graphs of two separately
  trained embedding spaces (Søgaard, Ruder and Vulić 2018);
* :mod:`.report`: :func:`diagnose` runs those whose inputs are given and collects them.

Nothing here trains a model; every function reads files or arrays and returns numbers.
"""
from .corpus_size import PAPER_LINES, CorpusSize, corpus_size, size_finding
from .domain import stdm_finding
from .finding import RISKS, Finding
from .isomorphism import (
                          eigenvector_similarity,
                          isomorphism_finding,
                          knn_laplacian,
                          laplacian_spectrum,
)
from .lexical import LexicalOverlap, lexical_finding, lexical_overlap, word_counts
from .report import DiagnosticsConfig, DiagnosticsReport, diagnose

__all__ = [
    "PAPER_LINES", "RISKS", "CorpusSize", "DiagnosticsConfig", "DiagnosticsReport", "Finding",
    "LexicalOverlap", "corpus_size", "diagnose", "eigenvector_similarity", "isomorphism_finding",
    "knn_laplacian", "laplacian_spectrum", "lexical_finding", "lexical_overlap", "size_finding",
    "stdm_finding", "word_counts",
]
