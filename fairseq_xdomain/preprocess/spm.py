"""One joint sentencepiece model for all languages: ``train`` on several files, ``apply`` to one.

Training streams the lines of all given files (UTF-8 checked, empty lines skipped) into
sentencepiece. ``max_sentences`` caps memory: sentencepiece keeps a uniform random sample of that
many sentences (its ``input_sentence_size`` + ``shuffle_input_sentence``, seeded with ``seed``),
so training on 10M lines needs the memory of ``max_sentences`` lines only. The model is trained
under a temporary prefix and renamed to ``PREFIX.model`` / ``PREFIX.vocab``.

Over-long lines: sentencepiece ignores every training line longer than its
``max_sentence_length`` (bytes of UTF-8; 4192 by default), without telling the caller. We pass
the limit explicitly (``max_sentence_length``, ``--max-sentence-length``) and leave those lines
out ourselves, so their number is exact: it is logged and returned (``too_long``). They are not
split (a line is a sentence; raise the limit to use long lines). When every line is too long,
training stops with a one-line UserError saying so and naming the option that raises the limit.

Reproducibility: sentencepiece stores its trainer settings in the model, including the
(temporary, random) output prefix, the input paths and the thread count, none of which change the
pieces. Those fields are removed from the saved ``PREFIX.model`` (:func:`strip_run_fields`, a
few lines of protobuf wire format, since the ``protobuf`` package is not a dependency), so the
same input lines and settings give a byte-identical model wherever it is trained (a ``unigram``
model's scores can differ in their last bits with the number of threads: fix ``--threads`` for
byte-identical unigram models across machines; ``bpe`` models do not depend on it).

``apply`` encodes a file into space-separated pieces, streaming in batches (sentencepiece encodes
a batch on several threads); line ``i`` of the output is line ``i`` of the input, unless lines
with invalid UTF-8 are skipped (``--on-bad-utf8 skip``, the default): the warning then says that
the correspondence is lost. For one side of a parallel set use ``replace``, or clean both sides
together in lockstep (``xdomain-prep pipeline`` / ``binarize --parallel`` do).
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.progress import progress
from fairseq_xdomain.common.textio import LineStats, iter_lines, require_file

logger = logging.getLogger("xdomain-prep.spm")

MODEL_TYPES = ("bpe", "unigram")
DEFAULT_MAX_SENTENCES = 2_000_000
#: sentencepiece's own default for ``max_sentence_length`` (bytes of UTF-8 per training line)
DEFAULT_MAX_SENTENCE_LENGTH = 4192
#: TrainerSpec fields that depend on where/how a model was trained, not on what it is:
#: input (1), model_prefix (2), num_threads (16); ModelProto.trainer_spec is field 2
_TRAINER_SPEC_FIELD = 2
_RUN_FIELDS = frozenset({1, 2, 16})


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf: bytes):
    """Yield (field number, raw bytes of the whole field incl. tag, payload) of a message."""
    pos = 0
    while pos < len(buf):
        start = pos
        tag, pos = _read_varint(buf, pos)
        wire = tag & 7
        if wire == 0:
            _, pos = _read_varint(buf, pos)
            payload = b""
        elif wire == 1:
            pos += 8
            payload = b""
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            payload = buf[pos:pos + size]
            pos += size
        elif wire == 5:
            pos += 4
            payload = b""
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf message")
        yield tag >> 3, buf[start:pos], payload


def strip_run_fields(model: bytes) -> bytes:
    """The serialized sentencepiece ``model`` without TrainerSpec input/model_prefix/num_threads.

    Other fields are copied byte for byte, in order; sentencepiece loads the result as before
    (the removed fields only matter to the trainer).
    """
    out = bytearray()
    for number, raw, payload in _fields(model):
        if number != _TRAINER_SPEC_FIELD:
            out += raw
            continue
        spec = b"".join(r for n, r, _ in _fields(payload) if n not in _RUN_FIELDS)
        out += raw[:1] + _varint(len(spec)) + spec  # tag of field 2 / wire type 2 is one byte
    return bytes(out)


def train_spm(inputs, model_prefix, vocab_size: int = 32000, model_type: str = "bpe",
              character_coverage: float = 1.0, max_sentences: int = DEFAULT_MAX_SENTENCES,
              seed: int = 0, threads: int | None = None, on_bad_utf8: str = "skip",
              max_sentence_length: int = DEFAULT_MAX_SENTENCE_LENGTH,
              length_option: str = "--max-sentence-length") -> dict:
    """Train ``{model_prefix}.model`` / ``.vocab`` on the lines of ``inputs``; return counts.

    Lines longer than ``max_sentence_length`` bytes are left out and counted (``too_long``);
    ``length_option`` names the option that raises the limit in the caller's error messages.
    """
    import sentencepiece as spm

    if model_type not in MODEL_TYPES:
        raise UserError(f"--model-type must be one of {', '.join(MODEL_TYPES)}")
    if vocab_size < 8:
        raise UserError(f"--vocab-size must be at least 8, got {vocab_size}")
    if not isinstance(max_sentence_length, int) or max_sentence_length < 1:
        raise UserError(f"{length_option} must be a positive number of bytes, "
                        f"got {max_sentence_length!r}")
    for path in inputs:
        require_file(path)
    stats = {str(p): LineStats() for p in inputs}
    too_long = {str(p): 0 for p in inputs}
    counter = {"sentences": 0, "too_long": 0, "longest": 0}

    def sentences():
        for path in inputs:
            for line in iter_lines(path, on_bad_utf8=on_bad_utf8, stats=stats[str(path)]):
                if line.strip():
                    counter["sentences"] += 1
                    size = len(line.encode("utf-8"))
                    if size > max_sentence_length:  # sentencepiece would skip it silently
                        counter["too_long"] += 1
                        counter["longest"] = max(counter["longest"], size)
                        too_long[str(path)] += 1
                        continue
                    yield line

    def no_usable_lines() -> None:
        if counter["sentences"] == 0:
            raise UserError(f"{inputs[0]}: no non-empty lines to train sentencepiece on")
        if counter["too_long"] == counter["sentences"]:
            raise UserError(
                f"{inputs[0]}: all {counter['sentences']} non-empty lines are longer than "
                f"sentencepiece's limit of {max_sentence_length} bytes (longest "
                f"{counter['longest']}), nothing to train on; raise the limit with "
                f"{length_option} or split the lines")

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
                max_sentence_length=max_sentence_length, num_threads=threads, minloglevel=2,
            )
        except RuntimeError as err:
            no_usable_lines()
            msg = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            msg = msg.split("] ", 1)[-1]  # drop sentencepiece's "[assertion]" prefix
            raise UserError(f"{inputs[0]}: sentencepiece training failed: {msg}") from None
        no_usable_lines()
        with open(tmp_prefix + ".model", "rb") as handle:
            model_bytes = strip_run_fields(handle.read())
        with atomic_open(f"{model_prefix}.model", "wb") as out:
            out.write(model_bytes)
        os.replace(tmp_prefix + ".vocab", f"{model_prefix}.vocab")
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
    for path, n in too_long.items():
        if n:
            logger.warning("%s: skipped %d line(s) longer than sentencepiece's limit of %d bytes "
                           "(not used for training; raise the limit with %s)", path, n,
                           max_sentence_length, length_option)
    usable = counter["sentences"] - counter["too_long"]
    sampled = min(usable, max_sentences) if max_sentences else usable
    left_out = (f" ({counter['too_long']} longer than {max_sentence_length} bytes left out)"
                if counter["too_long"] else "")
    logger.info("sentencepiece: %d sentences read, %d used for training%s -> %s.model",
                counter["sentences"], sampled, left_out, model_prefix)
    return {"sentences": counter["sentences"], "too_long": counter["too_long"],
            "max_sentence_length": max_sentence_length, "sentences_used": sampled,
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
    if stats.bad_utf8 and on_bad_utf8 == "replace":
        logger.warning("%s: replaced invalid bytes in %d line(s) with invalid UTF-8", input_path,
                       stats.bad_utf8)
    elif stats.bad_utf8:
        logger.warning("%s: skipped %d line(s) with invalid UTF-8, so output lines no longer "
                       "match input lines one to one (for one side of a parallel set use "
                       "--on-bad-utf8 replace)", input_path, stats.bad_utf8)
    logger.info("%s: %d lines, %d pieces (%d unknown) -> %s", input_path, written, pieces, unk,
                output_path)
    return {"read": stats.read, "bad_utf8": stats.bad_utf8, "written": written, "pieces": pieces,
            "unk": unk}
