"""xdomain-prep spm train: lines over sentencepiece's length limit are counted, never dropped
silently (issue 13, kind 3); all-too-long input is a one-line error; spm.model is
byte-reproducible (issue 13, kind 8: no temporary path inside)."""
from __future__ import annotations

import logging
import random

import pytest
import sentencepiece as spm
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.preprocess.spm import strip_run_fields, train_spm

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def _mixed(path, n_short=50, n_long=10):
    """Short lines, plus lines of ~6.5 KB (> 4192 bytes) that alone hold the letter 'x'."""
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(n_short)]
    lines += [" ".join(rng.choice(WORDS) + "x" for _ in range(1000)) for _ in range(n_long)]
    return write_lines(path, lines)


def test_over_long_lines_are_counted_and_the_limit_can_be_raised(tmp_path, caplog):
    mixed = _mixed(tmp_path / "mixed.txt")
    with caplog.at_level(logging.INFO):
        counts = train_spm([mixed], tmp_path / "m", vocab_size=40, threads=1)
    assert counts["sentences"] == 60 and counts["too_long"] == 10
    assert counts["sentences_used"] == 50 and counts["max_sentence_length"] == 4192
    assert (f"{mixed}: skipped 10 line(s) longer than sentencepiece's limit of 4192 bytes"
            in caplog.text)
    assert "60 sentences read, 50 used for training (10 longer than 4192 bytes left out)" \
        in caplog.text
    # raised limit: the long lines are trained on (their letter 'x' becomes a piece)
    proc = run(["xdomain-prep", "spm", "train", mixed, "-o", tmp_path / "big", "--vocab-size",
                "40", "--max-sentence-length", "10000", "--threads", "1"])
    assert "60 sentences read, 60 used for training ->" in proc.stderr
    pieces = [line.split("\t")[0] for line in (tmp_path / "big.vocab").read_text().splitlines()]
    assert any("x" in p for p in pieces)


def test_all_lines_too_long_is_a_one_line_error(tmp_path):
    rng = random.Random(1)
    long = write_lines(tmp_path / "long.txt",
                       [" ".join(rng.choice(WORDS) for _ in range(1000)) for _ in range(4)])
    proc = run(["xdomain-prep", "spm", "train", long, "-o", tmp_path / "a", "--vocab-size", "30"],
               check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {long}: all 4 non-empty lines are longer than "
                           "sentencepiece's limit of 4192 bytes (longest ")
    assert last.endswith("nothing to train on; raise the limit with --max-sentence-length or "
                         "split the lines")
    assert "INTERNAL" not in proc.stderr and not (tmp_path / "a.model").exists()
    with pytest.raises(UserError, match="must be a positive number of bytes"):
        train_spm([long], tmp_path / "a", vocab_size=30, max_sentence_length=0)


def test_spm_model_is_byte_reproducible(tmp_path):
    rng = random.Random(2)
    corpus = write_lines(tmp_path / "c.txt", [" ".join(
        rng.choice(WORDS) + rng.choice(["", "s", "ed"]) for _ in range(8)) for _ in range(400)])
    models = []  # bpe: the same bytes with any thread count; unigram: with the same count
    for folder, threads, kind in (("one", 1, "bpe"), ("two/deeper", 2, "bpe"),
                                  ("u1", 2, "unigram"), ("u2/x", 2, "unigram")):
        train_spm([corpus], tmp_path / folder / "spm", vocab_size=45, model_type=kind, seed=4,
                  threads=threads)
        models.append((tmp_path / folder / "spm.model").read_bytes())
    assert models[0] == models[1] and models[2] == models[3] and models[0] != models[2]
    assert b".tmp" not in models[0] and str(tmp_path).encode() not in models[0]
    proc = spm.SentencePieceProcessor(model_file=str(tmp_path / "one/spm.model"))
    assert proc.get_piece_size() == 45 and proc.decode(proc.encode("alphas beta")) == "alphas beta"


def test_strip_run_fields_keeps_everything_else(tmp_path):
    corpus = write_lines(tmp_path / "c.txt", ["alpha beta gamma delta"] * 50)
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "raw"),
                                   vocab_size=16, minloglevel=2, num_threads=3)
    original = (tmp_path / "raw.model").read_bytes()
    stripped = strip_run_fields(original)
    assert str(tmp_path).encode() in original and str(tmp_path).encode() not in stripped
    assert strip_run_fields(stripped) == stripped
    a = spm.SentencePieceProcessor(model_proto=original)
    b = spm.SentencePieceProcessor(model_proto=stripped)
    assert [a.id_to_piece(i) for i in range(16)] == [b.id_to_piece(i) for i in range(16)]
    assert [a.get_score(i) for i in range(16)] == [b.get_score(i) for i in range(16)]
    assert a.encode("gamma alpha") == b.encode("gamma alpha")


def test_pipeline_checks_max_sentence_length_before_any_work(tmp_path):
    from fairseq_xdomain.preprocess.pipeline import load_config

    write_lines(tmp_path / "c.txt", ["a b"])
    cfg = tmp_path / "p.yaml"
    body = ("output: o\ncorpora:\n  - {lang: en, domain: w, train: c.txt}\n"
            "  - {lang: fr, domain: u, train: c.txt}\n")
    cfg.write_text(body + "spm: {max_sentence_length: 0}\n")
    with pytest.raises(UserError) as err:
        load_config(cfg)
    assert str(err.value) == (f"{cfg}: spm.max_sentence_length must be a positive number of "
                              "bytes, got 0")
    cfg.write_text(body + "spm: {max_sentence_length: 9000}\n")
    assert load_config(cfg)["spm"]["max_sentence_length"] == 9000
