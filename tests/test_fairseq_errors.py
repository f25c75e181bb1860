"""A UserError raised by the plugin inside fairseq's own tools is one line, exit 2, no traceback.

``fairseq-train``, ``fairseq-generate`` and ``fairseq-interactive`` are fairseq's mains; the
plugin's ``sys.excepthook`` (``compat.install_user_error_hook``) gives them the behaviour of our
console tools. A bug (any other exception) keeps its traceback.
"""
from __future__ import annotations

import random

import pytest
from conftest import USER_DIR, run, write_lines

LANGS = ("aa", "bb")


@pytest.fixture(scope="module")
def mono_bin(tmp_path_factory):
    """DATA/dict.txt + DATA/{aa,bb}/{train,valid}.{bin,idx}: a tiny monolingual xlm_mlm layout
    (``binarize``: fairseq's preprocessing in this process, not two more fairseq processes)."""
    from fairseq_xdomain.preprocess.binarize import binarize

    root = tmp_path_factory.mktemp("errors_bin")
    rng = random.Random(0)
    words = {lang: [f"{lang}{i}" for i in range(12)] for lang in LANGS}
    files = {}
    for lang in LANGS:
        for split, n in (("train", 60), ("valid", 10)):
            files[split, lang] = write_lines(
                root / f"{split}.{lang}",
                [" ".join(rng.choices(words[lang], k=rng.randint(3, 8))) for _ in range(n)])
    data = root / "DATA"
    binarize(data, None, {lang: files["train", lang] for lang in LANGS},
             valid={lang: files["valid", lang] for lang in LANGS})
    return data


TRAIN_MLM = [
    "--user-dir", USER_DIR, "--task", "xlm_mlm", "--arch", "xlm_encoder_tiny",
    "--criterion", "xlm_mlm_loss", "--tokens-per-sample", "16", "--batch-size", "4",
    "--optimizer", "adam", "--lr", "1e-3", "--max-update", "1", "--cpu", "--num-workers", "0",
    "--no-save",
]


def assert_one_line_error(proc, *needles):
    """Exit 2, no traceback, and the last line of stderr is ``error: ...`` with the needles."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines and lines[-1].startswith("error: "), proc.stderr[-3000:]
    assert sum(line.startswith("error: ") for line in lines) == 1, lines[-5:]
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


def test_train_langs_not_in_data(mono_bin, tmp_path):
    proc = run(["fairseq-train", mono_bin, *TRAIN_MLM, "--langs", "aa,zz",
                "--save-dir", tmp_path / "ck"], check=False)
    assert_one_line_error(proc, str(mono_bin / "zz" / "train"), "'zz'")


def test_train_reload_emb_of_wrong_dimension(mono_bin, tmp_path):
    vec = write_lines(tmp_path / "wrong.vec", ["2 5", "aa1 1 2 3 4 5", "aa2 5 4 3 2 1"])
    proc = run(["fairseq-train", mono_bin, *TRAIN_MLM, "--langs", "aa,bb",
                "--reload-emb", vec, "--save-dir", tmp_path / "ck"], check=False)
    assert_one_line_error(proc, str(vec), "dimension 5", "64")


def test_train_without_error_exits_0(mono_bin, tmp_path):
    """The hook changes nothing when there is no error: training runs and exits 0."""
    proc = run(["fairseq-train", mono_bin, *TRAIN_MLM, "--langs", "aa,bb",
                "--save-dir", tmp_path / "ck"])
    assert "done training" in proc.stdout + proc.stderr


GENERATE = ["--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb", "--cpu",
            "--gen-subset", "valid", "--beam", "1"]


def test_generate_missing_checkpoint(mono_bin, tmp_path):
    """fairseq raised 'OSError: Model file not found' with a traceback."""
    missing = tmp_path / "nowhere" / "checkpoint_best.pt"
    proc = run(["fairseq-generate", mono_bin, "--user-dir", USER_DIR, "--task", "xlm_mlm",
                "--langs", "aa,bb", "--path", missing, "--cpu"], check=False)
    assert_one_line_error(proc, str(missing), "does not exist")


@pytest.mark.parametrize("content", [b"", b"this is a text file\nnot a model\n", b"\x80\x02K."])
def test_generate_not_a_checkpoint(mono_bin, tmp_path, content):
    """An empty, text or plain-pickle file given as --path: fairseq crashed in torch.load."""
    fake = tmp_path / "checkpoint_best.pt"
    fake.write_bytes(content)
    proc = run(["fairseq-generate", mono_bin, "--user-dir", USER_DIR, "--task", "xlm_mlm",
                "--langs", "aa,bb", "--path", fake, "--cpu"], check=False)
    assert_one_line_error(proc, str(fake), "not a PyTorch/fairseq checkpoint")


def test_generate_target_lang_not_in_langs(mono_bin, tmp_path):
    proc = run(["fairseq-generate", mono_bin, *GENERATE, "--source-lang", "aa",
                "--target-lang", "zz", "--path", tmp_path / "x.pt"], check=False)
    assert_one_line_error(proc, "--target-lang", "'zz'")


def test_interactive_data_without_dictionary(tmp_path):
    proc = run(["fairseq-interactive", tmp_path, "--user-dir", USER_DIR, "--task", "unmt_xdomain",
                "--langs", "aa,bb", "--source-lang", "aa", "--target-lang", "bb",
                "--path", tmp_path / "x.pt", "--cpu"], check=False)
    assert_one_line_error(proc, str(tmp_path / "dict.txt"))


SCRIPT = """
import sys

import torch.multiprocessing
import torch.utils.data

import fairseq_xdomain
from fairseq_xdomain.common.errors import UserError


def worker(rank, what):
    if what == "user":
        raise UserError(f"some.vec: rank {rank} says the file is wrong")
    raise ValueError("a bug")


class Items(torch.utils.data.Dataset):
    def __init__(self, what):
        self.what = what

    def __len__(self):
        return 2

    def __getitem__(self, index):
        worker(index, self.what)


if __name__ == "__main__":
    import fairseq  # noqa: F401  (before the plugin, as in fairseq's mains; not in spawned children)

    fairseq_xdomain.register()
    fairseq_xdomain.register()  # idempotent: one hook
    mode, what = sys.argv[1:]
    if mode == "spawn":  # as fairseq's distributed_utils.call_main does with several GPUs
        torch.multiprocessing.spawn(worker, args=(what,), nprocs=2, join=True)
    elif mode == "loader":  # raised in a DataLoader worker process (--num-workers 1)
        items = torch.utils.data.DataLoader(Items(what), num_workers=1)
        print(list(items))
    else:
        worker(0, what)
"""


@pytest.mark.parametrize("mode", ["main", "spawn", "loader"])
def test_hook_user_error_and_bug(tmp_path, mode):
    """UserError: one line, exit 2, also from spawned and DataLoader worker processes.

    Other errors keep their traceback.
    """
    script = tmp_path / "script.py"
    script.write_text(SCRIPT, encoding="utf-8")
    proc = run(["python", script, mode, "user"], check=False)
    line = assert_one_line_error(proc, "some.vec: rank ", "says the file is wrong")
    assert "\n" not in line
    bug = run(["python", script, mode, "bug"], check=False)
    assert bug.returncode not in (0, 2) and "Traceback" in bug.stderr, bug.stderr[-2000:]
    assert "ValueError: a bug" in bug.stderr
