#!/usr/bin/env bash
# MLM pre-training for the paper's Tables 4-5 (XLM's masked LM, Lample & Conneau 2019): one
# joint cross-lingual MLM from binarized data to a checkpoint. The driver is `xdomain-run mlm`
# (fairseq_xdomain/experiments/mlm.py; docs/mlm.md); every option of `xdomain-run mlm --help`
# passes through, and the paper-scale preset (configs/mlm/paper.yaml) is the default.
#
# usage: recipes/mlm_pretrain.sh [OPTIONS] DATA LANGS OUT [-- FAIRSEQ_ARGS...]
#
# The paper's data: DATA = the output of `xdomain-prep pipeline` (docs/preprocessing.md) on
#   Wikipedia (June 2020 dumps) and the UN Parallel Corpus v1.0 (one side per language, used as
#   monolingual text), 5M sampled lines each, one joint sentencepiece vocabulary:
#   baseline ("Wiki only"):  recipes/mlm_pretrain.sh bin_en-fr.wiki en,fr mlm/en-fr.wiki
#   joint ("Wiki + UN"):     recipes/mlm_pretrain.sh bin_en-fr.wiki-un en,fr mlm/en-fr.wiki-un
#   (or one folder and --data-per-lang en=WIKI/en,fr=UN/fr). Paper scale wants GPUs (--fp16,
#   --nproc N); `--preset cpu` or `--preset tiny` tries it on a CPU.
set -euo pipefail
# --help: the header above is the usage
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -/{/^#/{s/^# \{0,1\}//;p}}' "$0"; exit 0; fi
BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin"
if [[ -x "$BIN/xdomain-run" ]]; then PATH="$BIN:$PATH"; fi
exec xdomain-run mlm --preset paper "$@"
