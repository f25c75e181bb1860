"""fastText skipgram training, on one corpus (separate) or on the concatenation of several (joint).

Joint export: from the joint model, one ``.vec`` per language whose vocabulary is that language's
own corpus vocabulary (words with at least ``min_count`` occurrences *in that corpus*), in that
corpus's frequency order (ties by first occurrence), with vectors from the joint model; a word
spelled identically in two languages therefore has the same vector in both files. fastText's
end-of-sentence token ``</s>`` is not a word and is not exported.

fastText uses Hogwild threads: only ``thread=1`` gives bit-identical vectors (fastText 0.9.2 has a
fixed internal seed).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..common.atomic import write_json
from ..common.errors import UserError
from ..common.textio import require_file
from .vecio import save_vec

logger = logging.getLogger(__name__)

EOS = "</s>"


@dataclass
class FastTextConfig:
    dim: int = 300
    min_count: int = 5
    epoch: int = 5
    thread: int = 2
    minn: int = 3
    maxn: int = 6
    bucket: int = 2_000_000
    lr: float = 0.05
    ws: int = 5
    neg: int = 5

    def to_dict(self):
        return asdict(self)


def train_fasttext(corpus, cfg: FastTextConfig):
    """Train a skipgram model on ``corpus`` (a text file, whitespace tokenised)."""
    require_file(corpus, "corpus")
    import fasttext

    logger.info("training fastText skipgram on %s (%s)", corpus, cfg.to_dict())
    return fasttext.train_unsupervised(
        os.fspath(corpus), model="skipgram", dim=cfg.dim, minCount=cfg.min_count,
        epoch=cfg.epoch, thread=cfg.thread, minn=cfg.minn, maxn=cfg.maxn, bucket=cfg.bucket,
        lr=cfg.lr, ws=cfg.ws, neg=cfg.neg, verbose=0,
    )


def model_vocab(model):
    """The model's words in its (frequency) order, without ``</s>``, and their counts."""
    words, freqs = model.get_words(include_freq=True)
    pairs = [(w, int(f)) for w, f in zip(words, freqs) if w != EOS]
    return [w for w, _ in pairs], [f for _, f in pairs]


def vectors_for(model, words):
    if not words:
        return np.zeros((0, model.get_dimension()), np.float32)
    return np.stack([model.get_word_vector(w) for w in words]).astype(np.float32)


def corpus_vocab(corpus, min_count):
    """Words of ``corpus`` with count >= min_count, by decreasing count (ties: first occurrence)."""
    counts: Counter = Counter()
    with open(corpus, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            counts.update(line.split())
    # Counter preserves first-insertion order, and sorted() is stable.
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return [w for w, c in ranked if c >= min_count], counts


def train_separate(corpus, out_prefix, cfg: FastTextConfig, save_bin=True):
    """Train on one corpus; write ``PREFIX.vec`` (+ ``PREFIX.bin``) and ``PREFIX.json``."""
    model = train_fasttext(corpus, cfg)
    words, freqs = model_vocab(model)
    if not words:
        raise UserError(f"{corpus}: no word occurs at least --min-count {cfg.min_count} times")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    save_vec(f"{out_prefix}.vec", words, vectors_for(model, words))
    if save_bin:
        tmp = f"{out_prefix}.bin.tmp"
        model.save_model(tmp)
        os.replace(tmp, f"{out_prefix}.bin")
    info = {"mode": "separate", "corpus": os.fspath(corpus), "n_words": len(words),
            "config": cfg.to_dict(), "vec": f"{out_prefix}.vec"}
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
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", dir=out_dir, delete=False) as cat:
        for c in corpora:
            with open(c, "rb") as handle:
                shutil.copyfileobj(handle, cat)
                handle.seek(0, os.SEEK_END)
                if handle.tell() and not _ends_with_newline(c):
                    cat.write(b"\n")
        cat_path = cat.name
    try:
        model = train_fasttext(cat_path, cfg)
    finally:
        os.unlink(cat_path)
    joint_words = set(model.get_words())
    info = {"mode": "joint", "corpora": [os.fspath(c) for c in corpora], "langs": list(langs),
            "config": cfg.to_dict(), "joint_vocab_size": len(joint_words) - (EOS in joint_words),
            "outputs": {}}
    for corpus, lang in zip(corpora, langs):
        words, _ = corpus_vocab(corpus, cfg.min_count)
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
        tmp = out_dir / "joint.bin.tmp"
        model.save_model(os.fspath(tmp))
        os.replace(tmp, out_dir / "joint.bin")
    write_json(out_dir / "joint.json", info)
    return info


def train_on_binarized(data, langs, out_dir, cfg: FastTextConfig, save_bin=True):
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


def _ends_with_newline(path):
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
