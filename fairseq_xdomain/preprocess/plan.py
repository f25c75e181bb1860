"""``xdomain-prep pipeline --plan`` (issue 23): the cost of each preprocessing step, measured on
the first lines of the real corpora on this machine and extrapolated to their size.

The pipeline goes through its steps with a :class:`~fairseq_xdomain.planning.PlanRunner`
(nothing is written but ``WORK/plan.json`` and ``WORK/plan.md``; not in the output folder, whose
checksum is the ``binarize`` step's output). Probes, each on :data:`PROBE_LINES` lines of the
step's (first existing) input: Moses tokenization (lines/s of one worker, times the workers),
lemmatization, sentencepiece training (on :data:`SPM_PROBE_LINES` lines with the real settings,
scaled linearly to ``min(lines, max_sentences)``) and encoding; reading/writing steps (sample,
align, concat) at the rate of reading the file; ``binarize``: one ``fairseq-preprocess`` start-up
(measured: a process importing it) per training language and one for the valid/parallel sets, plus
the lines at half the encoding rate. Lines of files not made yet follow the pipeline's file names (``WORK/NAME.sample.txt``
holds ``min(n, lines)`` lines, ...).
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path

from ..planning import Plan, StepPlan, check_fit, machine, write_plan

#: lines of a probe
PROBE_LINES = 2000
#: lines sentencepiece is trained on in its probe
SPM_PROBE_LINES = 20000

_cache: dict = {}


def _lines(path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def _head(path, n: int, folder) -> str:
    out = os.path.join(folder, f"head{len(os.listdir(folder))}.txt")
    with open(path, encoding="utf-8", errors="replace") as inp, \
            open(out, "w", encoding="utf-8") as handle:
        for i, line in enumerate(inp):
            if i >= n:
                break
            handle.write(line)
    return out


def _rate(key, fn) -> float:
    """Lines per second of ``fn()`` -> lines, cached under ``key``."""
    if key not in _cache:
        t0 = time.perf_counter()
        n = fn()
        _cache[key] = n / max(1e-3, time.perf_counter() - t0)
    return _cache[key]


def _rss_mb() -> float:
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 300.0


def _fairseq_startup() -> tuple[float, float]:
    """(seconds, peak RSS MiB) of a process that imports fairseq's preprocessing, as each
    ``fairseq-preprocess`` call of ``binarize`` does (measured once)."""
    if "fairseq" not in _cache:
        import subprocess
        import sys

        code = "import fairseq_cli.preprocess\nprint(open('/proc/self/status').read())"
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        secs = time.perf_counter() - t0
        m = re.search(r"VmHWM:\s+(\d+)", out)
        _cache["fairseq"] = (secs, int(m.group(1)) / 1024 if m else 400.0)
    return _cache["fairseq"]


def plan_pipeline(cfg: dict, records: list[dict], work: Path, title: str) -> Plan:
    """Estimate every step of ``records`` (a PlanRunner's, of the pipeline of config ``cfg``),
    write ``WORK/plan.json`` + ``plan.md`` and print the table; returns the plan."""
    from .lemmatize import lemmatize_file
    from .spm import apply_spm, train_spm
    from .tokenize import tokenize_file

    t_start = time.time()
    mach = machine()
    lines: dict[str, int] = {}  # file (existing or to be made) -> lines
    first: dict[str, str] = {}  # file -> an existing file it is made from (for probes)

    def n_lines(path) -> int:
        path = str(path)
        if path not in lines:
            lines[path] = _lines(path) if os.path.isfile(path) else 0
        return lines[path]

    def origin(path) -> str:
        path = str(path)
        return path if os.path.isfile(path) else first.get(path, path)

    base = _rss_mb()
    steps = []
    tmp = tempfile.mkdtemp(prefix="xdomain-plan.")
    spm_model = str(work / "spm.model") if (work / "spm.model").is_file() else None
    try:
        for rec in records:
            name, params, inputs = rec["step"], rec["params"], rec["inputs"]
            if rec["status"] == "skipped":
                steps.append(StepPlan(name, True, 0.0, 0.0, how="up to date"))
                continue  # its outputs exist: later steps count their lines
            kind, _, rest = name.partition(".")
            n_in = sum(n_lines(p) for p in inputs if not str(p).endswith((".model", ".vocab")))
            src = origin(inputs[0]) if inputs else None
            est, how, ram = 1.0, "small step", base
            if kind == "sample":
                n_out = min(params.get("n") or n_in, n_in)
                out = str(work / f"{rest}.sample.txt")
                lines[out], first[out] = n_out, src
                est, how = 1 + n_in / 5e5, f"{n_in:,} lines read, {n_out:,} kept"
                ram = base + n_out * 120 / 2**20
            elif kind in ("tokenize", "lemmatize"):
                out = str(work / f"{rest}.{'tok' if kind == 'tokenize' else 'lem'}.txt")
                lines[out], first[out] = n_in, src
                if kind == "tokenize":
                    lang = params.get("lang", "en")
                    rate = _rate(("tok", src, lang), lambda src=src, lang=lang, params=params: (tokenize_file(
                        _head(src, PROBE_LINES, tmp), os.path.join(tmp, "t.out"), lang,
                        lowercase=params.get("lowercase", False), workers=1), PROBE_LINES)[1])
                    workers = min(params.get("workers") or mach["cpus"], mach["cpus"])
                else:
                    rate = _rate(("lem", src), lambda src=src, params=params: (lemmatize_file(
                        _head(src, PROBE_LINES // 2, tmp), os.path.join(tmp, "l.out"),
                        params.get("lang", "ru")), PROBE_LINES // 2)[1])
                    workers = 1
                est = 1 + n_in / (rate * workers)
                how = f"{n_in:,} lines at {rate:,.0f} lines/s x {workers} worker(s) (probe)"
                ram = base + 100 * workers
            elif kind == "align":
                for lang, lang_file in zip((c["lang"] for c in cfg["corpora"]), inputs):
                    out = str(work / f"{rest}.{lang}.aligned.txt")
                    lines[out], first[out] = n_lines(lang_file), origin(lang_file)
                est, how = 1 + n_in / 5e5, f"{n_in:,} lines read"
            elif kind == "concat":
                out = str(work / "joint.txt")
                lines[out], first[out] = n_in, src
                est, how = 1 + n_in / 5e5, f"{n_in:,} lines copied"
            elif name == "spm.train":
                n_train = min(n_in, params.get("max_sentences") or n_in)
                probe_n = min(SPM_PROBE_LINES, max(n_train, 1))
                prefix = os.path.join(tmp, "spm")
                t0 = time.perf_counter()
                try:
                    train_spm([_head(src, probe_n, tmp)], prefix,
                              vocab_size=params["vocab_size"], model_type=params["model_type"],
                              character_coverage=params["character_coverage"],
                              max_sentences=probe_n, seed=params.get("seed", 0),
                              threads=params.get("threads") or None,
                              max_sentence_length=params["max_sentence_length"])
                    spm_model = prefix + ".model"
                    secs = time.perf_counter() - t0
                    est = secs * n_train / probe_n
                    how = (f"{n_train:,} sentences; probe: {probe_n:,} in {secs:.1f}s, "
                           f"scaled linearly")
                except Exception as err:  # noqa: BLE001 - e.g. a vocabulary too large for the probe
                    est = n_train / 2000.0
                    how = f"probe failed ({str(err)[:60]}): ~2,000 sentences/s assumed"
                ram = base + n_train * 0.0005
            elif kind == "spm":  # spm.apply.NAME
                out = str(work / f"{rest.split('.', 1)[1]}.spm.txt")
                lines[out], first[out] = n_in, src
                if spm_model and os.path.isfile(src):
                    rate = _rate(("spm", src), lambda src=src, model=spm_model: (apply_spm(
                        _head(src, PROBE_LINES, tmp), os.path.join(tmp, "s.out"), model),
                        PROBE_LINES)[1])
                    est, how = 1 + n_in / rate, f"{n_in:,} lines at {rate:,.0f} lines/s (probe)"
                else:
                    est, how = 1 + n_in / 20000, f"{n_in:,} lines at ~20,000 lines/s (assumed)"
            elif kind == "binarize":
                rate = max((v for k, v in _cache.items() if k[0] == "spm"), default=20000.0)
                start_s, start_mb = _fairseq_startup()
                calls = len(params.get("train", [])) + bool(params.get("valid")
                                                            or params.get("parallel"))
                est = calls * start_s + 2 * n_in / rate
                how = (f"{calls} fairseq-preprocess call(s) at {start_s:.0f}s start-up (probe) + "
                       f"{n_in:,} lines at half the encoding rate")
                ram = max(base, start_mb + 50)
            steps.append(StepPlan(name, False, est, ram, how=how))
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    warnings = check_fit(steps, mach)
    plan = Plan(title, steps, mach, None, notes=[f"does not fit: {w}" for w in warnings])
    plan.plan_s = time.time() - t_start
    write_plan(plan, work)
    return plan
