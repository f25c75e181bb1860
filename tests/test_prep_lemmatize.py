"""xdomain-prep lemmatize: pymorphy3 lemmas of Cyrillic tokens, others unchanged, cached."""
from __future__ import annotations

from conftest import run, write_lines

from fairseq_xdomain.preprocess.lemmatize import Lemmatizer


def test_lemmatize_cli(tmp_path):
    src = write_lines(tmp_path / "ru.tok", ["Я играю с кошками и собаками .", "USB 2019 кошками !"])
    out = tmp_path / "ru.lem"
    proc = run(["xdomain-prep", "lemmatize", src, "-o", out])
    assert out.read_text(encoding="utf-8").splitlines() == [
        "я играть с кошка и собака .", "USB 2019 кошка !"]
    assert "2 lines, 11 tokens, 10 word types" in proc.stderr


def test_cache_per_word_type():
    lem = Lemmatizer("ru")
    line = "кошками кошками кошками Windows кошками"
    assert lem.line(line) == "кошка кошка кошка Windows кошка"
    assert lem.cache_misses == 2
    assert lem.line(line) == "кошка кошка кошка Windows кошка"
    assert lem.cache_misses == 2  # repeated words cost a dict lookup only


def test_unsupported_language(tmp_path):
    src = write_lines(tmp_path / "x.tok", ["hello"])
    proc = run(["xdomain-prep", "lemmatize", "--lang", "en", src, "-o", tmp_path / "o"],
               check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {src}: unknown lemmatizer language 'en' (supported: ru)"
