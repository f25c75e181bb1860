#!/usr/bin/env bash
# One row of the paper's Tables 4/5: MLM pre-training on one domain (baseline) and on both
# domains (joint), then UNMT (denoising + online back-translation) for 10 epochs of 200k
# sentences from each, BLEU per epoch on the UN dev set -> results/unmt/RUN/ (one curve per
# variant and direction, a table, the plots). The driver is `xdomain-run unmt`
# (fairseq_xdomain/experiments/unmt.py; docs/unmt.md); every option of `xdomain-run unmt --help`
# passes through, and the paper-scale presets (configs/{unmt,mlm}/paper.yaml) are the default.
#
# The paper's data: `xdomain-prep pipeline` outputs (docs/preprocessing.md) sharing one joint
# sentencepiece vocabulary (vocab_corpora), Wikipedia (June 2020) and UN Parallel Corpus v1.0
# text, with the UN parallel dev set as valid.SRC-TGT.*. Table 4, en-fr row:
#   recipes/unmt.sh --run wiki-un-en-fr --langs en,fr --data-label "En Wiki, Fr UN" \
#       --mlm-baseline bin_en-fr.wiki --mlm-baseline-label "En Wiki, Fr Wiki" \
#       --mlm-joint bin_en-fr.wiki-un --mlm-joint-label "En Wiki, Fr UN"
# the other rows swap the languages (fr-en: "Fr Wiki, En UN"), use en,ru / ru,en, and for
# Table 5 the other domain on the target side ("En UN, Fr Wiki"). `--preset tiny --jobs 2`: the
# demo's CPU-sized run (minutes).
set -euo pipefail
# --help: the header above is the usage
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -/{/^#/{s/^# \{0,1\}//;p}}' "$0"; exit 0; fi
BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin"
if [[ -x "$BIN/xdomain-run" ]]; then PATH="$BIN:$PATH"; fi
exec xdomain-run unmt --preset paper "$@"
