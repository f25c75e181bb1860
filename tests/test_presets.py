"""Presets (fairseq_xdomain/presets.py, fairseq_xdomain/configs/): every shipped preset loads and
its options are real options of the tool that takes them; the tiny presets are the demo's settings
(so the demo's numbers hold); each preset's grid section is the typed GridConfig that the grid's
flags give; a wrong preset file is one UserError naming the file."""
from __future__ import annotations

import pytest

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.presets import (
    KINDS,
    fairseq_arguments,
    fasttext_arguments,
    list_presets,
    load_preset,
    preset_path,
)

TASKS = {"mlm": "xlm_mlm", "unmt": "unmt_xdomain"}


def test_every_kind_has_the_three_scales_with_a_source():
    for kind in KINDS:
        assert list_presets(kind) == ["cpu", "paper", "tiny"]
        for name in list_presets(kind):
            cfg = load_preset(kind, name)
            assert cfg["source"].strip(), (kind, name)
            assert preset_path(kind, name).parent.name == kind


def test_tiny_mlm_and_unmt_are_the_demos_settings():
    """The demo's MLM/UNMT settings (``make demo``), option by option."""
    mlm, unmt = load_preset("mlm", "tiny"), load_preset("unmt", "tiny")
    assert fairseq_arguments(mlm) == [
        "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss", "--tokens-per-sample", "64",
        "--max-tokens", "4096", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "2e-3",
        "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "100", "--max-update", "1500",
        "--disable-validation", "--cpu"]
    assert mlm["emb_init"] == "fasttext"
    assert fasttext_arguments(mlm) == ["--dim", "64", "--epoch", "10", "--min-count", "3",
                                       "--thread", "1", "--minn", "0", "--maxn", "0"]
    assert unmt["mlm"] == "tiny"
    assert fairseq_arguments(unmt) == [
        "--arch", "unmt_transformer_tiny", "--criterion", "cross_entropy", "--max-tokens", "1500",
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "2e-3",
        "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "30", "--epoch-sentences", "4000",
        "--lambda-dae", "1", "--dropout", "0", "--attention-dropout", "0", "--max-epoch", "10",
        "--cpu"]


def test_tiny_ubli_is_the_demos_settings():
    """The demo's UBLI settings (``make demo``): fastText options, the grid section as written,
    STDM and tokenization."""
    cfg = load_preset("ubli", "tiny")
    assert fasttext_arguments(cfg) == ["--dim", "64", "--epoch", "5", "--min-count", "5",
                                       "--thread", "1", "--bucket", "200000"]
    assert cfg["grid"] == {"max_vocab": 20000, "seeds": [123, 456, 789, 321], "epochs": [1, 3, 5],
                           "refinements": [1, 3, 5], "epoch_size": 3200, "dis_hid_dim": 128,
                           "threads": 0}
    assert cfg["stdm"] == {"docs_per_corpus": 2000, "lines_per_doc": 10, "svd_dim": 50}
    assert cfg["tokenize"] == {"lowercase": True, "workers": 1}


def test_paper_presets_resolve_the_recipes_disagreement():
    """MLM: XLM's plain Adam (0.9, 0.999), fixed lr 1e-4, clip 5; UNMT: Adam inverse-sqrt (0.9, 0.98),
    4000 warm-up updates, ten epochs of 200k sentences; UBLI: MUSE's settings (no grid override)."""
    mlm, unmt = load_preset("mlm", "paper"), load_preset("unmt", "paper")
    assert {k: mlm["fairseq"][k] for k in ("adam_betas", "lr", "lr_scheduler", "clip_norm")} == {
        "adam_betas": "(0.9,0.999)", "lr": "1e-4", "lr_scheduler": "fixed", "clip_norm": 5}
    assert {k: unmt["fairseq"][k] for k in ("adam_betas", "lr_scheduler", "warmup_updates",
                                            "epoch_sentences", "max_epoch")} == {
        "adam_betas": "(0.9,0.98)", "lr_scheduler": "inverse_sqrt", "warmup_updates": 4000,
        "epoch_sentences": 200000, "max_epoch": 10}
    assert fairseq_arguments(mlm, has_gpu=True)[-1] == "--fp16"
    assert fairseq_arguments(mlm, has_gpu=False)[-1] == "--cpu"
    from fairseq_xdomain.ubli.grid_config import GridConfig

    g = GridConfig.from_flat(load_preset("ubli", "paper")["grid"])
    assert (g.max_vocab, g.seeds, g.epochs, g.refinements, g.adversarial.epoch_size,
            g.adversarial.dis_hid_dim) == (200000, [123, 456, 789, 321], [1, 3, 5], [1, 3, 5],
                                           1000000, 2048)


# What each shipped preset's grid section resolved to when it still travelled as flags of
# ``xdomain-ubli grid`` (flags -> argparse namespace), less the inputs and labels: the typed
# GridConfig of the section, and the one of the same values given as flags, must equal it.
GRID_BEFORE = {
    "tiny": {"max_vocab": 20000, "epoch_size": 3200, "dis_hid_dim": 128, "threads": 0},
    "cpu": {"max_vocab": 20000, "epoch_size": 20000, "dis_hid_dim": 512, "threads": 1},
    "paper": {"max_vocab": 200000, "epoch_size": 1000000, "dis_hid_dim": 2048, "threads": 0},
}
GRID_DEFAULTS = {
    "batch_size": 32, "cpu": False, "criterion_max_rank": 10000, "csls_k": 10,
    "dico_build": "S2T", "dico_max_rank": 15000, "dico_method": "csls", "dis_input_dropout": 0.1,
    "dis_lambda": 1.0, "dis_layers": 2, "dis_lr": 0.1, "dis_most_frequent": 75000,
    "dis_smooth": 0.1, "dis_steps": 5, "epochs": [1, 3, 5], "identity_candidate": "auto",
    "knn_backend": "auto", "lr_decay": 0.98, "lr_shrink": 0.5, "map_beta": 0.001, "map_lr": 0.1,
    "min_lr": 1e-06, "no_progress": False, "normalize_embeddings": "", "precision": "fp32",
    "refinements": [1, 3, 5], "seeds": [123, 456, 789, 321], "selection": "orthogonal"}


@pytest.mark.parametrize("name", ["tiny", "cpu", "paper"])
def test_grid_section_is_the_typed_config_of_the_flags(name):
    from fairseq_xdomain.ubli.commands.grid import build_parser, grid_config
    from fairseq_xdomain.ubli.grid_config import GridConfig

    section = load_preset("ubli", name)["grid"]
    typed = GridConfig.from_flat(section)
    assert typed.to_flat() == {**GRID_DEFAULTS, **GRID_BEFORE[name]}
    flags = [x for k, v in section.items() for x in (
        "--" + k.replace("_", "-"), ",".join(map(str, v)) if isinstance(v, list) else str(v))]
    parsed = grid_config(build_parser().parse_args(["--src-emb", "s", "--tgt-emb", "t",
                                                    "--out", "o", *flags]))
    assert parsed == typed
    assert typed.adversarial_config().n_epochs == 5 and typed.refinement_config().n_refinement == 5


@pytest.mark.parametrize("kind", ["mlm", "unmt"])
def test_fairseq_blocks_are_real_fairseq_train_options(kind, tmp_path):
    """fairseq's own training parser (with the plugin) accepts every preset's options."""
    from fairseq import options

    import fairseq_xdomain

    fairseq_xdomain.register()
    for name in list_presets(kind):
        cfg = load_preset(kind, name)
        argv = [str(tmp_path), "--task", TASKS[kind],
                "--langs", "aa,bb", *fairseq_arguments(cfg, has_gpu=False)]
        args = options.parse_args_and_arch(options.get_training_parser(), argv)
        assert args.arch == cfg["fairseq"]["arch"]
        assert float(args.lr[0]) == float(cfg["fairseq"]["lr"])


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("kind,text,message", [
    ("mlm", "source: s\ndevice: cpu\nemb_init: random\nfasttext: {dim: 8, epoch: 1, min_count: 1,"
     " thread: 1, dimm: 3}\n", "fasttext.dimm: unknown key (known: dim, "),
    ("mlm", "source: s\ndevice: gpu\nemb_init: random\nfasttext: {dim: 8, epoch: 1, min_count: 1,"
     " thread: 1}\n", "device: 'gpu' is not one of cpu, auto"),
    ("mlm", "source: s\ndevice: cpu\nemb_init: random\nfasttext: {dim: eight, epoch: 1,"
     " min_count: 1, thread: 1}\n", "fasttext.dim: Value 'eight'"),
    ("mlm", "source: s\ndevice: cpu\nfasttext: {dim: 8, epoch: 1, min_count: 1, thread: 1}\n",
     "emb_init"),
    ("unmt", "source: s\nmlm: huge\ndevice: cpu\n", "mlm: no mlm preset 'huge'"),
    ("unmt", "source: s\nmlm: tiny\ndevice: cpu\nfairseq: {lr: [1, 2]}\n", "fairseq.lr: expected"),
    ("ubli", "source: s\nfasttext: {dim: 8, epoch: 1, min_count: 1, thread: 1}\n"
     "grid: {dis_hid: 3}\nstdm: {docs_per_corpus: 1, lines_per_doc: 1, svd_dim: 1}\n"
     "tokenize: {lowercase: true, workers: 0}\n", "grid.dis_hid: unknown key"),
    ("ubli", "source: s\nfasttext: {dim: 8, epoch: 1, min_count: 1, thread: 1}\n"
     "grid: {epoch_size: many}\nstdm: {docs_per_corpus: 1, lines_per_doc: 1, svd_dim: 1}\n"
     "tokenize: {lowercase: true, workers: 0}\n", "grid.epoch_size: Value 'many'"),
    ("ubli", "source: s\nfasttext: {dim: 8, epoch: 1, min_count: 1, thread: 1}\n"
     "grid: {selection: best}\nstdm: {docs_per_corpus: 1, lines_per_doc: 1, svd_dim: 1}\n"
     "tokenize: {lowercase: true, workers: 0}\n", "grid.selection: 'best' is not one of"),
    ("ubli", "- a list\n", "a preset must be a mapping"),
])
def test_a_wrong_preset_file_is_one_error_naming_it(tmp_path, kind, text, message):
    path = _write(tmp_path / "mine.yaml", text)
    with pytest.raises(UserError) as err:
        load_preset(kind, path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_preset_or_kind_names_what_exists(tmp_path):
    with pytest.raises(UserError, match=r"ubli/huge\.yaml: no ubli preset 'huge' "
                                        r"\(presets: cpu, paper, tiny\)"):
        load_preset("ubli", "huge")
    with pytest.raises(UserError, match="unknown preset kind 'nmt'"):
        list_presets("nmt")
    with pytest.raises(UserError, match="mine.yaml: mlm preset file not found"):
        load_preset("mlm", str(tmp_path / "mine.yaml"))


def test_a_preset_file_of_ones_own_overrides_a_shipped_one(tmp_path):
    """docs/presets.md's way to override: a copy with one value changed, passed as a path."""
    text = preset_path("unmt", "tiny").read_text(encoding="utf-8").replace(
        "max_epoch: 10", "max_epoch: 24")
    cfg = load_preset("unmt", _write(tmp_path / "long.yaml", text))
    args = fairseq_arguments(cfg)
    assert args[args.index("--max-epoch") + 1] == "24"
    assert args[:-3] == fairseq_arguments(load_preset("unmt", "tiny"))[:-3]
