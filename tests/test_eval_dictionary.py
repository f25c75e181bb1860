"""The test-dictionary builder (ubli/eval_dictionary.py, ``xdomain-ubli dictionary``): identical
pairs dropped and counted, Russian target words lemmatized to match a lemmatized corpus."""
from __future__ import annotations

import json

from conftest import run

from fairseq_xdomain.ubli.eval_dictionary import frequent_dictionary


def test_drop_identical_counts(tmp_path):
    (tmp_path / "a.txt").write_text("hotel hotel cat cat dog\n")
    (tmp_path / "b.txt").write_text("hotel hotel katze katze hund\n")
    (tmp_path / "p.tsv").write_text("hotel\thotel\ncat\tkatze\ndog\thund\n")
    keep, stats = frequent_dictionary(tmp_path / "p.tsv", tmp_path / "a.txt", tmp_path / "b.txt",
                                      n=10, min_count=1)
    assert "hotel hotel" in keep and stats["identical_pairs"] == 1
    assert stats["identical_dropped"] == 0
    lines, stats = frequent_dictionary(tmp_path / "p.tsv", tmp_path / "a.txt",
                                       tmp_path / "b.txt", n=10, min_count=1,
                                       drop_identical=True)
    assert lines == ["cat katze", "dog hund"]
    assert stats["identical_dropped"] == 1 and stats["identical_pairs"] == 0


def test_cli_lemmatize_tgt_ru(tmp_path):
    """Inflected Russian entries of the word list match the lemmatized corpus (кошки -> кошка);
    two translations with one lemma are merged."""
    (tmp_path / "en.txt").write_text("cat cat dog dog house\n")
    (tmp_path / "ru.lemma.txt").write_text("кошка кошка собака собака дом\n")
    (tmp_path / "p.tsv").write_text("cat\tкошки\ncat\tкошку\ndog\tсобаки\nhouse\tдома\n")
    out = tmp_path / "dico.txt"
    base = ["python", "-m", "fairseq_xdomain.ubli.commands.cli", "dictionary", "--pairs",
            tmp_path / "p.tsv", "--src-corpus", tmp_path / "en.txt", "--tgt-corpus",
            tmp_path / "ru.lemma.txt", "--min-count", "1", "-o", out]
    bad = run(base, check=False)  # without lemmatization nothing matches
    assert bad.returncode == 2 and "no pair has both words in the corpora" in bad.stderr
    proc = run([*base, "--lemmatize-tgt", "ru"])
    assert out.read_text().splitlines() == ["cat кошка", "dog собака", "house дом"]
    counts = json.loads((tmp_path / "dico.txt.json").read_text())
    assert counts["tgt_lemmatized"] == 4 and json.loads(proc.stdout) == counts
