#!/usr/bin/env bash
# The paper's UBLI experiments (Tables 2 and 3): en-es, en-fr, en-ru in both directions,
# source Wikipedia, target UN, 5M sampled lines per corpus, fastText 300-d, MUSE grid
# (seeds 123/456/789/321 x epochs 1/3/5 x refinements 1/3/5), copying and identical-strings
# baselines, STDM. One recipes/ubli.sh run per direction. For a GPU machine: at MUSE's epoch
# size (1M samples) a CPU needs hours per pair even with the batched grid.
#
# usage: recipes/paper_table2.sh DATA_DIR [RESULTS_DIR]   (default results/ubli)
#
# DATA_DIR must hold (raw text, one sentence per line, UTF-8):
#   {en,es,fr,ru}.wiki.txt   Wikipedia dumps of June 2020, text extracted (e.g. WikiExtractor)
#                            https://dumps.wikimedia.org/{en,es,fr,ru}wiki/
#   {en,es,fr,ru}.un.txt     UN Parallel Corpus v1.0 (Ziemski et al. 2016), ONE side of each
#                            language's corpus (the paper uses it as monolingual data)
#                            https://conferences.unite.un.org/uncorpus
#   dict/{src}-{tgt}.5000-6500.txt   MUSE test dictionaries (1,500 source words), e.g.
#                            https://dl.fbaipublicfiles.com/arrival/dictionaries/en-es.5000-6500.txt
#                            for en-es es-en en-fr fr-en en-ru ru-en. For Russian, lemmatize the
#                            Russian side of the ru dictionaries the same way as the corpora
#                            (xdomain-prep lemmatize) and name them {src}-{tgt}.5000-6500.lemma.txt.
# The script samples 5M lines of each corpus (xdomain-prep sample --drop-empty, seed 0) into
# DATA_DIR/sampled/, then runs ubli.sh with the paper's settings (Moses tokenization, lowercased;
# Russian lemmatized with pymorphy; fastText skipgram dim 300, minCount 5, 5 epochs; MUSE defaults:
# 200k vocabulary, 1M-sample epochs, discriminator 2x2048, 75k most frequent words, batch 32).
# STDM compares the target language's Wikipedia and UN corpora (paper section 2.4, footnote 5).
# Override any ubli.sh knob through the environment (see recipes/ubli.sh).
set -euo pipefail
DATA=${1:-}
RESULTS=${2:-results/ubli}
if [[ -z "$DATA" ]]; then sed -n '2,30p' "$0"; exit 2; fi
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$HERE/.venv/bin}
N_LINES=${N_LINES:-5000000}
export DIM=${DIM:-300} MIN_COUNT=${MIN_COUNT:-5} FT_EPOCH=${FT_EPOCH:-5} EPOCH_SIZE=${EPOCH_SIZE:-1000000}
export MAX_VOCAB=${MAX_VOCAB:-200000} SEEDS=${SEEDS:-123,456,789,321} EPOCHS=${EPOCHS:-1,3,5}
export REFINEMENTS=${REFINEMENTS:-1,3,5}
PAIRS=${PAIRS:-"en-es es-en en-fr fr-en en-ru ru-en"}

missing=0
need() { [[ -s "$1" ]] || { echo "missing: $1" >&2; missing=1; }; }
for p in $PAIRS; do
  s=${p%-*} t=${p#*-}
  need "$DATA/$s.wiki.txt"; need "$DATA/$t.un.txt"; need "$DATA/$t.wiki.txt"
  if [[ $s == ru || $t == ru ]]; then need "$DATA/dict/$p.5000-6500.lemma.txt"
  else need "$DATA/dict/$p.5000-6500.txt"; fi
done
if [[ $missing == 1 ]]; then
  echo "error: inputs missing; see the header of $0 for where to get them" >&2
  exit 2
fi

mkdir -p "$DATA/sampled"
sample() {  # sample IN OUT
  [[ -s "$2" ]] || "$BIN/xdomain-prep" sample -n "$N_LINES" --seed 0 --drop-empty "$1" -o "$2"
}
for p in $PAIRS; do
  s=${p%-*} t=${p#*-}
  sample "$DATA/$s.wiki.txt" "$DATA/sampled/$s.wiki.txt"
  sample "$DATA/$t.un.txt" "$DATA/sampled/$t.un.txt"
  sample "$DATA/$t.wiki.txt" "$DATA/sampled/$t.wiki.txt"
  dico=$DATA/dict/$p.5000-6500.txt
  [[ $s == ru || $t == ru ]] && dico=$DATA/dict/$p.5000-6500.lemma.txt
  "$HERE/recipes/ubli.sh" --src-lang "$s" --src-corpus "$DATA/sampled/$s.wiki.txt" --src-domain Wiki \
    --tgt-lang "$t" --tgt-corpus "$DATA/sampled/$t.un.txt" --tgt-domain UN --dico "$dico" \
    --stdm-corpus "$DATA/sampled/$t.wiki.txt" --name "$p" --results "$RESULTS" \
    --work "${WORK:-work/ubli}"
done
"$BIN/xdomain-report" "$RESULTS" --out "$RESULTS/report.md"
