"""``xdomain-ubli dictionary``: build a MUSE-format test dictionary of words frequent in both
corpora (:func:`..eval_dictionary.frequent_dictionary`; formerly ``python -m
fairseq_xdomain.ubli.eval_dictionary dict``, with the same flags).

    xdomain-ubli dictionary --pairs en-de.tsv --src-corpus A --tgt-corpus B -n 1500
                            [--min-count 5] [--drop-identical] [--lemmatize-tgt ru] -o dico.txt

Writes ``dico.txt`` (``src tgt`` lines) and ``dico.txt.json`` (the counts, also printed as JSON).
"""
from __future__ import annotations

import argparse
import json

from ...common.atomic import write_json, write_text
from ..eval_dictionary import frequent_dictionary


def add_parser(sub) -> None:
    """The ``dictionary`` subparser of ``sub``."""
    d = sub.add_parser("dictionary", help="MUSE-format test dictionary of words frequent in "
                       "both corpora (from a bilingual word list)")
    d.add_argument("--pairs", required=True, help="src<TAB>tgt word list")
    d.add_argument("--src-corpus", required=True, help="source corpus (tokenized text)")
    d.add_argument("--tgt-corpus", required=True, help="target corpus (tokenized text)")
    d.add_argument("-n", type=int, default=1500, help="source words in the dictionary")
    d.add_argument("--min-count", type=int, default=5,
                   help="both words occur at least this often in their corpus")
    d.add_argument("--drop-identical", action="store_true",
                   help="leave out pairs whose two words are the same string (counted)")
    d.add_argument("--lemmatize-tgt", default=None, metavar="LANG", choices=("ru",),
                   help="lemmatize target words with pymorphy3 (ru), to match a lemmatized corpus")
    d.add_argument("-o", "--output", required=True,
                   help="dictionary file ('src tgt' lines; counts in OUTPUT.json)")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> dict:
    """Build and write the dictionary; print the counts as JSON; return them."""
    lines, counts = frequent_dictionary(args.pairs, args.src_corpus, args.tgt_corpus, args.n,
                                        args.min_count, drop_identical=args.drop_identical,
                                        lemmatize_tgt=args.lemmatize_tgt)
    write_text(args.output, "\n".join(lines) + "\n")
    write_json(str(args.output) + ".json", counts)
    print(json.dumps(counts))
    return counts


__all__ = ["add_parser", "run"]
