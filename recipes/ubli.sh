#!/usr/bin/env bash
# UBLI of one direction of the paper's Tables 2 and 3 (source Wikipedia, target UN), with the
# paper's settings: `xdomain-run ubli` (fairseq_xdomain/experiments/ubli.py; docs/embeddings-ubli.md)
# on the files below. recipes/paper_table2.sh runs the paper's six directions.
#
# usage: recipes/ubli.sh DATA_DIR SRC TGT DICTIONARY [xdomain-run ubli options, e.g. --preset cpu]
#   DATA_DIR/SRC.wiki.txt   source corpus (Wikipedia), raw text, one sentence per line
#   DATA_DIR/TGT.un.txt     target corpus (UN Parallel Corpus v1.0, one side)
#   DATA_DIR/TGT.wiki.txt   the target language's Wikipedia, for STDM (paper section 2.4)
#   DICTIONARY              MUSE test dictionary SRC-TGT.5000-6500.txt (lemmatized for Russian)
# Results: results/ubli/SRC-TGT/ (report.md: Tables 2-3; run.json); work files: work/ubli/SRC-TGT/.
# Rerunning resumes; a changed setting recomputes what depends on it.
set -euo pipefail
# --help: the header above is the usage
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -/{/^#/{s/^# \{0,1\}//;p}}' "$0"; exit 0; fi
: "${1:?usage: recipes/ubli.sh DATA_DIR SRC TGT DICTIONARY [options]}"
PATH="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin:$PATH"  # a checkout's venv, if there is one
exec xdomain-run ubli --preset paper --sample-lines 5000000 \
  --src-lang "$2" --src-corpus "$1/$2.wiki.txt" --src-domain Wiki \
  --tgt-lang "$3" --tgt-corpus "$1/$3.un.txt" --tgt-domain UN \
  --stdm-corpus "$1/$3.wiki.txt" --dico "$4" "${@:5}"
