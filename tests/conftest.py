"""Shared test helpers: run the real console commands of the venv on tiny generated data."""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USER_DIR = str(REPO / "fairseq_xdomain")


def run(cmd, cwd=None, env=None, check=True, timeout=900):
    """Run a command (list); return CompletedProcess with text stdout/stderr.

    On failure the output is shown in the assertion message.
    """
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", "2")
    full_env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)  # our plugin must not need it
    if env:
        full_env.update(env)
    exe = cmd[0]
    if not os.path.isabs(exe) and (BIN / exe).exists():
        cmd = [str(BIN / exe), *cmd[1:]]
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc




#: The test files that cost the most CPU (the per-test profile of docs/lab-notes.md, "What the
#: test suite costs"), most first. ``make test`` runs them first (with ``--no-loadscope-reorder``,
#: so that xdist keeps this order instead of putting the files with the most tests first): the
#: small files then fill both workers up to the end, instead of one worker finishing a long
#: end-to-end file alone.
HEAVIEST_FIRST = (
    "test_unmt.py", "test_unmt_driver.py", "test_distributed.py", "test_fairseq_errors.py",
    "test_docs_examples.py", "test_experiments_ubli.py", "test_rt_bleu.py", "test_plugin.py",
    "test_ubli_unsupervised.py", "test_plan.py", "test_eval_coverage.py", "test_compat.py",
    "test_experiments_wordsim.py", "test_mlm.py", "test_gpu_check.py",
)


def pytest_collection_modifyitems(config, items):
    """The files of ``HEAVIEST_FIRST`` first, in that order; the others after them, as
    collected (the order within a file is kept)."""
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def write_lines(path, lines):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_parallel_bin(tmp_path_factory):
    """A tiny binarized translation dataset (fairseq-preprocess), for plugin smoke tests."""
    root = tmp_path_factory.mktemp("tinybin")
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(40)]
    src = [" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 8))) for _ in range(200)]
    tgt = [" ".join(f"x{w[1:]}" for w in s.split()) for s in src]
    for split, sl in (("train", slice(0, 180)), ("valid", slice(180, 200))):
        write_lines(root / f"raw/{split}.aa", src[sl])
        write_lines(root / f"raw/{split}.bb", tgt[sl])
    run([
        "fairseq-preprocess", "--source-lang", "aa", "--target-lang", "bb",
        "--trainpref", root / "raw/train", "--validpref", root / "raw/valid",
        "--destdir", root / "bin", "--workers", "1",
    ])
    return root / "bin"


def cipher_pair_without_dev(root, n_train, n_valid=40, n_test=40):
    """A generated cipher pair aa/bb binarized under ROOT/bin with monolingual valid text, a
    parallel test set and NO parallel dev set (what round-trip BLEU selects on); returns
    (raw folder, data folder)."""
    from fairseq_xdomain.preprocess.binarize import binarize
    from fairseq_xdomain.synthetic import write_cipher_pair

    raw, data = Path(root) / "raw", Path(root) / "bin"
    write_cipher_pair(raw, n_train=n_train, n_valid=n_valid, n_test=n_test, vocab_size=60, seed=1)
    langs = ("aa", "bb")
    binarize(data, None, {x: raw / f"train.{x}" for x in langs},
             valid={x: raw / f"valid.aa-bb.{x}" for x in langs},
             parallel={"test": {x: raw / f"test.aa-bb.{x}" for x in langs}})
    assert not list(data.glob("valid.*"))
    return raw, data


def parser_of(main, argv=()):
    """The ``argparse`` parser a console ``main`` builds (caught at ``parse_args``)."""

    class Got(Exception):
        pass

    def grab(self, *args, **kwargs):
        raise Got(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(argparse.ArgumentParser, "parse_args", grab)
        with pytest.raises(Got) as got:
            main(list(argv))
    return got.value.args[0]


@pytest.fixture
def one_thread():
    """Run with one torch thread (reproducible rounding), restoring the previous setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
