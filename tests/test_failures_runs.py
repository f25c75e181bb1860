"""Issue 22, kinds 2, 3 and 5: what a run is given is checked before work, and one run owns a folder.

- kind 2 (budgets and limits, ``training_checks.check_budget``): a negative ``max_update`` /
  ``max_epoch``, no stop criterion at all, ``--max-tokens`` below one MLM block, zero batch
  settings, however given (flag, preset, ``--set``, after ``--``): one line naming the setting,
  exit 2, before any step (cases 25, 31);
- kind 3 (restarts, ``training_checks.check_restart``): an explicit ``--restore-file`` that does not
  exist is an error; fairseq's default ``checkpoint_last.pt`` stays optional (case 26);
- kind 5 (``common/folder_lock.own_folder``, taken by ``steps.Runner`` and by fairseq-train for
  ``--save-dir``): a second run on the same folder stops at once naming the owner's pid; a lock
  left by a ``kill -9``-ed run does not block (case 39).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import USER_DIR, run

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.folder_lock import LOCK_NAME, own_folder, read_owner, release_folder
from fairseq_xdomain.steps import Runner, ShaCache

MLM = ["--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "aa,bb", "--arch",
       "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss", "--optimizer", "adam", "--lr", "1e-3",
       "--cpu", "--num-workers", "0"]


def config(*extra, data="DATA"):
    from fairseq_xdomain.experiments.train_args import parse_train_arguments

    return parse_train_arguments([data, *MLM, *map(str, extra)])


def refused(*extra) -> str:
    from fairseq_xdomain.training_checks import check_training_config

    with pytest.raises(UserError) as err:
        check_training_config(config(*extra))
    return str(err.value)


# ---------------------------------------------------------------- kind 2: budgets


def test_budget_edges_are_refused_naming_the_setting():
    base = ["--tokens-per-sample", "64", "--max-tokens", "1024"]
    assert refused(*base, "--max-update", "-5") == (
        "--max-update -5 (fairseq.max_update): must be >= 0 (a number of updates; 0 = no limit)")
    assert refused(*base, "--max-update", "5", "--max-epoch", "-1").startswith(
        "--max-epoch -1 (fairseq.max_epoch): must be >= 0")
    assert "no stop criterion" in refused(*base, "--max-update", "0")
    assert "no stop criterion" in refused(*base)  # nothing given at all
    assert refused("--tokens-per-sample", "64", "--max-tokens", "32", "--max-update", "5") == (
        "--max-tokens 32 is smaller than --tokens-per-sample 64: no block fits in a batch")
    assert refused("--tokens-per-sample", "64", "--max-update", "5").startswith(
        "--max-tokens / --batch-size: neither is given")
    assert refused(*base, "--max-update", "5", "--update-freq", "0").startswith("--update-freq 0")
    assert refused(*base, "--max-update", "5", "--lr", "0").startswith("--lr 0.0")


def test_budgets_that_stop_are_accepted():
    from fairseq_xdomain.training_checks import check_training_config

    base = ["--tokens-per-sample", "64", "--max-tokens", "64"]
    for extra in (["--max-update", "5"], ["--max-epoch", "1"], ["--stop-time-hours", "1"],
                  ["--max-update", "0", "--max-epoch", "2"]):
        check_training_config(config(*base, *extra))  # no exception


def test_driver_refuses_a_zero_budget_before_any_step(tmp_path):
    """``--set fairseq.max_update=0`` and ``-- --max-update -5``: refused by xdomain-run mlm before
    its first step (no fairseq-train started: no train.log)."""
    data = tmp_path / "DATA"
    for lang in ("aa", "bb"):
        (data / lang).mkdir(parents=True)
        for ext in ("bin", "idx"):
            (data / lang / f"train.{ext}").write_bytes(b"x")
    (data / "dict.txt").write_text("a 1\n", encoding="utf-8")
    common = ["xdomain-run", "mlm", "--preset", "tiny", "--emb-init", "random"]
    proc = run([*common, "--set", "fairseq.max_update=0", data, "aa,bb", tmp_path / "o1"],
               check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: --max-update 0 and --max-epoch 0 (fairseq.max_update, fairseq.max_epoch): no stop")
    proc = run([*common, data, "aa,bb", tmp_path / "o2", "--", "--max-update", "-5"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --max-update -5 (fairseq.max_update): must be >= 0 (a number of updates; "
        "0 = no limit)")
    assert not (tmp_path / "o2" / "checkpoints" / "train.log").exists()


# ---------------------------------------------------------------- kind 3: restarts


def test_missing_explicit_restore_file_is_an_error_default_is_optional(tmp_path):
    from fairseq_xdomain.training_checks import check_training_config

    base = ["--tokens-per-sample", "64", "--max-tokens", "64", "--max-update", "1",
            "--save-dir", tmp_path / "ck"]
    missing = tmp_path / "nope" / "checkpoint_last.pt"
    assert refused(*base, "--restore-file", missing).startswith(
        f"{missing}: --restore-file does not exist; fairseq would train from scratch")
    check_training_config(config(*base))  # default checkpoint_last.pt: a first run
    check_training_config(config(*base, "--restore-file", "checkpoint_last.pt"))
    existing = tmp_path / "ck0.pt"
    existing.write_bytes(b"x")
    check_training_config(config(*base, "--restore-file", existing))


def test_fairseq_train_refuses_missing_restore_file_before_reading_data(tmp_path):
    """Inside fairseq-train (compat hook on call_main): exit 2, one line, nothing trained."""
    missing = tmp_path / "nope.pt"
    proc = run(["fairseq-train", tmp_path / "no-data", *MLM, "--tokens-per-sample", "16",
                "--max-tokens", "64", "--max-update", "1", "--save-dir", tmp_path / "ck",
                "--restore-file", missing], check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {missing}: --restore-file does "
                                                           "not exist")


# ---------------------------------------------------------------- kind 5: one run owns its folder


def _holder(folder):
    """A separate process that owns ``folder`` (as a running pipeline would) until killed."""
    code = ("import sys, time; from fairseq_xdomain.common.folder_lock import own_folder; "
            "own_folder(sys.argv[1]); print('owned', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "owned"
    return proc


def test_second_run_stops_naming_the_owner_and_a_killed_owner_does_not_block(tmp_path):
    work = tmp_path / "work"
    holder = _holder(work)
    try:
        assert read_owner(work)["pid"] == holder.pid
        with pytest.raises(UserError) as err:
            Runner(work, progress=lambda line: None)
        assert str(err.value).startswith(f"{work}: in use by ")
        assert f"(pid {holder.pid})" in str(err.value)
        # a pipeline on that folder: one line, exit 2, before any step
        cfg = tmp_path / "p.yaml"
        corpora = ""
        for lang in ("aa", "bb"):
            (tmp_path / f"{lang}.txt").write_text("a b c\n" * 20, encoding="utf-8")
            corpora += (f"  - {{lang: {lang}, domain: d, train: {tmp_path / lang}.txt, "
                        "tokenizer: en}\n")
        cfg.write_text(f"output: {tmp_path / 'OUT'}\nwork_dir: {work}\ncorpora:\n{corpora}",
                       encoding="utf-8")
        proc = run(["xdomain-prep", "pipeline", "--config", cfg], check=False)
        assert proc.returncode == 2, proc.stderr[-2000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: {work}: in use by ") and f"(pid {holder.pid})" in last
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (work / LOCK_NAME).exists()  # left behind by the killed run ...
    Runner(work, progress=lambda line: None)  # ... but it does not block
    assert read_owner(work)["pid"] == os.getpid()
    release_folder(work)
    assert not (work / LOCK_NAME).exists()  # a finished run leaves no lock file


def test_fairseq_train_save_dir_is_owned(tmp_path):
    save = tmp_path / "ck"
    holder = _holder(save)
    try:
        t0 = time.time()
        proc = run(["fairseq-train", tmp_path / "no-data", *MLM, "--tokens-per-sample", "16",
                    "--max-tokens", "64", "--max-update", "1", "--save-dir", save], check=False)
        assert proc.returncode == 2, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: {save}: in use by ") and f"(pid {holder.pid})" in last
        assert time.time() - t0 < 120
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_lock_is_reentrant_and_not_in_folder_checksums(tmp_path):
    folder = own_folder(tmp_path / "w")
    (folder / "a.txt").write_text("x", encoding="utf-8")
    digest = ShaCache(tmp_path / "sha.json").sha(folder)
    release_folder(folder)
    assert not (folder / LOCK_NAME).exists()
    assert ShaCache(tmp_path / "sha2.json").sha(folder) == digest
    own_folder(folder)
    own_folder(folder)  # the same process again: a no-op
    release_folder(folder)



@pytest.mark.parametrize("kwargs,message", [
    ({"lr": 0.0}, "--lr must be positive, got 0.0"),
    ({"ws": 0}, "--ws must be positive"),
    ({"neg": 0}, "--neg must be positive"),
    ({"dim": -1}, "--dim must be positive"),
    ({"minn": 5, "maxn": 2}, "--minn 5 --maxn 2: character n-grams need 1 <= minn <= maxn"),
])
def test_fasttext_settings_at_their_edges_are_refused(kwargs, message):
    """fastText trains silently on lr 0, ws 0 or neg 0: the config refuses them on construction
    (xdomain-embed's flags and the presets' fasttext blocks both build it)."""
    from fairseq_xdomain.embeddings.fasttext_train import FastTextConfig

    with pytest.raises(UserError) as err:
        FastTextConfig(**kwargs)
    assert str(err.value).startswith(message)
    FastTextConfig(minn=0, maxn=0)  # no character n-grams: valid
