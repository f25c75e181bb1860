#!/usr/bin/env bash
# Cross-lingual word similarity, the paper's Table 6 (SemEval-2017 Task 2, subtask 2): en-de,
# en-es, en-fa, en-it, rows Wiki-Wiki, UN-Wiki w/o and w/ joint pre-training, with the paper's
# settings: `xdomain-run wordsim` (fairseq_xdomain/experiments/wordsim.py; docs/wordsim-report.md).
#
# usage: recipes/wordsim.sh CORPORA_DIR SEMEVAL_DIR [xdomain-run wordsim options, e.g. --preset cpu]
#   CORPORA_DIR/en.{wiki,un}.txt, CORPORA_DIR/{de,es,fa,it}.wiki.txt   raw text, one sentence
#       per line: Wikipedia dumps (https://dumps.wikimedia.org/), the UN Parallel Corpus v1.0
#       (https://conferences.unite.un.org/uncorpus) used monolingually; 5M lines sampled each
#   SEMEVAL_DIR/en-{de,es,fa,it}.test.{data,gold}.txt   http://alt.qcri.org/semeval2017/task2/
# Results: results/wordsim/ (report.md: Table 6; run.json); work files: work/wordsim/.
# Rerunning resumes; a changed setting recomputes what depends on it.
set -euo pipefail
# --help: the header above is the usage
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -/{/^#/{s/^# \{0,1\}//;p}}' "$0"; exit 0; fi
: "${1:?usage: recipes/wordsim.sh CORPORA_DIR SEMEVAL_DIR [options]}"
PATH="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin:$PATH"  # a checkout's venv, if there is one
exec xdomain-run wordsim --preset paper --sample-lines 5000000 --corpora "$1" --semeval "$2" \
  --src-lang en --langs de,es,fa,it "${@:3}"
