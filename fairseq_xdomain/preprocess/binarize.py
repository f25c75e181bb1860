"""Binarize sentencepiece-encoded text with fairseq's preprocessing into the binarized data
layout of docs/design.md (section "Binarized data layout": the files, what ``dict.txt`` holds,
and the word-level variant). That section is the one description of the layout; keep it in step
with this module.

Without a sentencepiece model (``spm_model=None``: word-level data such as ``xdomain-synth
cipher``'s) the dictionary is built from the words of the train files and no ``spm.*`` file is
written; :func:`binarize_folder` does this for a folder named like ``xdomain-synth cipher``'s
output.

Every language is binarized with the one ``dict.txt`` (``--srcdict``), so a piece has the same id
in every language and split. fairseq's ``preprocess.main`` runs in-process into a temporary
folder inside DATA; finished files are then renamed into place.

Parallel files (the two sides of a dev/test split) are read in lockstep
(:func:`fairseq_xdomain.common.textio.iter_parallel_lines`, via :func:`write_aligned`) and
copied into the temporary folder before fairseq reads them: a pair with invalid UTF-8 on either
side is dropped on both sides (``skip``, counted and logged) or kept with U+FFFD (``replace``),
never shifted; a carriage return inside a line (which fairseq's text-mode reader would take for
a line end) becomes a space, counted too. Monolingual files are copied the same way (through
:func:`fairseq_xdomain.common.textio.iter_lines`, per ``on_bad_utf8``), so fairseq never meets
bytes it cannot decode.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.langcodes import check_code
from fairseq_xdomain.common.textio import (
    LineStats,
    ParallelStats,
    iter_lines,
    iter_parallel_lines,
    require_file,
)

from .spm import load_model

logger = logging.getLogger("xdomain-prep.binarize")

SPLITS = ("valid", "test")


def write_dict_from_spm(model_path, dict_path) -> int:
    """Write a fairseq dict.txt holding every normal piece of the sentencepiece model."""
    proc = load_model(model_path)
    pieces = []
    for i in range(proc.get_piece_size()):
        if proc.is_control(i) or proc.is_unknown(i):
            continue
        piece = proc.id_to_piece(i)
        if not piece or any(c.isspace() for c in piece):
            continue
        pieces.append(piece)
    with atomic_open(dict_path) as out:
        for rank, piece in enumerate(pieces):
            out.write(f"{piece} {len(pieces) - rank}\n")
    return len(pieces)


def write_dict_from_words(paths, dict_path, on_bad_utf8: str = "skip",
                          hint: str = "use --on-bad-utf8 skip|replace to continue") -> int:
    """Write a fairseq dict.txt of every white-space word of ``paths``: ``word count`` lines,
    most frequent first, ties in string order (what ``fairseq.data.Dictionary.save`` writes).
    Returns the number of words."""
    counts: Counter = Counter()
    for path in paths:
        for line in iter_lines(path, on_bad_utf8=on_bad_utf8, hint=hint):
            counts.update(line.split())
    with atomic_open(dict_path) as out:
        for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.write(f"{word} {n}\n")
    return len(counts)


def _count_lines(path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def _write_line(out, line: str) -> int:
    """Write one line for fairseq, whose reader would split it at a CR inside: CR -> space.

    Returns 1 when a CR was replaced (for the counts), else 0.
    """
    had_cr = "\r" in line
    out.write(line.replace("\r", " ") if had_cr else line)
    out.write("\n")
    return int(had_cr)


def write_aligned(files: dict, outputs: dict, on_bad_utf8: str = "skip",
                  hint: str = "use --on-bad-utf8 skip|replace to continue") -> dict:
    """Copy parallel ``files`` ({lang: path}) to ``outputs`` ({lang: path}) pair by pair.

    The sides are read in lockstep, so the copies stay aligned whatever the policy: a pair with
    invalid UTF-8 on either side is dropped on both sides (``skip``) or kept with U+FFFD
    (``replace``); ``fail`` is a UserError (plus ``hint``). A carriage return inside a line
    becomes a space (fairseq and other text-mode readers would split the line there). Files of
    different lengths are a UserError. Outputs are written atomically. Returns the counts:
    ``pairs`` read, ``kept``, ``dropped_bad_utf8``, ``replaced_bad_utf8``, ``cr_replaced``.
    """
    langs = list(files)
    stats = ParallelStats()
    kept = cr_replaced = 0
    with contextlib.ExitStack() as stack:
        outs = [stack.enter_context(atomic_open(outputs[lang])) for lang in langs]
        for pair in iter_parallel_lines([files[lang] for lang in langs], on_bad_utf8=on_bad_utf8,
                                        stats=stats, hint=hint):
            for out, line in zip(outs, pair):
                cr_replaced += _write_line(out, line)
            kept += 1
    counts = {"pairs": stats.pairs, "kept": kept, "dropped_bad_utf8": stats.dropped_bad_utf8,
              "replaced_bad_utf8": stats.replaced_bad_utf8, "cr_replaced": cr_replaced}
    names = ", ".join(str(files[lang]) for lang in langs)
    if stats.dropped_bad_utf8:
        logger.warning("%s: skipped %d pair(s) with invalid UTF-8 on either side (dropped on both "
                       "sides, %d of %d pairs kept)", names, stats.dropped_bad_utf8, kept,
                       stats.pairs)
    if stats.replaced_bad_utf8:
        logger.warning("%s: replaced invalid bytes with U+FFFD in %d pair(s)", names,
                       stats.replaced_bad_utf8)
    if cr_replaced:
        logger.warning("%s: replaced carriage returns inside %d line(s) with a space", names,
                       cr_replaced)
    return counts


def _copy_text(path, output, on_bad_utf8: str, hint: str) -> int:
    """Copy one monolingual file for fairseq: UTF-8 checked (policy), CR inside a line -> space.

    Returns the number of lines written; skipped/replaced lines are logged.
    """
    stats = LineStats()
    written = cr_replaced = 0
    with atomic_open(output) as out:
        for line in iter_lines(path, on_bad_utf8=on_bad_utf8, stats=stats, hint=hint):
            cr_replaced += _write_line(out, line)
            written += 1
    if stats.bad_utf8:
        verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
        logger.warning("%s: %s %d line(s) with invalid UTF-8", path, verb, stats.bad_utf8)
    if cr_replaced:
        logger.warning("%s: replaced carriage returns inside %d line(s) with a space", path,
                       cr_replaced)
    return written


def _copy_spm(spm_model, stage: Path) -> None:
    """``spm.model`` and ``spm.vocab`` (copied, or written from the model) into ``stage``."""
    shutil.copyfile(spm_model, stage / "spm.model")
    vocab = Path(str(spm_model)[: -len(".model")] + ".vocab") \
        if str(spm_model).endswith(".model") else None
    if vocab is not None and vocab.exists():
        shutil.copyfile(vocab, stage / "spm.vocab")
    else:
        proc = load_model(spm_model)
        with open(stage / "spm.vocab", "w", encoding="utf-8") as out:
            for i in range(proc.get_piece_size()):
                out.write(f"{proc.id_to_piece(i)}\t{proc.get_score(i)}\n")


def _run_fairseq_preprocess(argv: list[str]) -> None:
    """fairseq_cli.preprocess.main with its per-call log file handler removed afterwards."""
    from fairseq import options
    from fairseq_cli import preprocess as fp

    args = options.get_preprocessing_parser().parse_args(argv)
    before = list(fp.logger.handlers)
    try:
        fp.main(args)
    finally:
        for handler in list(fp.logger.handlers):
            if handler not in before:
                fp.logger.removeHandler(handler)
                handler.close()


def binarize(data_dir, spm_model, train: dict, valid: dict | None = None,
             parallel: dict | None = None, workers: int = 1, on_bad_utf8: str = "skip",
             hint: str = "use --on-bad-utf8 skip|replace to continue") -> dict:
    """Build DATA from spm-encoded files (or word-level ones: ``spm_model=None``).

    ``train``/``valid``: {lang: path}; ``parallel``: {split: {lang: path}} with split in
    valid|test and exactly two languages per split, read in lockstep (:func:`write_aligned`,
    ``on_bad_utf8`` and ``hint`` are its policy and error hint). Returns the written files, line
    counts and, per parallel split, the counts of the lockstep read (``parallel``).
    """
    valid = valid or {}
    parallel = parallel or {}
    if not train:
        raise UserError("binarize: give at least one --train LANG=FILE")
    if spm_model is not None:
        require_file(spm_model, "sentencepiece model")
    for lang, path in [*train.items(), *valid.items()]:
        check_code(lang, "--train/--valid")  # the one rule every later tool accepts
        require_file(path, f"{lang} input file")
    if "," in str(Path(data_dir).resolve()):
        raise UserError(f"{data_dir}: fairseq-preprocess cannot read a path containing ','")
    for lang in valid:
        if lang not in train:
            raise UserError(f"{valid[lang]}: valid data for '{lang}' but no train data for it")
    for split, files in parallel.items():
        if split not in SPLITS:
            raise UserError(f"parallel split must be one of {', '.join(SPLITS)}, got '{split}'")
        if len(files) != 2:
            raise UserError(f"parallel {split}: need exactly two languages, got {sorted(files)}")
        counts = {}
        for lang, path in files.items():
            require_file(path, f"parallel {split} {lang} file")
            counts[lang] = _count_lines(path)
        if len(set(counts.values())) != 1:
            a, b = sorted(files)
            raise UserError(f"{files[b]}: parallel {split} has {counts[b]} lines but "
                            f"{files[a]} has {counts[a]}")

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".binarize.", suffix=".tmp", dir=data_dir))
    try:
        if spm_model is None:
            n_pieces = write_dict_from_words([train[lang] for lang in sorted(train)],
                                             stage / "dict.txt", on_bad_utf8, hint)
        else:
            n_pieces = write_dict_from_spm(spm_model, stage / "dict.txt")
            _copy_spm(spm_model, stage)
        dict_path = str(stage / "dict.txt")
        lines: dict[str, int] = {}
        # parallel splits first (small, read in lockstep): a bad pair fails before fairseq runs
        aligned_counts: dict[str, dict] = {}
        pairs: dict[tuple[str, str], dict[str, dict]] = {}
        for split, files in sorted(parallel.items()):
            src, tgt = sorted(files)
            pairs.setdefault((src, tgt), {})[split] = files
            raw = stage / f"raw.{src}-{tgt}"
            raw.mkdir(exist_ok=True)
            counts = write_aligned(files, {lang: raw / f"{split}.{lang}" for lang in files},
                                   on_bad_utf8=on_bad_utf8, hint=hint)
            aligned_counts[split] = counts
            for lang in files:
                lines[f"{split}.{src}-{tgt}.{lang}"] = counts["kept"]
        for lang, path in sorted(train.items()):
            mono = stage / f"raw.{lang}"
            mono.mkdir()
            lines[f"{lang}/train"] = _copy_text(path, mono / "train", on_bad_utf8, hint)
            argv = ["--only-source", "--srcdict", dict_path, "--trainpref", str(mono / "train"),
                    "--destdir", str(stage / lang), "--workers", str(max(1, workers)),
                    "--dataset-impl", "mmap"]
            if lang in valid:
                lines[f"{lang}/valid"] = _copy_text(valid[lang], mono / "valid", on_bad_utf8,
                                                    hint)
                argv += ["--validpref", str(mono / "valid")]
            logger.info("binarizing %s: %s%s", lang, path,
                        f" + valid {valid[lang]}" if lang in valid else "")
            _run_fairseq_preprocess(argv)
            shutil.rmtree(mono)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stage / lang / "preprocess.log")
        for (src, tgt), splits in pairs.items():
            raw = stage / f"raw.{src}-{tgt}"
            argv = ["--source-lang", src, "--target-lang", tgt, "--srcdict", dict_path,
                    "--tgtdict", dict_path, "--destdir", str(stage),
                    "--workers", str(max(1, workers)), "--dataset-impl", "mmap"]
            for split in splits:
                argv += [f"--{split}pref", str(raw / split)]
            logger.info("binarizing parallel %s-%s: %s", src, tgt, ", ".join(sorted(splits)))
            _run_fairseq_preprocess(argv)
            shutil.rmtree(raw)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stage / "preprocess.log")
        # move everything into place; the dictionary first, manifest-like files last
        written = []
        for src_file in sorted(stage.rglob("*"), key=lambda p: (p.name != "dict.txt", str(p))):
            if src_file.is_dir():
                continue
            rel = src_file.relative_to(stage)
            dest = data_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src_file, dest)
            written.append(str(rel))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    logger.info("%s: joint dictionary of %d pieces; wrote %s", data_dir, n_pieces,
                ", ".join(f"{k} ({v} lines)" for k, v in lines.items()))
    return {"dict_size": n_pieces, "lines": lines, "files": sorted(written),
            "parallel": aligned_counts}


def binarize_folder(raw, data_dir, langs=("aa", "bb"), splits=SPLITS, spm_model=None) -> Path:
    """Binarize a folder named like ``xdomain-synth cipher``'s output; return ``data_dir``.

    Reads ``raw/train.{lang}`` for every language of ``langs`` and, where they exist,
    ``raw/{split}.{a}-{b}.{lang}`` (``a``, ``b``: the first two of ``langs`` in sorted order) for
    ``split`` in ``splits``; word-level (joint dictionary of the train words) unless
    ``spm_model`` is given. See :func:`binarize` for the layout and the errors.
    """
    raw = Path(raw)
    a, b = sorted(langs)[:2]
    parallel = {}
    for split in splits:
        files = {lang: raw / f"{split}.{a}-{b}.{lang}" for lang in (a, b)}
        if all(path.exists() for path in files.values()):
            parallel[split] = files
    binarize(data_dir, spm_model, {lang: raw / f"train.{lang}" for lang in langs},
             parallel=parallel)
    return Path(data_dir)
