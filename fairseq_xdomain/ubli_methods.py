"""The one table of UBLI method names: what a ``ubli`` result's ``method`` may be, and who makes it.

Every name a producer writes into :class:`~fairseq_xdomain.results.UBLIResult.method` is a key
of :data:`METHODS` (the result schema checks it as ``choices``); ``xdomain-report`` tabulates a
result under that name and labels its row with :attr:`UBLIMethod.label`, in the table's order;
the preset section ``beyond.methods`` names the rows beyond the paper by :attr:`UBLIMethod.beyond`
and ``xdomain-run ubli`` runs each with its :attr:`UBLIMethod.producer` on the vectors of
:attr:`UBLIMethod.vectors`. A producer writes the final name (``identity+ortho``, not
``evaluate`` plus a flag); nothing downstream infers one.

A method whose :attr:`UBLIMethod.ortho_row` is set (``reallocate``) is scored both ways in one
result when orthography-aware retrieval was asked for: the report shows its ``csls_ortho_*``
numbers on a second row of that name. Rows with :attr:`UBLIMethod.ortho` True show the
orthography-aware retrieval's P@1 (``csls_ortho_p@1``).

No imports beyond the standard library: ``results.py``, ``presets.py`` and ``report.py`` read it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UBLIMethod:
    """One UBLI method: ``name`` (the result's ``method``), its report ``label``, the work it
    follows (``citation``; "" for ours), the ``vectors`` it is run on by ``xdomain-run ubli``
    (``separate`` | ``joint`` | ``any``), its ``producer`` (the ``xdomain-ubli`` subcommand
    that writes it: ``align`` writes ``muse`` too, and ``self-learning`` with ``--method
    self-learning``; ``evaluate`` with ``--mapping`` / ``--ortho-weight`` writes the names
    with ``evaluate`` / ``+ortho``), ``beyond`` (its name in the preset's ``beyond.methods``; None: the paper's or a
    baseline), ``uses_grid_map`` (scores the joint grid's selected map), ``ortho`` (the row
    shows orthography-aware retrieval's P@1) and ``ortho_row`` (the second row of a result
    scored both ways)."""

    name: str
    label: str
    citation: str
    vectors: str
    producer: str
    beyond: str | None = None
    uses_grid_map: bool = False
    ortho: bool = False
    ortho_row: str | None = None


RILEY = "Riley & Gildea 2018"

#: every UBLI method, in the order of the report's every-method table
METHODS: dict[str, UBLIMethod] = {m.name: m for m in (
    UBLIMethod("copy", "copying (no embeddings)", "Søgaard et al. 2018", "separate",
               "baseline"),
    UBLIMethod("ortho", "orthographic: character n-grams (no embeddings)", "", "separate",
               "baseline"),
    UBLIMethod("identical", "identical strings + Procrustes (Søgaard et al. 2018)",
               "Søgaard et al. 2018", "any", "baseline"),
    UBLIMethod("muse", "MUSE grid (adversarial + refinement; the paper's)",
               "Conneau et al. 2018", "any", "grid"),
    UBLIMethod("identity", "no mapping (W = I)", "", "joint", "evaluate", beyond="identity"),
    UBLIMethod("identity+ortho", f"W = I + orthography-aware retrieval ({RILEY})", RILEY,
               "joint", "evaluate", beyond="ortho_identity", ortho=True),
    UBLIMethod("evaluate", "given map", "", "any", "evaluate"),
    UBLIMethod("evaluate+ortho", f"given map + orthography-aware retrieval ({RILEY})", RILEY,
               "joint", "evaluate", beyond="ortho_grid",
               uses_grid_map=True, ortho=True),
    UBLIMethod("reallocate", "vocabulary reallocation + refinement (Wang et al. 2020)",
               "Wang et al. 2020", "joint", "reallocate", beyond="reallocation",
               ortho_row="reallocate+ortho"),
    UBLIMethod("reallocate+ortho", "vocabulary reallocation + orthography-aware retrieval",
               "Wang et al. 2020; " + RILEY, "joint", "reallocate", ortho=True),
    UBLIMethod("self-learning", "robust self-learning (Artetxe et al. 2018)",
               "Artetxe et al. 2018", "separate", "align",
               beyond="self_learning"),
)}

#: the preset's ``beyond.methods`` names -> the method they run (``xdomain-run ubli``)
BEYOND: dict[str, UBLIMethod] = {m.beyond: m for m in METHODS.values() if m.beyond}
BEYOND_METHODS: tuple[str, ...] = tuple(BEYOND)


def evaluate_method(mapping: bool, ortho: bool) -> str:
    """The name ``xdomain-ubli evaluate`` writes: ``identity`` (no map: W = I) or ``evaluate``
    (a given map), ``+ortho`` when orthography-aware retrieval scored it too."""
    return ("evaluate" if mapping else "identity") + ("+ortho" if ortho else "")


__all__ = ["UBLIMethod", "METHODS", "BEYOND", "BEYOND_METHODS", "evaluate_method"]
