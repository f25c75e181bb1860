"""How well round-trip BLEU selects UNMT checkpoints on a real pair (issue 24, docs/unmt.md).

    python bench/rt_bleu_real.py [--real ../shared/data/real-en-de] [--out rt_real] [--epochs 8]

The en-de data of the reference folder (``real-en-de/``, xz; never read by the package): the
technical-documentation corpora in disjoint halves as in docs/real-en-de.md (English: first half
of ``tech.en``, German: second half of ``tech.de``), lines of 3-``--max-words`` words, deduplicated,
``--lines`` lines per language for training and ``--heldout`` more (disjoint) as the monolingual
``valid`` text that round-trip BLEU reads; LibreOffice-help parallel text (``lohelp.en-de``,
pairs of 3-``--max-words`` words, deduplicated on the English side) gives 500 dev and 500 test
pairs. ``xdomain-prep pipeline`` (Moses tokenization, lowercased; one unigram sentencepiece model)
binarizes all of it, ``xdomain-run mlm --preset tiny`` trains the joint MLM (fastText-initialised,
``--mlm-updates``) on both training corpora, then one fairseq-train with the ``xdomain-run unmt
--preset tiny`` UNMT arguments (``--set`` overrides pass through; ``--epoch-sentences`` per
epoch, 1500 instead of the preset's 4000 so that an epoch takes ~2 min on one shared core),
``--epochs`` epochs and a checkpoint each epoch, logs dev BLEU and rt BLEU every epoch; the
test BLEU of every epoch's checkpoint comes from ``xdomain-eval-bleu``'s ``translate_subset``. Every BLEU is the mean of the
two directions. Printed and written to ``OUT/study.json``: the epochs' dev, rt and test BLEU,
Pearson and Spearman of rt vs dev BLEU (and vs test) over the epochs, the epoch each metric picks
and the test BLEU there, and the same for every shorter run (training stopped after epoch k).
Reruns skip what is done (data, MLM, epochs already trained, test BLEU already computed).
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rt_bleu_study import correlations, pick  # noqa: E402

LANGS = ("en", "de")


def sh(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def read_xz(path: Path) -> list[str]:
    with lzma.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in f]


def ok(line: str, max_words: int) -> bool:
    return 3 <= len(line.split()) <= max_words


def write(path: Path, lines: list[str]) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def raw_text(real: Path, out: Path, args) -> dict:
    """The raw text files (train/valid per language, dev/test pairs); their paths."""
    raw = out / "raw"
    paths = {f"{k}.{lang}": raw / f"{k}.{lang}" for k in ("train", "valid", "dev", "test")
             for lang in LANGS}
    if all(p.is_file() for p in paths.values()):
        return paths
    raw.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    for lang in LANGS:
        lines = read_xz(real / f"tech.{lang}.txt.xz")
        half = len(lines) // 2
        part = lines[:half] if lang == "en" else lines[half:]  # disjoint halves
        seen, keep = set(), []
        for line in part:
            line = line.strip()
            if ok(line, args.max_words) and line not in seen:
                seen.add(line)
                keep.append(line)
        chosen = rng.sample(keep, args.lines + args.heldout)
        write(paths[f"train.{lang}"], chosen[:args.lines])
        write(paths[f"valid.{lang}"], chosen[args.lines:])
    en, de = (read_xz(real / f"lohelp.en-de.{lang}.xz") for lang in LANGS)
    seen, pairs = set(), []
    for e, d in zip(en, de):
        e, d = e.strip(), d.strip()
        if ok(e, args.max_words) and ok(d, args.max_words) and e not in seen:
            seen.add(e)
            pairs.append((e, d))
    chosen = rng.sample(pairs, 2 * args.dev_lines)
    for split, part in (("dev", chosen[:args.dev_lines]), ("test", chosen[args.dev_lines:])):
        for i, lang in enumerate(LANGS):
            write(paths[f"{split}.{lang}"], [p[i] for p in part])
    return paths


def prepare(real: Path, out: Path, args) -> Path:
    paths = raw_text(real, out, args)
    data = out / "bin"
    if (data / "dict.txt").is_file():
        return data
    corpora = "\n".join(
        f"  - {{lang: {lang}, domain: tech, train: {paths[f'train.{lang}']}, "
        f"valid: {paths[f'valid.{lang}']}}}" for lang in LANGS)
    cfg = f"""# written by bench/rt_bleu_real.py: en.tech + de.tech, LibreOffice help dev/test
output: {data}
work_dir: {out / 'work' / 'prep'}
seed: 0
corpora:
{corpora}
parallel:
  valid: {{en: {paths['dev.en']}, de: {paths['dev.de']}}}
  test: {{en: {paths['test.en']}, de: {paths['test.de']}}}
sample: {{n: {args.lines + 1}, drop_empty: true, dedup: false}}
tokenize: {{lowercase: true, workers: 1}}
spm: {{model_type: unigram, vocab_size: {args.spm_vocab}, character_coverage: 1.0}}
"""
    write(out / "prep.yaml", cfg.splitlines())
    sh([BIN / "xdomain-prep", "pipeline", "--config", out / "prep.yaml"])
    return data


def valid_rows(log: str) -> list[dict]:
    from fairseq_xdomain.fairseq_log import parse_valid

    return parse_valid(log, fields=("epoch", "bleu", "bleu_en_de", "bleu_de_en", "rt_bleu",
                                    "rt_bleu_en", "rt_bleu_de", "num_updates"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"
                                          / "real-en-de"))
    ap.add_argument("--out", default="rt_real")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--epoch-sentences", type=int, default=1500,
                    help="UNMT sentences per epoch (the tiny preset's 4000: ~4 min an epoch here)")
    ap.add_argument("--lines", type=int, default=20000, help="training lines per language")
    ap.add_argument("--heldout", type=int, default=300, help="monolingual valid lines per language")
    ap.add_argument("--dev-lines", type=int, default=500, help="dev pairs (and as many test pairs)")
    ap.add_argument("--max-words", type=int, default=40)
    ap.add_argument("--spm-vocab", type=int, default=4000)
    ap.add_argument("--mlm-updates", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="UNMT/MLM preset override, as xdomain-run unmt --set")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = prepare(Path(args.real), out, args)

    from fairseq_xdomain.experiments import cli
    from fairseq_xdomain.experiments.unmt import unmt_settings
    from fairseq_xdomain.paths import user_dir
    from fairseq_xdomain.presets import fairseq_arguments

    drv = cli.build_parser().parse_args([
        "unmt", "--preset", "tiny", "--run", "rt-real", "--langs", "en,de", "--mlm-baseline",
        str(data), "--mlm-joint", str(data), "--epochs", str(args.epochs), "--mlm-updates",
        str(args.mlm_updates), "--seed", str(args.seed),
        "--set", f"fairseq.epoch_sentences={args.epoch_sentences}",
        *[x for o in args.overrides for x in ("--set", o)]])
    unmt, _mlm = unmt_settings(drv)
    mlm_dir = out / "mlm"
    mlm = mlm_dir / "checkpoints" / "checkpoint_last.pt"
    if not mlm.is_file():
        sh([BIN / "xdomain-run", "mlm", data, "en,de", mlm_dir, "--preset", "tiny",
            "--seed", args.seed, "--no-progress",
            "--set", f"fairseq.max_update={args.mlm_updates}",
            *[x for o in args.overrides if o.startswith("mlm.") for x in ("--set", o[4:])]])
    save = out / "unmt"
    save.mkdir(parents=True, exist_ok=True)
    log = save / "train.log"
    if not log.is_file() or len(valid_rows(log.read_text())) < args.epochs:
        # the driver's UNMT arguments, with a checkpoint every epoch (resumes checkpoint_last.pt)
        sh([BIN / "fairseq-train", data, "--user-dir", user_dir(), "--task", "unmt_xdomain",
            "--langs", "en,de", "--init-from-mlm", mlm, *fairseq_arguments(unmt, has_gpu=False),
            "--seed", args.seed, "--save-dir", save, "--max-epoch", args.epochs,
            "--best-checkpoint-metric", "bleu", "--maximize-best-checkpoint-metric",
            "--log-format", "simple", "--log-interval", "50", "--log-file", log],
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    import numpy as np
    import sacrebleu

    from fairseq_xdomain.eval_bleu import translate_subset

    rows = list({int(r["epoch"]): r for r in valid_rows(log.read_text())}.values())[:args.epochs]
    epochs = [int(r["epoch"]) for r in rows]
    dev = [round(float(r["bleu"]), 2) for r in rows]
    rt = [round(float(r["rt_bleu"]), 2) for r in rows]
    cache_path = save / "test_bleu.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    test = []
    for e in epochs:
        if str(e) not in cache:
            scores = []
            for d in ("en-de", "de-en"):
                hyps, refs = translate_subset(str(save / f"checkpoint{e}.pt"), d, str(data),
                                              "test", cpu=True)
                scores.append(sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score)
            cache[str(e)] = round(float(np.mean(scores)), 2)
            write(cache_path, [json.dumps(cache)])
            print(f"epoch {e}: test BLEU {cache[str(e)]}", flush=True)
        test.append(cache[str(e)])

    def selection(k: int) -> dict:
        """Both selectors on a run stopped after its k-th epoch."""
        ep, d, r, t = epochs[:k], dev[:k], rt[:k], test[:k]
        e_dev, e_rt = pick(ep, d), pick(ep, r)
        t_dev, t_rt = t[ep.index(e_dev)], t[ep.index(e_rt)]
        return {"stopped_after": k, "epoch_by_dev": e_dev, "test_at_dev_pick": t_dev,
                "epoch_by_rt": e_rt, "test_at_rt_pick": t_rt,
                "rt_minus_dev_test": round(t_rt - t_dev, 2),
                "epoch_best_test": pick(ep, t), "best_test": max(t)}

    study = {"data": {k: getattr(args, k) for k in ("lines", "heldout", "dev_lines", "max_words",
                                                     "spm_vocab", "mlm_updates", "epoch_sentences",
                                                     "seed")},
             "overrides": args.overrides,
             "num_updates": [int(r.get("num_updates", 0)) for r in rows], "epochs": epochs, "dev_bleu": dev, "rt_bleu": rt,
             "rt_bleu_en": [round(float(r.get("rt_bleu_en", "nan")), 2) for r in rows],
             "rt_bleu_de": [round(float(r.get("rt_bleu_de", "nan")), 2) for r in rows],
             "dev_bleu_en_de": [round(float(r.get("bleu_en_de", "nan")), 2) for r in rows],
             "dev_bleu_de_en": [round(float(r.get("bleu_de_en", "nan")), 2) for r in rows],
             "test_bleu": test, **correlations(dev, rt, test), **selection(len(epochs)),
             "shorter_runs": [selection(k) for k in range(2, len(epochs))]}
    print(json.dumps({k: v for k, v in study.items() if not isinstance(v, list)}), flush=True)
    write(out / "study.json", [json.dumps(study, indent=1)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
