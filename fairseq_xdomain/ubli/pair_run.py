"""What every UBLI run on a pair of ``.vec`` files shares: its inputs and labels, its common
settings, and the writers of its outputs (the maps, the mapped vectors, the evaluation).

The runs (:mod:`.align_run`, :mod:`.baseline_run`, :mod:`.evaluate_run`,
:mod:`.self_learning_run`, :mod:`.reallocation_run`, :mod:`.grid`) take a :class:`PairFiles`
and a typed config derived from :class:`PairSettings`; the commands of
:mod:`fairseq_xdomain.ubli.commands` build both from their flags, the experiment drivers from a
preset. Ranks given in a config (``dico_max_rank``, ``criterion_max_rank``,
``dis_most_frequent``) are clamped to the vocabularies once they are read
(:func:`clamped_refinement`), with a warning.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..common.atomic import atomic_open
from ..common.errors import check_minimums
from ..embeddings.vecio import save_vec
from ..results import labels_from_args
from .align import save_mapping
from .data import MAX_VOCAB, NORMALIZATIONS, clamp_rank
from .evaluation import evaluate_translation, load_dictionary
from .refinement import RefinementConfig


@dataclass
class PairFiles:
    """The inputs of a run: source and target ``.vec`` (frequency order), the MUSE-format test
    dictionary (None: not evaluated), the output folder, and the report labels (``pair``
    ``src-tgt``, ``domains``, ``init`` separate|joint; None: not labelled, never guessed)."""

    src_emb: str
    tgt_emb: str
    out: str | None = None
    dico_eval: str | None = None
    pair: str | None = None
    domains: str | None = None
    init: str | None = None

    def labels(self) -> dict:
        """{pair, domains, init}, checked (``UserError`` for a malformed pair or init)."""
        return labels_from_args(self)


@dataclass
class PairSettings:
    """Settings every run has: words read per side, the normalisation of the vectors
    (``data.NORMALIZATIONS``), the k-NN back end (``csls.BACKENDS``), progress bars, and whether
    the mapped ``.vec`` files are written (``no_export``), and whether the embedding words are
    lowercased at load (``lowercase``, MUSE's behaviour; ``data.load_pair``)."""

    max_vocab: int = MAX_VOCAB
    normalize_embeddings: str = field(default="", metadata={"choices": NORMALIZATIONS})
    knn_backend: str = "auto"
    no_progress: bool = False
    no_export: bool = False
    lowercase: bool = False

    def check(self) -> None:
        """``UserError`` for a value that can only fail later."""
        check_minimums((("--max-vocab", self.max_vocab, 1),))


def clamped_refinement(ref: RefinementConfig, n_src: int, n_tgt: int) -> RefinementConfig:
    """``ref`` with its ranks clamped to the vocabulary sizes (``data.clamp_rank``, warned)."""
    return dataclasses.replace(
        ref, dico_max_rank=clamp_rank("--dico-max-rank", ref.dico_max_rank, n_src, n_tgt),
        criterion_max_rank=clamp_rank("--criterion-max-rank", ref.criterion_max_rank, n_src,
                                      n_tgt))


def export(out: Path, settings: PairSettings, src_words, tgt_words, src: torch.Tensor,
           tgt: torch.Tensor, W: torch.Tensor) -> None:
    """Write ``out/W.pt`` and ``out/W.npy`` (``[d, d]``, ``mapped = src @ W``) and, unless
    ``no_export``, ``out/src.mapped.vec`` and ``out/tgt.vec`` (atomically)."""
    with atomic_open(out / "W.pt", "wb") as handle:
        torch.save(W.cpu(), handle)
    save_mapping(out / "W.npy", W)
    if not settings.no_export:
        save_vec(out / "src.mapped.vec", src_words, (src @ W).cpu().numpy())
        save_vec(out / "tgt.vec", tgt_words, tgt.cpu().numpy())


def evaluate(files: PairFiles, k_csls: int, backend: str, src_wv, tgt_wv, src, tgt, W,
             dico=None) -> dict | None:
    """The evaluation of ``src @ W`` against ``tgt`` on the test dictionary
    (:func:`~.evaluation.evaluate_translation`: P@k in %, coverage in [0, 1]); None without
    ``files.dico_eval``. ``dico``: the dictionary already read."""
    if not files.dico_eval:
        return None
    dico = load_dictionary(files.dico_eval) if dico is None else dico
    return evaluate_translation(src @ W, tgt, src_wv.word2id, tgt_wv.word2id, dico,
                                k_csls=k_csls, backend=backend)


def word_counts(src_wv, tgt_wv) -> dict:
    """Vocabulary counts for a result's ``details``."""
    return {"n_src_words": len(src_wv), "n_tgt_words": len(tgt_wv),
            "n_src_duplicates": src_wv.n_duplicates, "n_tgt_duplicates": tgt_wv.n_duplicates}


def out_dir(files: PairFiles) -> Path:
    """The output folder, created."""
    out = Path(files.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def fspath(path) -> str | None:
    """``os.fspath(path)``, None for None."""
    return None if path is None else os.fspath(path)


__all__ = ["PairFiles", "PairSettings", "clamped_refinement", "export", "evaluate",
           "word_counts", "out_dir", "fspath"]
