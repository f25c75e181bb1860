"""The plugin loads through the real fairseq-train/--user-dir, and checkpoints reload on torch 2.13."""
from __future__ import annotations

import re

from conftest import USER_DIR, run

TINY_TRANSFORMER = [
    "--arch", "transformer", "--encoder-layers", "1", "--decoder-layers", "1",
    "--encoder-embed-dim", "16", "--decoder-embed-dim", "16",
    "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32",
    "--encoder-attention-heads", "2", "--decoder-attention-heads", "2",
    "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", "500",
    "--no-progress-bar", "--log-interval", "1", "--seed", "1", "--num-workers", "0",
    "--cpu",
]


def test_checkpoint_restore_and_generate_on_torch_2_13(tiny_parallel_bin, tmp_path):
    """The plugin registers through --user-dir (fairseq-train runs, saves); without its compat
    fix the restore and the generation fail with 'Weights only load failed'."""
    save = tmp_path / "ckpt"
    first = run([
        "fairseq-train", tiny_parallel_bin, "--user-dir", USER_DIR, "--task", "translation",
        *TINY_TRANSFORMER, "--max-update", "4", "--save-dir", save,
    ])
    assert "done training" in first.stderr + first.stdout
    assert (save / "checkpoint_last.pt").exists()
    resumed = run([
        "fairseq-train", tiny_parallel_bin, "--user-dir", USER_DIR, "--task", "translation",
        *TINY_TRANSFORMER, "--max-update", "6", "--save-dir", save,
        "--restore-file", save / "checkpoint_last.pt",
    ])
    log = resumed.stdout + resumed.stderr
    assert re.search(r"Loaded checkpoint \S*checkpoint_last\.pt \(epoch \d+ @ 4 updates\)", log), log[-3000:]
    assert re.search(r"num_updates 6\b", log), log[-3000:]

    gen = run([
        "fairseq-generate", tiny_parallel_bin, "--user-dir", USER_DIR, "--task", "translation",
        "--path", save / "checkpoint_last.pt", "--gen-subset", "valid", "--beam", "2",
        "--max-tokens", "500", "--max-len-b", "20", "--cpu",
    ])
    sources = [line for line in gen.stdout.splitlines() if line.startswith("S-")]
    hyps = [line for line in gen.stdout.splitlines() if line.startswith("H-")]
    assert len(hyps) == len(sources) >= 10, gen.stdout[-2000:]


def test_without_plugin_fairseq_cannot_reload(tiny_parallel_bin, tmp_path):
    """Guards the test above: plain fairseq 0.12.3 on torch 2.13 does fail to reload."""
    save = tmp_path / "ckpt"
    run([
        "fairseq-train", tiny_parallel_bin, "--task", "translation",
        *TINY_TRANSFORMER, "--max-update", "2", "--save-dir", save,
    ])
    gen = run([
        "fairseq-generate", tiny_parallel_bin, "--task", "translation",
        "--path", save / "checkpoint_last.pt", "--gen-subset", "valid", "--cpu",
    ], check=False)
    assert gen.returncode != 0 and "weights_only" in (gen.stderr + gen.stdout).lower().replace(" ", "_")


def test_translation_with_batch_buckets_on_numpy2(tiny_parallel_bin, tmp_path):
    """``--num-batch-buckets`` used ``np.compat.long`` (removed in NumPy 2) in LanguagePairDataset."""
    out = run([
        "fairseq-train", tiny_parallel_bin, "--user-dir", USER_DIR, "--task", "translation",
        *TINY_TRANSFORMER, "--max-update", "2", "--num-batch-buckets", "3", "--no-save",
        "--save-dir", tmp_path / "ckpt",
    ])
    log = out.stdout + out.stderr
    assert "bucketing source lengths" in log and "done training" in log, log[-3000:]
