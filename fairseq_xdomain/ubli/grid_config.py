"""The grid search's settings as one typed config, :class:`GridConfig`, and its flat names.

One declaration serves three readers: the flags of ``xdomain-ubli grid``
(:mod:`fairseq_xdomain.ubli.commands.grid`), the ``grid:`` section of a UBLI preset
(``presets.py`` checks it against :func:`preset_schema`) and ``xdomain-run``, which builds a
:class:`GridConfig` from the preset with :meth:`GridConfig.from_flat` and runs the grid in
process. The flat names are the flags' argparse names: the grid's own fields (below), the
fields of :class:`~.adversarial.AdversarialConfig` but ``n_epochs`` and of
:class:`~.refinement.RefinementConfig` but ``n_refinement`` (by their flag's name, e.g.
``csls_k``): the epoch and refinement counts are the grid's lists, whose largest value the
search trains to.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

from ..common.dataclass_args import field_dest
from ..common.errors import UserError, check_minimums
from .adversarial import AdversarialConfig
from .align import check_adversarial_config
from .csls import BACKENDS
from .data import MAX_VOCAB, MAX_VOCAB_HELP, NORMALIZATIONS
from .refinement import RefinementConfig
from .selection import IDENTITY_CHOICES, SELECTION_RULES

PAPER_SEEDS = (123, 456, 789, 321)
PAPER_EPOCHS = (1, 3, 5)
PAPER_REFINEMENTS = (1, 3, 5)

#: the fields of the nested configs that the grid's lists replace
NOT_FLAT = {AdversarialConfig: ("n_epochs",), RefinementConfig: ("n_refinement",)}


def _h(default, help: str | None = None, choices=None, **kw):
    meta = {k: v for k, v in (("help", help), ("choices", choices)) if v is not None}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class GridConfig:
    """The paper's MUSE grid (seeds x adversarial epochs x refinement iterations, MUSE's
    defaults): what is read (``max_vocab`` words per side, normalised by
    ``normalize_embeddings``), the grid's lists, the adversarial and refinement settings (their
    ``n_epochs`` / ``n_refinement`` are set to the largest count by :meth:`adversarial_config`
    / :meth:`refinement_config`), the k-NN back end, torch threads (0: torch's default), the
    device (``cpu``: no CUDA), progress bars, the selection rule and identity candidate
    (:mod:`.selection`)."""

    max_vocab: int = _h(MAX_VOCAB, f"{MAX_VOCAB_HELP} (default {MAX_VOCAB})")
    normalize_embeddings: str = _h("", "MUSE's normalisation of both spaces: comma-separated "
                                   "steps center, renorm ('' = none)", choices=NORMALIZATIONS)
    seeds: list[int] = _h(list(PAPER_SEEDS), "seeds (comma-separated), one adversarial run each")
    epochs: list[int] = _h(list(PAPER_EPOCHS), "adversarial epoch counts to branch at")
    refinements: list[int] = _h(list(PAPER_REFINEMENTS), "refinement iteration counts to score")
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    refinement: RefinementConfig = field(default_factory=RefinementConfig)
    knn_backend: str = _h("auto", "nearest-neighbour search: faiss, torch, or auto",
                          choices=BACKENDS)
    threads: int = _h(0, "torch threads (0: torch's default)")
    cpu: bool = _h(False, "do not use CUDA even when available")
    no_progress: bool = _h(False, "no progress bars")
    selection: str = _h("orthogonal", choices=SELECTION_RULES)
    identity_candidate: str = _h("auto", choices=IDENTITY_CHOICES)

    # -- the flat names (flags, preset keys) ---------------------------------------------------
    @classmethod
    def from_flat(cls, values: dict) -> GridConfig:
        """A config from flat ``{name: value}`` (a preset's ``grid`` section, or the parsed
        flags); names not given keep their defaults. ``UserError`` for an unknown name."""
        own = {f.name for f in dataclasses.fields(cls)} - {"adversarial", "refinement"}
        nested: dict[type, dict] = {AdversarialConfig: {}, RefinementConfig: {}}
        by_dest = {dest: (c, name) for c, fields in flat_nested().items()
                   for dest, name in fields.items()}
        mine = {}
        for key, value in values.items():
            if key in own:
                mine[key] = list(value) if isinstance(value, (list, tuple)) else value
            elif key in by_dest:
                c, name = by_dest[key]
                nested[c][name] = value
            else:
                raise UserError(f"grid.{key}: unknown key (known: {', '.join(flat_names())})")
        return cls(**mine, adversarial=AdversarialConfig(**nested[AdversarialConfig]),
                   refinement=RefinementConfig(**nested[RefinementConfig]))

    def to_flat(self) -> dict:
        """``{flat name: value}`` of every setting (the inverse of :meth:`from_flat`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("adversarial", "refinement")}
        for c, fields in flat_nested().items():
            sub = self.adversarial if c is AdversarialConfig else self.refinement
            out.update({dest: getattr(sub, name) for dest, name in fields.items()})
        return out

    # -- checked configs ------------------------------------------------------------------------
    def adversarial_config(self, dis_most_frequent: int | None = None) -> AdversarialConfig:
        """The adversarial settings trained to ``max(epochs)`` epochs, checked (``UserError``);
        ``dis_most_frequent``: the clamped value, when the vocabularies are read."""
        extra = {} if dis_most_frequent is None else {"dis_most_frequent": dis_most_frequent}
        return check_adversarial_config(dataclasses.replace(
            self.adversarial, n_epochs=max(self.epochs), **extra))

    def refinement_config(self, **clamped) -> RefinementConfig:
        """The refinement settings run to ``max(refinements)`` iterations, checked
        (``UserError``); ``clamped``: ranks clamped to the vocabularies."""
        return dataclasses.replace(self.refinement, n_refinement=max(self.refinements),
                                   **clamped).check()

    def check(self) -> GridConfig:
        """``UserError`` for a value that could only fail later (before anything is loaded);
        returns self."""
        check_minimums((("--max-vocab", self.max_vocab, 1), ("--threads", self.threads, 0)))
        for name in ("seeds", "epochs", "refinements"):
            vals = getattr(self, name)
            if not vals:
                raise UserError(f"--{name}: empty list")
            if len(set(vals)) != len(vals):
                raise UserError(f"--{name}: repeated values {vals}")
        if min(self.epochs) < 1 or min(self.refinements) < 1:
            raise UserError("--epochs and --refinements must be >= 1")
        self.adversarial_config()
        self.refinement_config()
        return self


def flat_nested() -> dict[type, dict[str, str]]:
    """{nested config class: {flat name (its flag's dest): field name}} (without
    :data:`NOT_FLAT`)."""
    return {c: {field_dest(f): f.name for f in dataclasses.fields(c) if f.name not in skip}
            for c, skip in NOT_FLAT.items()}


def flat_names() -> list[str]:
    """Every flat name of a grid setting (preset keys, flag dests), sorted."""
    own = [f.name for f in dataclasses.fields(GridConfig)
           if f.name not in ("adversarial", "refinement")]
    return sorted(own + [d for fields in flat_nested().values() for d in fields])


def flat_fields() -> dict[str, tuple[type, dataclasses.Field]]:
    """{flat name: (the Python type of its value, its dataclass field)}: types and choices for a
    preset check."""
    out = {}
    hints = typing.get_type_hints(GridConfig)
    for f in dataclasses.fields(GridConfig):
        if f.name not in ("adversarial", "refinement"):
            out[f.name] = (hints[f.name], f)
    for c, fields in flat_nested().items():
        hints = typing.get_type_hints(c)
        by_name = {f.name: f for f in dataclasses.fields(c)}
        for dest, name in fields.items():
            out[dest] = (hints[name], by_name[name])
    return out


def preset_schema() -> type:
    """A flat dataclass of every grid setting, each optional with default None (= the grid's
    default), for OmegaConf to check a preset's ``grid`` section's names and types."""
    return dataclasses.make_dataclass("GridPreset", [
        (name, kind | None, field(default=None))
        for name, (kind, _) in sorted(flat_fields().items())])


__all__ = ["GridConfig", "PAPER_SEEDS", "PAPER_EPOCHS", "PAPER_REFINEMENTS", "flat_names",
           "flat_fields", "flat_nested", "preset_schema"]
