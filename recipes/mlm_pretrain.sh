#!/usr/bin/env bash
# Joint cross-lingual masked-LM pre-training (XLM-style) from binarized data to a checkpoint.
#
# usage: recipes/mlm_pretrain.sh [--tiny] [--seed N] [--nproc N] [--data-per-lang en=DIR,fr=DIR] DATA LANGS OUT [-- FAIRSEQ_ARGS...]
#
#   DATA    binarized folder of `xdomain-prep binarize` (DATA/dict.txt, DATA/{lang}/train.bin, ...)
#   LANGS   comma-separated languages, e.g. en,fr (language ids in this order)
#   OUT     output folder: OUT/checkpoints/checkpoint_{best,last}.pt, OUT/train.log,
#           OUT/config.{json,md} (full configuration and seed), OUT/results.{json,md}
#           (last validation: loss/ppl/accuracy overall and per language)
#
# "Wiki only" (the paper's baseline) and "Wiki + UN" (joint) are the same command with other
# data: point DATA (or --data-per-lang) at the folders to pre-train on.
#
# Defaults are paper scale (XLM: 1024-d, 6 layers, 8 heads, GELU, streams of 256 tokens, 15%
# masking, Adam lr 1e-4, language sampling alpha 0.5) and use every visible GPU with --fp16;
# --tiny trains a small model on the CPU in about a minute. Arguments after `--` go to
# fairseq-train verbatim (e.g. `-- --max-update 50000 --update-freq 2`). A killed run resumes
# from OUT/checkpoints/checkpoint_last.pt when started again with the same command.
# --nproc N: N data-parallel processes through xdomain-train (one per GPU; with --tiny or without
# a GPU, N CPU ranks over gloo); docs/distributed.md.
set -euo pipefail

usage() { sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "error: $*" >&2; exit 2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${XDOMAIN_BIN:-$HERE/.venv/bin}"
[[ -x "$BIN/fairseq-train" ]] || BIN="$(dirname "$(command -v fairseq-train || echo /nonexistent/x)")"
[[ -x "$BIN/fairseq-train" ]] || die "fairseq-train not found (run 'make install' or set XDOMAIN_BIN)"
PY="$BIN/python"; [[ -x "$PY" ]] || PY="$(command -v python3)"

TINY=0; SEED=1; NPROC=1; PER_LANG=""; POS=(); EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tiny) TINY=1; shift ;;
    --seed) [[ $# -ge 2 ]] || usage; SEED="$2"; shift 2 ;;
    --nproc) [[ $# -ge 2 ]] || usage; NPROC="$2"; shift 2 ;;
    --data-per-lang) [[ $# -ge 2 ]] || usage; PER_LANG="$2"; shift 2 ;;
    -h|--help) usage ;;
    --) shift; EXTRA=("$@"); break ;;
    -*) die "unknown option $1 (fairseq options go after --)" ;;
    *) POS+=("$1"); shift ;;
  esac
done
[[ ${#POS[@]} -eq 3 ]] || usage
DATA="${POS[0]}"; LANGS="${POS[1]}"; OUT="${POS[2]}"

# ---- check the inputs before starting anything
[[ -d "$DATA" ]] || die "$DATA: data folder not found"
[[ -s "$DATA/dict.txt" ]] || die "$DATA/dict.txt: joint dictionary not found (expected the output of 'xdomain-prep binarize')"
[[ "$LANGS" =~ ^[A-Za-z_-]+(,[A-Za-z_-]+)*$ ]] || die "LANGS '$LANGS': expected comma-separated language codes, e.g. en,fr"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "--seed '$SEED': expected a non-negative integer"
[[ "$NPROC" =~ ^[1-9][0-9]*$ ]] || die "--nproc '$NPROC': expected a positive integer"
declare -A DIR
IFS=',' read -r -a LANG_LIST <<< "$LANGS"
for l in "${LANG_LIST[@]}"; do DIR[$l]="$DATA/$l"; done
if [[ -n "$PER_LANG" ]]; then
  IFS=',' read -r -a ITEMS <<< "$PER_LANG"
  for item in "${ITEMS[@]}"; do
    l="${item%%=*}"; d="${item#*=}"
    [[ "$item" == *=* && -n "$d" ]] || die "--data-per-lang: expected LANG=DIR, got '$item'"
    [[ -n "${DIR[$l]+x}" ]] || die "--data-per-lang: '$l' is not one of LANGS ($LANGS)"
    DIR[$l]="$d"
  done
fi
for l in "${LANG_LIST[@]}"; do
  for ext in bin idx; do
    [[ -s "${DIR[$l]}/train.$ext" ]] || die "${DIR[$l]}/train.$ext: training data of '$l' not found"
  done
  [[ -s "${DIR[$l]}/valid.bin" ]] || echo "warning: ${DIR[$l]}/valid.bin not found: '$l' is not validated" >&2
done
mkdir -p "$OUT/checkpoints" 2>/dev/null || die "$OUT: cannot create the output folder"
[[ -w "$OUT" ]] || die "$OUT: output folder is not writable"

# ---- settings
HAS_GPU=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
if [[ $TINY -eq 1 ]]; then
  MODE=tiny
  SETTINGS=(--arch xlm_encoder_tiny --tokens-per-sample 64 --max-positions 64 --batch-size 16
            --optimizer adam --adam-betas "(0.9,0.98)" --lr 1e-3 --lr-scheduler inverse_sqrt
            --warmup-updates 50 --max-update 300 --validate-interval-updates 100
            --save-interval-updates 100 --keep-interval-updates 1 --cpu --num-workers 0)
else
  MODE=paper
  SETTINGS=(--arch xlm_encoder_base --tokens-per-sample 256 --batch-size 32
            --optimizer adam --adam-betas "(0.9,0.999)" --lr 1e-4 --lr-scheduler fixed
            --clip-norm 5 --max-update 200000 --validate-interval-updates 5000
            --save-interval-updates 5000 --keep-interval-updates 3 --num-workers 2)
  if [[ "$HAS_GPU" == 1 ]]; then SETTINGS+=(--fp16); else
    echo "warning: no GPU found: paper-scale pre-training on the CPU is very slow (use --tiny to try)" >&2
    SETTINGS+=(--cpu)
  fi
fi
USER_DIR="$("$BIN/xdomain-user-dir")"  # the plugin folder, in a checkout or an installed wheel
CMD=("$BIN/fairseq-train" "$DATA" --user-dir "$USER_DIR" --task xlm_mlm
     --langs "$LANGS" --criterion xlm_mlm_loss --sample-alpha 0.5 --mask-prob 0.15
     --seed "$SEED" --save-dir "$OUT/checkpoints" --no-epoch-checkpoints
     --best-checkpoint-metric loss --log-format simple --log-interval 50
     "${SETTINGS[@]}")
[[ -n "$PER_LANG" ]] && CMD+=(--data-per-lang "$PER_LANG")
CMD+=("${EXTRA[@]}")
if [[ "$NPROC" -gt 1 ]]; then  # the same arguments, N processes through the launcher
  [[ -x "$BIN/xdomain-train" ]] || die "$BIN/xdomain-train not found (run 'make install')"
  LAUNCH=("$BIN/xdomain-train" --nproc "$NPROC")
  [[ " ${SETTINGS[*]} " == *" --cpu "* ]] && LAUNCH+=(--cpu)
  CMD=("${LAUNCH[@]}" -- "${CMD[@]:1}")
fi

# ---- record the configuration (atomically), then train (resumes from checkpoint_last.pt)
"$PY" - "$OUT" "$MODE" "$SEED" "$DATA" "$LANGS" "$PER_LANG" "$HAS_GPU" "${CMD[@]}" <<'EOF'
import json, os, shlex, sys, tempfile
out, mode, seed, data, langs, per_lang, gpu, *cmd = sys.argv[1:]
cfg = {"recipe": "mlm_pretrain", "mode": mode, "seed": int(seed), "data": os.path.abspath(data),
       "langs": langs.split(","), "data_per_lang": per_lang, "gpu": gpu == "1",
       "command": " ".join(shlex.quote(c) for c in cmd)}
def atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
atomic(os.path.join(out, "config.json"), json.dumps(cfg, indent=2) + "\n")
rows = "".join(f"| {k} | `{v}` |\n" for k, v in cfg.items())
atomic(os.path.join(out, "config.md"), "# MLM pre-training configuration\n\n| setting | value |\n|---|---|\n" + rows)
EOF
echo "mlm_pretrain: $MODE settings, langs $LANGS, seed $SEED -> $OUT (log: $OUT/train.log)" >&2
set +e
"${CMD[@]}" 2>&1 | tee -a "$OUT/train.log"
RC=${PIPESTATUS[0]}
set -e
[[ $RC -eq 0 ]] || die "fairseq-train failed with status $RC (see $OUT/train.log)"

# ---- summarise the last validation (overall and per language)
"$PY" - "$OUT" <<'EOF'
import json, os, re, sys, tempfile
out = sys.argv[1]
lines = [l for l in open(os.path.join(out, "train.log"), encoding="utf-8") if "| valid on '" in l]
if not lines:
    print("warning: no validation in the log", file=sys.stderr); sys.exit(0)
stats = {k: float(v) for k, v in re.findall(r"\| (\S+) ([-\d.]+)", lines[-1])}
res = {"checkpoint": os.path.join(out, "checkpoints", "checkpoint_best.pt"), "last_valid": stats}
def atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
atomic(os.path.join(out, "results.json"), json.dumps(res, indent=2) + "\n")
langs = sorted(k[4:] for k in stats if k.startswith("ppl_"))
rows = [("all", stats.get("loss"), stats.get("ppl"), stats.get("accuracy"))]
rows += [(l, stats.get(f"loss_{l}"), stats.get(f"ppl_{l}"), stats.get(f"accuracy_{l}")) for l in langs]
md = "# MLM pre-training: last validation (update %s)\n\n| language | loss (bits) | ppl | masked acc %% |\n|---|---|---|---|\n" % int(stats.get("num_updates", 0))
md += "".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |\n" for r in rows)
atomic(os.path.join(out, "results.md"), md)
print(md)
EOF
