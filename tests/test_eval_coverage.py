"""Evaluation never drops or crashes (issue 13, kind 4) and files that are not checkpoints.

- ``xlm_mlm`` validation scores every block whatever ``--required-batch-size-multiple``
  (fairseq 0.12.3 drops the last partial batch: 6 blocks gave "The dataset is empty", 12 gave 8).
- ``unmt_xdomain``: a dev/test pair longer than the model's positions is scored, one way, in
  validation, ``fairseq-generate`` and ``xdomain-eval-bleu``: the source is truncated to the
  positions (``eos`` kept), counted and logged; the reference is never cut; no sentence dropped.
- A file that is not a checkpoint (``xdomain-eval-bleu``, ``--init-from-mlm``) is a one-line
  error naming it.
"""
from __future__ import annotations

import json
import random
import re
from argparse import Namespace

import fairseq  # noqa: F401  (the plugin registers when fairseq is imported first)
import numpy as np
import pytest
import torch
from conftest import USER_DIR, run, write_lines

import fairseq_xdomain
from fairseq_xdomain.common.errors import UserError

fairseq_xdomain.register()

from fairseq_xdomain.preprocess.binarize import binarize_folder  # noqa: E402
from fairseq_xdomain.tasks.unmt_xdomain import UnmtXdomainConfig, UnmtXdomainTask  # noqa: E402
from fairseq_xdomain.tasks.xlm_mlm import XLMMLMConfig, XLMMLMTask  # noqa: E402

torch.set_num_threads(1)
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
POSITIONS = 32  # the tiny UNMT model's learned positions (--max-positions)
N_DEV = 12  # pairs of the dev/test set, one of them longer than POSITIONS on both sides


# ---------------------------------------------------------------- data


def _sentences(rng, words, n, lo=3, hi=9):
    return [[rng.choice(words) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


@pytest.fixture(scope="module")
def unmt_data(tmp_path_factory):
    """Word-level aa/bb data (bb = aa with renamed words) in the layout of docs/design.md; the
    dev and test sets hold one pair of 50 -> 70 words (more than POSITIONS tokens)."""
    root = tmp_path_factory.mktemp("evalcov")
    rng = random.Random(3)
    words = [f"w{i}" for i in range(30)]

    def to_bb(sent):
        return [f"b{w[1:]}" for w in sent]

    raw = root / "raw"
    for lang, conv in (("aa", lambda s: s), ("bb", to_bb)):
        write_lines(raw / f"train.{lang}", [" ".join(conv(s)) for s in _sentences(rng, words, 120)])
    for split in ("valid", "test"):
        pairs = [(s, to_bb(s)) for s in _sentences(rng, words, N_DEV - 1)]
        long_src = [rng.choice(words) for _ in range(50)]
        pairs.insert(5, (long_src, to_bb(long_src) + to_bb(long_src[:20])))
        write_lines(raw / f"{split}.aa-bb.aa", [" ".join(a) for a, _ in pairs])
        write_lines(raw / f"{split}.aa-bb.bb", [" ".join(b) for _, b in pairs])
    return binarize_folder(raw, root / "DATA")


def _mlm_data(root, n_valid_blocks):
    """A one-language MLM layout whose valid split makes ``n_valid_blocks`` blocks of
    ``--tokens-per-sample 32 --sample-break-mode complete`` (30 words + eos per sentence)."""
    from fairseq.data import Dictionary
    from fairseq.data.indexed_dataset import MMapIndexedDatasetBuilder

    rng = random.Random(0)
    words = [f"e{i}" for i in range(20)]
    dictionary = Dictionary()
    for w in words:
        dictionary.add_symbol(w)
    data = root / "DATA"
    (data / "en").mkdir(parents=True)
    dictionary.save(str(data / "dict.txt"))
    splits = {"train": _sentences(rng, words, 200),
              "valid": [[rng.choice(words) for _ in range(30)] for _ in range(n_valid_blocks)]}
    for split, sents in splits.items():
        builder = MMapIndexedDatasetBuilder(str(data / "en" / f"{split}.bin"), dtype=np.int32)
        for sent in sents:
            ids = [dictionary.index(w) for w in sent] + [dictionary.eos()]
            builder.add_item(torch.tensor(ids, dtype=torch.int32))
        builder.finalize(str(data / "en" / f"{split}.idx"))
    return data


# ---------------------------------------------------------------- xlm_mlm: every block


@pytest.mark.parametrize("n_blocks", [1, 6, 12])
def test_mlm_valid_batches_hold_every_block(tmp_path, n_blocks):
    data = _mlm_data(tmp_path, n_blocks)
    task = XLMMLMTask.setup_task(XLMMLMConfig(data=str(data), langs="en", seed=1,
                                              tokens_per_sample=32, sample_break_mode="complete"))
    task.load_dataset("valid")
    dataset = task.dataset("valid")
    assert len(dataset) == n_blocks
    for multiple in (8, 3, 1):
        itr = task.get_batch_iterator(dataset, max_tokens=4096, max_positions=32,
                                      required_batch_size_multiple=multiple,
                                      disable_iterator_cache=True)
        ids = sorted(i for batch in itr.next_epoch_itr(shuffle=False) for i in batch["id"].tolist())
        assert ids == list(range(n_blocks)), (multiple, ids)


def test_mlm_fairseq_train_validates_a_tiny_split(tmp_path):
    """Case 18 through fairseq-train: 6 validation blocks, default multiple 8: bsz 6, exit 0."""
    data = _mlm_data(tmp_path, 6)
    proc = run(["fairseq-train", data, "--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "en",
                "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss",
                "--tokens-per-sample", "32", "--sample-break-mode", "complete",
                "--max-tokens", "4096", "--optimizer", "adam", "--lr", "1e-3", "--max-update", "1",
                "--cpu", "--save-dir", tmp_path / "save", "--no-save", "--log-format", "simple",
                "--seed", "1", "--num-workers", "0"], env=THREADS)
    log = proc.stdout + proc.stderr
    valid = [line for line in log.splitlines() if "valid on 'valid' subset" in line]
    assert valid, log[-3000:]
    assert re.search(r"\| bsz 6(\.0)? ", valid[-1]), valid[-1]


# ---------------------------------------------------------------- unmt: over-long dev/test pair


def _truncations(text, split, direction):
    """{N of M} of the log line '{split} {direction}: N of M source sentences truncated to P'."""
    found = re.findall(rf"{split} {direction}: (\d+) of (\d+) source sentences truncated to "
                       rf"(\d+) tokens", text)
    return [tuple(map(int, f)) for f in found]


@pytest.fixture(scope="module")
def unmt_run(unmt_data, tmp_path_factory):
    """A tiny UNMT model (two updates) whose validation holds the over-long pair."""
    save = tmp_path_factory.mktemp("evalcov_unmt")
    proc = run(["fairseq-train", unmt_data, "--user-dir", USER_DIR, "--task", "unmt_xdomain",
                "--langs", "aa,bb", "--arch", "unmt_transformer_tiny",
                "--max-positions", str(POSITIONS), "--criterion", "cross_entropy",
                "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", "400",
                "--epoch-sentences", "40", "--max-update", "2", "--lambda-dae", "1",
                "--lambda-bt", "1", "--save-dir", save, "--no-epoch-checkpoints", "--cpu",
                "--num-workers", "0", "--seed", "1", "--log-format", "simple",
                "--required-batch-size-multiple", "8"], env=THREADS)
    return {"save": save, "log": proc.stdout + proc.stderr}


def test_validation_scores_every_pair_and_truncates_long_source(unmt_run):
    log = unmt_run["log"]
    valid = [line for line in log.splitlines() if "valid on 'valid' subset" in line]
    assert valid, log[-3000:]
    fields = dict(re.findall(r"\| (\w+) ([-\d.]+)", valid[-1]))
    # BLEU over every dev pair, in both directions (nothing dropped by the batch-size multiple)
    assert float(fields["bleu_sents_aa_bb"]) == N_DEV
    assert float(fields["bleu_sents_bb_aa"]) == N_DEV
    for direction in ("aa-bb", "bb-aa"):
        assert _truncations(log, "valid", direction)[-1] == (1, N_DEV, POSITIONS)


def test_generate_and_eval_bleu_score_every_pair_the_same_way(unmt_data, unmt_run, tmp_path):
    ckpt = unmt_run["save"] / "checkpoint_last.pt"
    gen = run(["fairseq-generate", unmt_data, "--user-dir", USER_DIR, "--task", "unmt_xdomain",
               "--langs", "aa,bb", "--source-lang", "aa", "--target-lang", "bb", "--path", ckpt,
               "--gen-subset", "valid", "--beam", "1", "--max-len-a", "1.3", "--max-len-b", "5",
               "--cpu", "--required-batch-size-multiple", "8"], env=THREADS)
    hyps = [line for line in gen.stdout.splitlines() if line.startswith("H-")]
    refs = {int(line.split("\t")[0][2:]): line.split("\t")[1]
            for line in gen.stdout.splitlines() if line.startswith("T-")}
    assert len(hyps) == N_DEV and len(refs) == N_DEV
    assert len(refs[5].split()) == 70  # the reference is never truncated
    assert _truncations(gen.stderr, "valid", "aa-bb") == [(1, N_DEV, POSITIONS)]

    ev = run(["xdomain-eval-bleu", ckpt, "--direction", "aa-bb", "--subset", "valid", "--cpu",
              "--output", tmp_path / "hyp.txt", "--json", tmp_path / "bleu.json"], env=THREADS)
    assert f"({N_DEV} sentences, 1 of them with the source truncated to {POSITIONS} tokens)" \
        in ev.stdout, ev.stdout
    assert _truncations(ev.stderr, "valid", "aa-bb") == [(1, N_DEV, POSITIONS)]
    assert len((tmp_path / "hyp.txt").read_text().splitlines()) == N_DEV
    report = json.loads((tmp_path / "bleu.json").read_text())
    assert report["sentences"] == N_DEV and report["truncated_sources"] == 1


def test_parallel_dataset_truncates_source_only(unmt_data):
    """The one rule, through the task's batch iterator: source cut to the limit with eos,
    reference whole, nothing filtered even with a model limit smaller than every sentence."""
    task = UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(unmt_data), langs="aa,bb",
                                                        source_lang="aa", target_lang="bb", seed=1))
    task.load_dataset("test")
    dataset = task.dataset("test")
    itr = task.get_batch_iterator(dataset, max_tokens=4000, max_positions=(POSITIONS, 8),
                                  required_batch_size_multiple=8)
    eos, pad = task.dictionary.eos(), task.dictionary.pad()
    seen = {}
    for batch in itr.next_epoch_itr(shuffle=False):
        for i, sid in enumerate(batch["id"].tolist()):
            seen[sid] = (batch["net_input"]["src_tokens"][i], batch["target"][i])
    assert sorted(seen) == list(range(N_DEV))
    src, tgt = seen[5]
    src = src[src.ne(pad)]
    assert len(src) == POSITIONS and src[-1] == eos
    assert int(tgt.ne(pad).sum()) == 71  # 70 words + eos
    assert dataset.truncated == {"test aa-bb": 1}


# ---------------------------------------------------------------- not a checkpoint


def NOT_A_CHECKPOINT(path, prefix="error: "):  # noqa: N802
    """The one-line message (the wording of ``compat``'s trusted loader or of ours)."""
    return re.compile(rf"{prefix}{re.escape(str(path))}: not a (PyTorch/)?fairseq checkpoint[ ,(]")


def _bad_files(tmp_path, real_ckpt):
    text = tmp_path / "notes.txt"
    text.write_text("this is a text file, not a checkpoint\n")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(real_ckpt.read_bytes()[:2000])
    no_model = tmp_path / "no_model.pt"
    torch.save({"weights": torch.zeros(2)}, no_model)
    return [text, empty, truncated, no_model]


def test_eval_bleu_not_a_checkpoint_is_one_line(unmt_run, tmp_path, capsys):
    from fairseq_xdomain import eval_bleu

    bad_files = _bad_files(tmp_path, unmt_run["save"] / "checkpoint_last.pt")
    # the console command once, end to end
    proc = run(["xdomain-eval-bleu", bad_files[0], "--direction", "aa-bb", "--cpu"], check=False,
               env=THREADS)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert NOT_A_CHECKPOINT(bad_files[0]).match(proc.stderr.strip().splitlines()[-1])
    # every kind of bad file through the same entry point, in-process
    for bad in bad_files:
        with pytest.raises(SystemExit) as stop:
            eval_bleu.main([str(bad), "--direction", "aa-bb", "--cpu"])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert NOT_A_CHECKPOINT(bad).match(err[-1]), err


def test_init_from_mlm_not_a_checkpoint_is_user_error(unmt_data, unmt_run, tmp_path):
    task = UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(unmt_data), langs="aa,bb", seed=1))
    for bad in _bad_files(tmp_path, unmt_run["save"] / "checkpoint_last.pt"):
        args = Namespace(arch="unmt_transformer_tiny", _name="unmt_transformer_tiny",
                         init_from_mlm=str(bad))
        with pytest.raises(UserError, match=NOT_A_CHECKPOINT(bad, prefix="")):
            task.build_model(args)
    args = Namespace(arch="unmt_transformer_tiny", _name="unmt_transformer_tiny",
                     init_from_mlm=str(tmp_path / "missing.pt"))
    with pytest.raises(UserError, match="missing.pt: --init-from-mlm checkpoint does not exist"):
        task.build_model(args)


# ---------------------------------------------------------------- other user errors of the tasks


def test_langs_not_in_data_is_user_error(unmt_data):
    task = UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(unmt_data), langs="aa,cc", seed=1))
    with pytest.raises(UserError, match=r"cc/train\.bin: binarized data does not exist "
                                        r"\(--langs has 'cc'; the data has aa, bb\)"):
        task.load_dataset("train")
    with pytest.raises(UserError, match=r"no parallel 'valid' set .* for --langs aa,cc \(the data "
                                        r"has valid\.aa-bb\.aa, valid\.aa-bb\.bb\)"):
        task.load_dataset("valid")
    mlm = XLMMLMTask.setup_task(XLMMLMConfig(data=str(unmt_data), langs="aa,cc", seed=1,
                                             tokens_per_sample=32))
    with pytest.raises(UserError, match=r"cc/train\.bin: not found \(training data of --langs "
                                        r"'cc'; .* has aa, bb\)"):
        mlm.load_dataset("train")
    with pytest.raises(UserError, match="no 'valid' data for any of --langs aa,cc"):
        mlm.load_dataset("valid")  # this layout has parallel dev sets only


def test_unmt_model_with_another_task_is_user_error(unmt_data):
    mlm = XLMMLMTask.setup_task(XLMMLMConfig(data=str(unmt_data), langs="aa,bb", seed=1,
                                             tokens_per_sample=32))
    from fairseq_xdomain.models.unmt_transformer import UnmtTransformerModel

    with pytest.raises(UserError, match="needs --task unmt_xdomain .*--task xlm_mlm"):
        UnmtTransformerModel.build_model(Namespace(arch="unmt_transformer_tiny"), mlm)


def test_mlm_tokens_per_sample_beyond_positions_is_user_error(unmt_data):
    from fairseq_xdomain.models.xlm_encoder import XLMEncoderConfig, XLMEncoderModel

    mlm = XLMMLMTask.setup_task(XLMMLMConfig(data=str(unmt_data), langs="aa,bb", seed=1,
                                             tokens_per_sample=32))
    cfg = XLMEncoderConfig(encoder_embed_dim=16, encoder_ffn_embed_dim=32, encoder_layers=1,
                           encoder_attention_heads=2, max_positions=16)
    with pytest.raises(UserError, match="--tokens-per-sample 32 exceeds the model's "
                                        "--max-positions 16"):
        XLMEncoderModel.build_model(cfg, mlm)


# ---------------------------------------------------------------- documented commands as written


def test_mlm_without_monolingual_valid_split_trains_without_validation(unmt_data, tmp_path):
    """This layout has parallel dev sets only: xlm_mlm turns validation off, says so, trains."""
    proc = run(["fairseq-train", unmt_data, "--user-dir", USER_DIR, "--task", "xlm_mlm",
                "--langs", "aa,bb", "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss",
                "--tokens-per-sample", "32", "--max-tokens", "1024", "--optimizer", "adam",
                "--lr", "1e-3", "--max-update", "2", "--cpu", "--save-dir", tmp_path / "save",
                "--no-save", "--log-format", "simple", "--seed", "1", "--num-workers", "0"],
               env=THREADS)
    log = proc.stdout + proc.stderr
    assert re.search(r"no monolingual valid split \(\S+aa/valid\.bin, \S+bb/valid\.bin\): "
                     r"validation disabled", log), log[-3000:]
    assert "done training" in log and "valid on 'valid' subset" not in log, log[-3000:]


def _tiny_mlm_checkpoint(data, path, max_positions):
    """An untrained xlm_encoder_tiny-sized MLM with ``max_positions`` rows, saved with its config."""
    from fairseq_xdomain.models.xlm_encoder import XLMEncoderConfig, XLMEncoderModel

    mlm = XLMMLMTask.setup_task(XLMMLMConfig(data=str(data), langs="aa,bb", seed=1,
                                             tokens_per_sample=max_positions))
    cfg = XLMEncoderConfig(encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_layers=2,
                           encoder_attention_heads=4, max_positions=max_positions)
    model = XLMEncoderModel.build_model(cfg, mlm)
    torch.save({"model": model.state_dict(),
                "cfg": {"task": {"langs": "aa,bb"}, "model": {"max_positions": max_positions}}},
               path)
    return path


def _unmt_model_cfg(data, *extra):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(options.get_training_parser(), [
        str(data), "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
        "--arch", "unmt_transformer_tiny", "--criterion", "cross_entropy", "--cpu", *extra])
    return convert_namespace_to_omegaconf(args)


def test_unmt_takes_max_positions_from_the_mlm(unmt_data, tmp_path, caplog):
    """--init-from-mlm without --max-positions: the MLM's positions (logged, kept in the model
    config that checkpoints save); a bigger --max-positions than the MLM's is a one-line error."""
    mlm = _tiny_mlm_checkpoint(unmt_data, tmp_path / "mlm.pt", 24)
    task = UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(unmt_data), langs="aa,bb", seed=1))
    cfg = _unmt_model_cfg(unmt_data, "--init-from-mlm", str(mlm))
    with caplog.at_level("INFO"):
        model = task.build_model(cfg.model)
    assert model.encoder.embed_positions.weight.shape[0] == 24
    assert model.decoder.max_positions() == 24 and cfg.model.max_positions == 24
    assert f"--max-positions 24: from the --init-from-mlm checkpoint {mlm}" in caplog.text
    smaller = task.build_model(_unmt_model_cfg(unmt_data, "--init-from-mlm", str(mlm),
                                               "--max-positions", "16").model)
    assert smaller.encoder.embed_positions.weight.shape[0] == 16
    assert task.build_model(_unmt_model_cfg(unmt_data).model).decoder.max_positions() == 256
    bigger = _unmt_model_cfg(unmt_data, "--init-from-mlm", str(mlm), "--max-positions", "32")
    with pytest.raises(UserError, match=r"^--max-positions 32 exceeds the 24 positions of the "
                                        r"--init-from-mlm checkpoint \S+mlm\.pt \(leave "
                                        r"--max-positions out to take the MLM's\)$"):
        task.build_model(bigger.model)
