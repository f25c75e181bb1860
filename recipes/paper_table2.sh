#!/usr/bin/env bash
# The paper's UBLI experiments (Tables 2 and 3): en-es, en-fr, en-ru in both directions, source
# Wikipedia, target UN, 5M sampled lines per corpus, fastText 300-d, the MUSE grid (seeds
# 123/456/789/321 x epochs 1/3/5 x refinements 1/3/5), copying and identical-strings baselines,
# STDM: recipes/ubli.sh (`xdomain-run ubli --preset paper`) per direction, then one report.
# Beside the paper's rows the report has what the preset adds (configs/ubli/paper.yaml; not in
# the paper, docs/embeddings-ubli.md): the orthographic baseline (character n-grams, no
# embeddings) and the methods of `beyond.methods`: identity map on joint vectors, orthography-
# aware retrieval (with W = I and with the joint grid's map), vocabulary reallocation and robust
# self-learning. `recipes/ubli.sh DATA_DIR SRC TGT DICT --set "beyond.methods=[]"` leaves those
# five out (the orthographic baseline always runs).
# For a GPU machine: at MUSE's epoch size (1M samples) a CPU needs hours per pair.
#
# usage: recipes/paper_table2.sh DATA_DIR   (results in results/ubli/, report results/ubli/report.md)
#
# DATA_DIR must hold (raw text, one sentence per line, UTF-8):
#   {en,es,fr,ru}.wiki.txt   Wikipedia dumps of June 2020, text extracted (e.g. WikiExtractor)
#                            https://dumps.wikimedia.org/{en,es,fr,ru}wiki/
#   {en,es,fr,ru}.un.txt     UN Parallel Corpus v1.0 (Ziemski et al. 2016), ONE side of each
#                            language's corpus (the paper uses it as monolingual data)
#                            https://conferences.unite.un.org/uncorpus
#   dict/{src}-{tgt}.5000-6500.txt   MUSE test dictionaries (1,500 source words), e.g.
#                            https://dl.fbaipublicfiles.com/arrival/dictionaries/en-es.5000-6500.txt
#                            For Russian, lemmatize the Russian side the same way as the corpora
#                            (xdomain-prep lemmatize) and name it {src}-{tgt}.5000-6500.lemma.txt.
set -euo pipefail
# --help: the header above is the usage
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -/{/^#/{s/^# \{0,1\}//;p}}' "$0"; exit 0; fi
: "${1:?usage: recipes/paper_table2.sh DATA_DIR}"
HERE=$(dirname "$0")
"$HERE/ubli.sh" "$1" en es "$1/dict/en-es.5000-6500.txt"
"$HERE/ubli.sh" "$1" es en "$1/dict/es-en.5000-6500.txt"
"$HERE/ubli.sh" "$1" en fr "$1/dict/en-fr.5000-6500.txt"
"$HERE/ubli.sh" "$1" fr en "$1/dict/fr-en.5000-6500.txt"
"$HERE/ubli.sh" "$1" en ru "$1/dict/en-ru.5000-6500.lemma.txt"
"$HERE/ubli.sh" "$1" ru en "$1/dict/ru-en.5000-6500.lemma.txt"
PATH="$(cd "$HERE/.." && pwd)/.venv/bin:$PATH"  # a checkout's venv, if there is one
xdomain-report results/ubli --out results/ubli/report.md
