"""``xdomain-prep``: the corpus preprocessing command line (one subcommand per step).

Each step lives in its own module (sample, tokenize, lemmatize, concat, spm, binarize, pipeline)
and is imported only when its subcommand runs, so ``xdomain-prep sample`` never imports fairseq.
"""
from __future__ import annotations

import argparse
import logging
import sys
import textwrap

from fairseq_xdomain.common.cli import ArgumentParser, setup_logging
from fairseq_xdomain.common.errors import UserError, cli_entry
from fairseq_xdomain.common.textio import BAD_UTF8_POLICIES

DESCRIPTION = """\
Preprocess monolingual corpora (one sentence per line, any size) for fairseq-xdomain.

steps, in pipeline order:
  sample     keep N random lines (seeded, streaming, memory bounded by N)
  tokenize   Moses punctuation normalisation + tokenization (sacremoses), all cores
  lemmatize  Russian lemmatization (pymorphy3), cached per word type
  concat     join two corpora (e.g. en.wiki + fr.un), recording each line's origin
  spm        train one joint sentencepiece model / apply it
  binarize   fairseq binarized layout: DATA/dict.txt, DATA/{lang}/train.bin ...
  pipeline   all of the above for a language pair from one YAML/JSON config, resumable

Text input is read as UTF-8; lines with invalid bytes are skipped by default and counted
(--on-bad-utf8 skip|replace|fail). Outputs are written to a temporary name and renamed.
Run `xdomain-prep STEP --help` for the options of a step."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps our paragraphs; shows a default only where there is a meaningful one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text \
                and action.option_strings:
            text += " (default: %(default)s)"
        return text

    def _format_text(self, text):
        paragraphs = [textwrap.fill(" ".join(p.split()), 92) for p in text.split("\n\n")]
        return "\n\n".join(paragraphs) + "\n"


def _add_utf8(parser) -> None:
    parser.add_argument("--on-bad-utf8", choices=BAD_UTF8_POLICIES, default="skip",
                        help="what to do with a line holding invalid UTF-8 bytes: skip it, "
                             "replace the bytes with U+FFFD, or fail (the count is reported)")


def _key_values(items, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise UserError(f"{option}: '{item}' is not of the form KEY=FILE")
        if key in out:
            raise UserError(f"{option}: '{key}' given twice")
        out[key] = value
    return out


def _step(sub, name: str, help: str, description: str | None = None, *, epilog: str | None = None):
    """One STEP (or ``spm`` ACTION) of ``sub``, its description and epilog reflowed by _Formatter."""
    return sub.add_parser(name, formatter_class=_Formatter, help=help, description=description,
                          epilog=epilog)


def _text(block: str) -> str:
    """A description written as a block: paragraphs (blank-line separated) on one line each."""
    return "\n\n".join(" ".join(p.split()) for p in block.strip().split("\n\n"))


def _input_output(p) -> None:
    """The one-file steps' INPUT and -o OUTPUT."""
    p.add_argument("input", metavar="INPUT", help="text file, one sentence per line")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="output file (written atomically)")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="xdomain-prep", description=DESCRIPTION)
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    sub = parser.add_subparsers(dest="command", metavar="STEP", required=True)

    p = _step(sub, "sample", "keep N uniformly random lines (seeded)", _text("""
        Keep N lines chosen uniformly at random (seeded), streaming: memory is bounded by N, not by
        the file size. The kept lines are written in their original file order. If the corpus has N
        lines or fewer, all are kept and a warning says so.

        --dedup de-duplicates globally, still in O(N) memory: each line's sampling priority is a
        seeded 64-bit hash of its text, so duplicates are in or out together and the result is a
        uniform sample of distinct lines (first occurrence kept)."""),
        epilog="example: xdomain-prep sample -n 5000000 --seed 0 --drop-empty en.wiki.txt "
        "-o en.sample.txt")
    _input_output(p)
    p.add_argument("-n", type=int, required=True, metavar="N", help="number of lines to keep")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same lines)")
    p.add_argument("--drop-empty", action="store_true", help="never keep empty/blank lines")
    p.add_argument("--dedup", action="store_true", help="keep distinct lines only")
    _add_utf8(p)

    p = _step(sub, "tokenize", "Moses normalisation + tokenization", _text("""
        Moses punctuation normalisation and tokenization (sacremoses) with the rules of --lang,
        optionally lowercased. Runs on --workers processes (chunks of lines; output order = input
        order); --workers 1 runs in this process. Special characters are not XML-escaped unless
        --escape. Supported languages are those with a Moses nonbreaking-prefix list in sacremoses;
        any other code is an error."""),
        epilog="example: xdomain-prep tokenize --lang fr --lowercase fr.sample.txt -o fr.tok")
    _input_output(p)
    p.add_argument("--lang", required=True, help="language code (en, fr, ru, de, ...)")
    p.add_argument("--lowercase", action="store_true", help="lowercase after tokenizing")
    p.add_argument("--workers", type=int, default=0,
                   help="processes to use (0: all CPU cores available)")
    p.add_argument("--escape", action="store_true",
                   help="XML-escape special characters like the Moses perl script (&amp; ...)")
    p.add_argument("--chunk-size", type=int, default=2000, help="lines per worker task")
    _add_utf8(p)

    p = _step(sub, "lemmatize", "Russian lemmatization (pymorphy3)", _text("""
        Replace every token containing Cyrillic letters by the (lowercase) lemma of pymorphy3's most
        probable parse; other tokens are kept. Input should be tokenized. Lemmas are cached per word
        type."""),
        epilog="example: xdomain-prep lemmatize ru.tok -o ru.lem")
    _input_output(p)
    p.add_argument("--lang", default="ru", help="language (only ru is supported)")
    _add_utf8(p)

    p = _step(sub, "concat", "join corpora, recording each line's origin",
        "Join corpora into one (interleaved line by line, or appended) and write "
        "OUTPUT.origin: one line 'LANG<TAB>DOMAIN' per output line, from --tags.",
        epilog="example: xdomain-prep concat en.tok fr.tok --tags en.wiki fr.un -o joint.txt")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="text files, one sentence per line")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="output file (written atomically)")
    p.add_argument("--tags", nargs="+", required=True, metavar="LANG.DOMAIN",
                   help="one tag per input, e.g. en.wiki fr.un")
    p.add_argument("--mode", choices=("interleave", "append"), default="interleave",
                   help="alternate lines of the inputs, or write one input after the other")
    _add_utf8(p)

    p = _step(sub, "spm", "train/apply one joint sentencepiece model",
        "`spm train` trains one joint sentencepiece model on all INPUT files; "
        "`spm apply` encodes a file into space-separated pieces.")
    spm_sub = p.add_subparsers(dest="spm_command", metavar="ACTION", required=True)
    t = _step(spm_sub, "train", "train PREFIX.model / PREFIX.vocab", _text("""
        Train one sentencepiece model on the lines of all INPUT files (empty lines skipped). At most
        --max-sentences lines, sampled uniformly by sentencepiece with --seed, are held in memory
        for training. Lines longer than --max-sentence-length bytes are left out (sentencepiece
        would ignore them silently) and counted in the log. The same lines and options give a
        byte-identical PREFIX.model."""),
        epilog="example: xdomain-prep spm train joint.txt -o spm --vocab-size 32000")
    t.add_argument("inputs", nargs="+", metavar="INPUT", help="text files, one sentence per line")
    t.add_argument("-o", "--output", required=True, metavar="PREFIX",
                   help="writes PREFIX.model and PREFIX.vocab")
    t.add_argument("--vocab-size", type=int, default=32000, help="number of pieces")
    t.add_argument("--model-type", choices=("bpe", "unigram"), default="bpe",
                   help="sentencepiece algorithm")
    t.add_argument("--character-coverage", type=float, default=1.0,
                   help="share of characters covered by the model (rarer ones become <unk>)")
    t.add_argument("--max-sentences", type=int, default=2_000_000,
                   help="sampling cap on the training sentences (0: use all)")
    t.add_argument("--seed", type=int, default=0, help="seed of sentencepiece's sampling")
    t.add_argument("--max-sentence-length", type=int, default=4192, metavar="BYTES",
                   help="longest training line in bytes of UTF-8 (sentencepiece's limit); longer "
                        "lines are not used for training and are counted in the log")
    t.add_argument("--threads", type=int, default=0, help="0: all cores (max 16)")
    _add_utf8(t)
    a = _step(spm_sub, "apply", "encode a file into pieces",
        epilog="example: xdomain-prep spm apply en.tok -o en.spm --model spm.model")
    _input_output(a)
    a.add_argument("--model", required=True, help="PREFIX.model from `spm train`")
    a.add_argument("--threads", type=int, default=0, help="0: all cores (max 16)")
    _add_utf8(a)

    p = _step(sub, "binarize", "fairseq binarized data folder", _text("""
        Binarize sentencepiece-encoded files with fairseq's preprocessing into DATA (see
        docs/design.md): DATA/dict.txt (one joint dictionary built from the sentencepiece
        vocabulary), DATA/spm.{model,vocab}, DATA/{lang}/train.{bin,idx},
        DATA/{lang}/valid.{bin,idx}, DATA/{split}.{src}-{tgt}.{lang}.{bin,idx}."""),
        epilog="example: xdomain-prep binarize --spm-model spm.model --train en=en.spm "
        "--train fr=fr.spm --parallel valid.en=dev.en.spm --parallel valid.fr=dev.fr.spm -o DATA")
    p.add_argument("-o", "--output", "--out", dest="output", required=True, metavar="DATA",
                   help="output folder (the binarized layout of docs/design.md)")
    p.add_argument("--spm-model", required=True, help="the joint sentencepiece model")
    p.add_argument("--train", action="append", metavar="LANG=FILE", required=True,
                   help="monolingual training data of LANG (repeat per language)")
    p.add_argument("--valid", action="append", metavar="LANG=FILE",
                   help="held-out monolingual data of LANG")
    p.add_argument("--parallel", action="append", metavar="SPLIT.LANG=FILE",
                   help="parallel dev/test data, SPLIT in valid|test, two languages per split")
    p.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    p.add_argument("--on-bad-utf8", choices=BAD_UTF8_POLICIES, default="skip",
                   help="a line with invalid UTF-8 (in a --parallel pair: on either side): "
                        "skip it (the pair on both sides), replace the bytes with U+FFFD, or "
                        "fail; parallel sides are read in lockstep, never shifted; the count is "
                        "reported")

    p = _step(sub, "pipeline", "all steps for a language pair, resumable", _text("""
        Run sample, tokenize, (lemmatize), concat, spm, binarize for a language pair from one YAML
        or JSON config (format: docs/preprocessing.md), writing DATA/manifest.json (+ manifest.md).
        A step is skipped when its outputs exist and its inputs (sha256) and parameters are
        unchanged; a killed run resumes where it stopped."""),
        epilog="example (in a checkout; the paper's en-fr data, raw text in data/raw/): "
        "xdomain-prep pipeline --config recipes/prep_en_fr.yaml")
    p.add_argument("--config", required=True, metavar="FILE", help="YAML or JSON config")
    p.add_argument("--force", action="store_true", help="rerun every step")
    p.add_argument("--plan", action="store_true",
                   help="run nothing: check the config and inputs, measure each step on the "
                        "first lines of the real corpora, print the estimated time and memory "
                        "per step and the total, and write WORK/plan.json (docs/presets.md)")
    return parser


def _run(args) -> int:
    if args.command == "sample":
        from .sample import sample_file

        sample_file(args.input, args.output, args.n, seed=args.seed, drop_empty=args.drop_empty,
                    dedup=args.dedup, on_bad_utf8=args.on_bad_utf8)
    elif args.command == "tokenize":
        from .tokenize import tokenize_file

        if args.chunk_size < 1:
            raise UserError("--chunk-size must be at least 1")
        tokenize_file(args.input, args.output, args.lang, lowercase=args.lowercase,
                      workers=args.workers, escape=args.escape, on_bad_utf8=args.on_bad_utf8,
                      chunk_size=args.chunk_size)
    elif args.command == "lemmatize":
        from .lemmatize import lemmatize_file

        lemmatize_file(args.input, args.output, lang=args.lang, on_bad_utf8=args.on_bad_utf8)
    elif args.command == "concat":
        from .concat import concat_files

        concat_files(args.inputs, args.tags, args.output, mode=args.mode,
                     on_bad_utf8=args.on_bad_utf8)
    elif args.command == "spm":
        from .spm import apply_spm, train_spm

        if args.spm_command == "train":
            out = args.output[: -len(".model")] if args.output.endswith(".model") else args.output
            train_spm(args.inputs, out, vocab_size=args.vocab_size, model_type=args.model_type,
                      character_coverage=args.character_coverage,
                      max_sentences=args.max_sentences, seed=args.seed,
                      threads=args.threads or None, on_bad_utf8=args.on_bad_utf8,
                      max_sentence_length=args.max_sentence_length)
        else:
            apply_spm(args.input, args.output, args.model, threads=args.threads or None,
                      on_bad_utf8=args.on_bad_utf8)
    elif args.command == "binarize":
        from .binarize import binarize

        parallel: dict[str, dict[str, str]] = {}
        for key, path in _key_values(args.parallel, "--parallel").items():
            split, dot, lang = key.partition(".")
            if not dot or not lang:
                raise UserError(f"--parallel: '{key}={path}' is not of the form SPLIT.LANG=FILE")
            parallel.setdefault(split, {})[lang] = path
        binarize(args.output, args.spm_model, _key_values(args.train, "--train"),
                 valid=_key_values(args.valid, "--valid"), parallel=parallel,
                 workers=args.workers, on_bad_utf8=args.on_bad_utf8)
    elif args.command == "pipeline":
        from .pipeline import run_pipeline

        run_pipeline(args.config, force=args.force, plan=args.plan)
    return 0


@cli_entry
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(logging.WARNING if args.quiet else logging.INFO)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
