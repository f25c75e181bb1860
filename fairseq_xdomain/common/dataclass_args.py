"""Command-line flags generated from a config dataclass: one declaration of each default and help.

A config dataclass (``ubli.adversarial.AdversarialConfig``, ``ubli.refinement.RefinementConfig``,
``ubli.self_learning.SelfLearningConfig``, ``embeddings.fasttext_train.FastTextConfig``) declares
each setting once, with its default and, in the field's ``metadata``:

- ``help``: the flag's help text (also the help of a fairseq dataclass field built from it with
  :func:`config_field`);
- ``choices``: the allowed values;
- ``flag``: the flag's name without ``--`` and prefix when it is not the field's name with ``-``
  for ``_`` (``k_csls`` -> ``csls-k``);
- ``aliases``: more option strings for the flag (e.g. MUSE's ``--dis_layers``), added only
  without a prefix;
- ``negatable``: a bool field becomes ``--x/--no-x`` (else ``--x`` sets True, or ``--no-x`` sets
  False when the default is True).

:func:`add_dataclass_arguments` adds the flags to a parser (or argument group);
:func:`dataclass_from_args` builds the dataclass back from the parsed namespace. A field's flag is
``--{prefix}{flag or name with -}`` and its argparse dest the flag with ``_`` for ``-``.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Iterable
from typing import Any

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _type_of(cls, f: dataclasses.Field) -> type:
    """The field's type (int, float, str or bool), also under ``from __future__ import
    annotations``; TypeError for any other (a flag needs a type argparse can parse)."""
    hint = typing.get_type_hints(cls).get(f.name, f.type)
    if isinstance(hint, str):
        hint = _TYPES.get(hint, hint)
    if hint not in _TYPES.values():
        raise TypeError(f"{cls.__name__}.{f.name}: no flag for a field of type {hint!r}")
    return hint


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"field {f.name} has no default: a flag needs one")


def field_flag(f: dataclasses.Field, prefix: str = "") -> str:
    """The flag of field ``f``: ``--{prefix}{metadata['flag'] or name with -}``."""
    return "--" + prefix + f.metadata.get("flag", f.name.replace("_", "-"))


def field_dest(f: dataclasses.Field, prefix: str = "") -> str:
    """The argparse dest of field ``f``'s flag."""
    return field_flag(f, prefix)[2:].replace("-", "_")


def _selected(cls, exclude: Iterable[str]) -> list[dataclasses.Field]:
    exclude = set(exclude)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = exclude - names
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return [f for f in dataclasses.fields(cls) if f.name not in exclude]


def add_dataclass_arguments(parser, cls, prefix: str = "", exclude: Iterable[str] = (),
                            defaults: object | None = None):
    """Add one flag per field of dataclass ``cls`` (but ``exclude``) to ``parser`` (a parser or an
    argument group), in field order; returns ``parser``.

    Types, defaults, help and choices come from the dataclass (see the module docstring);
    ``defaults``: an instance of ``cls`` whose values are the defaults instead (e.g.
    ``FastTextConfig(minn=0, maxn=0)``). TypeError for a field that cannot be a flag (a type
    other than int/float/str/bool, no default) or an unknown name in ``exclude``.
    """
    for f in _selected(cls, exclude):
        kind = _type_of(cls, f)
        default = getattr(defaults, f.name) if defaults is not None else _default(f)
        flag = field_flag(f, prefix)
        aliases = () if prefix else tuple(f.metadata.get("aliases", ()))
        kwargs: dict[str, Any] = {"default": default, "dest": field_dest(f, prefix)}
        if "help" in f.metadata:
            kwargs["help"] = f.metadata["help"]
        if kind is bool:
            if f.metadata.get("negatable"):
                parser.add_argument(flag, *aliases, action=argparse.BooleanOptionalAction,
                                    **kwargs)
            elif default:
                parser.add_argument("--" + prefix + "no-" + flag[2 + len(prefix):],
                                    action="store_false", **kwargs)
            else:
                parser.add_argument(flag, *aliases, action="store_true", **kwargs)
            continue
        if "choices" in f.metadata:
            kwargs["choices"] = tuple(f.metadata["choices"])
        parser.add_argument(flag, *aliases, type=kind, **kwargs)
    return parser


def dataclass_from_args(cls, args: argparse.Namespace, prefix: str = "", **overrides):
    """An instance of ``cls`` from the parsed ``args`` of :func:`add_dataclass_arguments` (same
    ``prefix``): each field from its flag's dest when ``args`` has it (excluded fields keep their
    default), ``overrides`` (field name -> value) last."""
    values = {}
    for f in dataclasses.fields(cls):
        dest = field_dest(f, prefix)
        if hasattr(args, dest):
            values[f.name] = getattr(args, dest)
    values.update(overrides)
    return cls(**values)


def config_field(cls, name: str, help: str | None = None) -> dataclasses.Field:
    """A dataclass field with the default and help of ``cls.name``, for another config that
    repeats the setting (the fairseq dataclasses of ``muse_ubli`` / ``muse_mapping``):
    ``dis_hid_dim: int = config_field(AdversarialConfig, "dis_hid_dim")``. ``help`` replaces
    the help text."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    text = help if help is not None else f.metadata.get("help", "")
    return dataclasses.field(default=_default(f), metadata={"help": text})


__all__ = ["add_dataclass_arguments", "dataclass_from_args", "config_field", "field_flag",
           "field_dest"]
