"""Binarize sentencepiece-encoded text with fairseq's preprocessing into the layout of
docs/design.md::

    DATA/dict.txt                          joint fairseq dictionary (all sentencepiece pieces)
    DATA/spm.model, DATA/spm.vocab         the joint sentencepiece model
    DATA/{lang}/train.{bin,idx}            monolingual data (fairseq-preprocess --only-source)
    DATA/{lang}/valid.{bin,idx}            optional held-out monolingual data
    DATA/{lang}/dict.txt                   copy of DATA/dict.txt
    DATA/{split}.{src}-{tgt}.{lang}.{bin,idx}   optional parallel valid/test (src-tgt sorted)
    DATA/dict.{lang}.txt                   copies of dict.txt, as fairseq's translation task wants

``dict.txt`` lists every sentencepiece piece except the control/unknown ones (``<unk>``, ``<s>``,
``</s>``: fairseq adds its own ``<s> <pad> </s> <unk>`` in front), in sentencepiece id order, with
the count ``N - rank`` (fairseq only uses counts to sort and prune; the order is what matters).
Every language is binarized with this one dictionary (``--srcdict``), so a piece has the same id
in every language and split. fairseq's ``preprocess.main`` runs in-process into a temporary
folder inside DATA; finished files are then renamed into place.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.textio import require_file

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


def _count_lines(path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


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
             parallel: dict | None = None, workers: int = 1) -> dict:
    """Build DATA from spm-encoded files.

    ``train``/``valid``: {lang: path}; ``parallel``: {split: {lang: path}} with split in
    valid|test and exactly two languages per split. Returns the written files and line counts.
    """
    valid = valid or {}
    parallel = parallel or {}
    if not train:
        raise UserError("binarize: give at least one --train LANG=FILE")
    require_file(spm_model, "sentencepiece model")
    for lang, path in [*train.items(), *valid.items()]:
        require_file(path, f"{lang} input file")
        if "," in str(path):
            raise UserError(f"{path}: fairseq-preprocess cannot read a path containing ','")
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
        n_pieces = write_dict_from_spm(spm_model, stage / "dict.txt")
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
        dict_path = str(stage / "dict.txt")
        lines: dict[str, int] = {}
        for lang, path in sorted(train.items()):
            argv = ["--only-source", "--srcdict", dict_path, "--trainpref", str(path),
                    "--destdir", str(stage / lang), "--workers", str(max(1, workers)),
                    "--dataset-impl", "mmap"]
            if lang in valid:
                argv += ["--validpref", str(valid[lang])]
            logger.info("binarizing %s: %s%s", lang, path,
                        f" + valid {valid[lang]}" if lang in valid else "")
            _run_fairseq_preprocess(argv)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stage / lang / "preprocess.log")
            lines[f"{lang}/train"] = _count_lines(path)
            if lang in valid:
                lines[f"{lang}/valid"] = _count_lines(valid[lang])
        pairs: dict[tuple[str, str], dict[str, dict]] = {}
        for split, files in sorted(parallel.items()):
            src, tgt = sorted(files)
            pairs.setdefault((src, tgt), {})[split] = files
        for (src, tgt), splits in pairs.items():
            raw = stage / f"raw.{src}-{tgt}"
            raw.mkdir()
            argv = ["--source-lang", src, "--target-lang", tgt, "--srcdict", dict_path,
                    "--tgtdict", dict_path, "--destdir", str(stage),
                    "--workers", str(max(1, workers)), "--dataset-impl", "mmap"]
            for split, files in splits.items():
                for lang, path in files.items():
                    os.symlink(os.path.abspath(path), raw / f"{split}.{lang}")
                    lines[f"{split}.{src}-{tgt}.{lang}"] = _count_lines(path)
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
    return {"dict_size": n_pieces, "lines": lines, "files": sorted(written)}
