"""fastText skipgram training, on one corpus (separate) or on the concatenation of several (joint).

Joint export: from the joint model, one ``.vec`` per language whose vocabulary is that language's
own corpus vocabulary (words with at least ``min_count`` occurrences *in that corpus*), in that
corpus's frequency order (ties by first occurrence), with vectors from the joint model; a word
spelled identically in two languages therefore has the same vector in both files. fastText's
end-of-sentence token ``</s>`` is not a word and is not exported.

Input text: fastText never reads a user's corpus directly. :func:`prepare_corpus` first writes a
normalised copy (read through ``common/textio.py``: BOM and CR dropped, lines with invalid UTF-8
skipped, mostly-not-text files refused; non-ASCII white space such as U+00A0 made an ASCII token
separator by ``common/whitespace.py``), counting and logging every change, so that the words
fastText learns are exactly :func:`~fairseq_xdomain.common.whitespace.split_tokens` of the text,
and every one of them can be written to the ``.vec`` (checked before training, not at export).

fastText uses Hogwild threads: only ``thread=1`` gives bit-identical vectors. Its random generators
(the initial vectors, the negative samples) start from ``seed`` (:class:`FastTextConfig`; fastText's
default 0). They are ``std::minstd_rand``, for which seeds 0 and 1 are the same: with one thread,
seeds 0 and 1 give identical vectors, any other two seeds different ones.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..common.atomic import write_json
from ..common.errors import UserError
from ..common.textio import LineStats, iter_lines, require_file
from ..common.whitespace import SpaceStats, normalize_line, split_tokens
from .vecio import save_vec

logger = logging.getLogger(__name__)

EOS = "</s>"


@dataclass
class FastTextConfig:
    """fastText skipgram settings (fastText's names; ``bucket`` only counts when ``maxn`` > 0:
    without character n-grams no hash bucket is allocated, see :func:`train_fasttext`)."""

    # metadata: the fastText flags of xdomain-embed (common/dataclass_args.py)
    dim: int = field(default=300, metadata={"help": "vector size (paper: 300)"})
    min_count: int = field(default=5, metadata={"help": "fewest occurrences of a word kept"})
    epoch: int = field(default=5, metadata={"help": "passes over the corpus"})
    thread: int = field(default=2, metadata={"help": "fastText threads (1 = bit-reproducible)"})
    minn: int = field(default=3, metadata={"help": "shortest character n-gram"})
    maxn: int = field(default=6, metadata={
        "help": "longest character n-gram (0: no subwords, and no hash buckets)"})
    bucket: int = field(default=2_000_000, metadata={
        "help": "subword hash buckets, used when --maxn > 0 (2M = 800 MB models at dim 300; "
                "lower for small runs)"})
    lr: float = field(default=0.05, metadata={"help": "learning rate"})
    ws: int = field(default=5, metadata={"help": "context window size"})
    neg: int = field(default=5, metadata={"help": "negatives sampled"})
    seed: int = field(default=0, metadata={
        "help": "fastText's random seed (0: its default; 0 and 1 are the same seed)"})

    def __post_init__(self):
        """Every setting at its edges is refused here, before any work (fastText itself would
        train on ``lr 0``, ``ws 0`` or ``neg 0`` and return meaningless vectors)."""
        for name in ("dim", "min_count", "epoch", "thread", "bucket", "ws", "neg"):
            if getattr(self, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive")
        if self.seed < 0:
            raise UserError(f"--seed {self.seed}: must be >= 0")
        if not self.lr > 0:
            raise UserError(f"--lr must be positive, got {self.lr}")
        if self.minn < 0 or self.maxn < 0:
            raise UserError(f"--minn {self.minn} / --maxn {self.maxn}: must be >= 0")
        if self.maxn > 0 and not 0 < self.minn <= self.maxn:
            raise UserError(f"--minn {self.minn} --maxn {self.maxn}: character n-grams need "
                            "1 <= minn <= maxn (or --maxn 0 for none)")

    def to_dict(self):
        return asdict(self)


def prepare_corpus(corpora, dest, count_words: bool = False):
    """Write the normalised concatenation of ``corpora`` to ``dest`` (see the module docstring).

    Returns one dict per corpus: ``lines``, ``bad_utf8_skipped``, ``bom``, ``crlf``,
    ``unicode_spaces``, ``stray_bom`` and, with ``count_words``, ``counts`` (a Counter of its
    words, in first-occurrence order). Changes are logged with the file name.
    """
    report = []
    any_text = False
    with open(dest, "w", encoding="utf-8", newline="\n") as out:
        for corpus in corpora:
            lines, spaces = LineStats(), SpaceStats()
            counts: Counter = Counter()
            for line in iter_lines(corpus, on_bad_utf8="skip", stats=lines, hint="",
                                   what="corpus"):
                line = normalize_line(line, spaces)
                any_text = any_text or bool(line.strip())
                if count_words:
                    counts.update(split_tokens(line))
                out.write(line + "\n")
            if lines.bad_utf8:
                logger.warning("%s: skipped %d line(s) with invalid UTF-8", corpus, lines.bad_utf8)
            if spaces.describe():
                logger.warning("%s: %s", corpus, spaces.describe())
            rec = {"corpus": os.fspath(corpus), "lines": lines.read,
                   "bad_utf8_skipped": lines.bad_utf8, "bom": lines.bom, "crlf": lines.crlf,
                   "unicode_spaces": spaces.unicode_spaces, "stray_bom": spaces.stray_bom}
            if count_words:
                rec["counts"] = counts
            report.append(rec)
    if not any_text:
        names = ", ".join(os.fspath(c) for c in corpora)
        skipped = sum(rec["bad_utf8_skipped"] for rec in report)
        raise UserError(f"{names}: no text to train on ({skipped} line(s) with invalid UTF-8 "
                        "skipped, the others blank)")
    return report


def _public(report):
    """The JSON-able part of a :func:`prepare_corpus` report (without the word counts)."""
    return [{k: v for k, v in rec.items() if k != "counts"} for rec in report]


def train_fasttext(corpus, cfg: FastTextConfig, progress: bool | None = None):
    """Train a skipgram model on ``corpus``, a text file as written by :func:`prepare_corpus`.

    ``progress``: fastText's own progress line on stderr (percent done, words/sec/thread, loss,
    ETA); default: when stderr is a terminal (a log file would get a line per update)."""
    require_file(corpus, "corpus")
    if progress is None:
        progress = sys.stderr.isatty()
    import fasttext

    # no character n-grams: no hash bucket either (fastText's command line does the same; the
    # vectors do not change, the model and a saved .bin shrink from (words + bucket) x dim)
    bucket = cfg.bucket if cfg.maxn > 0 else 0
    logger.info("training fastText skipgram on %s (%s)", corpus, cfg.to_dict())
    kwargs = dict(input=os.fspath(corpus), model="skipgram", dim=cfg.dim, minCount=cfg.min_count,
                  epoch=cfg.epoch, thread=cfg.thread, minn=cfg.minn, maxn=cfg.maxn, bucket=bucket,
                  lr=cfg.lr, ws=cfg.ws, neg=cfg.neg, verbose=2 if progress else 0)
    if cfg.seed == 0:  # fastText's default seed: its public call, as always
        return fasttext.train_unsupervised(**kwargs)
    return _train_seeded(kwargs, cfg.seed)


def _train_seeded(kwargs: dict, seed: int):
    """``fasttext.train_unsupervised(**kwargs)`` with fastText's ``seed`` set: the Python
    binding (0.9.2) refuses the argument there although its ``args`` has it and the C++ trainer
    uses it, so this is that function's body with ``seed`` added."""
    from fasttext import FastText as ft_py

    kwargs = {**kwargs, "seed": seed}
    args, manual = ft_py.read_args((), kwargs, list(kwargs), ft_py.unsupervised_default)
    a = ft_py._build_args(args, manual)
    model = ft_py._FastText(args=a)
    ft_py.fasttext.train(model.f, a)
    model.set_args(model.f.getArgs())
    return model


def model_vocab(model):
    """The model's words in its (frequency) order, without ``</s>``, and their counts."""
    words, freqs = model.get_words(include_freq=True)
    pairs = [(w, int(f)) for w, f in zip(words, freqs) if w != EOS]
    return [w for w, _ in pairs], [f for _, f in pairs]


def vectors_for(model, words):
    if not words:
        return np.zeros((0, model.get_dimension()), np.float32)
    return np.stack([model.get_word_vector(w) for w in words]).astype(np.float32)


def corpus_vocab(corpus, min_count, counts: Counter | None = None):
    """Words of ``corpus`` with count >= min_count, by decreasing count (ties: first occurrence).

    The words are those fastText sees (:func:`~fairseq_xdomain.common.whitespace.split_tokens`
    of the text read by ``textio``); ``counts`` (from :func:`prepare_corpus`) saves a re-read.
    """
    if counts is None:
        counts = Counter()
        for line in iter_lines(corpus, on_bad_utf8="skip", hint="", what="corpus"):
            counts.update(split_tokens(line))
    # Counter preserves first-insertion order, and sorted() is stable.
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return [w for w, c in ranked if c >= min_count], counts


def _train_prepared(corpora, out_dir, cfg, count_words=False):
    """:func:`prepare_corpus` into a temporary file in ``out_dir``, train, remove the file."""
    with tempfile.NamedTemporaryFile("wb", prefix=".fasttext-input.", suffix=".txt", dir=out_dir,
                                     delete=False) as tmp:
        tmp_path = tmp.name
    try:
        report = prepare_corpus(corpora, tmp_path, count_words=count_words)
        model = train_fasttext(tmp_path, cfg)
    finally:
        os.unlink(tmp_path)
    return model, report


def save_model_bin(model, dest) -> None:
    """fastText's ``save_model`` to ``dest.tmp``, renamed to ``dest``.

    fastText writes through a C++ stream that does not report a failed write: a file that ends at
    the process's file-size limit (``ulimit -f``) or on a full file system is taken as cut short,
    an OSError (EFBIG / ENOSPC) naming ``dest``, and the ``.tmp`` is removed.
    """
    import errno
    import resource

    dest = os.fspath(dest)
    tmp = f"{dest}.tmp"
    try:
        model.save_model(tmp)
        size = os.path.getsize(tmp)
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and size >= limit:
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), dest)
        if os.statvfs(tmp).f_bavail == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), dest)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def train_separate(corpus, out_prefix, cfg: FastTextConfig, save_bin=True):
    """Train on one corpus; write ``PREFIX.vec`` (+ ``PREFIX.bin``) and ``PREFIX.json``."""
    require_file(corpus, "corpus")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    model, report = _train_prepared([corpus], out_prefix.parent, cfg)
    words, freqs = model_vocab(model)
    if not words:
        raise UserError(f"{corpus}: no word occurs at least --min-count {cfg.min_count} times")
    save_vec(f"{out_prefix}.vec", words, vectors_for(model, words))
    if save_bin:
        save_model_bin(model, f"{out_prefix}.bin")
    info = {"mode": "separate", "corpus": os.fspath(corpus), "n_words": len(words),
            "config": cfg.to_dict(), "vec": f"{out_prefix}.vec", "input": _public(report)[0]}
    write_json(f"{out_prefix}.json", info)
    logger.info("wrote %s.vec (%d words)", out_prefix, len(words))
    return info


def train_joint(corpora, langs, out_dir, cfg: FastTextConfig, save_bin=True):
    """Train one model on the concatenation of ``corpora``; export one ``{lang}.vec`` each."""
    if len(corpora) != len(langs):
        raise UserError(f"{len(corpora)} corpora but {len(langs)} languages given")
    if len(set(langs)) != len(langs):
        raise UserError(f"languages must be distinct, got {' '.join(langs)}")
    for c in corpora:
        require_file(c, "corpus")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, report = _train_prepared(corpora, out_dir, cfg, count_words=True)
    joint_words = set(model.get_words())
    info = {"mode": "joint", "corpora": [os.fspath(c) for c in corpora], "langs": list(langs),
            "config": cfg.to_dict(), "joint_vocab_size": len(joint_words) - (EOS in joint_words),
            "inputs": _public(report), "outputs": {}}
    for corpus, lang, rec in zip(corpora, langs, report):
        words, _ = corpus_vocab(corpus, cfg.min_count, rec["counts"])
        missing = [w for w in words if w not in joint_words]
        if missing:  # cannot happen with the same min_count (joint counts >= own counts)
            logger.warning("%s: %d words missing from the joint model", corpus, len(missing))
        words = [w for w in words if w in joint_words]
        if not words:
            raise UserError(f"{corpus}: no word occurs at least --min-count {cfg.min_count} times")
        save_vec(out_dir / f"{lang}.vec", words, vectors_for(model, words))
        info["outputs"][lang] = {"vec": os.fspath(out_dir / f"{lang}.vec"), "n_words": len(words)}
        logger.info("wrote %s (%d words)", out_dir / f"{lang}.vec", len(words))
    if save_bin:
        save_model_bin(model, out_dir / "joint.bin")
    write_json(out_dir / "joint.json", info)
    return info


def train_on_binarized(data, langs, out_dir, cfg: FastTextConfig, save_bin=False):
    """fastText on the training text of a binarized folder (``DATA/{lang}/train.{bin,idx}`` +
    ``DATA/dict.txt``, the xdomain-prep binarize layout), written back as symbols of the
    folder's dictionary (sentencepiece pieces) one sentence per line, streamed. Joint over
    ``langs`` when there are several (``train_joint``), separate for one; the per-language
    ``.vec`` files are in ``out_dir`` either way (``{lang}.vec``). Returns the info dict."""
    from fairseq.data import Dictionary, data_utils

    data, out_dir = Path(data), Path(out_dir)
    require_file(data / "dict.txt", "dictionary")
    dictionary = Dictionary.load(os.fspath(data / "dict.txt"))
    if not langs or len(set(langs)) != len(langs):
        raise UserError(f"--langs: need distinct languages, got {','.join(langs)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = []
    try:
        for lang in langs:
            prefix = data / lang / "train"
            dataset = data_utils.load_indexed_dataset(os.fspath(prefix), dictionary)
            if dataset is None:
                raise UserError(f"{prefix}.bin: missing (binarized training data of {lang!r})")
            if len(dataset) == 0:
                raise UserError(f"{prefix}.bin: empty corpus")
            text = out_dir / f".{lang}.train.txt"
            with open(text, "w", encoding="utf-8") as handle:
                for i in range(len(dataset)):
                    ids = dataset[i].tolist()
                    handle.write(" ".join(dictionary[t] for t in ids if t != dictionary.eos()) + "\n")
            texts.append(text)
            logger.info("%s: %d sentences written as text for fastText", prefix, len(dataset))
        if len(langs) == 1:
            info = train_separate(texts[0], out_dir / langs[0], cfg, save_bin=save_bin)
            info["outputs"] = {langs[0]: {"vec": info["vec"], "n_words": info["n_words"]}}
        else:
            info = train_joint(texts, langs, out_dir, cfg, save_bin=save_bin)
    finally:
        for text in texts:
            text.unlink(missing_ok=True)
    info["binarized_data"] = os.fspath(data)
    write_json(out_dir / "binarized.json", info)
    return info

