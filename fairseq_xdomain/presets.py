"""Presets: the settings of each experiment kind at each scale, as files shipped with the package.

``fairseq_xdomain/configs/{mlm,unmt,ubli}/{tiny,cpu,paper}.yaml``; ``docs/presets.md`` says what
each is for and which source it follows (each file says so too, in its ``source:`` key):

- ``tiny``: the demo's settings (generated data, 2-core CPU, minutes): what ``make demo``
  (``xdomain-run demo``) runs.
- ``cpu``: real corpora on a CPU (hours).
- ``paper``: the paper's scale (GPUs), where the paper gives a setting; otherwise the source the
  file names (XLM's README/defaults, MUSE's or fastText's defaults, or ours).

A preset is checked on loading against a structured config (OmegaConf): an unknown key, a wrong
type or a missing value is a :class:`~fairseq_xdomain.common.errors.UserError` naming the file.
The ``fairseq:`` block of an MLM/UNMT preset holds ``fairseq-train`` options (option name with
``_`` for ``-``; ``true`` = a bare flag, ``false``/null = left out): :func:`fairseq_arguments`
turns it into arguments. The ``grid:`` block of a UBLI preset holds settings of the grid search
by their flat names (``xdomain-ubli grid``'s options with ``_``), checked against
:class:`~fairseq_xdomain.ubli.grid_config.GridConfig` like the other sections (names, types,
choices); only the settings the file gives are kept (the rest are the grid's defaults), and
``xdomain-run`` builds the typed config with ``GridConfig.from_flat``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from .common.errors import UserError
from .common.textio import read_text
from .ubli_methods import BEYOND_METHODS

KINDS = ("mlm", "unmt", "ubli")
DEVICES = ("cpu", "auto")
EMB_INITS = ("fasttext", "random")


@dataclass
class FastTextPreset:
    """fastText skipgram settings (names of ``embeddings.fasttext_train.FastTextConfig``);
    ``thread: 0`` = every core; a field left at null takes the tool's default."""

    dim: int = MISSING
    epoch: int = MISSING
    min_count: int = MISSING
    thread: int = MISSING
    minn: int | None = None
    maxn: int | None = None
    bucket: int | None = None


@dataclass
class FairseqPreset:
    """What MLM and UNMT presets share: where the numbers come from, the device, the
    ``fairseq-train`` options."""

    source: str = MISSING
    device: str = MISSING  # cpu | auto (--fp16 on a GPU, else --cpu)
    fairseq: dict[str, Any] = field(default_factory=dict)


@dataclass
class MlmPreset(FairseqPreset):
    """MLM pre-training (``fairseq-train --task xlm_mlm``) at one scale."""

    emb_init: str = MISSING  # fasttext | random: the MLM's token embeddings
    fasttext: FastTextPreset = field(default_factory=FastTextPreset)


@dataclass
class UnmtPreset(FairseqPreset):
    """UNMT (``fairseq-train --task unmt_xdomain``) at one scale, from the MLM preset ``mlm``."""

    mlm: str = MISSING


@dataclass
class StdmPreset:
    """``xdomain-stdm`` sizes."""

    docs_per_corpus: int = MISSING
    lines_per_doc: int = MISSING
    svd_dim: int = MISSING


@dataclass
class TokenizePreset:
    """``xdomain-prep tokenize`` settings (``workers: 0`` = every core)."""

    lowercase: bool = MISSING
    workers: int = MISSING


@dataclass
class BeyondPreset:
    """The UBLI methods beyond the paper run by ``xdomain-run ubli`` (extra report rows):
    ``methods`` (a subset of :data:`~fairseq_xdomain.ubli_methods.BEYOND_METHODS`, the one
    method table's names; [] = none), the frequency ratio of
    vocabulary reallocation (``xdomain-ubli reallocate --ratio``) and the self-learning sizes
    (``xdomain-ubli align --sl-vocab/--sl-init-vocab/--sl-patience``; null: the paper's)."""

    methods: list[str] = field(default_factory=lambda: list(BEYOND_METHODS))
    ratio: float = 10.0
    sl_vocab: int | None = None
    sl_init_vocab: int | None = None
    sl_patience: int | None = None


@dataclass
class UbliPreset:
    """One UBLI experiment (fastText, MUSE grid, STDM, the methods beyond the paper) at one
    scale. ``grid``: settings of the grid search by their flat names
    (:func:`~fairseq_xdomain.ubli.grid_config.flat_names`; the rest at the grid's defaults,
    MUSE's)."""

    source: str = MISSING
    fasttext: FastTextPreset = field(default_factory=FastTextPreset)
    grid: dict[str, Any] = field(default_factory=dict)
    stdm: StdmPreset = field(default_factory=StdmPreset)
    tokenize: TokenizePreset = field(default_factory=TokenizePreset)
    beyond: BeyondPreset = field(default_factory=BeyondPreset)


SCHEMAS = {"mlm": MlmPreset, "unmt": UnmtPreset, "ubli": UbliPreset}


def configs_dir() -> Path:
    """The folder holding the preset files (in a checkout or an installed wheel)."""
    return Path(__file__).resolve().parent / "configs"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UserError(f"unknown preset kind {kind!r}: expected one of {', '.join(KINDS)}")


def list_presets(kind: str) -> list[str]:
    """The preset names of ``kind`` (``mlm``, ``unmt`` or ``ubli``), sorted. UserError for an
    unknown kind."""
    _check_kind(kind)
    return sorted(p.stem for p in (configs_dir() / kind).glob("*.yaml"))


def preset_path(kind: str, name: str) -> Path:
    """The file of preset ``name`` of ``kind`` (a shipped name such as ``tiny``, or the path of
    a preset file of one's own: a name ending in ``.yaml`` or holding a ``/``); UserError naming
    the file when there is none."""
    _check_kind(kind)
    if name.endswith((".yaml", ".yml")) or "/" in name or os.sep in name:
        path = Path(name)
        if not path.is_file():
            raise UserError(f"{path}: {kind} preset file not found")
        return path
    path = configs_dir() / kind / f"{name}.yaml"
    if not path.is_file():
        raise UserError(f"{path}: no {kind} preset {name!r} (presets: "
                        f"{', '.join(list_presets(kind))})")
    return path


def _structured(path: Path, schema, raw: dict) -> dict:
    """``raw`` merged onto ``schema`` by OmegaConf, as plain containers; one-line UserErrors."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), raw)
        return OmegaConf.to_container(merged, throw_on_missing=True)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", "") or ""
        msg = str(err).splitlines()[0]
        if "Key '" in msg and "not in" in msg:
            msg = f"unknown key (known: {', '.join(_known(schema, key))})"
        raise UserError(f"{path}: {key}: {msg}" if key else f"{path}: {msg}") from None


def _known(schema, full_key: str) -> list[str]:
    """The known keys at the level of ``full_key`` (e.g. ``fasttext.dimm``) of ``schema``."""
    from dataclasses import fields, is_dataclass

    node = schema
    for part in full_key.split(".")[:-1]:
        sub = {f.name: f for f in fields(node)}.get(part)
        value = sub.default_factory() if sub is not None and callable(sub.default_factory) else None
        if not is_dataclass(value):
            break
        node = type(value)
    return [f.name for f in fields(node)]


def check_grid(where, grid: dict) -> None:
    """``UserError`` (naming ``where``) unless every key of a preset's ``grid`` section is a
    setting of :class:`~fairseq_xdomain.ubli.grid_config.GridConfig` (its flat names) with a
    value of its type (OmegaConf, as the other sections) and within its choices."""
    # the grid's settings live with the grid (ubli/grid_config.py, which imports torch): read
    # here, when a UBLI preset is checked, so that importing presets stays light
    from .ubli.grid_config import flat_fields, preset_schema

    schema = preset_schema()
    section = make_dataclass("GridSection", [("grid", schema, field(default_factory=schema))])
    _structured(where, section, {"grid": grid})
    fields_ = flat_fields()
    for key, value in grid.items():
        choices = fields_[key][1].metadata.get("choices")
        if choices is not None and value not in choices:
            raise UserError(f"{where}: grid.{key}: {value!r} is not one of "
                            f"{', '.join(map(str, choices))}")


def _check_values(path: Path, kind: str, cfg: dict) -> None:
    """What the schema's types cannot say: choices, names of other presets, option names."""
    def choice(key, value, choices):
        if value not in choices:
            raise UserError(f"{path}: {key}: {value!r} is not one of {', '.join(choices)}")

    if kind in ("mlm", "unmt"):
        choice("device", cfg["device"], DEVICES)
        for opt, value in cfg["fairseq"].items():
            if not opt.replace("_", "").isalnum() or isinstance(value, (list, dict)):
                raise UserError(f"{path}: fairseq.{opt}: expected an option name with a "
                                "scalar value (true for a bare flag)")
    if kind == "mlm":
        choice("emb_init", cfg["emb_init"], EMB_INITS)
    if kind == "unmt" and cfg["mlm"] not in list_presets("mlm"):
        raise UserError(f"{path}: mlm: no mlm preset {cfg['mlm']!r} (presets: "
                        f"{', '.join(list_presets('mlm'))})")
    if kind == "ubli":
        check_beyond(path, cfg["beyond"])
        check_grid(path, cfg["grid"])


def check_beyond(where, beyond: dict) -> None:
    """UserError (naming ``where``: a preset file or ``--set``) unless ``beyond.methods`` is a
    list of distinct :data:`~fairseq_xdomain.ubli_methods.BEYOND_METHODS`, ``beyond.ratio`` > 1 and each ``sl_*`` size null or
    >= 1."""
    methods = beyond.get("methods")
    if not isinstance(methods, list) or len(set(map(str, methods))) != len(methods):
        raise UserError(f"{where}: beyond.methods: expected a list of distinct names of "
                        f"{', '.join(BEYOND_METHODS)}, got {methods!r}")
    for m in methods:
        if m not in BEYOND_METHODS:
            raise UserError(f"{where}: beyond.methods: {m!r} is not one of "
                            f"{', '.join(BEYOND_METHODS)}")
    ratio = beyond.get("ratio")
    if not isinstance(ratio, (int, float)) or ratio <= 1:
        raise UserError(f"{where}: beyond.ratio: {ratio!r}: must be a number > 1")
    for key in ("sl_vocab", "sl_init_vocab", "sl_patience"):
        value = beyond.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UserError(f"{where}: beyond.{key}: {value!r}: must be null or an integer >= 1")


def load_preset(kind: str, name: str) -> dict:
    """Preset ``name`` of ``kind`` as a plain dict, checked (see the module docstring); ``name``
    is a shipped preset (``tiny``, ``cpu``, ``paper``) or a file's path (see :func:`preset_path`).

    Returns every key of the kind's schema (:class:`MlmPreset`, :class:`UnmtPreset`,
    :class:`UbliPreset`); ``fairseq`` / ``grid`` hold only the options the file gives.
    Raises UserError naming the file: unknown kind or preset, unparsable YAML, unknown key,
    wrong type, missing value, a value outside its choices, an unknown grid option.
    """
    import yaml

    path = preset_path(kind, name)
    text = read_text(path, what=f"{kind} preset")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{path}: cannot parse the preset: {str(err).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a preset must be a mapping")
    cfg = _structured(path, SCHEMAS[kind], raw)
    _check_values(path, kind, cfg)
    return cfg


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def fairseq_arguments(preset: dict, has_gpu: bool | None = None) -> list[str]:
    """``fairseq-train`` arguments for the ``fairseq`` block and ``device`` of an MLM/UNMT preset.

    Options in the file's order: ``name: value`` -> ``--name value``; ``true`` -> ``--name``;
    ``false`` or null -> left out. ``device: cpu`` adds ``--cpu``; ``device: auto`` adds ``--fp16``
    where ``has_gpu`` (default: ``torch.cuda.is_available()``), else ``--cpu``. The task, data,
    languages, seed, save and log options are the caller's.
    """
    args: list[str] = []
    for name, value in preset["fairseq"].items():
        if value is True:
            args.append(_flag(name))
        elif value is not False and value is not None:
            args += [_flag(name), str(value)]
    if preset["device"] == "cpu":
        args.append("--cpu")
    else:
        if has_gpu is None:
            import torch

            has_gpu = torch.cuda.is_available()
        args.append("--fp16" if has_gpu else "--cpu")
    return args


def fasttext_arguments(preset: dict) -> list[str]:
    """``xdomain-embed train|joint|binarized`` fastText options for the ``fasttext`` block of a
    preset (``thread: 0`` -> the number of cores; null fields left out: the tool's default)."""
    args: list[str] = []
    for name, value in preset["fasttext"].items():
        if name == "thread" and value == 0:
            value = os.cpu_count() or 1
        if value is not None:
            args += [_flag(name), str(value)]
    return args


__all__ = ["KINDS", "BEYOND_METHODS", "check_beyond", "check_grid", "configs_dir",
           "list_presets", "preset_path", "load_preset", "fairseq_arguments",
           "fasttext_arguments"]
