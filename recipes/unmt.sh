#!/usr/bin/env bash
# One row of the paper's Tables 4/5: MLM pre-training (baseline: one domain; joint: both domains),
# then UNMT (denoising + online back-translation) for N epochs from each MLM, BLEU per epoch to
# results/unmt/<run>/bleu.json (+ bleu.md) and a plot of BLEU vs epoch, baseline vs joint (PNG).
#
#   recipes/unmt.sh --run wiki-un-en-fr --langs en,fr \
#       --mlm-baseline DATA_WIKI --mlm-joint DATA_WIKI_UN --unmt-data DATA_WIKI_UN [--epochs 10]
#   recipes/unmt.sh --tiny ...        # CPU-sized model and epochs (minutes, not days)
#   --emb-init fasttext|random: the MLM's token embeddings start from fastText skipgram trained on
#   that MLM's own training text (xdomain-embed binarized: joint over its languages, so the joint
#   MLM's embeddings come from the concatenated corpora), or random (XLM's way). Default:
#   fasttext with --tiny (a CPU-minutes MLM does not align two vocabularies by itself; see
#   bench/unmt_cipher.py), random at paper scale.
#   --nproc N: each fairseq-train as N data-parallel processes through xdomain-train (one per GPU,
#   or N CPU ranks over gloo with --tiny / without a GPU; docs/distributed.md)
#   --jobs 2: train the baseline and joint variants side by side, JOB_THREADS (default 1) threads
#   each (default --jobs 1: one after the other)
#   labels for xdomain-report: [--data-label "En Wiki, Fr UN"] (the UNMT row; default: the run
#   name) [--mlm-baseline-label "En Wiki, Fr Wiki"] [--mlm-joint-label "En Wiki, Fr UN"] (which
#   corpora/domains each MLM saw; default: from DATA/manifest.json of xdomain-prep pipeline,
#   else the folder and its languages). bleu.json gets "kind": "unmt", "data", "mlm_data".
#
# Every DATA folder is in the layout of docs/design.md (xdomain-prep binarize) and all of them
# must share one dict.txt (one joint sentencepiece vocabulary), so the MLM rows map onto UNMT.
# Paper-scale defaults (GPUs): xlm_encoder_base / unmt_transformer (1024-d, 6 layers, 8 heads),
# tokens_per_batch 2000, Adam lr 1e-4 inverse-sqrt, epoch = 200k sentences, --fp16 on GPU.
# Re-running resumes: finished stages are skipped, interrupted fairseq runs restart from
# checkpoint_last.pt. Same seed, same data -> same numbers.
set -euo pipefail

RUN="" LANGS="en,fr" MLM_BASE="" MLM_JOINT="" UNMT_DATA="" EPOCHS=10 TINY=0 SEED=1
RESULTS="results/unmt" GPUS="${GPUS:-}" DATA_LABEL="" BASE_LABEL="" JOINT_LABEL=""
MLM_UPDATES=100000 EMB_INIT="" JOBS=1 NPROC=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --run) RUN="$2"; shift 2;;
    --langs) LANGS="$2"; shift 2;;
    --mlm-baseline) MLM_BASE="$2"; shift 2;;
    --mlm-joint) MLM_JOINT="$2"; shift 2;;
    --unmt-data) UNMT_DATA="$2"; shift 2;;
    --epochs) EPOCHS="$2"; shift 2;;
    --mlm-updates) MLM_UPDATES="$2"; shift 2;;
    --results) RESULTS="$2"; shift 2;;
    --seed) SEED="$2"; shift 2;;
    --tiny) TINY=1; shift;;
    --emb-init) EMB_INIT="$2"; shift 2;;
    --jobs) JOBS="$2"; shift 2;;
    --nproc) NPROC="$2"; shift 2;;
    --data-label) DATA_LABEL="$2"; shift 2;;
    --mlm-baseline-label) BASE_LABEL="$2"; shift 2;;
    --mlm-joint-label) JOINT_LABEL="$2"; shift 2;;
    -h|--help) sed -n '2,20p' "$0"; exit 0;;
    *) echo "error: unknown option $1" >&2; exit 2;;
  esac
done
for v in RUN MLM_BASE MLM_JOINT; do
  [[ -n "${!v}" ]] || { echo "error: --$(echo "$v" | tr 'A-Z_' 'a-z-' | sed 's/mlm-base/mlm-baseline/') is required" >&2; exit 2; }
done
UNMT_DATA="${UNMT_DATA:-$MLM_JOINT}"
EMB_INIT="${EMB_INIT:-$([[ "$TINY" == 1 ]] && echo fasttext || echo random)}"
[[ "$EMB_INIT" == fasttext || "$EMB_INIT" == random ]] || { echo "error: --emb-init must be fasttext or random, got $EMB_INIT" >&2; exit 2; }
[[ "$JOBS" == 1 || "$JOBS" == 2 ]] || { echo "error: --jobs must be 1 or 2, got $JOBS" >&2; exit 2; }
[[ "$NPROC" =~ ^[1-9][0-9]*$ ]] || { echo "error: --nproc must be a positive integer, got $NPROC" >&2; exit 2; }
for d in "$MLM_BASE" "$MLM_JOINT" "$UNMT_DATA"; do
  [[ -f "$d/dict.txt" ]] || { echo "error: $d/dict.txt: binarized data folder expected" >&2; exit 2; }
  cmp -s "$d/dict.txt" "$UNMT_DATA/dict.txt" || { echo "error: $d/dict.txt: differs from $UNMT_DATA/dict.txt (one joint vocabulary needed)" >&2; exit 2; }
done

HERE="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${HERE}/.venv/bin"; [[ -x "$BIN/fairseq-train" ]] || BIN="$(dirname "$(command -v fairseq-train)")"
USER_DIR="$("$BIN/xdomain-user-dir")"  # the plugin folder, in a checkout or an installed wheel
OUT="${RESULTS}/${RUN}"; mkdir -p "$OUT"
SRC="${LANGS%%,*}"; TGT="${LANGS##*,}"

if [[ "$TINY" == 1 ]]; then
  DEVICE=(--cpu); MLM_ARCH=xlm_encoder_tiny; UNMT_ARCH=unmt_transformer_tiny
  MLM_UPDATES=$([[ "$MLM_UPDATES" == 100000 ]] && echo 1500 || echo "$MLM_UPDATES")
  MLM_OPT=(--tokens-per-sample 64 --max-tokens 4096 --lr 2e-3 --warmup-updates 100)  # as bench/unmt_cipher.py
  EMB_DIM=64; FT_OPT=(--thread 1 --min-count 3 --epoch 10 --minn 0 --maxn 0)
  UNMT_OPT=(--max-tokens 1500 --lr 2e-3 --warmup-updates 30 --epoch-sentences 4000
            --lambda-dae 1 --dropout 0 --attention-dropout 0)
else
  DEVICE=(); python_has_cuda="$("$BIN/python" -c 'import torch; print(int(torch.cuda.is_available()))')"
  if [[ "$python_has_cuda" == 1 ]]; then DEVICE=(--fp16); else DEVICE=(--cpu); fi
  MLM_ARCH=xlm_encoder_base; UNMT_ARCH=unmt_transformer
  MLM_OPT=(--tokens-per-sample 256 --max-tokens 8192 --lr 1e-4 --warmup-updates 4000)
  EMB_DIM=1024; FT_OPT=(--thread "$(nproc)" --min-count 5 --epoch 5 --minn 0 --maxn 0)
  UNMT_OPT=(--max-tokens 2000 --lr 1e-4 --warmup-updates 4000 --epoch-sentences 200000
            --lambda-dae "0:1,100000:0.1,300000:0")
fi
TRAIN=("$BIN/fairseq-train")  # --nproc N: the same arguments through the launcher
if [[ "$NPROC" -gt 1 ]]; then
  [[ -x "$BIN/xdomain-train" ]] || { echo "error: $BIN/xdomain-train not found (run 'make install')" >&2; exit 2; }
  TRAIN=("$BIN/xdomain-train" --nproc "$NPROC"); [[ " ${DEVICE[*]} " == *" --cpu "* ]] && TRAIN+=(--cpu)
  TRAIN+=(--)
fi

cat > "$OUT/config.json.tmp" <<EOF
{"run": "$RUN", "langs": "$LANGS", "mlm_baseline": "$MLM_BASE", "mlm_joint": "$MLM_JOINT",
 "unmt_data": "$UNMT_DATA", "epochs": $EPOCHS, "tiny": $TINY, "seed": $SEED,
 "mlm_updates": $MLM_UPDATES, "mlm_arch": "$MLM_ARCH", "unmt_arch": "$UNMT_ARCH",
 "mlm_options": "${MLM_OPT[*]}", "unmt_options": "${UNMT_OPT[*]}", "device": "${DEVICE[*]}", "nproc": $NPROC,
 "emb_init": "$EMB_INIT", "fasttext_options": "--dim $EMB_DIM ${FT_OPT[*]}"}
EOF
mv "$OUT/config.json.tmp" "$OUT/config.json"

run_variant() {  # MLM pre-training then UNMT for one variant (baseline | joint)
  local VARIANT="$1" MDATA MLANGS MLM_DIR UNMT_DIR FT_DIR RELOAD=()
  if [[ "$VARIANT" == baseline ]]; then MDATA="$MLM_BASE"; else MDATA="$MLM_JOINT"; fi
  # the MLM is trained on the languages that have data in its folder
  MLANGS=$(for l in ${LANGS//,/ }; do [[ -f "$MDATA/$l/train.bin" ]] && printf '%s,' "$l"; done); MLANGS="${MLANGS%,}"
  [[ -n "$MLANGS" ]] || { echo "error: $MDATA: no {lang}/train.bin for $LANGS" >&2; return 2; }
  MLM_DIR="$OUT/$VARIANT/mlm"; UNMT_DIR="$OUT/$VARIANT/unmt"; FT_DIR="$OUT/$VARIANT/fasttext"
  mkdir -p "$MLM_DIR" "$UNMT_DIR"
  if [[ ! -f "$MLM_DIR/done" && "$EMB_INIT" == fasttext ]]; then
    if [[ ! -f "$FT_DIR/done" ]]; then
      echo "== [$VARIANT] fastText skipgram on the text of $MDATA ($MLANGS), dim $EMB_DIM"
      mkdir -p "$FT_DIR"
      "$BIN/xdomain-embed" binarized "$MDATA" --langs "$MLANGS" --output-dir "$FT_DIR" \
        --dim "$EMB_DIM" "${FT_OPT[@]}" --no-bin > "$FT_DIR.log" 2>&1 || { tail -5 "$FT_DIR.log" >&2; return 1; }
      touch "$FT_DIR/done"
    fi
    RELOAD=(--reload-emb "$(for l in ${MLANGS//,/ }; do printf '%s,' "$FT_DIR/$l.vec"; done | sed 's/,$//')")
  fi
  if [[ ! -f "$MLM_DIR/done" ]]; then
    echo "== [$VARIANT] MLM pre-training on $MDATA ($MLANGS), $MLM_UPDATES updates, embeddings: $EMB_INIT"
    "${TRAIN[@]}" "$MDATA" --user-dir "$USER_DIR" --task xlm_mlm --langs "$MLANGS" \
      --arch "$MLM_ARCH" --criterion xlm_mlm_loss "${MLM_OPT[@]}" "${RELOAD[@]}" --optimizer adam \
      --adam-betas "(0.9,0.98)" --lr-scheduler inverse_sqrt --max-update "$MLM_UPDATES" \
      --save-dir "$MLM_DIR" --no-epoch-checkpoints --disable-validation --seed "$SEED" \
      --log-format json --log-file "$MLM_DIR/train.log" "${DEVICE[@]}" > "$MLM_DIR/stdout.log" 2>&1 \
      || { tail -20 "$MLM_DIR/stdout.log" >&2; return 1; }
    touch "$MLM_DIR/done"
  fi
  if [[ ! -f "$UNMT_DIR/done" ]]; then
    echo "== [$VARIANT] UNMT for $EPOCHS epochs on $UNMT_DATA from $MLM_DIR"
    "${TRAIN[@]}" "$UNMT_DATA" --user-dir "$USER_DIR" --task unmt_xdomain --langs "$LANGS" \
      --arch "$UNMT_ARCH" --init-from-mlm "$MLM_DIR/checkpoint_last.pt" --criterion cross_entropy \
      "${UNMT_OPT[@]}" --optimizer adam --adam-betas "(0.9,0.98)" --lr-scheduler inverse_sqrt \
      --max-epoch "$EPOCHS" --save-dir "$UNMT_DIR" --no-epoch-checkpoints --seed "$SEED" \
      --best-checkpoint-metric bleu --maximize-best-checkpoint-metric \
      --log-format json --log-file "$UNMT_DIR/train.log" "${DEVICE[@]}" > "$UNMT_DIR/stdout.log" 2>&1 \
      || { tail -20 "$UNMT_DIR/stdout.log" >&2; return 1; }
    touch "$UNMT_DIR/done"
  fi
  echo "== [$VARIANT] done"
}

if [[ "$JOBS" == 2 ]]; then
  # side by side, one thread each (tiny models use 2 cores better this way than 2 threads each;
  # an inherited OMP_NUM_THREADS=2 would oversubscribe the cores 2x and run 3-4x slower)
  export OMP_NUM_THREADS="${JOB_THREADS:-1}" MKL_NUM_THREADS="${JOB_THREADS:-1}"
  run_variant baseline & PID_BASE=$!
  run_variant joint & PID_JOINT=$!
  STATUS=0; wait "$PID_BASE" || STATUS=$?; wait "$PID_JOINT" || STATUS=$?
  [[ "$STATUS" == 0 ]] || { echo "error: a variant failed (logs under $OUT)" >&2; exit "$STATUS"; }
else
  run_variant baseline
  run_variant joint
fi

"$BIN/python" - "$OUT" "$SRC" "$TGT" "$LANGS" "$DATA_LABEL" "$MLM_BASE" "$BASE_LABEL" "$MLM_JOINT" "$JOINT_LABEL" <<'EOF'
"""Collect BLEU per epoch from the fairseq json logs -> bleu.json, bleu.md, bleu.png."""
import json, sys
from pathlib import Path
from fairseq_xdomain.common.atomic import read_json, write_json, write_text

out, src, tgt, langs, data_label = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def mlm_data(folder, label):
    """What an MLM was trained on: its languages, the corpora (lang, domain) of the folder's
    xdomain-prep manifest if there is one, and a label (given, or made from those)."""
    folder = Path(folder)
    used = [lang for lang in langs.split(",") if (folder / lang / "train.bin").is_file()]
    corpora = None
    if (folder / "manifest.json").is_file():
        cfg = read_json(folder / "manifest.json").get("config") or {}
        corpora = [f"{c['lang']}.{c['domain']}" for c in cfg.get("corpora", [])
                   if c.get("lang") in used and c.get("domain")] or None
    auto = ", ".join(c.replace(".", " ") for c in corpora) if corpora else \
        f"{folder.name}: {','.join(used)}"
    return {"label": label or auto, "folder": str(folder), "langs": used, "corpora": corpora}


mlm = {"baseline": mlm_data(sys.argv[6], sys.argv[7]), "joint": mlm_data(sys.argv[8], sys.argv[9])}
keys = [f"bleu_{src}_{tgt}", f"bleu_{tgt}_{src}", "bleu"]
curves = {}
for variant in ("baseline", "joint"):
    rows = {}
    for line in (out / variant / "unmt" / "train.log").read_text(encoding="utf-8").splitlines():
        start = line.find("{")
        if start < 0 or "valid_bleu" not in line:
            continue
        rec = json.loads(line[start:])
        rows[int(rec["epoch"])] = {"epoch": int(rec["epoch"]), **{k: float(rec[f"valid_{k}"]) for k in keys if f"valid_{k}" in rec}}
    curves[variant] = [rows[e] for e in sorted(rows)]
result = {"kind": "unmt", "run": out.name, "data": data_label or out.name, "mlm_data": mlm,
          "config": read_json(out / "config.json"), "curves": curves}
write_json(out / "bleu.json", result)
md = [f"# UNMT BLEU per epoch: {out.name}", "", f"Data: {result['data']}. MLM data: baseline "
      f"{mlm['baseline']['label']}; joint {mlm['joint']['label']}.", "", "| variant | epoch | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
for variant, rows in curves.items():
    md += [f"| {variant} | {r['epoch']} | " + " | ".join(f"{r.get(k, float('nan')):.2f}" for k in keys) + " |" for r in rows]
write_text(out / "bleu.md", "\n".join(md) + "\n")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, key in zip(axes, keys[:2]):
    for variant, rows in curves.items():
        ax.plot([r["epoch"] for r in rows], [r.get(key) for r in rows], marker="o", label=variant)
    ax.set_title(key.replace("bleu_", "").replace("_", "-")); ax.set_xlabel("epoch"); ax.set_ylabel("BLEU"); ax.legend()
fig.tight_layout()
tmp = out / ".bleu.png.tmp.png"
fig.savefig(tmp, dpi=120)
tmp.replace(out / "bleu.png")
print(f"wrote {out / 'bleu.json'}, {out / 'bleu.md'}, {out / 'bleu.png'}")
EOF
