"""One joint sentencepiece model for all languages: ``train`` on several files, ``apply`` to one.

Training streams the lines of all given files (UTF-8 checked, empty lines skipped) into
sentencepiece. ``max_sentences`` caps memory: sentencepiece keeps a uniform random sample of that
many sentences (its ``input_sentence_size`` + ``shuffle_input_sentence``, seeded with ``seed``),
so training on 10M lines needs the memory of ``max_sentences`` lines only. The model is trained
under a temporary prefix and renamed to ``PREFIX.model`` / ``PREFIX.vocab``.

``apply`` encodes a file into space-separated pieces, streaming in batches (sentencepiece encodes
a batch on several threads); line ``i`` of the output is line ``i`` of the input.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.textio import LineStats, iter_lines, require_file

from .progress import progress

logger = logging.getLogger("xdomain-prep.spm")

MODEL_TYPES = ("bpe", "unigram")
DEFAULT_MAX_SENTENCES = 2_000_000


def train_spm(inputs, model_prefix, vocab_size: int = 32000, model_type: str = "bpe",
              character_coverage: float = 1.0, max_sentences: int = DEFAULT_MAX_SENTENCES,
              seed: int = 0, threads: int | None = None, on_bad_utf8: str = "skip") -> dict:
    """Train ``{model_prefix}.model`` / ``.vocab`` on the lines of ``inputs``; return counts."""
    import sentencepiece as spm

    if model_type not in MODEL_TYPES:
        raise UserError(f"--model-type must be one of {', '.join(MODEL_TYPES)}")
    if vocab_size < 8:
        raise UserError(f"--vocab-size must be at least 8, got {vocab_size}")
    for path in inputs:
        require_file(path)
    stats = {str(p): LineStats() for p in inputs}
    counter = {"sentences": 0}

    def sentences():
        for path in inputs:
            for line in iter_lines(path, on_bad_utf8=on_bad_utf8, stats=stats[str(path)]):
                if line.strip():
                    counter["sentences"] += 1
                    yield line

    model_prefix = Path(model_prefix)
    model_prefix.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix=f".{model_prefix.name}.", suffix=".tmp",
                              dir=model_prefix.parent)
    tmp_prefix = os.path.join(tmpdir, "spm")
    spm.set_random_generator_seed(seed)
    threads = threads or min(os.cpu_count() or 1, 16)
    logger.info("training a %s sentencepiece model (vocab %d) on %s", model_type, vocab_size,
                ", ".join(map(str, inputs)))
    try:
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=sentences(), model_prefix=tmp_prefix, vocab_size=vocab_size,
                model_type=model_type, character_coverage=character_coverage,
                input_sentence_size=max_sentences, shuffle_input_sentence=True,
                num_threads=threads, minloglevel=2,
            )
        except RuntimeError as err:
            msg = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            msg = msg.split("] ", 1)[-1]  # drop sentencepiece's "[assertion]" prefix
            raise UserError(f"{inputs[0]}: sentencepiece training failed: {msg}") from None
        if counter["sentences"] == 0:
            raise UserError(f"{inputs[0]}: no non-empty lines to train sentencepiece on")
        os.replace(tmp_prefix + ".vocab", f"{model_prefix}.vocab")
        os.replace(tmp_prefix + ".model", f"{model_prefix}.model")
    finally:
        for name in ("spm.model", "spm.vocab"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(tmpdir, name))
        with contextlib.suppress(OSError):
            os.rmdir(tmpdir)
    for path, s in stats.items():
        if s.bad_utf8:
            verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
            logger.warning("%s: %s %d line(s) with invalid UTF-8", path, verb, s.bad_utf8)
    sampled = min(counter["sentences"], max_sentences) if max_sentences else counter["sentences"]
    logger.info("sentencepiece: %d sentences read, %d used for training -> %s.model",
                counter["sentences"], sampled, model_prefix)
    return {"sentences": counter["sentences"], "sentences_used": sampled,
            "bad_utf8": {p: s.bad_utf8 for p, s in stats.items()}}


def load_model(model_path):
    import sentencepiece as spm

    require_file(model_path, "sentencepiece model")
    proc = spm.SentencePieceProcessor()
    try:
        proc.load(str(model_path))
    except (OSError, RuntimeError) as err:
        raise UserError(f"{model_path}: not a sentencepiece model ({err})") from None
    return proc


def apply_spm(input_path, output_path, model_path, batch_size: int = 10000,
              threads: int | None = None, on_bad_utf8: str = "skip") -> dict:
    """Encode ``input_path`` into space-separated pieces in ``output_path`` (atomically)."""
    require_file(input_path)
    proc = load_model(model_path)
    stats = LineStats()
    threads = threads or min(os.cpu_count() or 1, 16)
    written = 0
    pieces = 0
    unk = 0
    unk_id = proc.unk_id()

    def flush(batch, out):
        nonlocal written, pieces, unk
        encoded = proc.encode(batch, out_type=int, num_threads=threads)
        for ids in encoded:
            out.write(" ".join(proc.id_to_piece(ids)) if ids else "")
            out.write("\n")
            pieces += len(ids)
            unk += sum(1 for i in ids if i == unk_id)
        written += len(batch)

    with atomic_open(output_path) as out:
        batch: list[str] = []
        for line in progress(iter_lines(input_path, on_bad_utf8=on_bad_utf8, stats=stats),
                             desc=f"spm {input_path}"):
            batch.append(line)
            if len(batch) >= batch_size:
                flush(batch, out)
                batch = []
        if batch:
            flush(batch, out)
    if stats.bad_utf8:
        verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
        logger.warning("%s: %s %d line(s) with invalid UTF-8", input_path, verb, stats.bad_utf8)
    logger.info("%s: %d lines, %d pieces (%d unknown) -> %s", input_path, written, pieces, unk,
                output_path)
    return {"read": stats.read, "bad_utf8": stats.bad_utf8, "written": written, "pieces": pieces,
            "unk": unk}
