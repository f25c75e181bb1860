"""``xdomain-embed``: train fastText embeddings separately or jointly, convert .bin to .vec.

    xdomain-embed train --input corpus.en --output emb/en          # emb/en.vec (+ .bin, .json)
    xdomain-embed joint --inputs corpus.en corpus.fr --langs en,fr --out emb/joint   # (or: --langs en fr)
    xdomain-embed export --bin emb/en.bin --output emb/en.vec [--max-vocab N]
    xdomain-embed binarized DATA --langs en,fr --output-dir emb/mlm --dim 1024
        # on the text of a binarized folder (xdomain-prep binarize): joint over the languages
        # given (separate for one), in the folder's own vocabulary (sentencepiece pieces), e.g.
        # to initialise an MLM's token embeddings (fairseq-train ... --reload-emb emb/mlm/en.vec,...)
        # Its pieces are subwords already: no character n-grams by default (--minn 0 --maxn 0,
        # so fastText allocates no hash buckets) and no .bin unless --save-bin.

Corpora are read as UTF-8 text (a BOM and CRLF are ignored, lines with invalid UTF-8 skipped and
counted) and non-ASCII white space such as U+00A0 separates tokens (counted in the log and in
the output JSON), before fastText starts: every word learnt can be written to the .vec.
"""
from __future__ import annotations

from ..common.cli import ArgumentParser, setup_logging, split_list
from ..common.dataclass_args import add_dataclass_arguments, dataclass_from_args
from ..common.errors import UserError, cli_entry
from .fasttext_train import FastTextConfig, train_joint, train_on_binarized, train_separate
from .vecio import load_bin, save_vec


def _add_fasttext_flags(p, subwords: bool = True):
    """fastText flags; ``subwords=False``: character n-grams off by default (``binarized``:
    its symbols are sentencepiece pieces) and the .bin written only with ``--save-bin``."""
    d = FastTextConfig() if subwords else FastTextConfig(minn=0, maxn=0)
    add_dataclass_arguments(p, FastTextConfig, defaults=d)  # --dim ... --neg, help in the fields
    if subwords:
        p.add_argument("--no-bin", action="store_true",
                       help="do not write the fastText .bin model")
    else:
        p.add_argument("--save-bin", action="store_true",
                       help="also write the fastText .bin model (joint.bin or LANG.bin)")
        p.add_argument("--no-bin", action="store_true", help="the default (kept for old calls)")


def _config(args) -> FastTextConfig:
    for name in ("dim", "min_count", "epoch", "thread", "bucket"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    return dataclass_from_args(FastTextConfig, args)


def build_parser():
    parser = ArgumentParser(prog="xdomain-embed", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train", help="fastText skipgram on one corpus (separate embeddings)")
    p.add_argument("--input", required=True, help="corpus (tokenized text, one sentence per line)")
    p.add_argument("--output", "-o", required=True, help="output prefix: PREFIX.vec, PREFIX.bin")
    _add_fasttext_flags(p)
    p = sub.add_parser("joint", help="one fastText model on the concatenated corpora, "
                                     "exported per language")
    p.add_argument("--inputs", nargs="+", required=True, help="one corpus per language")
    p.add_argument("--langs", nargs="+", required=True,
                   help="their languages, comma-separated (en,fr) or space-separated (en fr)")
    p.add_argument("--output-dir", "--out", dest="output_dir", required=True,
                   help="output folder: one LANG.vec per language")
    _add_fasttext_flags(p)
    p = sub.add_parser("binarized", help="fastText on the text of a binarized data folder "
                                         "(joint over its languages), in its vocabulary")
    p.add_argument("data", help="folder in the xdomain-prep binarize layout ({lang}/train.bin)")
    p.add_argument("--langs", required=True, help="comma-separated languages")
    p.add_argument("--output-dir", "--out", dest="output_dir", required=True,
                   help="output folder: one LANG.vec per language")
    _add_fasttext_flags(p, subwords=False)
    p = sub.add_parser("export", help="write the .vec of a fastText .bin model")
    p.add_argument("--bin", required=True, help="fastText .bin model")
    p.add_argument("--output", "-o", required=True, help="the .vec file to write")
    p.add_argument("--max-vocab", "--max_vocab", type=int, default=None,
                   help="most frequent words written (None: all)")
    return parser


@cli_entry
def main(argv=None):
    args = build_parser().parse_args(argv)
    setup_logging()
    if args.cmd == "train":
        info = train_separate(args.input, args.output, _config(args), save_bin=not args.no_bin)
        print(f"{info['vec']}: {info['n_words']} words")
    elif args.cmd == "joint":
        info = train_joint(args.inputs, split_list(args.langs), args.output_dir, _config(args),
                           save_bin=not args.no_bin)
        for lang, out in info["outputs"].items():
            print(f"{lang}: {out['vec']}: {out['n_words']} words")
    elif args.cmd == "binarized":
        info = train_on_binarized(args.data, split_list(args.langs), args.output_dir,
                                  _config(args), save_bin=args.save_bin and not args.no_bin)
        print(",".join(out["vec"] for out in info["outputs"].values()))
    else:
        wv = load_bin(args.bin, args.max_vocab)
        save_vec(args.output, wv.words, wv.vectors)
        print(f"{args.output}: {len(wv)} words")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
