"""`make demo`: the paper in miniature on generated data, on a 2-core CPU in under 20 minutes.

Generates two "languages" (aa, bb) x two domains (wiki, un) with a known ground truth
(`xdomain-synth mismatched`), then runs, under domain mismatch (aa wiki vs bb un):
UBLI with separate vs joint fastText (the MUSE grid, copying and identical-strings baselines,
STDM; `recipes/ubli.sh`), cross-lingual word similarity for both; then, on a second, smaller
generated pair whose bb UN text has its own terminology (`UNMT_WORLD`), the preprocessing
pipeline (`xdomain-prep pipeline`), a tiny MLM pre-training (wiki only = baseline, wiki + un =
joint) and a tiny UNMT run from each (`recipes/unmt.sh --tiny`), and finally `xdomain-report`.

Every stage is resumable (see `stages.py`): re-running reuses finished stages. Outputs go to
``./demo_out`` (``--out``); the recipes are the package's own (``fairseq_xdomain.paths``), so
``python -m fairseq_xdomain.demo`` runs from an installed wheel in any folder as well.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .common.atomic import write_text
from .common.errors import cli_entry
from .paths import recipe_path
from .stages import Stage, StageRunner

L1, L2 = "aa", "bb"

#: The UNMT stage's own generated pair: small enough for a 64-d model to learn to translate in
#: CPU-minutes (300 concepts, 5-12-word sentences; the UBLI world has 3,000 and 6-20), where the
#: UN domain of ``bb`` names 70% of its content concepts by its own terms, which ``bb``'s
#: Wikipedia never uses (``--term-leak 0``): the target-language UN text that the paper's Tables 4
#: vs 5 show to matter. The Wiki-only baseline MLM has never seen those words; the joint one has.
#: Topics and collocations differ less than in the UBLI world (focus 0.5, shift 0.1): here the
#: mismatch is the vocabulary. (Measured: with half the concepts as terms and the UBLI world's
#: focus 0.7 / shift 0.15 the baseline caught up within 24 epochs; see docs/lab-notes.md.)
UNMT_WORLD = {"n-lines": 20000, "vocab-size": 300, "n-shared": 40, "min-len": 5, "max-len": 12,
              "n-parallel": 300, "n-polysemous": 5, "domain-focus": 0.5, "context-shift": 0.1,
              "term-rate": 0.7, "term-leak": 0.0, "term-langs": L2, "seed": 0}
UNMT_SPM_VOCAB = 650  # unigram sentencepiece: ~1 piece per word (at most ~715 on this text)


def _prep_config(data: Path, out: Path, spm_vocab: int) -> str:
    return f"""# written by `make demo`: the joint (mismatched) pair aa.wiki + bb.un
output: {out / 'bin_joint'}
work_dir: {out / 'work' / 'prep_joint'}
seed: 0
corpora:
  - {{lang: {L1}, domain: wiki, train: {data / f'{L1}.wiki.txt'}, tokenizer: en}}
  - {{lang: {L2}, domain: un, train: {data / f'{L2}.un.txt'}, tokenizer: en}}
parallel:
  valid: {{{L1}: {data / f'valid.{L1}-{L2}.{L1}'}, {L2}: {data / f'valid.{L1}-{L2}.{L2}'}}}
  test: {{{L1}: {data / f'test.{L1}-{L2}.{L1}'}, {L2}: {data / f'test.{L1}-{L2}.{L2}'}}}
vocab_corpora:  # the baseline MLM's bb text shares the vocabulary (its words are pieces too)
  - {{lang: {L2}, domain: wiki, train: {data / f'{L2}.wiki.txt'}}}
sample: {{n: 1000000, drop_empty: true, dedup: false}}
tokenize: {{lowercase: false, workers: 0}}
spm: {{model_type: unigram, vocab_size: {spm_vocab}, character_coverage: 1.0}}
"""


def build_stages(out: Path, quick: bool) -> list[Stage]:
    data = out / "data"
    data_unmt = out / "data_unmt"
    res = out / "results"
    work = out / "work"
    n_lines = 20000 if quick else 60000
    pair = f"{L1}-{L2}"
    ubli_env = {
        "DIM": 64, "FT_EPOCH": 5, "MIN_COUNT": 5, "BUCKET": 200000,
        "FT_THREADS": 1,  # fastText is bit-reproducible only on one thread (Hogwild otherwise)
        "MAX_VOCAB": 20000, "EPOCH_SIZE": 3200,
        "GRID_ARGS": "--dis-hid-dim 128",
        "STDM_DOCS": 2000, "STDM_LINES": 10, "STDM_SVD": 50, "TOK_WORKERS": 1,
    }
    ubli_dir = work / "ubli" / pair
    sep = [ubli_dir / "emb" / f"separate.{L}.vec" for L in (L1, L2)]
    joint = [ubli_dir / "emb" / "joint" / f"{L}.vec" for L in (L1, L2)]
    ws_pairs = data / f"{pair}.test.data.txt"
    bin_joint, bin_wiki = out / "bin_joint", out / "bin_wiki"
    spm_model = work / "prep_joint" / "spm.model"
    prep_work = work / "prep_joint"
    grid_sep = work / "ubli" / pair / "grid_separate"
    stages = [
        Stage("data", ["xdomain-synth", "mismatched", "--out", data, "--langs", f"{L1},{L2}",
                       "--n-lines", n_lines, "--seed", 0],
              outputs=[data / "synthetic.json"]),
        Stage("ubli", ["bash", recipe_path("ubli"), "--src-lang", L1, "--tgt-lang", L2,
                       "--src-corpus", data / f"{L1}.wiki.txt", "--src-domain", "Wiki",
                       "--tgt-corpus", data / f"{L2}.un.txt", "--tgt-domain", "UN",
                       "--stdm-corpus", data / f"{L2}.wiki.txt",
                       "--dico", data / f"dict.{pair}.test.txt", "--name", pair,
                       "--results", res / "ubli", "--work", work / "ubli", "--no-tokenize"],
              outputs=[res / "ubli" / pair / "table.md"], env=ubli_env),
        Stage("wordsim-joint", [
            "xdomain-wordsim", "--src-emb", joint[0], "--tgt-emb", joint[1], "--pairs", ws_pairs,
            "--space", "joint", "--pair", pair, "--setting", "UN-Wiki w/ Joint PT",
            "--json", res / "wordsim" / "joint.json"],
            outputs=[res / "wordsim" / "joint.json"]),
        Stage("wordsim-separate", [
            "xdomain-wordsim", "--src-emb", sep[0], "--tgt-emb", sep[1], "--pairs", ws_pairs,
            "--mapping", grid_sep / "selected_W.npy", "--space", "aligned", "--pair", pair,
            "--setting", "UN-Wiki (separate, UBLI-aligned)",
            "--json", res / "wordsim" / "separate.json"],
            outputs=[res / "wordsim" / "separate.json"]),
        Stage("data-unmt", ["xdomain-synth", "mismatched", "--out", data_unmt, "--langs", f"{L1},{L2}",
                            *[x for k, v in UNMT_WORLD.items() for x in (f"--{k}", v)]],
              outputs=[data_unmt / "synthetic.json"]),
        Stage("prep-joint", ["xdomain-prep", "pipeline", "--config", out / "prep_joint.yaml"],
              outputs=[bin_joint / "dict.txt"]),
        Stage("prep-wiki", ["xdomain-prep", "binarize", "--spm-model", spm_model,
                            "--train", f"{L1}={prep_work / f'{L1}.spm.txt'}",
                            "--train", f"{L2}={prep_work / f'{L2}.wiki.spm.txt'}", "-o", bin_wiki],
              outputs=[bin_wiki / "dict.txt"]),
        Stage("unmt", ["bash", recipe_path("unmt"), "--tiny", "--run", pair,
                       "--langs", f"{L1},{L2}", "--mlm-baseline", bin_wiki, "--mlm-joint", bin_joint,
                       "--unmt-data", bin_joint, "--epochs", 3 if quick else 24,
                       "--mlm-updates", 300, "--results", res / "unmt",
                       "--jobs", 2],
              outputs=[res / "unmt" / pair / "bleu.json"]),
        Stage("report", ["xdomain-report", res, "--out", res / "report.md"],
              outputs=[res / "report.md"]),
    ]
    return stages, (bin_joint, bin_wiki, spm_model)


def headline(report: Path) -> str:
    """The report's first table (the headline: separate/baseline vs joint)."""
    lines = report.read_text(encoding="utf-8").splitlines()
    out, in_table = [], False
    for line in lines:
        if line.startswith("|"):
            in_table = True
            out.append(line)
        elif in_table:
            break
    return "\n".join(out) if out else "\n".join(lines[:30])


@cli_entry
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out",
                        help="work and results folder (default: demo_out in the current folder)")
    parser.add_argument("--quick", action="store_true", help="smaller data (a smoke run)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "prep_joint.yaml", _prep_config(out / "data_unmt", out, UNMT_SPM_VOCAB))
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    start = time.time()
    stages, _ = build_stages(out, args.quick)
    StageRunner(out).run_all(stages)
    report = out / "results" / "report.md"
    print(f"\ndemo finished in {time.time() - start:.0f}s; report: {report}\n")
    print(headline(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
