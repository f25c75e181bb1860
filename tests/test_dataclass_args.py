"""Flags generated from config dataclasses (common/dataclass_args.py): names, types, defaults,
help, choices and bools as the field metadata says; the dataclass comes back from the flags; the
MUSE / self-learning / fastText flags of the tools and the muse_ubli / muse_mapping fairseq
options take their defaults and help from the one declaration in the config dataclasses."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

import pytest

from fairseq_xdomain.common.dataclass_args import (
    add_dataclass_arguments,
    config_field,
    dataclass_from_args,
)


@dataclass
class Toy:
    n_items: int = field(default=3, metadata={"help": "how many", "flag": "items"})
    rate: float = 0.5
    mode: str = field(default="a", metadata={"choices": ("a", "b")})
    verbose: bool = False
    cache: bool = field(default=True, metadata={"negatable": True})
    strict: bool = True
    secret: int = 7


def _parser(**kwargs):
    return add_dataclass_arguments(argparse.ArgumentParser(prog="toy", exit_on_error=False), Toy,
                                   **kwargs)


def test_flags_types_defaults_help_and_choices():
    p = _parser(exclude=("secret",))
    args = p.parse_args([])
    assert (args.items, args.rate, args.mode, args.verbose, args.cache, args.strict) == (
        3, 0.5, "a", False, True, True)
    assert not hasattr(args, "secret")
    args = p.parse_args(["--items", "9", "--rate", "0.25", "--mode", "b", "--verbose",
                         "--no-cache", "--no-strict"])
    assert (args.items, args.rate, args.mode, args.verbose, args.cache, args.strict) == (
        9, 0.25, "b", True, False, False)
    assert p.parse_args(["--cache"]).cache is True  # --x/--no-x where negatable
    with pytest.raises(argparse.ArgumentError, match="invalid choice: 'c'"):
        p.parse_args(["--mode", "c"])
    assert "how many" in p.format_help()


def test_prefix_exclude_defaults_and_round_trip():
    p = _parser(prefix="t-", defaults=Toy(rate=0.1))
    args = p.parse_args(["--t-items", "4", "--t-secret", "8"])
    assert args.t_rate == 0.1
    toy = dataclass_from_args(Toy, args, prefix="t-", mode="b")
    assert toy == Toy(n_items=4, rate=0.1, mode="b", secret=8)
    with pytest.raises(TypeError, match="no field"):
        _parser(exclude=("nope",))


def test_config_field_copies_default_and_help():
    @dataclass
    class Other:
        size: int = config_field(Toy, "n_items")
        mode: str = config_field(Toy, "mode", help="mode of the other")

    f = {f.name: f for f in dataclasses.fields(Other)}
    assert Other().size == 3 and f["size"].metadata["help"] == "how many"
    assert f["mode"].metadata["help"] == "mode of the other"


def _defaults(parser) -> dict:
    return {a.dest: a.default for a in parser._actions}


def test_ubli_flags_come_from_the_config_dataclasses():
    """align, baseline and grid: every AdversarialConfig / RefinementConfig field is a flag with
    the dataclass default; the grid's epochs/refinements stay its lists."""
    from fairseq_xdomain.ubli.adversarial import AdversarialConfig
    from fairseq_xdomain.ubli.commands import cli, grid
    from fairseq_xdomain.ubli.refinement import RefinementConfig

    sub = next(a for a in cli.build_parser()._actions
               if isinstance(a, argparse._SubParsersAction)).choices
    adv, ref = dataclasses.asdict(AdversarialConfig()), dataclasses.asdict(RefinementConfig())
    align, baseline, g = _defaults(sub["align"]), _defaults(sub["baseline"]), _defaults(
        grid.build_parser())
    renamed = {"n_epochs": "epochs", "n_refinement": "refinement", "k_csls": "csls_k"}
    for name, value in adv.items():
        assert align[renamed.get(name, name)] == value, name
        if name != "n_epochs":
            assert g[name] == value, name
    for name, value in ref.items():
        assert align[renamed.get(name, name)] == value == baseline[renamed.get(name, name)]
        if name != "n_refinement":
            assert g[renamed.get(name, name)] == value, name
    assert g["epochs"] == [1, 3, 5] and g["refinements"] == [1, 3, 5]
    assert "discriminator hidden size" in sub["align"].format_help()
    # the parsed flags back into the configs (grid: the largest epoch / refinement count)
    args = grid.build_parser().parse_args(["--src-emb", "s", "--tgt-emb", "t", "--out", "o",
                                           "--epochs", "1,4", "--dis-hid-dim", "64",
                                           "--csls-k", "5", "--refinements", "2"])
    cfg = grid.grid_config(args)
    a, r = cfg.adversarial_config(), cfg.refinement_config()
    assert (a.n_epochs, a.dis_hid_dim, r.k_csls, r.n_refinement) == (4, 64, 5, 2)


def test_self_learning_and_fasttext_flags():
    from fairseq_xdomain.embeddings import cli as embed_cli
    from fairseq_xdomain.embeddings.fasttext_train import FastTextConfig
    from fairseq_xdomain.ubli.commands import align as self_learning_cmd
    from fairseq_xdomain.ubli.self_learning import SelfLearningConfig

    p = argparse.ArgumentParser()
    self_learning_cmd.add_self_learning_arguments(p)
    args = p.parse_args(["--sl-csls", "7", "--sl-p0", "0.2"])
    assert self_learning_cmd.sl_config(args) == SelfLearningConfig(k_csls=7, p0=0.2)
    assert not any(a.dest in ("sl_eps", "sl_max_iter") for a in p._actions)

    sub = next(a for a in embed_cli.build_parser()._actions
               if isinstance(a, argparse._SubParsersAction)).choices
    fields = dataclasses.asdict(FastTextConfig())
    train, binarized = _defaults(sub["train"]), _defaults(sub["binarized"])
    assert {k: train[k] for k in fields} == fields
    assert {k: binarized[k] for k in fields} == {**fields, "minn": 0, "maxn": 0}
    args = sub["train"].parse_args(["--input", "i", "--output", "o", "--dim", "16", "--neg", "2"])
    assert embed_cli._config(args) == FastTextConfig(dim=16, neg=2)


def test_fairseq_muse_options_share_the_declaration():
    from fairseq_xdomain.models.muse_mapping import MuseMappingConfig
    from fairseq_xdomain.tasks.muse_ubli import MuseUbliConfig
    from fairseq_xdomain.ubli.adversarial import AdversarialConfig

    adv = {f.name: f for f in dataclasses.fields(AdversarialConfig)}
    pairs = {(MuseUbliConfig, "muse_batch_size"): "batch_size",
             (MuseUbliConfig, "epoch_size"): "epoch_size",
             (MuseUbliConfig, "dis_most_frequent"): "dis_most_frequent",
             (MuseUbliConfig, "dis_steps"): "dis_steps",
             (MuseUbliConfig, "dis_smooth"): "dis_smooth",
             (MuseUbliConfig, "dis_input_dropout"): "dis_input_dropout",
             (MuseMappingConfig, "dis_layers"): "dis_layers",
             (MuseMappingConfig, "dis_hid_dim"): "dis_hid_dim",
             (MuseMappingConfig, "map_beta"): "map_beta"}
    for (cls, name), source in pairs.items():
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        assert f.default == adv[source].default, name
        assert f.metadata["help"] == adv[source].metadata["help"], name
