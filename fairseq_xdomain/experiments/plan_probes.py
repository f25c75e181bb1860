"""The probes of ``--plan`` (:mod:`.plan`): each step's cost measured at the real shapes on this
machine with a short run of the same code, then extrapolated.

One probe per kind of step, each a few seconds and cached per shape:

* text steps (``sample``, ``tokenize``, ``lemmatize``, ``counts``): lines or tokens per second
  on the first lines of the real corpus, times its size (corpus sizes: the first
  :data:`COUNT_LINES` lines counted, ``diagnostics.corpus_size``, scaled to all lines);
* ``fasttext``: fastText on the first ~:data:`FT_SAMPLE_TOKENS` tokens of the real corpus with
  the real settings (once per settings), one and two epochs: seconds per epoch-token from the
  difference, the rest of the one-epoch run is set-up (the matrices), counted once; vocabulary
  from the word counts (min_count); RAM: the probe's peak plus the input/output matrices of the
  missing words (fastText: ``(words + bucket) x dim`` and ``words x dim`` float32);
* ``grid``: random embeddings of the real shape (vocabulary ``min(words, max_vocab)``, ``dim``)
  on the real torch threads: one CSLS criterion, a slice of an adversarial epoch of all seeds
  batched (seconds per sample, less the two criteria per seed that end an epoch), one
  refinement iteration, one dictionary evaluation; composed
  as :mod:`fairseq_xdomain.ubli.grid` runs them (every seed for max(E) epochs, max(R)
  refinements after each E per seed, an upper bound: branches with the same best epoch share
  theirs; one evaluation per configuration; the identity candidate for joint vectors);
* ``beyond``: the method itself on random vectors with the corpus's most frequent words, at most
  :data:`BEYOND_PROBE_WORDS` a side, its time scaled by ``n_src x n_tgt`` (CSLS over every pair
  dominates); self-learning at its induction vocabulary, two short runs giving seconds per
  iteration, times :data:`SL_ITERS_PER_PATIENCE` x patience iterations;
* ``command`` (a console tool: baselines, STDM): the tool's start-up plus its work measured in
  process;
* ``fairseq``: the real ``fairseq-train`` command (architecture, batch, precision, device,
  back-translation) for :data:`FAIRSEQ_PROBE_UPDATES` updates and one validation into a
  temporary folder (saving checkpoints as the run does); seconds per update from fairseq's elapsed ``wall`` over
  the probe (epoch ends counted in proportion), times
  the updates of the run (``max_update``, or ``max_epoch`` x updates per epoch), plus the start-up
  and one validation per epoch; peak RAM: the largest process of the tree; GPU memory
  (``nvidia-smi``).

Peak RAM of an in-process step: the resident size of a fresh driver process
(:func:`base_rss_mb`) plus the growth measured in the probe (``VmHWM`` after resetting it).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..planning import Plan, PlanRunner, StepPlan, check_fit, fmt_s, machine, write_plan
from ..steps import bin_dir
from .beyond_jobs import JOBS

logger = logging.getLogger("xdomain-run.plan")

#: lines counted per corpus for its size and vocabulary (more: scaled)
COUNT_LINES = 1_000_000
#: tokens of the fastText probe
FT_SAMPLE_TOKENS = 200_000
#: fairseq updates of a probe (the first few are start-up)
FAIRSEQ_PROBE_UPDATES = 40
#: seconds a fairseq probe may run (a slow preset on a CPU: the updates logged by then count)
FAIRSEQ_PROBE_MAX_S = 240
#: self-learning iterations per unit of patience (keep probability 0.1 -> 1 in 5 doublings, each
#: after ``patience`` iterations without improvement, and more while it improves: our runs took
#: 532 at patience 50, docs/real-en-de.md)
SL_ITERS_PER_PATIENCE = 10
#: words per side of a beyond-the-paper method's probe (its time scaled by the vocabularies)
BEYOND_PROBE_WORDS = 4000

_cache: dict = {}


# ----------------------------------------------------------------------------- memory

def _status(field: str, pid="self") -> float:
    """``field`` (``VmRSS``, ``VmHWM``) of /proc/PID/status in MiB (0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> float:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; returns the RSS (MiB)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status("VmRSS")


def peak_mb() -> float:
    """This process's peak RSS since :func:`reset_peak`, MiB."""
    return _status("VmHWM") or _status("VmRSS")


def _tree_rss_mb(pid: int) -> float:
    """The largest RSS among ``pid`` and its descendants, MiB (as ``/usr/bin/time`` reports a
    run's peak; a sum would count the pages data-loader workers share with their parent
    again)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total = max(total, _status("VmRSS", p))
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as handle:
                    todo += [int(c) for c in handle.read().split()]
    return total


def _gpu_used_mb() -> float | None:
    """GPU memory in use (nvidia-smi, first GPU), MiB; None without one."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
        return float(out.split()[0])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def run_measured(cmd: list[str], log_path, env: dict | None = None, timeout: float = 600
                 ) -> tuple[float, float, float | None, int]:
    """Run ``cmd`` (output to ``log_path``), sampling its processes' RSS and the GPU's
    memory every 0.2 s; returns (wall s, peak RSS MiB, peak GPU MiB in use above the memory in
    use before, or None, exit status)."""
    full_env = {**os.environ, **(env or {}),
                "PATH": f"{bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}
    gpu0 = _gpu_used_mb()
    peak, gpu_peak = 0.0, gpu0
    t0 = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                stdin=subprocess.DEVNULL)
        n = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_mb(proc.pid))
            if gpu0 is not None and n % 5 == 0:
                gpu_peak = max(gpu_peak or 0, _gpu_used_mb() or 0)
            n += 1
            if time.time() - t0 > timeout:
                proc.kill()
            time.sleep(0.2)
    gpu = None if gpu0 is None else max(0.0, (gpu_peak or 0) - gpu0)
    return time.time() - t0, peak, gpu, proc.returncode


def base_rss_mb() -> float:
    """Resident size of a fresh driver process once torch and the algorithms are imported
    (MiB; measured once in a child process)."""
    if "base_rss" not in _cache:
        code = ("import torch, numpy, fairseq_xdomain.ubli.grid, fairseq_xdomain.embeddings."
                "fasttext_train, fairseq_xdomain.experiments.ubli\n"
                "print(open('/proc/self/status').read())")
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        m = re.search(r"VmHWM:\s+(\d+)", out)
        _cache["base_rss"] = int(m.group(1)) / 1024 if m else 400.0
        _cache["startup_s"] = time.time() - t0
    return _cache["base_rss"]


def startup_s() -> float:
    """Seconds a console tool of this package takes to start (torch imported)."""
    base_rss_mb()
    return _cache["startup_s"]


# ----------------------------------------------------------------------------- corpora

def corpus_stats(path, ctx: dict):
    """``diagnostics.CorpusSize`` of ``path`` (or of the file it is made from, ``ctx["derived"]``),
    first :data:`COUNT_LINES` lines counted; cached. Raises UserError when it is missing."""
    from ..diagnostics import corpus_size

    path = str(path)
    while path in ctx.get("derived", {}) and not os.path.exists(path):
        path = ctx["derived"][path]
    key = ("corpus", path)
    if key not in _cache:
        t0 = time.perf_counter()
        size = corpus_size(path, COUNT_LINES)
        size.count_s = time.perf_counter() - t0
        _cache[key] = size
    return _cache[key]


def kept_words(size, min_count: int) -> int:
    """Words with count >= min_count in the whole corpus (scaled by sqrt(lines) from the counted
    lines when the count stopped early: Heaps' law with exponent 0.5)."""
    n = sum(1 for c in size.counts.values() if c >= min_count)
    if not size.complete and size.lines_read:
        n = int(n * (size.lines / size.lines_read) ** 0.5)
    return n


def _sample_file(path, ctx, tokens: int, folder) -> tuple[str, int]:
    """The first lines of the corpus of ``path`` holding ~``tokens`` tokens -> a file in
    ``folder``; returns (file, tokens in it)."""
    src = corpus_stats(path, ctx).path
    out = os.path.join(folder, "sample.txt")
    n = 0
    with open(src, encoding="utf-8", errors="replace") as inp, \
            open(out, "w", encoding="utf-8") as handle:
        for line in inp:
            handle.write(line)
            n += len(line.split())
            if n >= tokens:
                break
    return out, max(1, n)


# ----------------------------------------------------------------------------- text steps

def _lines_rate(kind: str, path, ctx, params: dict) -> float:
    """Lines per second of one worker for ``tokenize`` / ``lemmatize`` on the corpus's first
    lines."""
    key = (kind, str(corpus_stats(path, ctx).path), params.get("lang"))
    if key in _cache:
        return _cache[key]
    n = 2000 if kind == "tokenize" else 1000
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.txt")
        with open(corpus_stats(path, ctx).path, encoding="utf-8", errors="replace") as inp, \
                open(src, "w", encoding="utf-8") as out:
            for i, line in enumerate(inp):
                if i >= n:
                    break
                out.write(line)
        t0 = time.perf_counter()
        if kind == "tokenize":
            from ..preprocess.tokenize import tokenize_file

            tokenize_file(src, os.path.join(tmp, "out"), params.get("lang", "en"),
                          lowercase=params.get("lowercase", False), workers=1)
        else:
            from ..preprocess.lemmatize import lemmatize_file

            lemmatize_file(src, os.path.join(tmp, "out"), params.get("lang", "ru"))
        _cache[key] = n / max(1e-3, time.perf_counter() - t0)
    return _cache[key]


def estimate_text(rec, ctx, mach) -> StepPlan:
    name, params = rec["step"], rec["params"]
    size = corpus_stats(rec["inputs"][0], ctx)
    base = base_rss_mb()
    kind = name.split(".")[0]
    if kind == "sample":
        lines = size.lines
        return StepPlan(name, False, 1 + lines / 1e6, base + lines * 200 / 2**20,
                        how=f"{lines:,} lines read at ~1M lines/s")
    if kind == "counts":
        rate = size.tokens / max(1e-3, getattr(size, "count_s", 1.0)) * (
            size.lines_read / max(1, size.lines))
        return StepPlan(name, False, size.tokens / max(rate, 1.0),
                        base + len(size.counts) * 150 / 2**20,
                        how=f"{size.tokens:,} tokens counted at {rate:,.0f}/s (probe)")
    rate = _lines_rate(kind, rec["inputs"][0], ctx, params)
    workers = params.get("workers") or mach["cpus"]
    workers = min(workers, mach["cpus"]) if kind == "tokenize" else 1
    lines = size.lines if rec["inputs"][0] not in ctx.get("sampled", {}) \
        else ctx["sampled"][rec["inputs"][0]]
    return StepPlan(name, False, 1 + lines / (rate * workers), base + 100 * workers,
                    how=f"{lines:,} lines at {rate:,.0f} lines/s x {workers} worker(s) (probe)")


# ----------------------------------------------------------------------------- fastText

def _ft_probe(path, ctx, ft: dict) -> dict:
    """fastText on a sample of the corpus of ``path`` with the real settings: ``{per_token_epoch,
    per_token_pass, per_word_export, peak_mb, words, bucket}`` (s, s, s, MiB)."""
    from ..embeddings.fasttext_train import prepare_corpus, train_fasttext, vectors_for
    from .common import fasttext_config

    cfg = fasttext_config(ft)
    key = ("ft", str(cfg.to_dict()))  # the rate depends on the settings, not on the words
    if key in _cache:
        return _cache[key]
    with tempfile.TemporaryDirectory() as tmp:
        sample, n_tok = _sample_file(path, ctx, FT_SAMPLE_TOKENS, tmp)
        prepared = os.path.join(tmp, "prepared.txt")
        t0 = time.perf_counter()
        prepare_corpus([sample], prepared)
        t_prep = time.perf_counter() - t0
        from dataclasses import replace

        times, peak, model = {}, 0.0, None
        for epochs in (1, 2):
            model = None  # one model alive at a time, as in the run
            rss0 = reset_peak()
            t0 = time.perf_counter()
            model = train_fasttext(prepared, replace(cfg, epoch=epochs), progress=False)
            times[epochs] = time.perf_counter() - t0
            peak = max(peak, peak_mb() - rss0)
        words = model.get_words()
        t0 = time.perf_counter()
        vectors_for(model, words[:2000])
        per_word = (time.perf_counter() - t0) / max(1, min(2000, len(words)))
    per_epoch = max(times[2] - times[1], times[1] * 0.5)
    probe = {"per_token_epoch": per_epoch / n_tok, "setup_s": max(0.0, times[1] - per_epoch),
             "per_token_pass": t_prep / n_tok,
             "per_word_export": per_word * 1.5, "peak_mb": max(peak, 0.0),
             "words": len(words), "tokens": n_tok, "dim": cfg.dim,
             "bucket": cfg.bucket if cfg.maxn > 0 else 0, "epoch": cfg.epoch}
    _cache[key] = probe
    return probe


def estimate_fasttext(rec, ctx, mach) -> StepPlan:
    """A fastText step (separate or joint; hint ``corpora``, ``ft``, ``vecs``)."""
    h = rec["hint"]
    ft = h["ft"]
    sizes = [corpus_stats(c, ctx) for c in h["corpora"]]
    tokens = sum(s.tokens for s in sizes)
    probe = _ft_probe(h["corpora"][0], ctx, ft)
    min_count = ft.get("min_count", 5)
    if len(sizes) == 1:
        words = kept_words(sizes[0], min_count)
        per_lang = [words]
    else:
        from collections import Counter

        joint = Counter()
        for s in sizes:
            joint.update(s.counts)
        words = sum(1 for c in joint.values() if c >= min_count)
        per_lang = [kept_words(s, min_count) for s in sizes]
    for vec, n in zip(h.get("vecs", []), per_lang):
        ctx.setdefault("vocab", {})[vec] = n
    secs = (tokens * (probe["epoch"] * probe["per_token_epoch"] + probe["per_token_pass"])
            + probe["setup_s"] + sum(per_lang) * probe["per_word_export"]
            + sum(s.lines for s in sizes) * 2e-6 + 1.0)
    extra_words = max(0, words - probe["words"])
    types = sum(len(s.counts) for s in sizes)
    ram = (base_rss_mb() + probe["peak_mb"] + extra_words * probe["dim"] * 8 / 2**20
           + types * (250 if len(sizes) > 1 else 120) / 2**20)
    rate = 1 / probe["per_token_epoch"]
    return StepPlan(rec["step"], False, secs, ram,
                    how=f"{tokens:,} tokens x {probe['epoch']} epochs at {rate:,.0f} tokens/s "
                        f"(probe: {probe['tokens']:,} tokens), ~{words:,} words")


# ----------------------------------------------------------------------------- UBLI

def _words_for(corpus, ctx, n: int) -> list[str]:
    """The ``n`` most frequent words of a corpus (padded with made-up words)."""
    counts = corpus_stats(corpus, ctx).counts
    words = [w for w, _ in counts.most_common(n)]
    return words + [f"w{i}_pad" for i in range(n - len(words))]


def _grid_probe(n_src: int, n_tgt: int, dim: int, grid: dict, dico: str | None) -> dict:
    """Seconds of the grid's parts at the real shape (module docstring) and the probe's RAM."""
    import torch

    from ..ubli.evaluation import evaluate_translation, load_dictionary
    from ..ubli.grid_config import GridConfig
    from ..ubli.refinement import refine
    from ..ubli.selection import mean_cosine_criterion

    key = ("grid", n_src, n_tgt, dim, str(sorted(grid.items())), dico)
    if key in _cache:
        return _cache[key]
    cfg = GridConfig.from_flat({**grid, "no_progress": True}).check()
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        gen = torch.Generator().manual_seed(0)
        src = torch.nn.functional.normalize(torch.randn(n_src, dim, generator=gen), dim=1)
        tgt = torch.nn.functional.normalize(torch.randn(n_tgt, dim, generator=gen), dim=1)
        ref_cfg = cfg.refinement_config(dico_max_rank=min(cfg.refinement.dico_max_rank or n_src,
                                                          n_src, n_tgt),
                                        criterion_max_rank=min(cfg.refinement.criterion_max_rank
                                                               or n_src, n_src, n_tgt))
        rss0 = reset_peak()
        t0 = time.perf_counter()
        mean_cosine_criterion(src, tgt, ref_cfg.criterion_max_rank, ref_cfg.k_csls,
                              cfg.knn_backend)
        t_crit = time.perf_counter() - t0
        from ..ubli.adversarial import AdversarialConfig
        from ..ubli.align import adversarial_train

        adv = cfg.adversarial_config(min(cfg.adversarial.dis_most_frequent or n_src,
                                         n_src, n_tgt))
        slice_size = max(adv.batch_size * 20, min(adv.epoch_size // 10, 5000))
        probe_cfg = AdversarialConfig(**{**adv.to_dict(), "n_epochs": 1,
                                         "epoch_size": slice_size})
        t0 = time.perf_counter()
        adversarial_train(src, tgt, list(cfg.seeds), probe_cfg,
                          crit_max_rank=ref_cfg.criterion_max_rank, k_csls=ref_cfg.k_csls,
                          backend=cfg.knn_backend, progress=False)
        t_slice = time.perf_counter() - t0
        # after each epoch every seed's W is scored twice (its criterion and that of its
        # nearest orthogonal map: align.score_epoch)
        epoch_fixed = 2 * len(cfg.seeds) * t_crit
        per_sample = max(0.0, t_slice - epoch_fixed) / slice_size
        t0 = time.perf_counter()
        from dataclasses import replace

        refine(src, tgt, torch.eye(dim), replace(ref_cfg, n_refinement=1),
               backend=cfg.knn_backend)
        t_ref = time.perf_counter() - t0
        t_eval = 0.0
        if dico:
            d = load_dictionary(dico)
            src_words = list(d.gold)[:n_src]
            tgt_words = list(dict.fromkeys(t for ts in d.gold.values() for t in ts))[:n_tgt]
            sw = src_words + [f"s{i}" for i in range(n_src - len(src_words))]
            tw = tgt_words + [f"t{i}" for i in range(n_tgt - len(tgt_words))]
            t0 = time.perf_counter()
            with contextlib.suppress(Exception):
                evaluate_translation(src, tgt, sw, tw, d, k_csls=ref_cfg.k_csls,
                                     backend=cfg.knn_backend)
            t_eval = max(time.perf_counter() - t0, t_crit * 0.3)
        peak = peak_mb() - rss0
    finally:
        torch.set_num_threads(threads)
    out = {"crit": t_crit, "per_sample": per_sample, "ref": t_ref, "eval": t_eval,
           "epoch_fixed": epoch_fixed,
           "slice": slice_size, "peak_mb": max(peak, 0.0), "epoch_size": adv.epoch_size,
           "seeds": len(cfg.seeds), "epochs": sorted(cfg.epochs),
           "refinements": sorted(cfg.refinements)}
    _cache[key] = out
    return out


def _vocab(vec: str, ctx) -> int:
    """Words of a ``.vec`` file: its header when it exists, else the fastText estimate."""
    if os.path.exists(vec):
        with open(vec, encoding="utf-8", errors="replace") as handle:
            with contextlib.suppress(ValueError, IndexError):
                return int(handle.readline().split()[0])
    return ctx.get("vocab", {}).get(vec, 20000)


def estimate_grid(rec, ctx, mach) -> StepPlan:
    """A grid step (hint ``src_vec``, ``tgt_vec``, ``grid``, ``dim``, ``joint``, ``dico``)."""
    h = rec["hint"]
    grid = h["grid"]
    from ..ubli.data import MAX_VOCAB

    max_vocab = grid.get("max_vocab") or MAX_VOCAB
    n_src = min(_vocab(h["src_vec"], ctx), max_vocab)
    n_tgt = min(_vocab(h["tgt_vec"], ctx), max_vocab)
    p = _grid_probe(n_src, n_tgt, h["dim"], grid, h.get("dico"))
    e_max, n_e, r_max, n_r = max(p["epochs"]), len(p["epochs"]), max(p["refinements"]), \
        len(p["refinements"])
    adv = e_max * (p["epoch_size"] * p["per_sample"] + p["epoch_fixed"])
    ref = n_e * p["seeds"] * r_max * p["ref"]
    evals = p["seeds"] * n_e * n_r * p["eval"]
    ident = (p["crit"] + r_max * p["ref"] + n_r * p["eval"]) if h.get("joint") else 0.0
    load = (n_src + n_tgt) * h["dim"] * 2e-7 + 1.0
    secs = adv + ref + evals + ident + load
    return StepPlan(rec["step"], False, secs, base_rss_mb() + p["peak_mb"] + 50,
                    how=f"{p['seeds']} seeds x {e_max} epochs x {p['epoch_size']:,} samples at "
                        f"{p['per_sample'] * 1e3:.3f} ms (probe: {p['slice']:,}); "
                        f"{n_e * p['seeds']} x {r_max} refinements at {p['ref']:.1f}s; CSLS "
                        f"criterion {p['crit']:.1f}s (2 per seed and epoch); evaluation "
                        f"{p['eval']:.1f}s; vocab {n_src:,}/{n_tgt:,} x {h['dim']}")


def _write_random_vec(path, words: list[str], dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((len(words), dim)).astype(np.float32)
    with open(path, "w", encoding="utf-8") as out:
        out.write(f"{len(words)} {dim}\n")
        for w, v in zip(words, vecs):
            out.write(w + " " + " ".join(f"{x:.4f}" for x in v) + "\n")


def estimate_beyond(rec, ctx, mach) -> StepPlan:
    """A beyond-the-paper step (hint ``method``, ``params``, ``more``, ``corpora``, ``dim``,
    ``vecs``, ``dico``): the method run on random vectors of the real shape and words."""
    import argparse

    from ..ubli.commands.common import setup_device
    from ..ubli.pair_run import PairFiles
    from ..ubli_methods import BEYOND

    h = rec["hint"]
    m = BEYOND[h["method"]]
    params, more = dict(h["params"]), dict(h["more"])
    from ..ubli.data import MAX_VOCAB

    n = {lang: min(_vocab(v, ctx), params.get("max_vocab") or MAX_VOCAB)
         for lang, v in zip(("src", "tgt"), h["vecs"])}
    dim = h.get("dim") or ctx.get("dim", 300)
    key = ("beyond", m.producer, n["src"], n["tgt"], dim,
           str(sorted(params.items())))
    if key in _cache:
        secs, peak, how = _cache[key]
        return StepPlan(rec["step"], False, secs, peak, how=how)
    threads = params.get("threads", 0)
    # the probe's vocabulary: at most BEYOND_PROBE_WORDS a side (self-learning: its induction
    # vocabulary), its time scaled by n_src x n_tgt (CSLS over every pair dominates)
    cap = BEYOND_PROBE_WORDS if m.producer != "align" else max(
        BEYOND_PROBE_WORDS, params.get("sl_vocab") or 20000)
    probe_n = {side: min(v, cap) for side, v in n.items()}
    scale = (n["src"] * n["tgt"]) / (probe_n["src"] * probe_n["tgt"])
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for i, (side, corpus) in enumerate(zip(("src", "tgt"), h["corpora"])):
            words = _words_for(corpus, ctx, probe_n[side])
            files[side] = os.path.join(tmp, f"{side}.vec")
            _write_random_vec(files[side], words, dim, i)
            if m.producer == "reallocate":
                more[f"{side}_sep_emb"] = files[side]
                counts = corpus_stats(corpus, ctx).counts
                cpath = os.path.join(tmp, f"{side}.counts")
                with open(cpath, "w", encoding="utf-8") as out:
                    out.writelines(f"{w} {counts.get(w, 1)}\n" for w in words)
                more[f"{side}_counts"] = cpath
        joint_map = os.path.join(tmp, "W.npy")
        np.save(joint_map, np.eye(dim, dtype=np.float32))
        pair = PairFiles(src_emb=files["src"], tgt_emb=files["tgt"],
                         out=os.path.join(tmp, "out"), dico_eval=h["dico"], **h["labels"])
        runs = [(None, 0.0)]
        if m.producer == "align":
            runs = [(3, 0.0), (13, 0.0)]
        rss0 = reset_peak()
        for i, (iters, _) in enumerate(runs):
            ns = argparse.Namespace(**params, **more)
            if iters is not None:
                ns.sl_max_iter = iters
            job = JOBS[m.producer](m, ns, pair, joint_map)
            t0 = time.perf_counter()
            with contextlib.suppress(Exception):
                job(setup_device(False, threads))
            runs[i] = (iters, time.perf_counter() - t0)
        peak = peak_mb() - rss0
    if m.producer == "align":
        per_iter = max(0.0, runs[1][1] - runs[0][1]) / 10
        patience = params.get("sl_patience") or 50
        iters = SL_ITERS_PER_PATIENCE * patience
        secs = (runs[0][1] - 3 * per_iter) * scale + iters * per_iter
        how = (f"self-learning: {per_iter:.2f}s/iteration (probe: 3 and 13 iterations) x "
               f"~{iters} iterations ({SL_ITERS_PER_PATIENCE} x patience {patience})")
    else:
        secs = runs[0][1] * scale
        how = (f"{m.producer} on random vectors {probe_n['src']:,}/{probe_n['tgt']:,} x {dim} "
               f"(probe) x {scale:.1f} for {n['src']:,}/{n['tgt']:,} words")
    est = (secs + 0.5, base_rss_mb() + max(peak, 0.0) + 30, how)
    _cache[key] = est
    return StepPlan(rec["step"], False, est[0], est[1], how=how)


def estimate_command(rec, ctx, mach) -> StepPlan:
    """A console tool of the UBLI driver (``baseline.*``, ``stdm``)."""
    name = rec["step"]
    if name == "stdm":
        h = ctx.get("stdm_seconds")
        if h is None:
            from ..stdm import stdm

            p = rec["params"]
            t0 = time.perf_counter()
            stdm(rec["inputs"][0], rec["inputs"][1], docs_per_corpus=p["docs_per_corpus"],
                 lines_per_doc=p["lines_per_doc"], svd_dim=p["svd_dim"], seed=0)
            h = time.perf_counter() - t0
            how = "STDM computed in the plan"
        else:
            how = "STDM of the diagnostics, timed"
        return StepPlan(name, False, startup_s() + h, base_rss_mb() + 300, how=how)
    grid = ctx.get("grid_probe_any")
    t = grid["ref"] + 2 * grid["eval"] if grid else 5.0
    return StepPlan(name, False, startup_s() + 2 + t, base_rss_mb() + 100,
                    how="tool start-up + one refinement + evaluation (grid probe)")


# ----------------------------------------------------------------------------- fairseq

_UPD = re.compile(r"num_updates[= ](\d+).*?\bwall[= ]([\d.]+)")
_UPS = re.compile(r"\bups[= ]([\d.]+)")
_PER_EPOCH = re.compile(r"epoch \d+:\s+\d+ / (\d+)")


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \| \w+ \| (\S+) \|")


def _valid_seconds(text: str) -> float:
    """Seconds of the last validation in a fairseq log: from the last training line before its
    first ``valid`` line to that line (log time stamps, 1 s resolution); 0 without one."""
    import datetime

    last_train, t_valid = None, 0.0
    for line in text.splitlines():
        m = _STAMP.match(line)
        if not m:
            continue
        when = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        if m.group(2) in ("train_inner", "train"):
            last_train = when
        elif m.group(2) == "valid" and last_train is not None:
            t_valid = (when - last_train).total_seconds()
            last_train = None
    return max(0.0, t_valid)


def _drop_option(args: list[str], name: str) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        out.append(a)
    return out


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) \
        else None


def estimate_fairseq(rec, ctx, mach) -> StepPlan:
    """A ``fairseq-train`` step (hint ``cmd``, ``env``): the real command for a few updates."""
    h = rec["hint"]
    cmd = list(h["cmd"])
    tool, args = cmd[0], cmd[1:]
    for opt in ("--init-from-mlm", "--reload-emb", "--save-dir", "--log-file", "--max-update",
                "--log-interval", "--validate-interval-updates"):
        args = _drop_option(args, opt)
    max_update = _option(cmd, "--max-update")
    max_epoch = _option(cmd, "--max-epoch")
    k = FAIRSEQ_PROBE_UPDATES
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "train.log")
        # checkpoints are saved as the run saves them (into the probe's temporary folder): at
        # epoch ends inside the probe they are part of its elapsed time, as in the run (with
        # --no-save the tiny MLM's plan missed 79 epoch-end saves: 1.46x short)
        args += ["--save-dir", tmp, "--max-update", str(k), "--log-interval", "1",
                 "--log-file", log]
        if "--disable-validation" not in args:
            args += ["--validate-interval-updates", str(k)]
        local = bin_dir() / tool
        exe = str(local) if local.exists() else tool
        wall, peak, gpu, rc = run_measured([exe, *args], os.path.join(tmp, "stdout.log"),
                                           env=h.get("env"), timeout=FAIRSEQ_PROBE_MAX_S)
        text = Path(tmp, "stdout.log").read_text(encoding="utf-8", errors="replace")
    if rc != 0 and len(_UPD.findall(text)) < 4:  # (stopped at the time limit: enough updates)
        tail = "\n".join(text.splitlines()[-15:])
        from ..common.errors import UserError

        raise UserError(f"{rec['step']}: the fairseq probe failed (exit {rc}); its output:\n"
                        f"{tail}")
    upd = [(int(a), float(b)) for a, b in _UPD.findall(text)]
    ups = [float(x) for x in _UPS.findall(text)]
    per_epoch = [int(x) for x in _PER_EPOCH.findall(text)]
    upd_per_epoch = per_epoch[-1] if per_epoch else None
    # seconds per update from fairseq's elapsed ``wall`` (1 s resolution) over the probe after
    # its first update: epoch ends (iterators, checkpoints) are counted in proportion; fairseq's
    # own ``ups`` of one-update intervals leaves them out (it read 3-5x too fast on the tiny MLM)
    if len(upd) >= 4 and upd[-1][1] - upd[0][1] >= 5:
        (u0, w0), (u1, w1) = upd[0], upd[-1]
        per_update = max(1e-3, (w1 - w0) / max(1, u1 - u0))
        first_wall = max(0.0, w0 - u0 * per_update)
    elif len(ups) >= 4:
        per_update = 1 / max(1e-6, float(np.median(ups[len(ups) // 3:])))
        first_wall = max(0.0, upd[0][1] - upd[0][0] * per_update) if upd else 0.0
    else:
        per_update, first_wall = wall / k, 0.0
    t_valid = _valid_seconds(text)
    if max_update is not None:
        total = int(max_update)
        epochs = total / upd_per_epoch if upd_per_epoch else 1
    elif max_epoch is not None and upd_per_epoch:
        epochs = int(max_epoch)
        total = epochs * upd_per_epoch
    else:
        total, epochs = k, 1
    startup = max(0.0, wall - upd[-1][1] - t_valid) + first_wall if upd else wall
    disabled = "--disable-validation" in cmd
    secs = startup + total * per_update + (0 if disabled else int(np.ceil(epochs)) * t_valid)
    return StepPlan(rec["step"], False, secs, peak, gpu,
                    how=f"{total:,} updates at {per_update:.3f}s (probe: {k} updates, "
                        f"{'no ' if disabled else ''}validation {t_valid:.1f}s x "
                        f"{int(np.ceil(epochs))} epoch(s), start-up {startup:.0f}s)")


def estimate_fasttext_binarized(rec, ctx, mach) -> StepPlan:
    """fastText on a binarized MLM corpus (hint ``data``, ``langs``, ``ft``): its tokens from
    the ``.bin`` sizes, the rate of a probe on text drawn from ``dict.txt``."""
    h = rec["hint"]
    data = Path(h["data"])
    tokens = 0
    for lang in h["langs"]:
        for f in (data / lang).glob("train*.bin"):
            tokens += f.stat().st_size // 2
    words = []
    with open(data / "dict.txt", encoding="utf-8") as handle:
        words = [line.split()[0] for line in handle if line.strip()][:50000]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "text.txt")
        rng = np.random.default_rng(0)
        weights = 1 / np.arange(1, len(words) + 1)
        draw = rng.choice(len(words), size=min(FT_SAMPLE_TOKENS, max(tokens, 1000)),
                          p=weights / weights.sum())
        with open(path, "w", encoding="utf-8") as out:
            for i in range(0, len(draw), 20):
                out.write(" ".join(words[j] for j in draw[i:i + 20]) + "\n")
        ctx2 = dict(ctx)
        probe = _ft_probe(path, ctx2, h["ft"])
    secs = tokens * (probe["epoch"] * probe["per_token_epoch"] + probe["per_token_pass"] * 2) \
        + probe["setup_s"] + len(words) * probe["per_word_export"] + 2
    return StepPlan(rec["step"], False, secs, base_rss_mb() + probe["peak_mb"],
                    how=f"~{tokens:,} tokens x {probe['epoch']} epochs at "
                        f"{1 / probe['per_token_epoch']:,.0f} tokens/s (probe on dict words)")


# ----------------------------------------------------------------------------- dispatch

ESTIMATORS = {"fasttext": estimate_fasttext, "grid": estimate_grid, "beyond": estimate_beyond,
              "command": estimate_command, "fairseq": estimate_fairseq, "text": estimate_text,
              "fasttext_binarized": estimate_fasttext_binarized}


def _kind(rec) -> str:
    kind = rec["hint"].get("kind")
    if kind:
        return kind
    first = rec["step"].split(".")[0]
    if first in ("sample", "tokenize", "lemmatize", "counts"):
        return "text"
    return "other"


def estimate_steps(records: list[dict], ctx: dict, mach: dict) -> list[StepPlan]:
    """One :class:`StepPlan` per recorded step, in order: a step that is up to date is ``done``
    (0 s: the run skips it; a done fastText step's vectors give later steps their vocabulary),
    the others get their probe's estimate; a step without an estimator (e.g. the report) 2 s."""
    steps = []
    for rec in records:
        done = rec["status"] == "skipped"
        kind = _kind(rec)
        if done:
            steps.append(StepPlan(rec["step"], True, 0.0, 0.0, how="up to date"))
            continue
        fn = ESTIMATORS.get(kind)
        if fn is None:
            steps.append(StepPlan(rec["step"], False, 2.0, base_rss_mb(), how="small step"))
            continue
        t0 = time.perf_counter()
        print(f"plan: measuring {rec['step']} ...", end="", flush=True)
        step = fn(rec, ctx, mach)
        print(f" {fmt_s(step.est_s)} (probe {time.perf_counter() - t0:.0f}s)", flush=True)
        if kind == "grid":
            ctx["grid_probe_any"] = next(v for k, v in _cache.items() if k[0] == "grid")
        steps.append(step)
    return steps


def finish_plan(title: str, runners: list[PlanRunner], out_dir, ctx: dict | None = None,
                diagnostics: dict | None = None, notes: list[str] = ()) -> Plan:
    """Estimate every step the ``runners`` recorded (:func:`.plan_probes.estimate_steps`),
    check memory, print the table and write ``OUT_DIR/plan.json`` (+ ``plan.md``). ``ctx``:
    what the estimates share (``derived`` files, ``dim``, ``started``: the driver's start, for
    the plan's own cost). Returns the plan."""
    t0 = time.time()
    mach = machine()
    steps = estimate_steps([r for runner in runners for r in runner.records], ctx or {}, mach)
    warnings = check_fit(steps, mach)
    plan = Plan(title, steps, mach, diagnostics,
                notes=[*notes, *(f"does not fit: {n}" for n in warnings)])
    plan.plan_s = time.time() - (ctx or {}).get("started", t0)
    write_plan(plan, out_dir)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr, flush=True)
    return plan


