"""Cost curves: how each stage's time and memory grow along its main axis, and what that means at
the paper's sizes.

Every stage (tokenization, sentencepiece, binarization, fastText, STDM, an adversarial epoch, the
CSLS kNN, a Procrustes refinement, vocabulary reallocation, a self-learning iteration, MLM updates,
UNMT updates with back-translation) runs at 3-4 sizes along its main axis, each size in a fresh
child process on one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``, fastText
``thread=1``, ``workers=1``). Per size the child:

1. builds the inputs (generated, seeded; not timed);
2. runs the stage at a tiny *probe* size twice (the first run warms caches and lazy imports),
   timing the second: the stage's fixed cost per call (start-up, a fixed-size allocation such as
   fastText's hash buckets, an optimizer step over the parameters);
3. resets the peak RSS (``/proc/self/clear_refs``), runs the stage at the size, and records wall
   seconds, CPU seconds of the process (``time.process_time``, all threads) and peak memory:
   ``VmHWM`` during the stage minus the ``VmRSS`` after imports (inputs included, interpreter and
   libraries not).

The growth exponent ``p`` is fitted on the marginal CPU time ``t(n) - t(probe)`` as
``b (n^p - n0^p)`` (least squares in log space; ``b`` in closed form for each ``p`` on a
0.001 grid), so fixed costs do not bend the curve, and CPU time, not wall time, so that other
jobs on a shared machine barely change it. Expected exponents come from each algorithm's
complexity (``EXPECTED`` below, with the reason).

Prints one JSON object: ``{"machine": {...}, "stages": [{"name", "axis", "sizes", "seconds",
"cpu_seconds", "probe", "peak_mb", "measured_exponent", "expected_exponent", "within_0_25",
...}], "extrapolation": [...]}``; ``--out FILE`` also writes it. ``--quick``: the smallest sizes
(a smoke run: about 1.5 min of CPU, one process per stage); ``--stages a,b``: only those.

    OMP_NUM_THREADS=1 .venv/bin/python bench/scale.py [--quick] [--stages csls,fasttext] [--out F]
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
USER_DIR = str(REPO / "fairseq_xdomain")

# name: (axis, full sizes, quick sizes, probe size, expected exponent, why)
STAGES = {
    "tokenize": ("lines", [4000, 8000, 16000, 32000], [500, 1000, 2000], 100, 1.0,
                 "Moses rules per line: linear in lines"),
    "sentencepiece": ("lines", [10000, 20000, 40000, 80000], [2000, 4000, 8000], 500, 1.0,
                      "BPE training (sentence counting + merges over the distinct words) and "
                      "encoding: linear in lines"),
    "binarize": ("lines", [10000, 20000, 40000, 80000], [2000, 4000, 8000], 500, 1.0,
                 "fairseq-preprocess: one dictionary lookup per piece"),
    "fasttext": ("lines", [10000, 20000, 40000, 80000], [2000, 4000, 8000], 500, 1.0,
                 "skipgram SGD: tokens x epochs x window x (1 + negatives) x dim"),
    "stdm": ("documents per corpus", [1000, 2000, 4000, 8000], [200, 400, 800], 50, 1.0,
             "TF-IDF (sparse) and randomized SVD with a fixed rank: linear in documents"),
    "adversarial_epoch": ("samples per epoch", [512, 1024, 2048, 4096], [128, 256, 512], 64,
                          1.0, "a fixed cost per batch of 32: linear in samples"),
    "csls_knn": ("vocabulary", [3000, 6000, 12000], [1000, 2000, 4000], 250, 2.0,
                 "all-pairs similarities n x n x d (r for both sides and the scores)"),
    "procrustes_refinement": ("vocabulary", [6000, 12000, 24000, 48000], [3000, 6000, 12000],
                              3000, 1.0, "CSLS dictionary of the max_rank most frequent words "
                              "against all n (r over the full vocabulary): max_rank x n x d, then "
                              "a d x d SVD"),
    "reallocation": ("vocabulary", [20000, 40000, 80000, 160000], [5000, 10000, 20000], 1000,
                     1.0, "set and dict operations per word, one d x d Procrustes fit on the "
                     "shared words"),
    "self_learning_iteration": ("vocabulary", [4000, 8000, 12000], [1000, 2000, 4000], 500, 2.0,
                                "one n x n x d similarity, top-k per row and column (timed: "
                                "(3 iterations - 1 iteration) / 2)"),
    "mlm_update": ("sequences per batch (64 tokens)", [8, 16, 32, 64], [4, 8, 16], 1, 1.0,
                   "transformer FLOPs ~ 6 x parameters x tokens (+ attention, T = 64 fixed)"),
    "unmt_update_bt": ("max tokens per batch", [250, 500, 1000, 2000], [125, 250, 500], 60, 1.0,
                       "greedy back-translation + denoising + BT training steps: linear in the "
                       "batch at fixed sentence lengths"),
}

#: the paper's sizes and what one run needs, per stage: (paper size on the axis, multiplier for
#: what the measured setting does not include, how many times a run does it, note)
PAPER = {
    "tokenize": (5_000_000, 1.0, 2, "5M lines per corpus, 2 corpora per language pair"),
    "sentencepiece": (5_000_000, 1.0, 2, "train + encode, 2 corpora (training samples at most "
                      "2M sentences: an overestimate)"),
    "binarize": (5_000_000, 1.0, 2, "2 corpora"),
    "fasttext": (5_000_000, 15.0, 2, "measured: dim 100, 1 epoch; paper: dim 300, 5 epochs "
                 "(x3 x5); 2 separate models (a joint one costs the same as both)"),
    "stdm": (10_000, 1.0, 1, "the presets' 10,000 documents per corpus (the paper's are not given)"),
    "adversarial_epoch": (1_000_000, 4.0, 5, "MUSE: 1M samples; 4 seeds (x4), 5 epochs"),
    "csls_knn": (200_000, 1.0, 1, "one full CSLS retrieval over MUSE's 200k vocabulary"),
    "procrustes_refinement": (200_000, 5.0, 4 * 5, "max ranks 15,000/10,000 vs 3,000/2,000 "
                              "measured (x5 on the max_rank x n term); 5 refinements x 4 seeds"),
    "reallocation": (200_000, 1.0, 1, "200k vocabulary"),
    "self_learning_iteration": (20_000, 1.0, 500, "Artetxe et al. (2018): 20k induction "
                                "vocabulary; ~500 iterations (the runs of docs/real-en-de.md)"),
    "mlm_update": (32, None, 200_000, "XLM: 32 streams of 256 tokens, 1024-d, 6 layers; "
                   "200k updates (configs/mlm/paper.yaml); FLOP ratio to the measured model"),
    "unmt_update_bt": (2000, None, None, "2000 tokens per batch, 1024-d, 6+6 layers; 10 epochs "
                       "of 200k sentences (configs/unmt/paper.yaml); FLOP ratio"),
}

#: the paper's hardware, p3.16xlarge: 8 V100 (SXM2, 16 GB; fp32 15.7 TFLOPS, fp16 tensor cores
#: 125 TFLOPS peak) and 64 vCPUs (32 cores, Xeon E5-2686 v4). Assumed *achieved* rates (not
#: measured here): large fp32 GEMMs 60% of peak; fairseq fp16 transformer training 25% of the
#: tensor-core peak (MLM), half of that with greedy back-translation (small, launch-bound
#: decoding steps: UNMT); one CPU core there as fast as one core here.
V100_FP32_GEMM_GFLOPS = 0.6 * 15700
V100_FP16_TRAIN_GFLOPS = 0.25 * 125000
V100_ADV_ITERATION_S = 1.5e-3  # batch-32 MUSE iteration: ~150 kernel launches of ~10 us
#: stage -> (kind, parallel units on p3.16xlarge, basis)
P3 = {
    "tokenize": ("cpu", 32, "32 cores, --workers"),
    "sentencepiece": ("cpu", 16, "sentencepiece threads (counting and encoding parallel)"),
    "binarize": ("cpu", 32, "fairseq-preprocess --workers 32"),
    "fasttext": ("cpu", 32, "fastText -thread 32"),
    "stdm": ("cpu", 1, "single-threaded TF-IDF and SVD"),
    "adversarial_epoch": ("adv", 1, "launch-bound: 1.5 ms per iteration, 4 seeds batched on one GPU"),
    "csls_knn": ("gemm", 1, "fp32 GEMM at 60% of a V100's peak, one GPU"),
    "procrustes_refinement": ("gemm", 4, "fp32 GEMM at 60% of peak, 4 seeds on 4 GPUs"),
    "reallocation": ("cpu", 1, "one core"),
    "self_learning_iteration": ("gemm", 1, "fp32 GEMM at 60% of peak, one GPU"),
    "mlm_update": ("fp16", 1, "fp16 at 25% of tensor-core peak; --batch-size is per GPU and the "
                   "update count fixed, so 8 GPUs see 8x the data, not 8x fewer updates"),
    "unmt_update_bt": ("fp16_bt", 8, "fp16 at 12.5% of tensor-core peak (greedy BT), 8 GPUs at 90%"),
}


def p3_estimate(name: str, est_cpu_s: float, gflops_here: float, iterations: float = 0) -> float:
    """Seconds on p3.16xlarge for a stage that takes ``est_cpu_s`` on one core here."""
    kind, units, _ = P3[name]
    if kind == "cpu":
        return est_cpu_s / units
    if kind == "adv":
        return iterations * V100_ADV_ITERATION_S
    if kind == "gemm":
        return est_cpu_s * gflops_here / V100_FP32_GEMM_GFLOPS / units
    rate = V100_FP16_TRAIN_GFLOPS * (0.5 if kind == "fp16_bt" else 1.0)
    return est_cpu_s * gflops_here / rate / (units * 0.9 if units > 1 else 1)


#: measured small transformers (the paper's sizes in PAPER_MODEL)
MLM_MODEL = {"dim": 256, "ffn": 1024, "layers": 2, "heads": 4, "tokens_per_sample": 64}
UNMT_MODEL = {"dim": 256, "ffn": 1024, "layers": 2, "heads": 4}
PAPER_MODEL = {"dim": 1024, "ffn": 4096, "layers": 6, "vocab": 64000}


# -- generated inputs ------------------------------------------------------------------------------
def pseudo_words(vocab: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzäöü"
    words = set()
    while len(words) < vocab:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 10))))
    return sorted(words)


def zipf_lines(n: int, vocab: int = 20000, seed: int = 0, shift: int = 0) -> list[str]:
    """``n`` lines of 8-30 pseudo-words drawn from a Zipf(1) law; ``shift`` rotates which words
    are frequent (a different "domain" over the same lexicon)."""
    import numpy as np

    words = pseudo_words(vocab, 1234)
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    lens = rng.integers(8, 31, size=n)
    ids = (rng.choice(vocab, size=int(lens.sum()), p=p) + shift) % vocab
    out, pos = [], 0
    for length in lens:
        out.append(" ".join(words[i] for i in ids[pos:pos + length]))
        pos += length
    return out


def cached_text(work: Path, name: str, make) -> Path:
    path = work / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(make()) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return path


# -- the stages: make(n, work) -> run() ------------------------------------------------------------
def make_tokenize(n, work):
    from prep import english_like_lines

    from fairseq_xdomain.preprocess.tokenize import tokenize_blocks

    lines = english_like_lines(n, seed=0)
    return lambda: sum(len(b) for b in tokenize_blocks(lines, "en", lowercase=True, workers=1))


def make_sentencepiece(n, work):
    from fairseq_xdomain.preprocess.spm import apply_spm, train_spm

    src = cached_text(work, f"spm.{n}.txt", lambda: zipf_lines(n, seed=1))
    out = Path(tempfile.mkdtemp(dir=work))

    def run():
        train_spm([src], out / "m", vocab_size=4000, threads=1)
        apply_spm(src, out / "enc.txt", out / "m.model", threads=1)
    return run


def _spm_model(work: Path) -> Path:
    from fairseq_xdomain.preprocess.spm import train_spm

    model = work / "spm_fixed.model"
    if not model.exists():
        src = cached_text(work, "spm.fixed.txt", lambda: zipf_lines(20000, seed=2))
        train_spm([src], work / "spm_fixed", vocab_size=4000, threads=1)
    return model


def make_binarize(n, work):
    from fairseq_xdomain.preprocess.binarize import binarize
    from fairseq_xdomain.preprocess.spm import apply_spm

    model = _spm_model(work)
    enc = work / f"bin_in.{n}.txt"
    if not enc.exists():
        apply_spm(cached_text(work, f"spm.{n}.txt", lambda: zipf_lines(n, seed=1)), enc, model,
                  threads=1)
    out = Path(tempfile.mkdtemp(dir=work))
    return lambda: binarize(out / "DATA", model, train={"en": enc}, workers=1)


def make_fasttext(n, work):
    from fairseq_xdomain.embeddings.fasttext_train import FastTextConfig, train_fasttext

    corpus = cached_text(work, f"spm.{n}.txt", lambda: zipf_lines(n, seed=1))
    cfg = FastTextConfig(dim=100, epoch=1, min_count=3, thread=1, bucket=500000)
    return lambda: train_fasttext(corpus, cfg, progress=False)


def make_stdm(n, work):
    from fairseq_xdomain.stdm import stdm

    a = cached_text(work, f"stdm_a.{n}.txt", lambda: zipf_lines(10 * n, seed=3))
    b = cached_text(work, f"stdm_b.{n}.txt", lambda: zipf_lines(10 * n, seed=4, shift=500))
    return lambda: stdm(a, b, docs_per_corpus=n, lines_per_doc=10, svd_dim=100)


def _emb(n, d=300, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1)


def make_adversarial_epoch(n, work):
    from fairseq_xdomain.ubli.adversarial import AdversarialConfig, BatchedAdversarial

    src, tgt = _emb(20000, seed=1), _emb(20000, seed=2)
    cfg = AdversarialConfig(epoch_size=n)  # MUSE's defaults: discriminator 2 x 2048
    adv = BatchedAdversarial(src, tgt, [123], cfg)
    return adv.run_epoch


def make_csls_knn(n, work):
    from fairseq_xdomain.ubli.csls import csls_topk

    src, tgt = _emb(n, seed=1), _emb(n, seed=2)
    return lambda: csls_topk(src, tgt, k_csls=10, topn=10)


def make_procrustes_refinement(n, work):
    import torch

    from fairseq_xdomain.ubli.refinement import RefinementConfig, refine

    src, tgt = _emb(n, seed=1), _emb(n, seed=2)
    cfg = RefinementConfig(n_refinement=1, dico_max_rank=3000, criterion_max_rank=2000)
    return lambda: refine(src, tgt, torch.eye(300), cfg)


def make_reallocation(n, work):
    from fairseq_xdomain.ubli.reallocation import reallocate

    rng = random.Random(0)
    shared = [f"s{i}" for i in range(n // 5)]
    src_words = shared + [f"a{i}" for i in range(n - len(shared))]
    tgt_words = shared + [f"b{i}" for i in range(n - len(shared))]
    rng.shuffle(src_words)
    rng.shuffle(tgt_words)
    src_counts = {w: rng.randint(1, 1000) for w in src_words}
    tgt_counts = {w: rng.randint(1, 1000) for w in tgt_words}
    src, tgt = _emb(n, seed=1), _emb(n, seed=2)
    sep_s, sep_t = (src_words, _emb(n, seed=3)), (tgt_words, _emb(n, seed=4))
    return lambda: reallocate(src_words, src, tgt_words, tgt, src_counts, tgt_counts, 10.0,
                              sep_s, sep_t)


def make_self_learning_iteration(n, work):
    from fairseq_xdomain.ubli.self_learning import SelfLearningConfig, normalize_sl, self_learning

    x, z = normalize_sl(_emb(n, seed=1)), normalize_sl(_emb(n, seed=2))

    def run():
        """One iteration's cost: a 3-iteration run minus a 1-iteration run, halved (the
        initial dictionary and the final mapping cancel)."""
        times = {}
        for k in (1, 3):
            cfg = SelfLearningConfig(vocab=n, init_vocab=500, max_iter=k, patience=1000)
            w0, c0 = time.perf_counter(), time.process_time()
            self_learning(x, z, cfg, seed=0)
            times[k] = (time.perf_counter() - w0, time.process_time() - c0)
        return Marginal((times[3][0] - times[1][0]) / 2, (times[3][1] - times[1][1]) / 2)
    return run


def _cipher(work: Path) -> Path:
    from fairseq_xdomain.synthetic import write_cipher_data

    data = work / "cipher" / "bin"
    if not (data / "dict.txt").exists():
        write_cipher_data(work / "cipher", n_train=4000, n_valid=50, vocab_size=1000,
                          min_len=20, max_len=30)
    return data


def _trainer(argv):
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    import fairseq_xdomain

    fairseq_xdomain.register()

    args = options.parse_args_and_arch(options.get_training_parser(), [str(a) for a in argv])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    model = task.build_model(cfg.model)
    trainer = Trainer(cfg, task, model, task.build_criterion(cfg.criterion))
    state = {"itr": trainer.get_train_iterator(epoch=1, load_dataset=False)}
    state["batches"] = state["itr"].next_epoch_itr(shuffle=True)

    def steps(k):
        for _ in range(k):
            if not state["batches"].has_next():
                state["itr"] = trainer.get_train_iterator(state["itr"].next_epoch_idx,
                                                          load_dataset=False)
                state["batches"] = state["itr"].next_epoch_itr(shuffle=True)
            trainer.train_step([next(state["batches"])])
    steps(1)  # warm-up (not timed)
    n_params = sum(p.numel() for p in model.parameters())
    return steps, n_params


COMMON = ["--optimizer", "adam", "--lr", "1e-4", "--lr-scheduler", "fixed", "--cpu",
          "--num-workers", "0", "--disable-validation", "--no-save", "--seed", "1",
          "--log-format", "none", "--save-dir", "/nonexistent"]
UPDATES = 3


def _updates(work, task, arch, criterion, m, *extra):
    """A callable running UPDATES fairseq updates of ``task`` with the model sizes ``m``."""
    steps, _ = _trainer([
        _cipher(work), "--user-dir", USER_DIR, "--task", task, "--langs", "aa,bb",
        "--arch", arch, "--criterion", criterion, "--encoder-embed-dim", m["dim"],
        "--encoder-ffn-embed-dim", m["ffn"], "--encoder-layers", m["layers"],
        "--encoder-attention-heads", m["heads"], *extra, *COMMON])
    return lambda: steps(UPDATES)


def make_mlm_update(n, work):
    m = MLM_MODEL
    return _updates(work, "xlm_mlm", "xlm_encoder_tiny", "xlm_mlm_loss", m,
                    "--tokens-per-sample", m["tokens_per_sample"],
                    "--max-positions", m["tokens_per_sample"], "--batch-size", n)


def make_unmt_update_bt(n, work):
    m = UNMT_MODEL
    return _updates(work, "unmt_xdomain", "unmt_transformer_tiny", "cross_entropy", m,
                    "--decoder-layers", m["layers"], "--lambda-bt", "1", "--lambda-dae", "1",
                    "--max-tokens", n)


@dataclass
class Marginal:
    """Returned by a stage that times its own marginal part (wall and CPU seconds)."""

    seconds: float
    cpu_seconds: float


# -- measuring ---------------------------------------------------------------------------------------
def _status_kb(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def child(stage: str, sizes: list[int], probe: int, work: Path) -> list[dict]:
    """Measure ``stage`` at each of ``sizes`` (in order) in this process; see the docstring."""
    import torch

    torch.set_num_threads(1)
    rss0 = _status_kb("VmRSS")
    make = globals()[f"make_{stage}"]
    run = make(probe, work)
    run()  # warm-up
    c0 = time.process_time()
    timed = run()
    probe_cpu = time.process_time() - c0
    if isinstance(timed, Marginal):  # the stage timed its own marginal part
        probe_cpu = timed.cpu_seconds
    del run
    out = []
    for n in sizes:
        gc.collect()
        run = make(n, work)
        gc.collect()
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset VmHWM to the current RSS
        w0, c0 = time.perf_counter(), time.process_time()
        timed = run()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if isinstance(timed, Marginal):
            wall, cpu = timed.seconds, timed.cpu_seconds
        peak = (_status_kb("VmHWM") - rss0) / 1024
        del run
        out.append({"seconds": wall, "cpu_seconds": cpu, "probe_cpu_seconds": probe_cpu,
                    "peak_mb": peak})
    return out


def _fit_b(pts, n0, p) -> tuple[float, float]:
    """(squared log error, b) of ``dt = b (n^p - n0^p)`` on ``pts`` [(n, dt)] for a given p."""
    xs = [math.log(n ** p - n0 ** p) for n, _ in pts]
    ys = [math.log(dt) for _, dt in pts]
    logb = sum(y - x for x, y in zip(xs, ys)) / len(pts)
    return sum((y - x - logb) ** 2 for x, y in zip(xs, ys)), math.exp(logb)


def _marginal(sizes, times, n0, t0):
    return [(n, t - t0) for n, t in zip(sizes, times) if t - t0 > 0 and n > n0]


def fit_exponent(sizes, times, n0, t0) -> tuple[float, float]:
    """(p, b) minimising the log-space error of ``t - t0 = b (n^p - n0^p)`` (p on a 0.001
    grid); marginal times that are not positive are left out (None when fewer than 2 remain)."""
    pts = _marginal(sizes, times, n0, t0)
    if len(pts) < 2:
        return None, None
    err, b, p = min(_fit_b(pts, n0, i / 1000) + (i / 1000,) for i in range(200, 3501))
    return p, b


def loglog_slope(sizes, values) -> float | None:
    pts = [(math.log(n), math.log(v)) for n, v in zip(sizes, values) if v > 0]
    if len(pts) < 2:
        return None
    mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None


def machine_info() -> dict:
    import torch

    torch.set_num_threads(1)
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                      if ln.startswith("Model name")), "")
    except OSError:
        pass
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    t0 = time.process_time()
    for _ in range(10):
        a @ b
    gflops = 10 * 2 * 1024 ** 3 / (time.process_time() - t0) / 1e9
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "threads_used": 1,
            "python": platform.python_version(), "torch": torch.__version__,
            "gemm_fp32_gflops_1thread_cpu_time": round(gflops, 1),
            "loadavg_start": os.getloadavg()}


def measure_stage(name: str, quick: bool, work: Path) -> dict:
    axis, full, small, probe, expected, why = STAGES[name]
    sizes = small if quick else full
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", XDOMAIN_PROGRESS="0",
               TQDM_DISABLE="1")
    # full: a fresh process per size (clean peak memory); quick: one process for all sizes
    groups = [sizes] if quick else [[n] for n in sizes]
    recs = []
    for group in groups:
        proc = subprocess.run([sys.executable, __file__, "--child", name, "--size",
                               ",".join(map(str, group)), "--probe", str(probe), "--work",
                               str(work)], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            return {"name": name, "axis": axis, "error": proc.stderr[-2000:]}
        recs.extend(json.loads(proc.stdout.strip().splitlines()[-1]))
    cpu = [r["cpu_seconds"] for r in recs]
    t0 = sorted(r["probe_cpu_seconds"] for r in recs)[len(recs) // 2]  # median probe
    p, b = fit_exponent(sizes, cpu, probe, t0)
    peak = [r["peak_mb"] for r in recs]
    return {
        "name": name, "axis": axis, "sizes": sizes,
        "seconds": [round(r["seconds"], 3) for r in recs],
        "cpu_seconds": [round(c, 3) for c in cpu],
        "probe": {"size": probe, "cpu_seconds": round(t0, 4)},
        "peak_mb": [round(m, 1) for m in peak],
        "measured_exponent": None if p is None else round(p, 3),
        "raw_loglog_exponent": None if loglog_slope(sizes, cpu) is None
        else round(loglog_slope(sizes, cpu), 3),
        "memory_exponent": None if loglog_slope(sizes, peak) is None
        else round(loglog_slope(sizes, peak), 3),
        "expected_exponent": expected, "expected_because": why,
        "within_0_25": None if p is None else abs(p - expected) <= 0.25,
        "fit_b": b,
    }


def transformer_flops_per_token(dim, ffn, layers, seq, vocab, decoder_layers=0,
                                predicted=1.0):
    """Training FLOPs per token (forward + backward = 3 x forward): 2 x weights per layer
    (attention 4 d^2, FFN 2 d ffn; a decoder layer also cross-attention 4 d^2), attention scores
    2 x 2 x seq x d per layer, the output projection 2 d V on the ``predicted`` share of the
    tokens (MLM: the 15% masked ones)."""
    enc = layers * (2 * (4 * dim * dim + 2 * dim * ffn) + 4 * seq * dim)
    dec = decoder_layers * (2 * (8 * dim * dim + 2 * dim * ffn) + 8 * seq * dim)
    return 3 * (enc + dec + predicted * 2 * dim * vocab)


def transformer_train_memory_mb(dim, ffn, layers, seq, tokens, vocab, heads, decoder_layers=0,
                                predicted=1.0) -> float:
    """GPU memory of one fp16 mixed-precision training step (MB), analytic: 16 bytes per
    parameter (fp16 weights and gradients, fp32 master weights and two Adam moments), fp16
    activations per layer ``tokens x dim x (34 + 5 heads seq / dim)`` bytes (Korthikanti et al.
    2022; a decoder layer counted as 1.5 layers), and the logits of the predicted tokens (fp16
    + fp32 softmax: 6 bytes each)."""
    params = layers * (4 * dim * dim + 2 * dim * ffn) + decoder_layers * (
        8 * dim * dim + 2 * dim * ffn) + vocab * dim + 512 * dim
    act = (layers + 1.5 * decoder_layers) * tokens * dim * (34 + 5 * heads * seq / dim)
    logits = predicted * tokens * vocab * 6
    return (16 * params + act + logits) / 2 ** 20


def extrapolate(stage: dict, machine: dict) -> dict | None:
    """The stage at the paper's size (``PAPER``): CPU seconds on one core here with the expected
    exponent (``b`` refitted at that exponent on the measured marginal times) and with the
    measured one, peak memory, and the p3.16xlarge estimate (``P3``)."""
    name = stage["name"]
    if name not in PAPER or stage.get("measured_exponent") is None:
        return None
    size, mult, count, note = PAPER[name]
    n0, t0 = stage["probe"]["size"], stage["probe"]["cpu_seconds"]
    pts = _marginal(stage["sizes"], stage["cpu_seconds"], n0, t0)
    gpu_mb = None
    if name in ("mlm_update", "unmt_update_bt"):
        mlm = name == "mlm_update"
        m = MLM_MODEL if mlm else UNMT_MODEL
        seq_small, seq_paper = (64, 256) if mlm else (30, 30)
        dec = 0 if mlm else 1
        pred = 0.15 if mlm else 1.0
        f_small = transformer_flops_per_token(m["dim"], m["ffn"], m["layers"], seq_small, 1000,
                                              dec * m["layers"], pred)
        f_paper = transformer_flops_per_token(1024, 4096, 6, seq_paper, PAPER_MODEL["vocab"],
                                              dec * 6, pred)
        # per-token time of the measured model at its largest batch x FLOP ratio x tokens
        tokens_small = stage["sizes"][-1] * (64 if mlm else 1)
        per_token = (stage["cpu_seconds"][-1] / UPDATES) / tokens_small
        tokens = 32 * 256 if mlm else 2000
        one = per_token * (f_paper / f_small) * tokens
        if not mlm:  # 10 epochs x 200k sentences of ~30 tokens, 2000 tokens per batch
            count = round(10 * 200_000 / (2000 / 30))
        mult = f_paper / f_small
        one_measured = one
        gpu_mb = transformer_train_memory_mb(1024, 4096, 6, seq_paper, tokens,
                                             PAPER_MODEL["vocab"], 8, dec * 6, pred)
    else:
        _, b = _fit_b(pts, n0, stage["expected_exponent"])
        one = (t0 + b * (size ** stage["expected_exponent"] - n0 ** stage["expected_exponent"])
               ) * mult
        p = stage["measured_exponent"]
        _, bm = _fit_b(pts, n0, p)
        one_measured = (t0 + bm * (size ** p - n0 ** p)) * mult
    mem = None
    if stage["memory_exponent"] is not None and stage["peak_mb"][-1] > 0:
        mem = stage["peak_mb"][-1] * (size / stage["sizes"][-1]) ** max(
            0.0, min(stage["memory_exponent"], stage["expected_exponent"]))
    iterations = (size / 32) * count if name == "adversarial_epoch" else 0
    gflops = machine["gemm_fp32_gflops_1thread_cpu_time"]
    return {"name": name, "paper_size": size, "multiplier": mult, "count_per_run": count,
            "est_cpu_s_once": one, "est_cpu_s_run": one * count,
            "est_cpu_s_run_measured_exponent": one_measured * count,
            "est_peak_mb_once": mem, "est_gpu_mb_analytic": gpu_mb, "note": note,
            "est_p3_s_run": p3_estimate(name, one * count, gflops, iterations),
            "p3_basis": P3[name][2]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes (smoke run)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--work", help="folder for generated inputs (default: a temporary one)")
    parser.add_argument("--from-json", help="recompute the extrapolation of a stored run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sizes = [int(x) for x in args.size.split(",")]
        print(json.dumps(child(args.child, sizes, args.probe, Path(args.work))))
        return 0
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as handle:
            out = json.load(handle)
        out["extrapolation"] = [e for e in (extrapolate(s, out["machine"]) for s in out["stages"]
                                            if "error" not in s) if e]
        print(json.dumps(out, indent=1))
        return 0
    names = [s for s in args.stages.split(",") if s]
    unknown = [s for s in names if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; known: {', '.join(STAGES)}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        machine = machine_info()
        stages = []
        for name in names:
            t = time.perf_counter()
            rec = measure_stage(name, args.quick, work)
            rec["stage_wall_s"] = round(time.perf_counter() - t, 1)
            print(f"{name}: {rec.get('measured_exponent')} (expected "
                  f"{STAGES[name][4]}), {rec['stage_wall_s']} s", file=sys.stderr)
            stages.append(rec)
        machine["loadavg_end"] = os.getloadavg()
        out = {"machine": machine, "quick": args.quick,
               "peak_mb_is": "VmHWM during the stage minus VmRSS after imports (inputs "
                             "included), one child process per size",
               "exponent_fit": "marginal CPU seconds t(n) - t(probe) = b (n^p - probe^p)",
               "stages": stages,
               "extrapolation": [e for e in (extrapolate(s, machine) for s in stages
                                             if "error" not in s) if e],
               "wall_s": round(time.perf_counter() - start, 1)}
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        from fairseq_xdomain.common.atomic import write_text

        write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
