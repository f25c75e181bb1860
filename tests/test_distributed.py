"""Several processes: ``xdomain-train --nproc 2 --cpu`` (gloo) for ``unmt_xdomain`` under every DDP
backend that runs on CPU and ``xlm_mlm`` under fairseq's default one, and the precision flags on
CPU.

Every rank writes a trace (``XDOMAIN_RANK_TRACE``, see fairseq_xdomain/distributed.py): the
SHA-1 of its parameters before every update and at validation, and the ids of the sentences it
trained on. The batches are sized so that an epoch has an odd number of batches: on the last
update rank 1 gets fairseq's dummy batch (``ignore_grad``) and must still make the same calls.
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from conftest import USER_DIR, run

from fairseq_xdomain.synthetic import write_cipher_data as make_cipher_data

THREADS = {"OMP_NUM_THREADS": "1"}
# fairseq's DDP back ends that run on CPU; "no_c10d" is fairseq's alias of "legacy_ddp" (the same
# wrapper, fairseq/dataclass/constants.py), so it is not run twice
BACKENDS = ["legacy_ddp", "pytorch_ddp"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Cipher pair aa/bb, 400 sentences each; the MLM validates on a copy of the training text."""
    root = tmp_path_factory.mktemp("ddp")
    data = make_cipher_data(root / "data", n_train=400, n_valid=40, vocab_size=60, seed=1)
    for lang in ("aa", "bb"):
        for ext in ("bin", "idx"):
            shutil.copy(data / lang / f"train.{ext}", data / lang / f"valid.{ext}")
    return data


def unmt_args(data, save):
    # 800 sentences, batches of 120: 7 batches -> rank 0 has 4, rank 1 has 3 and a dummy batch
    return [data, "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
            "--arch", "unmt_transformer_tiny", "--dropout", "0", "--attention-dropout", "0",
            "--criterion", "cross_entropy", "--optimizer", "adam", "--lr", "2e-3",
            "--batch-size", "120", "--max-tokens", "100000", "--max-epoch", "1",
            "--batch-size-valid", "16",  # 80 dev pairs: 3 batches on rank 0, 2 and a dummy on rank 1
            "--lambda-dae", "1", "--lambda-bt", "1", "--save-dir", save, "--no-epoch-checkpoints",
            "--seed", "1", "--num-workers", "0", "--log-format", "simple", "--log-interval", "1",
            # the monolingual valid (a copy of train, for the MLM) would add 1,600 round-trip
            # translations to every validation; rt-BLEU on two ranks: tests/test_rt_bleu.py
            "--no-rt-bleu"]


def mlm_args(data, save):
    # 248 blocks of 32 tokens, batches of 40: 7 batches (rank 1 gets a dummy batch)
    return [data, "--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "aa,bb",
            "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss", "--tokens-per-sample", "32",
            "--optimizer", "adam", "--lr", "2e-3", "--batch-size", "40", "--max-tokens", "100000",
            "--max-epoch", "1", "--save-dir", save, "--no-epoch-checkpoints", "--seed", "1",
            "--num-workers", "0", "--log-format", "simple", "--log-interval", "1"]


def launch(args, trace, nproc=2, check=True):
    return run(["xdomain-train", "--nproc", str(nproc), "--cpu", "--", *args],
               env={**THREADS, "XDOMAIN_RANK_TRACE": str(trace)}, check=check, timeout=300)


def read_trace(folder, rank):
    return [json.loads(line) for line in (folder / f"rank{rank}.jsonl").read_text().splitlines()]


def train_losses(log):
    return [float(x) for x in re.findall(r"train_inner \| .*? loss=([\d.]+)", log)]


def valid_fields(log):
    line = [ln for ln in log.splitlines() if "valid on 'valid' subset" in ln][-1]
    return {k: float(v) for k, v in re.findall(r"\| (\w+) ([-\d.]+)", line)}


def check_ranks_in_step(trace, n_updates):
    """Same parameters on both ranks before every update and at validation; returns the traces."""
    r0, r1 = read_trace(trace, 0), read_trace(trace, 1)
    steps = [[e for e in r if e["event"] == "train_step"] for r in (r0, r1)]
    assert [e["update"] for e in steps[0]] == list(range(n_updates))
    assert [e["update"] for e in steps[1]] == list(range(n_updates))
    for a, b in zip(*steps):
        assert a["params"] == b["params"], (a["update"], a["params"], b["params"])
    digests = [e["params"] for e in steps[0]]
    assert len(set(digests)) == n_updates  # and they changed at every update
    valid = [[e for e in r if e["event"] == "valid"][-1] for r in (r0, r1)]
    assert valid[0]["after_update"] == valid[1]["after_update"] == n_updates
    assert valid[0]["params"] == valid[1]["params"] not in digests
    # the last update: rank 0 a real batch, rank 1 fairseq's dummy batch
    assert not steps[0][-1]["dummy"] and steps[1][-1]["dummy"]
    assert not any(e["dummy"] for e in steps[0] + steps[1][:-1])
    return steps


@pytest.mark.parametrize("backend", BACKENDS)
def test_unmt_two_cpu_ranks(data, tmp_path, backend):
    """Both ranks back-translate their own shard every update, stay identical, loss falls."""
    trace, save = tmp_path / "trace", tmp_path / "save"
    proc = launch([*unmt_args(data, save), "--ddp-backend", backend], trace)
    log = proc.stdout + proc.stderr
    steps = check_ranks_in_step(trace, n_updates=4)
    seen = set()
    for a, b in zip(*steps):
        ids_a = set(a["ids"])
        ids_b = set(b["ids"]) if not b["dummy"] else set()
        assert ids_a and (ids_b or b["dummy"])
        assert not ids_a & ids_b  # each rank its own sentences
        seen |= ids_a | ids_b
    assert len(seen) == 800  # together: the whole epoch, once
    losses = train_losses(log)
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.3, losses
    fields = valid_fields(log)
    assert {"bleu_aa_bb", "bleu_bb_aa"} <= set(fields)
    if backend == "legacy_ddp":
        # validation of the saved model in one process: same loss and BLEU as the two ranks' sum
        one = run(["fairseq-validate", data, "--user-dir", USER_DIR, "--task", "unmt_xdomain",
                   "--langs", "aa,bb", "--criterion", "cross_entropy", "--path",
                   save / "checkpoint_last.pt", "--cpu", "--max-tokens", "100000",
                   "--batch-size", "16", "--num-workers", "0"], env=THREADS)
        single = valid_fields(one.stdout + one.stderr)
        for key in ("loss", "bleu_aa_bb", "bleu_bb_aa", "bleu"):
            assert single[key] == fields[key], (key, single, fields)


# The backends' gradient synchronisation is the same for every model: UNMT (above) runs under
# each of them; the MLM, whose own part is the criterion's sums over ranks, under fairseq's
# default one.
@pytest.mark.parametrize("backend", ["pytorch_ddp"])
def test_mlm_two_cpu_ranks(data, tmp_path, backend):
    trace, save = tmp_path / "trace", tmp_path / "save"
    proc = launch([*mlm_args(data, save), "--ddp-backend", backend], trace)
    log = proc.stdout + proc.stderr
    check_ranks_in_step(trace, n_updates=4)
    losses = train_losses(log)
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.3, losses
    fields = valid_fields(log)
    # per-language losses are sums over both ranks: the token-weighted mean is the total loss
    assert {"loss_aa", "loss_bb", "accuracy_aa", "accuracy_bb"} <= set(fields)
    assert min(fields["loss_aa"], fields["loss_bb"]) <= fields["loss"] <= max(
        fields["loss_aa"], fields["loss_bb"])


def test_launcher_stops_on_failure_and_reports_status(data, tmp_path):
    """A rank that fails (here: both, bad data folder) -> the launcher exits with its status."""
    args = unmt_args(tmp_path / "missing", tmp_path / "save")
    proc = launch(args, tmp_path / "trace", check=False)
    out = proc.stdout + proc.stderr
    assert "dict.txt: joint dictionary does not exist" in out
    m = re.search(r"xdomain-train: rank \d exited with status (\d+); stopping the other ranks", out)
    assert m and proc.returncode == int(m.group(1)) != 0, out[-3000:]
    usage = run(["xdomain-train", "--nproc", "2", "--cpu", *args], check=False)
    assert usage.returncode == 2 and usage.stderr.startswith("error: give fairseq-train's")
    own = run(["xdomain-train", "--nproc", "2", "--cpu", "--", *args,
               "--distributed-world-size", "2"], check=False)
    assert own.returncode == 2 and "--distributed-world-size: set by xdomain-train" in own.stderr


# each flag once, and each task with a half type (the flag's optimizer wrapper does not depend
# on the model)
@pytest.mark.parametrize("task,flag,dtype", [
    ("unmt", "--memory-efficient-fp16", "torch.float16"),
    ("mlm", "--bf16", "torch.bfloat16"),
    ("unmt", "--memory-efficient-bf16", "torch.bfloat16"),
])
def test_precision_flags_on_cpu(data, tmp_path, task, flag, dtype):
    """Half-precision flags that work without CUDA: the model trains in that dtype, loss falls.
    (fairseq 0.12.3 turns --bf16 into TPU mode; compat switches it off without torch_xla.)"""
    args = (mlm_args if task == "mlm" else unmt_args)(data, tmp_path / "save")
    proc = run(["fairseq-train", *args, "--max-update", "3", "--cpu", flag],
               env={**THREADS, "XDOMAIN_RANK_TRACE": str(tmp_path / "trace")})
    steps = [e for e in read_trace(tmp_path / "trace", 0) if e["event"] == "train_step"]
    assert [e["update"] for e in steps] == [0, 1, 2]
    assert all(e["dtypes"] == [dtype] for e in steps)
    losses = train_losses(proc.stdout + proc.stderr)
    assert len(losses) == 3 and np.isfinite(losses).all() and losses[-1] < losses[0], losses


def test_muse_ubli_memory_efficient_is_refused(tmp_path):
    from fairseq_xdomain.embeddings.vecio import save_vec

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        save_vec(tmp_path / f"{name}.vec", [f"{name}{i}" for i in range(50)],
                 rng.standard_normal((50, 8)))
    proc = run(["fairseq-train", "--user-dir", USER_DIR, "--task", "muse_ubli",
                "--criterion", "muse_adversarial", "--arch", "muse_mapping",
                "--src-emb", tmp_path / "a.vec", "--tgt-emb", tmp_path / "b.vec",
                "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "1", "--max-update", "2",
                "--save-dir", tmp_path / "ckpt", "--cpu", "--memory-efficient-fp16"],
               env=THREADS, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: --task muse_ubli: --memory-efficient-fp16 is not supported")
    assert "Traceback" not in proc.stderr


def test_launcher_stops_the_other_rank_when_one_dies(data, tmp_path):
    """Rank 1 killed mid-training: rank 0 (waiting in a collective) is stopped too, and the
    launcher exits with 128 + 9 like a shell."""
    import os
    import signal
    import subprocess
    import time

    from conftest import BIN

    trace = tmp_path / "trace"
    args = [*unmt_args(data, tmp_path / "save"), "--max-epoch", "1000"]
    env = {**os.environ, **THREADS, "XDOMAIN_RANK_TRACE": str(trace)}
    launcher = subprocess.Popen([str(BIN / "xdomain-train"), "--nproc", "2", "--cpu", "--",
                                 *map(str, args)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (trace / "rank1.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert (trace / "rank1.jsonl").exists(), "rank 1 never trained"
        ranks = [int(p) for p in open(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read().split()]
        assert len(ranks) == 2
        rank1 = [p for p in ranks if "--distributed-rank\x001\x00" in
                 open(f"/proc/{p}/cmdline").read()][0]
        os.kill(rank1, signal.SIGKILL)
        _, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + 9, err[-2000:]
    assert "rank 1 exited with status -9; stopping the other ranks" in err
    assert not any(os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z"
                   for p in ranks)


def test_bleu_logging_keys_do_not_depend_on_the_batch(data):
    """fairseq sums the ranks' logging outputs key by key (in the order of the keys): a rank whose
    validation batch holds one direction only must log the same keys as one that holds both."""
    import torch
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    import fairseq_xdomain

    fairseq_xdomain.register()  # imported before fairseq here (bench helpers), so register now
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        str(data), "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
        "--arch", "unmt_transformer_tiny", "--criterion", "cross_entropy", "--cpu"])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model, criterion = task.build_model(cfg.model), task.build_criterion(cfg.criterion)
    model.eval()
    task.load_dataset("valid")
    ds = task.dataset("valid")  # 40 aa->bb pairs, then 40 bb->aa
    logs = []
    for items in (range(0, 4), range(40, 44), [0, 1, 40, 41]):
        sample = ds.collater([ds[i] for i in items])
        with torch.no_grad():
            logs.append(task.valid_step(sample, model, criterion)[2])
    keys = [list(log) for log in logs]
    assert keys[0] == keys[1] == keys[2]
    assert logs[0]["_bleu_bb_aa_totals_0"] == 0 < logs[0]["_bleu_aa_bb_totals_0"]
    assert logs[1]["_bleu_aa_bb_totals_0"] == 0 < logs[1]["_bleu_bb_aa_totals_0"]
