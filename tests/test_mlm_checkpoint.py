"""An MLM checkpoint starts only a UNMT model it fits (issue 22, kind 1), and loads from anywhere.

- ``--init-from-mlm``: every size the MLM initialises is checked before any training step (width,
  FFN size, heads, activation, dictionary size, depth, languages); a mismatch is one UserError
  naming both sides; ``--init-from-mlm-partial layers|langs`` loads a depth or language mismatch
  in part, with a warning naming the layers / languages left random or not used.
- A finished ``xlm_mlm`` checkpoint trained with ``--reload-emb`` loads through fairseq's own
  ``checkpoint_utils.load_model_ensemble_and_task`` and ``from_pretrained`` from another folder after the word-vector
  folder is gone (it re-reads no path of its training run but the dictionary).
"""
from __future__ import annotations

import random
import re
import shutil

import fairseq  # noqa: F401  (the plugin registers when fairseq is imported first)
import numpy as np
import pytest
import torch
from conftest import USER_DIR, run, write_lines

import fairseq_xdomain
from fairseq_xdomain.common.errors import UserError

fairseq_xdomain.register()

from fairseq_xdomain.models.xlm_encoder import XLMEncoderConfig, XLMEncoderModel  # noqa: E402
from fairseq_xdomain.preprocess.binarize import binarize_folder  # noqa: E402
from fairseq_xdomain.tasks.unmt_xdomain import UnmtXdomainConfig, UnmtXdomainTask  # noqa: E402
from fairseq_xdomain.tasks.xlm_mlm import XLMMLMConfig, XLMMLMTask  # noqa: E402

torch.set_num_threads(1)
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TINY = dict(encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_layers=2,
            encoder_attention_heads=4, activation_fn="gelu", max_positions=32)  # unmt_transformer_tiny's


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Word-level aa/bb monolingual data + a parallel valid set, binarized (docs/design.md)."""
    root = tmp_path_factory.mktemp("mlmckpt")
    rng = random.Random(5)
    words = [f"w{i}" for i in range(20)]
    sents = [[rng.choice(words) for _ in range(rng.randint(3, 8))] for _ in range(60)]
    raw = root / "raw"
    write_lines(raw / "train.aa", [" ".join(s) for s in sents])
    write_lines(raw / "train.bb", [" ".join("b" + w[1:] for w in s) for s in sents])
    write_lines(raw / "valid.aa-bb.aa", [" ".join(s) for s in sents[:5]])
    write_lines(raw / "valid.aa-bb.bb", [" ".join("b" + w[1:] for w in s) for s in sents[:5]])
    return binarize_folder(raw, root / "DATA")


def _mlm(data, path, langs="aa,bb", record=True, **sizes):
    """An untrained xlm_encoder MLM of ``sizes`` (default: the tiny UNMT model's), saved the way
    fairseq saves a checkpoint (``cfg`` as a plain container); ``record``: its config records
    heads and activation."""
    cfg = XLMEncoderConfig(**{**TINY, **sizes})
    task = XLMMLMTask.setup_task(XLMMLMConfig(data=str(data), langs=langs, seed=1, tokens_per_sample=32))
    torch.manual_seed(len(str(path)))
    model = XLMEncoderModel.build_model(cfg, task)
    model_cfg = {k: getattr(cfg, k) for k in TINY} if record else {}
    torch.save({"model": model.state_dict(), "cfg": {"task": {"langs": langs}, "model": model_cfg}},
               path)
    return path, model.state_dict()


def _unmt_cfg(data, *extra):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(options.get_training_parser(), [
        str(data), "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
        "--arch", "unmt_transformer_tiny", "--criterion", "cross_entropy", "--cpu", *extra])
    return convert_namespace_to_omegaconf(args).model


@pytest.fixture(scope="module")
def task(data):
    return UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(data), langs="aa,bb", seed=1))


@pytest.mark.parametrize("sizes, wrong", [
    ({"encoder_embed_dim": 32, "encoder_ffn_embed_dim": 128},
     "width 32 in the MLM, 64 in the UNMT model (--encoder-embed-dim)"),
    ({"encoder_ffn_embed_dim": 96}, "FFN size 96 in the MLM, 128 in the UNMT model (--encoder-ffn-embed-dim)"),
    ({"encoder_attention_heads": 8},  # no tensor shape differs: only the config tells
     "attention heads 8 in the MLM, 4 in the UNMT model (--encoder-attention-heads)"),
    ({"activation_fn": "relu"}, "activation relu in the MLM, gelu in the UNMT model (--activation-fn)"),
    ({"encoder_layers": 1}, "1 layer in the MLM, 2 encoder + 2 decoder layers in the UNMT model "
                            "(--encoder-layers/--decoder-layers, or --init-from-mlm-partial layers "
                            "to load the layers in common)"),
    ({"encoder_layers": 3}, "3 layers in the MLM, 2 encoder + 2 decoder layers in the UNMT model"),
])
def test_mismatch_is_one_error_naming_both_sides(data, task, tmp_path, sizes, wrong):
    path, _ = _mlm(data, tmp_path / "mlm.pt", **sizes)
    with pytest.raises(UserError) as err:
        task.build_model(_unmt_cfg(data, "--init-from-mlm", str(path)))
    message = str(err.value)
    assert message.startswith(f"{path}: the --init-from-mlm checkpoint does not fit the UNMT "
                              "model: ") and "\n" not in message
    assert wrong in message, message
    assert message.count(" in the MLM, ") == 1, message  # only what differs


def test_dictionary_size_and_every_mismatch_at_once(data, task, tmp_path):
    path, state = _mlm(data, tmp_path / "mlm.pt", encoder_layers=1, activation_fn="relu")
    ckpt = torch.load(path, weights_only=False)
    for key in ("encoder.embed_tokens.weight", "encoder.lm_head.bias"):  # an MLM of 3 more types
        ckpt["model"][key] = torch.cat([state[key], state[key][:3]])
    torch.save(ckpt, path)
    vocab = len(task.dictionary)
    with pytest.raises(UserError, match=re.escape(
            f"activation relu in the MLM, gelu in the UNMT model (--activation-fn); dictionary "
            f"size {vocab + 3} in the MLM, {vocab} in the UNMT model (binarize both with one "
            "dict.txt); 1 layer in the MLM, 2 encoder + 2 decoder")):
        task.build_model(_unmt_cfg(data, "--init-from-mlm", str(path)))


def test_partial_layers_by_name_loads_the_common_layers_and_warns(data, task, tmp_path, caplog):
    shallow, s1 = _mlm(data, tmp_path / "m1.pt", encoder_layers=1)
    with caplog.at_level("WARNING"):
        model = task.build_model(_unmt_cfg(data, "--init-from-mlm", str(shallow),
                                           "--init-from-mlm-partial", "layers"))
    own = model.state_dict()
    for side in ("encoder", "decoder"):
        assert torch.equal(own[f"{side}.layers.0.fc1.weight"], s1["encoder.layers.0.fc1.weight"])
        assert not torch.equal(own[f"{side}.layers.1.fc1.weight"], s1["encoder.layers.0.fc1.weight"])
    assert (f"{shallow}: the MLM has 1 layer (--init-from-mlm-partial layers): "
            "encoder.layers.1, decoder.layers.1 left random") in caplog.text

    deep, s3 = _mlm(data, tmp_path / "m3.pt", encoder_layers=3)
    caplog.clear()
    with caplog.at_level("WARNING"):
        model = task.build_model(_unmt_cfg(data, "--init-from-mlm", str(deep),
                                           "--init-from-mlm-partial", "layers"))
    own = model.state_dict()
    for i in (0, 1):
        assert torch.equal(own[f"decoder.layers.{i}.fc2.weight"], s3[f"encoder.layers.{i}.fc2.weight"])
    assert (f"{deep}: the UNMT model has 2 encoder + 2 decoder layers (--init-from-mlm-partial "
            "layers): MLM encoder.layers.2 not used") in caplog.text
    # a partial load never covers a size: the width stays an error
    narrow, _ = _mlm(data, tmp_path / "m32.pt", encoder_embed_dim=32)
    with pytest.raises(UserError, match="width 32 in the MLM, 64 in the UNMT model"):
        task.build_model(_unmt_cfg(data, "--init-from-mlm", str(narrow), "--init-from-mlm-partial",
                                   "layers,langs"))
    with pytest.raises(UserError, match="^--init-from-mlm-partial: depth is not one of layers,langs$"):
        task.build_model(_unmt_cfg(data, "--init-from-mlm", str(deep), "--init-from-mlm-partial",
                                   "depth"))


def test_languages_by_name_or_partial_by_name(data, task, tmp_path, caplog):
    """UNMT --langs aa,bb from an MLM of bb,cc: no row for aa is an error; with
    --init-from-mlm-partial langs aa starts random (warned) and bb takes the MLM's row 0."""
    path, state = _mlm(data, tmp_path / "mlm.pt", langs="bb,cc")
    with pytest.raises(UserError, match=re.escape(
            "languages bb,cc in the MLM, no row for aa of --langs aa,bb (or "
            "--init-from-mlm-partial langs to start it random)")):
        task.build_model(_unmt_cfg(data, "--init-from-mlm", str(path)))
    with caplog.at_level("WARNING"):
        model = task.build_model(_unmt_cfg(data, "--init-from-mlm", str(path),
                                           "--init-from-mlm-partial", "langs"))
    rows, mlm_rows = model.state_dict()["decoder.embed_langs.weight"], state["encoder.embed_langs.weight"]
    assert torch.equal(rows[1], mlm_rows[0])
    assert not any(torch.equal(rows[0], r) for r in mlm_rows)
    assert f"{path}: no MLM language embedding for aa (--init-from-mlm-partial langs): random init" \
        in caplog.text


def test_the_checkpoint_is_read_once(data, task, tmp_path, monkeypatch):
    """The task reads the MLM file once: positions, checks and weights all come from that read."""
    from fairseq_xdomain import compat

    path, state = _mlm(data, tmp_path / "mlm.pt", record=False)  # sizes from the tensors alone
    reads = []
    original = compat.load_trusted_checkpoint  # every read of a checkpoint file goes through it
    monkeypatch.setattr(compat, "load_trusted_checkpoint",
                        lambda p, *a, **k: reads.append(p) or original(p, *a, **k))
    cfg = _unmt_cfg(data, "--init-from-mlm", str(path))
    model = task.build_model(cfg)
    assert reads == [str(path)]
    assert cfg.max_positions == 32  # from the rows of embed_positions (no config recorded)
    assert torch.equal(model.state_dict()["encoder.layers.1.fc1.bias"], state["encoder.layers.1.fc1.bias"])


@pytest.mark.slow
def test_mlm_checkpoint_loads_with_fairseq_after_the_vectors_are_gone(data, tmp_path, monkeypatch):
    """fairseq-train --reload-emb, then the .vec folder removed: fairseq's own loader, run from
    another folder, builds the model with the checkpoint's weights (no path re-read but DATA)."""
    from fairseq import checkpoint_utils
    from fairseq.data import Dictionary

    from fairseq_xdomain.embeddings.vecio import save_vec

    words = [w for w in Dictionary.load(str(data / "dict.txt")).symbols if w.startswith(("w", "b"))]
    vec_dir = tmp_path / "fasttext"
    save_vec(vec_dir / "joint.vec", words,
             np.random.default_rng(0).normal(size=(len(words), 64)).astype(np.float32))
    save = tmp_path / "save"
    run(["fairseq-train", data, "--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "aa,bb",
         "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss", "--tokens-per-sample", "32",
         "--max-tokens", "512", "--optimizer", "adam", "--lr", "1e-3", "--max-update", "2",
         "--disable-validation", "--reload-emb", vec_dir / "joint.vec", "--save-dir", save,
         "--no-epoch-checkpoints", "--cpu", "--num-workers", "0", "--seed", "1"], env=THREADS)
    shutil.rmtree(vec_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(save / "checkpoint_last.pt")])
    saved = torch.load(save / "checkpoint_last.pt", weights_only=False)["model"]
    assert cfg.model.reload_emb == ""  # not re-read
    for key in ("encoder.embed_tokens.weight", "encoder.layers.1.fc2.weight"):
        assert torch.equal(models[0].state_dict()[key], saved[key])
    assert task.langs == ["aa", "bb"]
    # fairseq's hub loader too (the dictionary from DATA, as data_name_or_path)
    hub = XLMEncoderModel.from_pretrained(str(save), "checkpoint_last.pt", data_name_or_path=str(data))
    assert torch.equal(hub.models[0].state_dict()["encoder.embed_tokens.weight"],
                       saved["encoder.embed_tokens.weight"])
